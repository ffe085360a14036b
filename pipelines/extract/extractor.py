"""Article extraction: bytes or HTML in, a clean `Document` (body text + metadata) out.

trafilatura does the body (its cross-document `deduplicate` off); readability-lxml rescues pages where
trafilatura keeps only part of the article; outlet profiles (profiles.toml) drop widgets before and
boilerplate paragraphs after; repeated paragraphs (a body served twice) come out once. Metadata comes
from JSON-LD, <meta>/<link> tags and headings, with htmldate only when the page states no date.
Pure: no scrapy, no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from urllib.parse import urljoin
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html

from pipelines.dedup.canonical import credited_outlet

from pipelines.extract.charset import decode_html
from pipelines.extract.language import choose_language, normalize_code
from pipelines.extract.words import count_words as _count_words
from pipelines.extract.profiles import Profile, get_profile, profile_for_url
from pipelines.extract.sanitise import binary_kind, mostly_controls, sanitise_markup

__all__ = ["Document", "ExtractionResult", "ExtractConfig", "try_extract", "extract",
           "EXTRACTOR_NAME", "EXTRACTOR_VERSION"]

EXTRACTOR_NAME = "corpus-extract"
EXTRACTOR_VERSION = f"1.0+trafilatura-{trafilatura.__version__}"

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|\w+")
_PROSE_END = re.compile(r"[.!?;:\"'”’»)\u3002\uff01\uff1f]\s*$")
_NOT_HTML = re.compile(r"<\s*(html|head|body|p|div|article|meta|title|!doctype)\b", re.I)


@dataclass
class Document:
    """One extracted article."""

    text: str
    title: str | None
    authors: list[str]
    published: str | None
    language: str | None
    canonical_url: str | None
    description: str | None = None
    sitename: str | None = None
    profile: str | None = None
    credit: str | None = None     # outlet credited as the original ("originally appeared in ..."), kept
                                  # as metadata though the credit line itself is removed as boilerplate
    language_declared: str | None = None  # the page's own lang/og:locale/Content-Language; `language` is
                                          # the one detected from the text when confident (language.py)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExtractionResult:
    """A document, or None with a short reason slug."""

    document: Document | None
    reason: str | None = None


@dataclass
class ExtractConfig:
    """Knobs of the extractor (defaults measured on the fundus pages, see bench/extraction.py)."""

    favor_precision: bool = False
    include_tables: bool = True
    rescue: bool = True            # readability-lxml when trafilatura keeps too little of the page's prose
    rescue_below: float = 0.55     # ...i.e. when its output has less than this share of the <p> words,
    rescue_missing: float = 1.0    # the <p> paragraphs it left out hold at least as many words as it kept
    rescue_par_words: int = 30     # and are article-like (this many words on average);
    rescue_gain: float = 1.6       # readability's text must then be this many times longer and cover it
    min_words: int = 40
    extra: dict = field(default_factory=dict)  # more trafilatura.bare_extraction keyword arguments


def count_words(text: str, language: str | None = None) -> int:
    """Words of ``text``: ``pipelines.extract.words.count_words`` (scripts without spaces segmented by ICU)."""
    return _count_words(text, language)


def _norm(par: str) -> str:
    return " ".join(_TOKEN.findall(par.lower()))


@lru_cache(maxsize=256)
def _xpath(selectors: tuple[str, ...]) -> etree.XPath | None:
    """One compiled XPath for a tuple of CSS/XPath selectors (invalid ones are skipped)."""
    parts = []
    for sel in selectors:
        try:
            if sel.lstrip().startswith(("/", "./", "(")):
                etree.XPath(sel)
                parts.append(sel)
            else:
                from cssselect import GenericTranslator

                parts.append(GenericTranslator().css_to_xpath(sel))
        except Exception:  # noqa: BLE001 - a bad selector in the data must not break extraction
            continue
    return etree.XPath(" | ".join(parts)) if parts else None


_NEEDLE = re.compile(r"[#.]([\w-]+)|=\s*['\"]([^'\"]+)['\"]")


def _present(selector: str, source: str | None) -> bool:
    """Cheap pre-check: every id/class/attribute literal of the selector occurs in the page source."""
    return source is None or all((a or b) in source for a, b in _NEEDLE.findall(selector))


def _select(tree, selectors: tuple[str, ...], source: str | None = None) -> list:
    xp = _xpath(tuple(s for s in selectors if _present(s, source)))
    return xp(tree) if xp is not None else []


def _prune(tree, profiles: list[Profile], source: str | None = None):
    """Drop profile selectors in place; narrow the tree to the `keep` container when one matches."""
    for el in _select(tree, tuple(s for p in profiles for s in p.drop), source):
        if el.getparent() is not None and el.tag not in ("html", "body"):
            el.drop_tree()
    keep = next((p.keep for p in reversed(profiles) if p.keep), None)
    found = _select(tree, (keep,)) if keep else []
    if found and count_words(found[0].text_content()) >= 20:
        root = lxml_html.Element("html")
        body = lxml_html.Element("body")
        root.append(body)
        body.append(found[0])
        return root
    return tree


def _trafilatura_text(tree, url: str | None, cfg: ExtractConfig) -> str:
    doc = trafilatura.bare_extraction(
        tree, url=url, with_metadata=False, include_comments=False, deduplicate=False,
        favor_precision=cfg.favor_precision, include_tables=cfg.include_tables, **cfg.extra)
    return (doc.text or "") if doc is not None else ""


def _readability_text(tree, url: str | None) -> str:
    from readability import Document as Readable

    try:
        summary = Readable(tree, url=url).summary(html_partial=True)
        frag = lxml_html.fromstring(summary)
    except Exception:  # noqa: BLE001 - the rescue is best effort
        return ""
    blocks = frag.xpath(".//*[self::p or self::h2 or self::h3 or self::h4 or self::li or self::blockquote"
                        " or self::pre][not(ancestor::p or ancestor::li or ancestor::blockquote)]")
    return "\n".join(" ".join(b.text_content().split()) for b in blocks)


def _covers(big: str, small: str) -> float:
    """Share of `small`'s distinct words found in `big`."""
    words = set(_TOKEN.findall(small.lower()))
    return len(words & set(_TOKEN.findall(big.lower()))) / len(words) if words else 0.0


