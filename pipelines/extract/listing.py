"""Is a fetched page a listing (home, section, tag, search or archive page) rather than an article?

A pure function of the page's HTML and URL, used by the extraction stage to drop listing pages that
an address alone does not give away (``/asia/se-asia`` looks like a short article address). It weighs:

- what the page says it is: JSON-LD ``@type`` (``NewsArticle``, ``Article``, ``BlogPosting``, ... vs
  ``CollectionPage``, ``ItemList``, ``SearchResultsPage``), ``og:type`` and a publication date
  (``article:published_time``). A page that declares one article (an article ``@type``, or ``og:type``
  article with a date) is never called a listing; one JSON-LD article per teaser (3+) is a listing hint;
- what it is made of, once scripts, navigation and chrome (header, footer, asides, forms, elements
  classed as menus, sidebars, share bars, related stories... unless they hold running text) are set
  aside: its *teasers* (distinct links to other pages of the same site whose text reads like a
  headline, four words or more) and its *longest run*: the most words of text outside links, in
  document order, between two headline links (links inline in a paragraph do not break a run).

An article has running text: its paragraphs make one long run (hundreds of words). A listing is teasers:
a headline link and at most a sentence or two of summary, repeated, so every run is short. Listing:
3+ teasers and a longest run under 80 words (under 150 for a declared collection).

Measured (``tests/test_listing.py``): every home, section, tag and search page of the replay web with
3+ teasers is a listing; of the 966 real article pages of ``../shared/data/fundus-pages`` and
``../shared/data/wcxb-dev``, none is called a listing (1 with its JSON-LD and meta tags removed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from pipelines.crawl.urls import host_of, site_of
from pipelines.extract.markup import reopen_page

__all__ = ["ListingVerdict", "listing_verdict", "is_listing_page", "ARTICLE_TYPES", "LISTING_TYPES",
           "LISTING_REASON"]

LISTING_REASON = "not an article (listing page)"  # the reason a listing is dropped or skipped with

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "opinionnewsarticle", "analysisnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "askpublicnewsarticle", "satiricalarticle",
    "blogposting", "socialmediaposting", "liveblogposting", "scholarlyarticle", "techarticle", "report",
    "medicalscholarlyarticle", "advertisercontentarticle", "review", "recipe", "howto", "faqpage", "qapage",
})
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "sitenavigationelement"})

# Never content; removed first.
_CODE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "select", "button")
# Page chrome: navigation, header, footer, asides, forms, widgets. Removed unless it holds much of the
# page's text or a paragraph of running text (a theme that wraps the article in `<div class="widget">` or
# `<header>` keeps it); navigation (`<nav>`, role=navigation) is always removed.
_CHROME_TAGS = ("header", "nav", "footer", "aside", "form")
_CHROME_SHARE = 0.4
_PROSE = 30  # words of a paragraph of running text
_CHROME_CLASS = re.compile(
    r"(^|[\s_-])(nav|navbar|navigation|menu|megamenu|breadcrumbs?|footer|"
    r"sidebar|widget|cookie|cookies|consent|share|sharing|social|newsletter|subscribe|"
    r"related|popular|trending|recommended|comments?|pager|pagination"
    r")($|[\s_-])", re.I)
_WORD = re.compile(r"[^\W\d_]+")  # letters only: prices, scores and dates are not running text
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass
class ListingVerdict:
    listing: bool
    reason: str
    teasers: int = 0                 # distinct same-site links whose text reads like a headline
    longest_run: int = 0             # words in the longest stretch of text not broken by a headline link
    running_words: int = 0           # words of the main content outside links
    types: set[str] = field(default_factory=set)  # JSON-LD @type values and og:type (lower-case)
    dated: bool = False              # a publication date is declared

    def __bool__(self) -> bool:
        return self.listing


def _words(text: str | None) -> int:
    """Words of ``text``; a run of CJK characters counts one word per two characters."""
    n = 0
    for token in _WORD.findall(text or ""):
        n += max(1, len(_CJK.findall(token)) // 2) if _CJK.search(token) else 1
    return n


def _jsonld(doc) -> tuple[set[str], bool, int]:
    """(@type values, whether an article object has a datePublished, how many distinct article objects)."""
    types: set[str] = set()
    dated = False
    articles: set[str] = set()

    def walk(node, depth=0):
        nonlocal dated
        if depth > 6:
            return
        if isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        elif isinstance(node, dict):
            t = node.get("@type")
            names = [v.rsplit("/", 1)[-1].lower() for v in (t if isinstance(t, list) else [t]) if isinstance(v, str)]
            types.update(names)
            if ARTICLE_TYPES.intersection(names):
                articles.add(str(node.get("headline") or node.get("url") or node.get("@id") or len(articles)))
                dated = dated or bool(node.get("datePublished"))
            for key in ("@graph", "mainEntity"):
                if key in node:
                    walk(node[key], depth + 1)

    for script in doc.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            walk(json.loads(raw))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            continue
    return types, dated, len(articles)


def _meta(doc, *names: str) -> str | None:
    for name in names:
        for value in doc.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content'):
            if value.strip():
                return value.strip().lower()
    return None


def _is_chrome(el) -> bool:
    if el.tag in _CHROME_TAGS:
        return True
    if el.get("role") in ("navigation", "banner", "contentinfo", "complementary", "search"):
        return True
    if el.get("aria-hidden") == "true" or el.get("hidden") is not None:
        return True
    marks = f"{el.get('class', '')} {el.get('id', '')}"
    return bool(marks.strip()) and bool(_CHROME_CLASS.search(marks))


def _has_prose(el) -> bool:
    """Whether ``el`` holds a paragraph of running text (30+ words outside links): article text, which a
    class name such as `widget` or `comments-enabled` around it does not make chrome."""
    for para in el.iter("p"):
        words = _words(para.text_content())
        if words >= _PROSE and words - sum(_words(_link_text(a)) for a in para.iter("a")) >= _PROSE:
            return True
    return False


def _main_content(doc):
    """The page body with scripts and (most of) its chrome removed, in place."""
    body = doc.find("body")
    if body is None:
        body = doc
    for el in [e for e in body.iter(*_CODE_TAGS) if e is not body]:
        el.drop_tree()
    lxml.etree.strip_tags(body, lxml.etree.Comment, lxml.etree.ProcessingInstruction)  # keeps their tails
    total = _words(body.text_content())
    for el in [e for e in body.iter() if isinstance(e.tag, str) and e is not body and _is_chrome(e)]:
        if not any(anc is body for anc in el.iterancestors()):
            continue  # inside chrome already dropped
        if el.tag == "nav" or el.get("role") == "navigation" or (
                _words(el.text_content()) < _CHROME_SHARE * total and not _has_prose(el)):
            el.drop_tree()
    return body


def _link_text(a) -> str:
    return " ".join(a.text_content().split())


def _headline_link(a) -> bool:
    """A link that stands on its own (a teaser's headline), not one inline in a paragraph's text."""
    para = next((anc for anc in a.iterancestors() if anc.tag == "p"), None)
    if para is None:
        return True
    return _words(_link_text(a)) >= 0.6 * _words(para.text_content())


def _teaser_target(a, url: str, site: str, here: str) -> str | None:
    """The target of ``a`` if it reads like a headline link to another page of the same site."""
    href = (a.get("href") or "").strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return None
    target = urljoin(url, href).split("#")[0]
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or (site and site_of(parts.hostname or "") != site):
        return None
    if parts.path in ("", "/") or target.rstrip("/") == here:
        return None
    return target if _words(_link_text(a)) >= 4 else None


def listing_verdict(html: bytes | str, url: str) -> ListingVerdict:
    """Whether the page at ``url`` is a listing page, and why."""
    try:
        doc = lxml.html.fromstring(reopen_page(html))  # an article after an early </html> counts, as in extract()
    except (lxml.etree.ParserError, ValueError, TypeError):
        return ListingVerdict(False, "unparsable")
    if not isinstance(doc.tag, str):
        return ListingVerdict(False, "unparsable")
    types, dated, n_articles = _jsonld(doc)
    og = _meta(doc, "og:type")
    if og:
        types.add(og)
    dated = dated or bool(_meta(doc, "article:published_time", "datepublished", "datePublished", "pubdate",
                                "publish-date", "parsely-pub-date", "sailthru.date", "dc.date"))
    verdict = ListingVerdict(False, "", types=types, dated=dated)
    many = n_articles >= 3  # one JSON-LD article per teaser: a section page describing its items
    if not many and (types & ARTICLE_TYPES or (og == "article" and dated)):
        verdict.reason = "declares an article"
        return verdict

    body = _main_content(doc)
    site = site_of(host_of(url)) if host_of(url) else ""
    here = url.split("#")[0].rstrip("/")
    teasers: set[str] = set()
    # Walk the text in document order: running text (outside links) accumulates into a run, which a
    # headline link (a teaser that is most of its block's text) ends. An article has a long run (its
    # paragraphs); a listing's runs are one summary each.
    run = longest_run = running = 0
    links = 0  # depth inside <a>
    for event, el in lxml.etree.iterwalk(body, events=("start", "end")):
        if event == "start":
            if el.tag == "a":
                target = _teaser_target(el, url, site, here)
                if target:
                    teasers.add(target)
                    if _headline_link(el):
                        longest_run, run = max(longest_run, run), 0
                links += 1
            if el.text and not links:
                n = _words(el.text)
                run += n
                running += n
        else:
            if el.tag == "a":
                links -= 1
            if el is not body and el.tail and not links:
                n = _words(el.tail)
                run += n
                running += n
    longest_run = max(longest_run, run)
    verdict.teasers, verdict.longest_run, verdict.running_words = len(teasers), longest_run, running

    if verdict.teasers >= 3 and longest_run < 80:
        verdict.listing, verdict.reason = True, "teasers without running text"
    elif verdict.teasers >= 3 and (types & LISTING_TYPES or many) and longest_run < 150:
        verdict.listing, verdict.reason = True, "declares a collection and lists teasers"
    else:
        verdict.reason = "running text" if verdict.teasers >= 3 else "few teasers"
    return verdict


def is_listing_page(html: bytes | str, url: str) -> bool:
    """Shorthand for ``listing_verdict(html, url).listing``."""
    return listing_verdict(html, url).listing
