"""Article extraction: bytes or HTML in, a clean `Document` (body text + metadata) out.

trafilatura does the body (in fast mode, its own readability/justext comparison run only where fast mode kept
no article; its cross-document `deduplicate` off); readability-lxml rescues pages where trafilatura keeps
only part of the article's <p> prose or left out the prose of its lists, the learned block selector
(selector.py) pages where it kept little of the page at all; outlet profiles (profiles.toml) drop widgets before and
boilerplate paragraphs after; repeated paragraphs (a body served twice) come out once. Metadata comes
from JSON-LD, <meta>/<link> tags and headings, with htmldate only when the page states no date.
Pure: no scrapy, no network.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from copy import deepcopy
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from lxml.html import HTMLParser
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, HTML_PARSER, load_html

from pipelines.dedup.canonical import credited_outlet

from pipelines.extract.charset import decoded
from pipelines.extract.discards import discarded_holders, within_reach, without_names
from pipelines.extract.json_ld import keep_json_ld
from pipelines.extract.mojibake import page_suspect, repair, repair_tree, repair_values
from pipelines.extract.language import choose_language
from pipelines.extract.markup import reopen_page
from pipelines.extract.metadata import page_metadata
from pipelines.extract.words import TOKEN, word_key
from pipelines.extract.words import count_words as _count_words
from pipelines.extract.profiles import Profile, get_profile, profile_for_url
from pipelines.extract.sanitise import binary_kind, mostly_controls, sanitised
from pipelines.extract.threads import drop_comment_threads

__all__ = ["Document", "ExtractionResult", "ExtractConfig", "try_extract", "extract",
           "EXTRACTOR_NAME", "EXTRACTOR_VERSION"]

EXTRACTOR_NAME = "corpus-extract"
EXTRACTOR_VERSION = f"1.6+trafilatura-{trafilatura.__version__}"  # 1.1: block selector, metadata rules; 1.2: fast
# mode; 1.3: blocks named like widgets that hold the article (discards.py), block ancestors not id()s; 1.4: the
# page's JSON-LD kept for trafilatura's last resort (json_ld.py), lists of prose trafilatura left out; 1.5: only
# the JSON-LD's article bodies kept, lists outside the container trafilatura read are not the article's,
# mojibake in the page's own bytes repaired (mojibake.py); 1.6: comment threads dropped by their shape
# (threads.py), authors' credentials and "Last, First" tags, JSON-LD mainEntity

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
    fast: bool = True              # trafilatura without its own readability/justext comparison: our rescue and
                                   # selector do that job (bench/extraction.py: 0.1-0.2 points of word F1 for a
                                   # third of its time)
    keep_named: bool = True        # trafilatura run again without the boilerplate names (discards.py) of blocks
    keep_named_below: float = 0.7  # holding prose it left out, when it kept under this share of the <p> words
    keep_named_share: float = 0.2  # and a block holds this share of them (50 words at least)
    rescue: bool = True            # readability-lxml when trafilatura keeps too little of the page's prose
    rescue_below: float = 0.55     # ...i.e. when its output has less than this share of the <p> words,
    rescue_missing: float = 1.0    # the <p> paragraphs it left out hold at least as many words as it kept
    rescue_par_words: int = 30     # and are article-like (this many words on average);
    rescue_gain: float = 1.6       # readability's text must then be this many times longer and cover it
    rescue_items: float = 0.2      # readability also when the prose list items left out (12+ words, few of them
                                   # links) hold this share of the words kept (50 at least): lists and the
                                   # headings between them that trafilatura dropped from a kept article;
    rescue_items_beside: float = 0.1  # or this share in lists beside a kept paragraph
    rescue_items_gain: float = 1.05  # ...its text then taken when this many times longer and covering
    rescue_items_covers: float = 0.5  # this share of the first
    rescue_items_reach: int = 100  # items outside the container trafilatura read count only when it kept less
                                   # (a header-only <article>), not after an article (a comment thread)
    min_words: int = 40
    listing_below: int = 300       # under this many prose words (or outside lists), the listing check has a say
    select: bool = True            # the learned block selector (selector.py) where trafilatura kept little:
    select_below: float = 0.3      # used when trafilatura's text has under this share of the selector's words
    select_gate: float = 0.3       # ...checked only when it has under this share of the page's visible words,
    select_kept_p: float = 0.4     # and not when it kept this share of the words in <p> elements while those
    select_p_share: float = 0.2    # hold this share of the visible words: it found the prose, the rest is chrome
    extra: dict = field(default_factory=dict)  # more trafilatura.bare_extraction keyword arguments


def count_words(text: str, language: str | None = None) -> int:
    """Words of ``text``: ``pipelines.extract.words.count_words`` (scripts without spaces segmented by ICU)."""
    return _count_words(text, language)


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


def _prune(tree, profiles: list[Profile], source: str | None = None, fix=None):
    """Drop scripts, styles and profile selectors in place; narrow the tree to the `keep` container when one
    matches. (Metadata, which reads JSON-LD scripts, is taken before; their article bodies stay, in the <head>.)"""
    json_ld = keep_json_ld(tree, fix)  # trafilatura's last resort (json_ld.py); fix: the mojibake repair
    etree.strip_elements(tree, "script", "style", with_tail=False)
    if json_ld:
        head = tree.find("head")
        if head is None:
            head = lxml_html.Element("head")
            tree.insert(0, head)
        head.extend(json_ld)
    for el in _select(tree, tuple(s for p in profiles for s in p.drop), source):
        if el.getparent() is not None and el.tag not in ("html", "body"):
            el.drop_tree()
    drop_comment_threads(tree)  # reader comments whose markup does not say so (threads.py)
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
        favor_precision=cfg.favor_precision, include_tables=cfg.include_tables, fast=cfg.fast, **cfg.extra)
    return (doc.text or "") if doc is not None else ""


def _readability_text(tree, url: str | None) -> str:
    from readability import Document as Readable

    try:
        # on a copy: readability-lxml drops hidden elements from the tree it is given, which the selector reads
        # next; without elements that never hold the article's prose (not header, aside or form: some pages
        # put the whole article in one, an ASP.NET page in its <form>)
        copy = deepcopy(tree)
        etree.strip_elements(copy, "nav", "noscript", "svg", "iframe", "select", "button", with_tail=False)
        summary = Readable(copy, url=url).summary(html_partial=True)
        frag = lxml_html.fromstring(summary)
    except Exception:  # noqa: BLE001 - the rescue is best effort
        return ""
    blocks = frag.xpath(".//*[self::p or self::h2 or self::h3 or self::h4 or self::li or self::blockquote"
                        " or self::pre][not(ancestor::p or ancestor::li or ancestor::blockquote)]")
    return "\n".join(" ".join(b.text_content().split()) for b in blocks)


def _covers(big: str, small: str) -> float:
    """Share of `small`'s distinct words found in `big`."""
    words = set(TOKEN.findall(small.lower()))
    return len(words & set(TOKEN.findall(big.lower()))) / len(words) if words else 0.0


