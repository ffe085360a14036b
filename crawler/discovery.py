"""Pure parsers for discovery: sitemaps (and indexes, news sitemaps), RSS/Atom
feeds, robots.txt ``Sitemap:`` lines and the links of listing pages.

Each returns ``Entry(url, lastmod, published)`` tuples or URLs; none touch the
network or Scrapy, so each is tested alone on bytes.  Only http and https URLs
are ever requested: ``split_fetchable`` parts the others (``file:``, ``ftp:``,
``data:``, ``s3:``...) out before the spiders make requests, and the spiders
count them (``corpus/outlet/<outlet>/refused_scheme``; ``corpus check`` names them).
"""

from __future__ import annotations

import gzip
from io import BytesIO
from typing import NamedTuple
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from pipelines.crawl.urls import refused_scheme

MAX_XML = 50 * 1024 * 1024  # sitemaps are at most 50 MB uncompressed (sitemaps.org)


class Entry(NamedTuple):
    url: str
    lastmod: str | None = None
    published: str | None = None


def split_fetchable(items, url_of=lambda item: item) -> tuple[list, list[tuple[str, str]]]:
    """(kept, refused): the items whose URL (``url_of(item)``) is http or https, in order, and
    ``(url, scheme)`` of the others, which are never requested."""
    kept, refused = [], []
    for item in items:
        url = url_of(item)
        scheme = refused_scheme(url)
        if scheme is None:
            kept.append(item)
        else:
            refused.append((url, scheme))
    return kept, refused


def _local(tag) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _xml_root(data: bytes):
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=BytesIO(data)) as fh:
            data = fh.read(MAX_XML + 1)[:MAX_XML]
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                  huge_tree=False, remove_comments=True)
    try:
        return lxml.etree.fromstring(data.strip(), parser=parser)
    except lxml.etree.XMLSyntaxError:
        return None


def _text(el) -> str | None:
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def _child(el, name: str):
    for child in el.iter():
        if child is not el and _local(child.tag) == name:
            return child
    return None


def parse_sitemap(data: bytes, base_url: str) -> tuple[str, list[Entry]]:
    """(kind, entries): kind is ``index`` (entries are sitemaps) or ``urlset``."""
    root = _xml_root(data)
    if root is None:
        return "invalid", []
    kind = "index" if _local(root.tag) == "sitemapindex" else "urlset"
    entries = []
    for el in root:
        if _local(el.tag) not in ("url", "sitemap"):
            continue
        loc = _text(_child(el, "loc"))
        if not loc:
            continue
        lastmod = _text(_child(el, "lastmod"))
        published = _text(_child(el, "publication_date"))  # Google news sitemap
        entries.append(Entry(urljoin(base_url, loc), lastmod, published))
    return kind, entries


def parse_feed(data: bytes, base_url: str) -> list[Entry]:
    """Items of an RSS 2.0 / RSS 1.0 / Atom feed."""
    root = _xml_root(data)
    if root is None:
        return []
    entries = []
    for el in root.iter():
        name = _local(el.tag)
        if name == "item":  # RSS
            link = _text(_child(el, "link")) or _text(_child(el, "guid"))
            published = _text(_child(el, "pubdate")) or _text(_child(el, "date"))
            if link:
                entries.append(Entry(urljoin(base_url, link), _text(_child(el, "updated")), published))
        elif name == "entry":  # Atom
            href = None
            for link in el:
                if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate":
                    href = link.get("href")
                    break
            if href:
                entries.append(Entry(urljoin(base_url, href), _text(_child(el, "updated")),
                                     _text(_child(el, "published"))))
    return entries


def robots_sitemaps(text: str, base_url: str) -> list[str]:
    """URLs of the ``Sitemap:`` lines of a robots.txt."""
    out = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and value.strip():
            out.append(urljoin(base_url, value.strip()))
    return out


def page_links(html: bytes | str, base_url: str) -> tuple[list[str], list[str]]:
    """(links, feeds) of an HTML page: absolute http(s) ``<a href>`` targets in
    document order (no fragments, no duplicates) and advertised http(s) RSS/Atom feeds."""
    try:
        doc = lxml.html.fromstring(html, base_url=base_url)
    except (lxml.etree.ParserError, ValueError):
        return [], []
    seen, links = set(), []
    for href in doc.xpath("//a/@href"):
        url = urljoin(base_url, href.strip()).split("#", 1)[0]
        if url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            links.append(url)
    feeds = [
        url
        for el in doc.xpath("//link[@rel='alternate'][@href]")
        if (el.get("type") or "").lower() in ("application/rss+xml", "application/atom+xml")
        and (url := urljoin(base_url, el.get("href").strip())).startswith(("http://", "https://"))
    ]
    return links, feeds
