"""Page metadata: title (the headline), authors (people), publication date, declared language, canonical URL,
description and site name, from JSON-LD, <meta>/<link> tags, headings and bylines. Pure: no scrapy, no network.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

from trafilatura.metadata import extract_author

from pipelines.extract.language import normalize_code

__all__ = ["page_metadata", "split_authors", "iso_date"]

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+")

_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
                  "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "liveblogposting",
                  "scholarlyarticle", "techarticle", "report", "socialmediaposting", "webpage"}
_DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished", "publishdate",
              "pubdate", "publish-date", "parsely-pub-date", "sailthru.date", "dc.date.issued", "dc.date",
              "dcterms.created", "date", "article.published", "og:published_time")
_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author", "dc.creator",
                "citation_author", "byl")
_SPLIT_AUTHORS = re.compile(r"\s*(?:,|;|\||/|&|\band\b|\bund\b|\bet\b|\by\b|\bog\b)\s*", re.I)
_BY = re.compile(r"^(?:by|von|par|por|av|door)\s+|\s*\(.*?\)\s*$", re.I)


def _types(node: dict) -> set[str]:
    t = node.get("@type", ())
    return {x.lower() for x in ([t] if isinstance(t, str) else t) if isinstance(x, str)}


def _walk(obj):
    if isinstance(obj, list):
        for item in obj:
            yield from _walk(item)
    elif isinstance(obj, dict):
        yield obj
        yield from _walk(obj.get("@graph", []))


def _jsonld(tree) -> tuple[dict, dict]:
    """The best article node of the page's JSON-LD, and all nodes by @id."""
    nodes = []
    for script in tree.xpath("//script[contains(translate(@type,'LDJSON','ldjson'),'ld+json')]/text()"):
        try:
            nodes.extend(_walk(json.loads(script.strip().strip(";"), strict=False)))
        except ValueError:
            continue
    ids = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
    ranked = [n for n in nodes if _types(n) & _ARTICLE_TYPES]
    ranked.sort(key=lambda n: ("webpage" in _types(n), not n.get("headline")))
    return (ranked[0] if ranked else {}), ids


def _names(value, ids: dict) -> tuple[list[str], list[str]]:
    """Person names and organization names of a JSON-LD author value."""
    people, orgs = [], []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and "name" not in item and item.get("@id") in ids:
            item = ids[item["@id"]]
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, list):
            name = name[0] if name else None
        if isinstance(name, str) and name.strip() and "://" not in name:
            (orgs if isinstance(item, dict) and "organization" in _types(item) else people).append(name)
    return people, orgs


def split_authors(raw: list[str]) -> list[str]:
    """Individual author names from bylines ("By A and B", "A, B"), deduplicated in order."""
    out: list[str] = []
    for line in raw:
        for name in _SPLIT_AUTHORS.split(_BY.sub("", " ".join(line.split()))):
            name = _BY.sub("", name).strip(" .,-–|")
            if name and "://" not in name and "@" not in name and name.lower() not in map(str.lower, out):
                out.append(name)
    return out


def iso_date(value) -> str | None:
    """ISO 8601 form of a date string (datetime with offset when given, else YYYY-MM-DD)."""
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
        return dt.isoformat() if len(value) > 10 else dt.date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", value)
    return "-".join(m.groups()) if m else None


def _overlap(a: str, b: str) -> float:
    wa, wb = set(_TOKEN.findall(a.lower())), set(_TOKEN.findall(b.lower()))
    return len(wa & wb) / len(wa) if wa else 0.0


def _title(tree, node: dict, meta: dict) -> str | None:
    refs = [t for t in (node.get("headline"), meta.get("og:title"), meta.get("twitter:title"),
                        tree.findtext(".//title")) if isinstance(t, str) and t.strip()]
    for h1 in tree.iter("h1"):
        text = " ".join(h1.text_content().split())
        if len(text) > 8 and any(_overlap(text, r) >= 0.6 for r in refs):
            for ref in refs:  # an <h1> with a kicker or code ("CO21113 | Headline"): the headline
                ref = " ".join(ref.split())
                if len(ref) > 8 and ref != text and ref in text:
                    return ref
            return text
    return " ".join(refs[0].split()) if refs else None


def _authors(tree, node: dict, ids: dict, meta: dict) -> list[str]:
    """JSON-LD persons, else author <meta> tags, rel=author links, JSON-LD organizations, byline heuristics."""
    people, orgs = _names(node.get("author"), ids) if node.get("author") else ([], [])
    for source in (
        lambda: people,
        lambda: [meta[k] for k in _AUTHOR_KEYS if k in meta and "://" not in meta[k]][:1],
        lambda: [" ".join(a.text_content().split()) for a in tree.xpath("//a[@rel='author']")][:4],
        lambda: orgs,
        lambda: [extract_author(tree) or ""],
    ):
        names = split_authors(source())
        if names:
            return names
    return []


def _join(base: str | None, ref: str) -> str:
    """``ref`` made absolute against ``base``; '' when it cannot be parsed (``http://[bad/``)."""
    try:
        return urljoin(base or "", ref.strip())
    except ValueError:
        return ""


def page_metadata(tree, url: str | None) -> dict:
    """Title, authors, date, language, canonical URL, description and site name of a parsed page."""
    meta: dict[str, str] = {}
    for el in tree.iter("meta"):
        key, content = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower(), el.get("content")
        if key and content and key not in meta:
            meta[key] = content.strip()
    node, ids = _jsonld(tree)
    publisher = node.get("publisher")
    site = meta.get("og:site_name") or (publisher.get("name") if isinstance(publisher, dict) else None)
    authors = _authors(tree, node, ids, meta)
    published = iso_date(node.get("datePublished")) or next(
        (d for d in (iso_date(meta.get(k)) for k in _DATE_KEYS) if d), None)
    if not published:
        from htmldate import find_date
        published = find_date(tree, url=url, extensive_search=False, original_date=True)
    links = tree.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href")
    page = node.get("mainEntityOfPage")
    canon = [*links, meta.get("og:url"), node.get("url"), page.get("@id") if isinstance(page, dict) else page]
    canon = [_join(url, c) for c in canon if isinstance(c, str) and c.strip()]
    lang = tree.get("lang") or meta.get("og:locale") or meta.get("content-language") or node.get("inLanguage")
    lang = normalize_code(lang) if isinstance(lang, str) else None  # "en-US" -> en, "fil" -> tl, "nb" -> no
    desc = meta.get("og:description") or meta.get("description") or node.get("description")
    return {"title": _title(tree, node, meta), "authors": authors, "published": published,
            "language": lang, "canonical_url": next((c for c in canon if c.startswith("http")), None),
            "description": desc if isinstance(desc, str) else None, "sitename": site}