_P_TEXTS = etree.XPath("//p//text()", smart_strings=False)  # plain strings: no parent kept for each


def _p_words(tree) -> int:
    """Words in the page's <p> elements: the prose, in one cheap pass."""
    return len(" ".join(_P_TEXTS(tree)).split())


def _key(text: str) -> str:
    """A text without its white space: what is compared when asking whether a block is in a text, so that
    line breaks and inline tags (``<b>x</b><br>y``) count for nothing."""
    return "".join(text.split())


def _blocks_in(elements, key: str, least: int = 12):
    """Each element of ``least`` words or more, with its text on one line, its words, and whether its first 64
    characters (white space aside) are in ``key`` (a text's ``_key``): the one test of "did this block make
    it into the text" for paragraphs and list items alike."""
    for el in elements:
        words = " ".join(el.text_content().split())
        n = words.count(" ") + 1 if words else 0
        if n >= least:
            yield el, words, n, _key(words)[:64] in key


def _left_out(tree, flat: str, memo: dict | None = None) -> tuple[list[tuple], list, int]:
    """The page's <p> paragraphs of 12 words or more missing from ``flat`` (a text on one line), with their
    words; those of 12 words or more found in it; and the words of all its <p> paragraphs. ``memo``: one
    page's answers by text (the named-block step and the rescue ask about the same text)."""
    if memo is not None and flat in memo:
        return memo[flat]
    out, kept, prose = [], [], 0
    for p, _, n, found in _blocks_in(tree.iter("p"), _key(flat), least=0):
        prose += n
        if n >= 12:
            (kept.append(p) if found else out.append((p, n)))
    if memo is not None:
        memo[flat] = (out, kept, prose)
    return out, kept, prose