def _maybe_rescue(tree, text: str, url: str | None, cfg: ExtractConfig) -> str:
    """Readability's text instead of trafilatura's when the page holds much more prose than was kept."""
    flat = " ".join(text.split())
    got = len(flat.split())
    if got >= cfg.rescue_below * len(" ".join(tree.xpath("//p//text()")).split()):
        return text  # the usual case, decided with one cheap pass
    prose, missing, blocks = 0, 0, 0
    for p in tree.iter("p"):
        par = " ".join(p.text_content().split())
        n = len(par.split())
        prose += n
        if n >= 12 and par[:80] not in flat:
            missing, blocks = missing + n, blocks + 1
    if (not prose or got >= cfg.rescue_below * prose or missing < cfg.rescue_missing * got
            or missing < cfg.rescue_par_words * blocks):
        return text
    alt = _readability_text(tree, url)
    if len(alt.split()) >= cfg.rescue_gain * max(got, 1) and _covers(alt, text) >= 0.9:
        return alt
    return text


@lru_cache(maxsize=64)
def _combined(patterns: tuple[str, ...]) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.S) if patterns else None


def clean_paragraphs(text: str, patterns: list[str] | tuple[str, ...], title: str | None = None) -> list[str]:
    """Split into paragraphs; drop boilerplate (regexes matching a whole paragraph), a leading title and repeats."""
    junk = _combined(tuple(p if isinstance(p, str) else p.pattern for p in patterns))
    seen: set[str] = set()
    out: list[str] = []
    title_key = _norm(title) if title else None
    for raw in text.split("\n"):
        par = " ".join(raw.split())
        if not par:
            continue
        key = _norm(par)
        if not key or key in seen or (not out and key == title_key):
            continue
        if junk is not None and junk.fullmatch(par):
            continue
        seen.add(key)
        out.append(par)
    return out


def _prose_words(pars: list[str]) -> int:
    """Words in sentence-like paragraphs (not list items or headlines): listing pages have few."""
    total = 0
    for par in pars:
        n = count_words(par)
        if not par.startswith("- ") and n >= 10 and (n >= 40 or _PROSE_END.search(par)):
            total += n
    return total


# --- page metadata -------------------------------------------------------------------------------
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


def try_extract(html: str | bytes, url: str | None = None, *, profile: str | None = None,
                headers_charset: str | None = None, min_words: int | None = None,
                config: ExtractConfig | None = None) -> ExtractionResult:
    """Extract the article of one page; `document` is None (with `reason`) when there is none."""
    cfg = config or ExtractConfig()
    min_words = cfg.min_words if min_words is None else min_words
    if not isinstance(html, (str, bytes)) or not html.strip():
        return ExtractionResult(None, "empty-page")
    text = decode_html(html, headers_charset) if isinstance(html, bytes) else html
    if (isinstance(html, bytes) and binary_kind(html[:64].lstrip())) or mostly_controls(text):
        return ExtractionResult(None, "not-html")  # a PDF, an image... labelled HTML; binary data
    text = sanitise_markup(text)  # stray control characters (&#1;, a NUL) must not cost the article
    if not _NOT_HTML.search(text[:100_000]):
        return ExtractionResult(None, "not-html")
    tree = load_html(text)
    if tree is None or not any(t.strip() for t in tree.itertext()):
        return ExtractionResult(None, "empty-page")
    outlet = get_profile(profile) if profile else profile_for_url(url)
    rules = [get_profile("default")] + ([outlet] if outlet and outlet.name != "default" else [])
    meta = page_metadata(tree, url)
    tree = _prune(tree, rules, text)
    body = _trafilatura_text(tree, url, cfg)
    if cfg.rescue:
        body = _maybe_rescue(tree, body, url, cfg)
    patterns = tuple(p for r in rules for p in r.drop_text)
    credit = credited_outlet(body)
    pars = clean_paragraphs(body, patterns, meta.get("title"))
    if not pars:
        return ExtractionResult(None, "no-article-text")
    if _prose_words(pars) < min_words:
        return ExtractionResult(None, "too-short" if count_words(" ".join(pars)) >= 5 else "no-article-text")
    text = "\n\n".join(pars)
    meta["language_declared"] = meta["language"]
    meta["language"] = choose_language(text, meta["language"])[0]
    doc = Document(text=text, profile=outlet.name if outlet else None, credit=credit, **meta)
    return ExtractionResult(doc, None)


def extract(html: str | bytes, url: str | None = None, **kw) -> Document | None:
    """The article `Document` of a page, or None when it has none (see `try_extract`)."""
    return try_extract(html, url, **kw).document