def _maybe_keep_named(tree, text: str, url: str | None, cfg: ExtractConfig, p_words: int,
                      memo: dict | None = None) -> str:
    """trafilatura's text again with the names hidden of blocks it discarded by name but which hold the prose
    it left out (discards.py), when that text is much longer and keeps the first."""
    flat = " ".join(text.split())
    got = len(flat.split())
    if got >= cfg.keep_named_below * p_words:
        return text
    left, kept, _ = _left_out(tree, flat, memo)
    blocks = within_reach(discarded_holders(left, max(50, cfg.keep_named_share * p_words), kept, got), tree, kept)
    if not blocks:
        return text
    alt = without_names(blocks, lambda: _trafilatura_text(tree, url, cfg))
    return alt if len(alt.split()) >= 1.2 * max(got, 1) and _covers(alt, text) >= 0.9 else text


_READABLE = ("readability",)  # its key in a page's memo, which otherwise holds texts


def _readability_memo(tree, memo: dict | None) -> str:
    """readability's text of the page, once per page (``memo``): the two rescues may both ask for it (10 of
    the 966 dev pages), at about 40 ms each. No base URL: links are not text, and resolving them costs a tenth."""
    if memo is None:
        return _readability_text(tree, None)
    if _READABLE not in memo:
        memo[_READABLE] = _readability_text(tree, None)
    return memo[_READABLE]


def _maybe_rescue(tree, text: str, url: str | None, cfg: ExtractConfig, p_words: int | None = None,
                  memo: dict | None = None) -> str:
    """Readability's text instead of trafilatura's when the page holds much more prose than was kept."""
    flat = " ".join(text.split())
    got = len(flat.split())
    if got >= cfg.rescue_below * (_p_words(tree) if p_words is None else p_words):
        return text  # the usual case, decided with one cheap pass
    left, _, prose = _left_out(tree, flat, memo)
    missing, blocks = sum(n for _, n in left), len(left)
    if (not prose or got >= cfg.rescue_below * prose or missing < cfg.rescue_missing * got
            or missing < cfg.rescue_par_words * blocks):
        return text
    alt = _readability_memo(tree, memo)
    if len(alt.split()) >= cfg.rescue_gain * max(got, 1) and _covers(alt, text) >= 0.9:
        return alt
    return text


# list items without a list or paragraph inside, long enough to hold 12 words
_PLAIN_ITEMS = etree.XPath("//li[not(.//li or .//p)][string-length(normalize-space()) >= 50]")


def _beside_kept_prose(li, key: str, memo: dict) -> bool:
    """Whether the item's list sits beside a paragraph of the text (``key``): a list of the article itself, not
    of a sidebar or a related-stories block."""
    holder = li.getparent()
    holder = holder.getparent() if holder is not None else None
    if holder is None:
        return False
    if holder not in memo:
        memo[holder] = any(found for *_, found in _blocks_in(holder.iterchildren("p"), key, least=25))
    return memo[holder]


def _items_left_out(tree, flat: str, anywhere: float, beside: float, reach: bool = True) -> bool:
    """Whether the page's prose list items missing from ``flat`` (a text on one line) hold ``anywhere`` words,
    or ``beside`` words in lists beside its paragraphs: items of 12 words or more, under a third of them in
    links, with no list or paragraph inside; with ``reach``, only those within trafilatura's reach
    (discards.py: when it read the article from a container such as ``<article>``, a list outside it, a
    comment thread, is not the article's)."""
    key, memo = _key(flat), {}
    items = [(li, n, _beside_kept_prose(li, key, memo))
             for li, _, n, found in _blocks_in(_PLAIN_ITEMS(tree), key)
             if not found and 3 * sum(len(a.text_content().split()) for a in li.iter("a")) <= n]

    def enough(chosen) -> bool:
        return (sum(n for _, n, _ in chosen) >= anywhere
                or sum(n for _, n, near in chosen if near) >= beside)

    if not enough(items):
        return False
    if not reach:
        return True
    within = {id(li) for li in within_reach([li for li, _, _ in items], tree, _left_out(tree, flat)[1])}
    return enough([item for item in items if id(item[0]) in within])


def _maybe_rescue_items(tree, text: str, cfg: ExtractConfig, memo: dict | None = None) -> str:
    """Readability's text where trafilatura left out the prose of the article's lists: where no container it
    knows holds the article, it keeps only the paragraphs, and the lists and the headings between them are lost.
    The bar: items left out holding a fifth of the words kept, or a tenth in lists beside a kept paragraph.
    Items outside the container trafilatura read the article from (a comment thread after an <article>) do not
    count, unless it kept under 100 words there (an <article> holding the headline and intro only).
    Measured on wcxb-dev and fundus-pages: readability runs on 26 of 966 pages; its text is taken on 20,
    each better for it (word F1 +0.02 to +0.47; wcxb 0.9463 -> 0.9522), and no page is worse. Items anywhere at
    a tenth instead would take news pages' related-story lists (fundus: -0.13, -0.11, -0.03)."""
    flat = " ".join(text.split())
    got = len(flat.split())
    if not _items_left_out(tree, flat, max(50, cfg.rescue_items * got), max(50, cfg.rescue_items_beside * got),
                           reach=got >= cfg.rescue_items_reach):
        return text
    alt = _readability_memo(tree, memo)
    if len(alt.split()) >= cfg.rescue_items_gain * max(got, 1) and _covers(alt, text) >= cfg.rescue_items_covers:
        return alt
    return text


@lru_cache(maxsize=64)
def _combined(patterns: tuple[str, ...]) -> re.Pattern | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I | re.S) if patterns else None


_LETTERS = re.compile(r"[\W_]+")


def clean_paragraphs(text: str, patterns: list[str] | tuple[str, ...], title: str | None = None) -> list[str]:
    """Split into paragraphs; drop boilerplate (regexes matching a whole paragraph), a leading title and repeats."""
    junk = _combined(tuple(p if isinstance(p, str) else p.pattern for p in patterns))
    seen: set[str] = set()
    out: list[str] = []
    title_key = word_key(title) if title else None
    title_letters = _LETTERS.sub("", title.lower()) if title else ""
    for raw in text.split("\n"):
        par = " ".join(raw.split())
        if not par:
            continue
        key = word_key(par)
        if not key or key in seen or (not out and key == title_key):
            continue
        if not out and len(title_letters) >= 15 and len(par) <= 2 * len(title) + 60:
            letters = _LETTERS.sub("", par.lower())
            if letters.endswith(title_letters) and len(letters) - len(title_letters) <= 60:
                continue  # the headline again, a kicker or breadcrumb run into it ("HomeCybersecurity Best...")
        if junk is not None and (junk.fullmatch(par) or (par.startswith("- ") and junk.fullmatch(par[2:]))):
            continue  # (a list item as trafilatura writes it, "- Advertisement", is matched without its dash)
        seen.add(key)
        out.append(par)
    return out


def _prose_counts(pars: list[str]) -> tuple[int, int]:
    """Words in sentence-like paragraphs (not headlines) and in paragraph-long list items, apart: listing
    pages have few of either. A list item of 40+ words ending a sentence is prose (a how-to step, a course's
    text), longer than any headline or teaser line a listing's items hold."""
    paragraphs = items = 0
    for par in pars:
        n = count_words(par)
        if par.startswith("- "):
            if n >= 40 and _PROSE_END.search(par):
                items += n
        elif n >= 10 and (n >= 40 or _PROSE_END.search(par)):
            paragraphs += n
    return paragraphs, items


def _prose_words(pars: list[str]) -> int:
    """Words of prose, list items of a paragraph's length included (see ``_prose_counts``)."""
    return sum(_prose_counts(pars))


# trafilatura's parser, without libxml2's safety limits (huge_tree): by default it stops building the tree at
# 256 levels of nesting (a legacy page with one unclosed <font> per paragraph lost its last 1,100 of 8,400
# words, no error) and after a text node of 10 MB (a Next.js page's __NEXT_DATA__ in <head>: no article at
# all). Pages are bounded by DOWNLOAD_MAXSIZE before they get here; where a tree this deep is too deep for
# the Python that reads it (RecursionError, past ~900 levels), try_extract reads the limited tree instead.
DEEP_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                         remove_pis=True, huge_tree=True)


def _parse_html(text: str, deep: bool = True, data: bytes | None = None):
    """The lxml tree trafilatura's ``load_html`` builds, from UTF-8 bytes: 1.3 instead of 2.2 ms on a wcxb
    page, because the markup is already sanitised (``sanitise_markup``), so the scan for characters no XML
    tree can hold is not repeated, and lxml reads bytes faster than a str. The same trees on the 966 pages
    of wcxb-dev and fundus-pages but the 26 with markup after their first ``</body>`` or ``</html>``, which
    come out as a browser shows them (libxml2 drops what follows ``</html>``: on one wcxb page, the whole
    article); ``load_html`` itself wherever this gives no tree."""
    beginning = text[:50].lower()
    given = text
    if "doctype" in beginning:  # trafilatura's repairs: a doctype libxml2 misreads, a self-closed <html/>
        first, _, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", first, count=1) + "\n" + rest
    for line in text[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            text = FAULTY_HTML.sub(r"\1>", text, count=1)
            break
    if data is None or text != given:  # (``data``: the UTF-8 of ``text`` as given, when the caller has it)
        data = text.encode("utf-8", "surrogatepass")
    # markup after an early </body></html> read as a browser shows it (pipelines/extract/markup.py)
    data = reopen_page(data)
    try:
        tree = lxml_html.fromstring(data, parser=DEEP_PARSER if deep else HTML_PARSER)
    except Exception:  # noqa: BLE001 - load_html has its own fallbacks and logging
        tree = None
    if tree is None or len(tree) < 1:
        return load_html(text)  # (its own tree: no early </html> repair, as for a fragment)
    if "html" not in beginning and len(tree) < 2:
        return None  # load_html's test of a fragment that is not HTML
    return tree


STEP_TIMES: Counter = Counter()  # seconds spent in each step of try_extract, summed (bench/extraction.py --steps)


def _lap(step: str, since: float) -> float:
    now = time.perf_counter()
    STEP_TIMES[step] += now - since
    return now


@dataclass
class Prepared:
    """A page parsed and pruned, with its metadata and body candidates (the steps before cleaning)."""

    tree: object
    meta: dict
    traf: str            # trafilatura's text
    body: str            # the body chosen so far (trafilatura's, readability's rescue or the selector's)
    outlet: Profile | None
    patterns: tuple

    @property
    def final_text(self) -> str:
        return "\n\n".join(clean_paragraphs(self.body, self.patterns, self.meta.get("title")))


def prepare(html: str | bytes, url: str | None = None, *, profile: str | None = None,
            headers_charset: str | None = None, config: ExtractConfig | None = None,
            select: bool | None = None, fetched: str | None = None, deep: bool = True) -> Prepared | ExtractionResult:
    """Decode, parse, read metadata, prune by profiles and choose the body; an `ExtractionResult` when not HTML.
    ``deep=False``: the tree within libxml2's default limits (see DEEP_PARSER)."""
    cfg = config or ExtractConfig()
    if not isinstance(html, (str, bytes)) or not html.strip():
        return ExtractionResult(None, "empty-page")
    t = time.perf_counter()
    text, raw = decoded(html, headers_charset) if isinstance(html, bytes) else (html, None)
    if (isinstance(html, bytes) and binary_kind(html[:64].lstrip())) or mostly_controls(text):
        return ExtractionResult(None, "not-html")  # a PDF, an image... labelled HTML; binary data
    text, data = sanitised(text, raw)  # stray control characters (&#1;, a NUL) must not cost the article
    if not _NOT_HTML.search(text[:100_000]):
        return ExtractionResult(None, "not-html")
    t = _lap("decode", t)
    tree = _parse_html(text, deep, data)
    garbled = tree is not None and page_suspect(text)
    if garbled:
        repair_tree(tree)  # text garbled in the page's own bytes ("isnâ€™t"): mojibake.py
    t = _lap("parse", t)
    if tree is None or not any(t.strip() for t in tree.itertext()):
        return ExtractionResult(None, "empty-page")
    outlet = get_profile(profile) if profile else profile_for_url(url)
    rules = [get_profile("default")] + ([outlet] if outlet and outlet.name != "default" else [])
    meta = page_metadata(tree, url, fetched, text)
    if garbled:
        meta = repair_values(meta)  # and what the JSON-LD's scripts said
    t = _lap("metadata", t)
    tree = _prune(tree, rules, text, repair if garbled else None)
    t = _lap("profiles", t)
    traf = _trafilatura_text(tree, url, cfg)
    p_words = _p_words(tree)
    if cfg.fast and _prose_words(traf.split("\n")) < cfg.min_words <= p_words:
        # fast mode kept no article (a menu, a teaser) from a page with paragraphs of prose: trafilatura's
        # full cascade, with its own readability and justext comparison, on the few pages where that can
        # still find one (a page without <p> prose, a table or link dump, is not worth a second run)
        traf = _trafilatura_text(tree, url, replace(cfg, fast=False))
    t = _lap("trafilatura", t)
    body = traf
    memo: dict = {}  # the <p> paragraphs left out of a text, asked twice
    if cfg.keep_named:
        body = _maybe_keep_named(tree, body, url, cfg, p_words, memo)
        t = _lap("named", t)
    if cfg.rescue:
        body = _maybe_rescue(tree, body, url, cfg, p_words, memo)
        t = _lap("rescue", t)
    if cfg.select if select is None else select:
        body = _maybe_select(tree, traf, body, meta.get("title"), cfg, p_words)
        t = _lap("selector", t)
    if cfg.rescue:
        body = _maybe_rescue_items(tree, body, cfg, memo)
        _lap("rescue items", t)
    return Prepared(tree, meta, traf, body, outlet, tuple(p for r in rules for p in r.drop_text))


def _maybe_select(tree, traf: str, body: str, title: str | None, cfg: ExtractConfig,
                  p_words: int | None = None) -> str:
    """The learned selector's blocks (pipelines/extract/selector.py) when trafilatura kept under
    `select_below` of what the selector finds: pages where it missed most of the article (lists, tables,
    sections it judged boilerplate). Decided first with one cheap count of the page's words."""
    got = len(body.split())
    body_el = tree.find(".//body")
    # the selector's text is at most the page's visible text (scripts and styles are gone by now): a page
    # where trafilatura kept a good share of it is left alone without computing anything more
    visible = len(body_el.xpath("string()").split()) if body_el is not None else 0
    if body_el is None or got >= cfg.select_gate * visible:
        return body
    p_words = _p_words(tree) if p_words is None else p_words
    if got >= cfg.select_kept_p * p_words and p_words >= cfg.select_p_share * visible:
        return body  # the page's prose is in <p> elements and trafilatura kept a good share of it
    from pipelines.extract.selector import select_text

    alt = select_text(tree, traf, title)
    return alt if got < cfg.select_below * len(alt.split()) else body


def try_extract(html: str | bytes, url: str | None = None, *, profile: str | None = None,
                headers_charset: str | None = None, min_words: int | None = None,
                config: ExtractConfig | None = None, fetched: str | None = None) -> ExtractionResult:
    """Extract the article of one page; `document` is None (with `reason`) when there is none. `fetched`
    (ISO date or time) is when the page was fetched, today when not given: no published date is later than
    the day after it, and a date guessed from the page's text alone is not that very day (a masthead's)."""
    cfg = config or ExtractConfig()
    min_words = cfg.min_words if min_words is None else min_words
    try:
        return _try_extract(html, url, profile, headers_charset, min_words, cfg, fetched, deep=True)
    except RecursionError:  # nesting deeper than the Python that walks the tree can follow
        return _try_extract(html, url, profile, headers_charset, min_words, cfg, fetched, deep=False)


def _try_extract(html, url, profile, headers_charset, min_words: int, cfg: ExtractConfig, fetched,
                 deep: bool) -> ExtractionResult:
    page = prepare(html, url, profile=profile, headers_charset=headers_charset, fetched=fetched, deep=deep,
                   config=cfg if min_words == cfg.min_words else replace(cfg, min_words=min_words))
    if isinstance(page, ExtractionResult):
        return page
    t = time.perf_counter()
    meta, body, outlet = page.meta, page.body, page.outlet
    credit = credited_outlet(body)
    pars = clean_paragraphs(body, page.patterns, meta.get("title"))
    t = _lap("clean", t)
    if not pars:
        return ExtractionResult(None, "no-article-text")
    in_paragraphs, in_items = _prose_counts(pars)
    prose = in_paragraphs + in_items
    if prose < min_words:
        return ExtractionResult(None, "too-short" if count_words(" ".join(pars)) >= 5 else "no-article-text")
    if in_paragraphs < cfg.listing_below:  # the prose outside lists (all prose is at least as much)
        from pipelines.extract.listing import listing_verdict

        # little prose, or prose only in list items: teaser summaries of a home, section or search page can add
        # up to this much (trafilatura's fast mode keeps them), so the listing check (pipelines/extract/listing.py)
        # decides, as the crawl does before extraction; it calls none of the 966 real article pages of
        # wcxb-dev and fundus a listing
        if listing_verdict(html, url or "").listing:
            return ExtractionResult(None, "listing-page")
    text = "\n\n".join(pars)
    meta["language_declared"] = meta["language"]
    meta["language"] = choose_language(text, meta["language"])[0]
    _lap("language", t)
    doc = Document(text=text, profile=outlet.name if outlet else None, credit=credit, **meta)
    return ExtractionResult(doc, None)


def extract(html: str | bytes, url: str | None = None, **kw) -> Document | None:
    """The article `Document` of a page, or None when it has none (see `try_extract`)."""
    return try_extract(html, url, **kw).document
