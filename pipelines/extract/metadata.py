"""Page metadata: title (the headline), authors (people), publication date, declared language, canonical URL,
description and site name, from JSON-LD, <meta>/<link> tags, headings and bylines. Pure: no scrapy, no network.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urljoin, urlsplit

from lxml import etree
from trafilatura.metadata import normalize_authors

from pipelines.extract.language import normalize_code
from pipelines.extract.words import TOKEN, word_key

__all__ = ["page_metadata", "split_authors", "iso_date"]


_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
                  "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "liveblogposting",
                  "scholarlyarticle", "techarticle", "report", "socialmediaposting", "webpage"}
_DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished", "publishdate",
              "pubdate", "publish-date", "parsely-pub-date", "sailthru.date", "dc.date.issued", "dc.date",
              "dcterms.created", "date", "article.published", "og:published_time", "published")
_MONTH_NUM = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                          "nov", "dec"), 1)}
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# a day written out: "September 4, 2025", "Sep 4th 2025", "4 September 2025", "2025-09-04", "04.09.2025"
# (day first, as Europe writes it); "2/24/2026" and "24/02/2026" where the order shows (a part above 12): US
# "09/04/2025" is ambiguous and left to the metadata
_SHOWN_DATE = re.compile(
    rf"\b(?P<mon1>{_MON})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>(?:19|20)\d\d)\b"
    rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?P<mon2>{_MON}),?\s+(?P<y2>(?:19|20)\d\d)\b"
    r"|\b(?P<iy>(?:19|20)\d\d)-(?P<im>\d\d)-(?P<id>\d\d)\b"
    r"|\b(?P<ed>\d{1,2})\.(?P<em>\d{1,2})\.(?P<ey>(?:19|20)\d\d)\b"
    r"|(?<![\d/])(?P<sa>\d{1,2})/(?P<sb>\d{1,2})/(?P<sy>(?:19|20)\d\d)\b", re.I)
_DATE_WINDOW = 600  # characters of visible text after the headline (measured: 300 and 1200 do worse)
_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "parsely-author", "sailthru.author", "dc.creator",
                "citation_author", "byl")
_NAME_PREFIX = re.compile(r"^(?:(?:this (?:post|article) (?:was )?)?(?:written|posted|article|recipe|story|"
                          r"words|text|reported|reviewed)\s+by\s*:?\s*|(?:authors?|by|autor|auteur|oleh|penulis|"
                          r"tác giả|bởi|โดย|ผู้เขียน)\s*:?\s+)", re.I)
# words that end a name in a byline: roles, date labels, months (a person's name holds none of them)
_NOT_NAME_WORDS = {"reporter", "correspondent", "writer", "editor", "journalist", "founder", "co-founder",
                   "ceo", "columnist", "contributor", "author", "updated", "last", "published", "posted",
                   "read", "more", "about", "former", "consultant", "head", "lead", "winemaker", "director",
                   "manager", "photographer", "specialist", "strategist", "expert", "advisor", "analyst", "designer",
                   "developer", "engineer", "officer", "president", "vp", "owner", "partner", "coach", "dietitian",
                   "nutritionist", "gardener", "|", "•"}
_NAME_MONTHS = {"may", "june", "april", "august"}  # also first names and surnames
_MONTH_WORDS = {*(m.lower() for m in ("January February March April May June July August September October "
                                         "November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
                                         ).split())}
_ROLE_MODIFIERS = {"tech", "senior", "staff", "contributing", "chief", "managing", "deputy", "political",
                   "science", "business", "sports", "associate", "assistant", "executive", "special", "marketing",
                   "content", "digital", "product", "vice"}
_GENERIC_AUTHORS = {"staff", "admin", "administrator", "editor", "editors", "editorial", "editorial team",
                    "editorial staff", "the editors", "the author", "written by", "name", "the"}
# a person's name as bylines write it: 2-4 capitalised words, particles allowed ("Marna van der Merwe")
_NAME_LIKE = re.compile(r"^(?:[A-ZÀ-ÞĀ-ſ][\w'’.-]+|van|der|de|del|da|di|la|le|von|bin|al)"
                        r"(?:\s+(?:[A-ZÀ-ÞĀ-ſ][\w'’.-]*|van|der|de|del|da|di|la|le|von|bin|al)){1,3}$")
_BY_TEXT = re.compile(r"(?:^|[\s|•·(])(?:[Bb]y|BY|[Ww]ritten by|[Ww]ords by|[Aa]uthors?:|[Cc]ontributors?:|"
                      r"[Oo]leh|OLEH|[Pp]enulis:)\s*:?[\s¦]+"  # (Indonesian and Malay: "oleh", "penulis")
                      r"((?:[A-ZÀ-ÞĀ-ſ][\w'’.-]+)(?:\s+(?:van|der|de|del|da|di|la|le|von|bin|al|"
                      r"[A-ZÀ-ÞĀ-ſ][\w'’.-]+)){1,3})")
_SPLIT_AUTHORS = re.compile(r"\s*(?:,|;|\||/|&|\s[-–—]\s|\band\b|\bund\b|\bet\b|\by\b|\bog\b)\s*", re.I)
_PIPE = re.compile(r"\s+\|\s+")
_TITLE_SEP = re.compile(r"\s+(?:\||-|–|—|•|::|·|»)\s+")
_MOJIBAKE = re.compile("[âÃÂ][\u0080-\u00bf\u20ac\u201a-\u201e\u2018-\u2122]")
_HOST_NOISE = {"www", "m", "amp", "blog", "blogs", "news", "com", "org", "net", "co", "uk", "de", "html"}
_CHROME = re.compile(r"logo|site-?title|site-?name|brand|masthead|menu|widget|navbar|sidebar", re.I)
_TITLE_NAMES = re.compile(r".*(?:post|entry|page|article|story)[-_]?(?:title|headline).*", re.I)  # one name
# names of layout, not of chrome: page builders' wrappers of every block (Elementor, HubSpot), a container "with
# sidebar" or "under-menu" (the article beside or below one), utility classes with arbitrary values ("md:[grid-area:sidebar]",
# "min-h-[calc(100vh-var(--navbar-height))]")
_LAYOUT_NAMES = re.compile(r"elementor-widget(?:-container|-wrap|-heading|-text-editor)?|hs_cos_wrapper\w*"
                           r"|.*(?:with|has|no|under|below|above|after)[-_]?(?:sidebars?|menus?|navbar).*"
                           r"|.*sidebar-collapsed.*|.*[:\[].*", re.I)  # one name (fullmatch)


def _chrome_names(names: str) -> bool:
    """Whether an element's class and id names say chrome (``_CHROME``), once the names of a title and of layout
    are set aside. (Most elements have no chrome word at all: one search decides those.)"""
    if not _CHROME.search(names):
        return False
    kept = [n for n in names.split() if not _TITLE_NAMES.fullmatch(n) and not _LAYOUT_NAMES.fullmatch(n)]
    return bool(kept) and _CHROME.search(" ".join(kept)) is not None


_BY = re.compile(r"^(?:by|von|par|por|av|door|oleh|bởi|โดย)\s+|\s*\(.*?\)\s*$", re.I)


def _types(node: dict) -> set[str]:
    t = node.get("@type", ())
    return {x.lower() for x in ([t] if isinstance(t, str) else t) if isinstance(x, str)}


def _walk(obj):
    """The JSON-LD's nodes: the object, items of lists (at any depth) and the nodes of its @graph, in order;
    iterative, so a pathologically nested script costs no recursion."""
    stack = [obj]
    while stack:
        obj = stack.pop()
        if isinstance(obj, list):
            stack.extend(reversed(obj))
        elif isinstance(obj, dict):
            yield obj
            stack.append(obj.get("@graph", []))
            if isinstance(obj.get("mainEntity"), (dict, list)):  # {"@type": "WebPage", "mainEntity": {article}}
                stack.append(obj["mainEntity"])


def _jsonld(tree) -> tuple[dict, dict]:
    """The best article node of the page's JSON-LD, and all nodes by @id."""
    nodes = []
    for script in tree.xpath("//script[contains(translate(@type,'LDJSON','ldjson'),'ld+json')]/text()"):
        try:
            nodes.extend(_walk(json.loads(script.strip().strip(";"), strict=False)))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
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


# what follows a name after a comma and is no name of its own: a degree or credential ("Ann Lee, PhD, MPH",
# "Dylan Bailey, MS, RD, FAND"), a generational suffix ("Martin Luther King, Jr.", kept with the name)
# (a list, not "any capitals": "Reuters, TASS", "Ann Lee, RSIS" name an agency and an institute)
_CREDENTIAL = re.compile(
    r"^(?:Ph\.?\s?D\.?|M\.?D\.?|D\.?O\.?|M\.?S\.?|M\.?A\.?|B\.?A\.?|B\.?S\.?|MSc|BSc|MBA|MPH|MPA|MFA|"
    r"MPhil|DPhil|EdD|PsyD|DrPH|PharmD|JD|LLM|LLB|MBBS|DDS|DMD|DVM|RN|NP|PA-C|RD|RDN|LD|CDN|CDCES|CDE|"
    r"FAND|CNS|CSCS|CPT|CFP|CFA|CPA|CPP|PSP|PMP|CISSP|PE|Esq|LCSW|LMFT|LPC|FACP|FRCP|FRCS|MRCP|"
    r"OBE|MBE|CBE|KBE|FRS|FRSA)\.?$")
_SUFFIX = re.compile(r"^(?:Jr|Sr|Jnr|Snr|II|III|IV)\.?$", re.I)


_LIBRARY_KEYS = frozenset({"dc.creator", "dcterms.creator", "citation_author"})  # "Last, First" by convention


def turned_name(value: str) -> str:
    """A name written "Last, First" (library style: dc.creator, as citation_author) turned round: one comma,
    one word before it, one or two after, each capitalised and none in capitals alone (an agency: "AP,
    Reuters"); anything else unchanged. Only for the tags whose convention that is: in an author tag "AP,
    Reuters" and "Widodo, Prabowo" are two credits."""
    last, sep, first = value.partition(",")
    last, first = last.strip(), first.strip()
    words = (last, *first.split())
    if (sep and "," not in first and len(last.split()) == 1 and 1 <= len(first.split()) <= 2
            and not _SUFFIX.match(first) and not _CREDENTIAL.match(first.replace(" ", ""))
            and all(w[:1].isupper() and not (len(w) > 1 and w.isupper()) for w in words)):
        return f"{first} {last}"
    return value


def split_authors(raw: list[str]) -> list[str]:
    """Individual author names from bylines ("By A and B", "A, B"), deduplicated in order; entities
    unescaped ("Ann Lee &amp; Boon Hui Tan"), credentials after a comma dropped, "Jr." kept with its name."""
    out: list[str] = []
    for line in raw:
        line = " ".join(line.split())
        if "&" in line and ";" in line:
            line = html.unescape(line)  # JSON-LD written escaped, as Yoast does ("&amp;")
        previous = None
        for name in _SPLIT_AUTHORS.split(_BY.sub("", line)):
            name = _BY.sub("", name).strip(" ,-–|")
            name = name if _SUFFIX.match(name) or re.search(r"\b[A-Z]\.$", name) else name.rstrip(".")
            if previous is not None and _SUFFIX.match(name):
                out[previous] = f"{out[previous]} {name}"
                continue
            if previous is not None and _CREDENTIAL.match(name.replace(" ", "")) and len(name) <= 8:
                continue  # a credential of the name before it
            if name and "://" not in name and "@" not in name and name.lower() not in map(str.lower, out):
                out.append(name)
                previous = len(out) - 1
    return out


def iso_date(value, loose: bool = False) -> str | None:
    """ISO 8601 form of a date string (datetime with offset when given, else YYYY-MM-DD); ``loose`` also
    reads a day written out ("July 17, 2025")."""
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
    if m:
        return "-".join(m.groups())
    m = _SHOWN_DATE.search(value) if loose else None
    return _date_of(m) if m else None


def _overlap(a: str, b: str) -> float:
    wa, wb = set(TOKEN.findall(a.lower())), set(TOKEN.findall(b.lower()))
    return len(wa & wb) / len(wa) if wa else 0.0


def clean_text(s) -> str | None:
    """One-line text with double-escaped entities ("&#038;") and UTF-8 read as Latin-1 ("â€™") repaired:
    both are common in <title>/og tags written by CMS templates that escape or decode twice."""
    if not isinstance(s, str):
        return None
    s = " ".join(s.replace("\u00ad", "").split())  # soft hyphens: invisible, but split words
    if "&" in s and ";" in s:
        s = html.unescape(s)
    if _MOJIBAKE.search(s):
        for enc in ("cp1252", "latin-1"):
            try:
                s = s.encode(enc).decode("utf-8")
                break
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
    return s or None


def _site_keys(url: str | None, names) -> list[str]:
    """Lower-cased letters-and-digits forms of the site's names and of its domain's main label
    ("www.freightwaves.com" -> "freightwaves"), to recognise the site name in titles and bylines."""
    # (a "name" of seven words or more is no site's name: some CMSs fill og:site_name with the page's title)
    keys = {re.sub(r"\W+", "", n.lower()) for n in names if isinstance(n, str) and len(n.split()) <= 6}
    host = urlsplit(url or "").hostname or ""
    labels = host.split(".")
    while len(labels) > 1 and (len(labels[-1]) <= 3 or labels[-1] in _HOST_NOISE):
        labels.pop()  # "home.tarkett.co.uk" -> tarkett, "cloud.google.com" -> google
    if labels and labels[-1] not in _HOST_NOISE:
        keys.add(labels[-1].replace("-", ""))
    return [k for k in keys if len(k) >= 3]


def _is_site(text: str, sites: list[str], strict: bool = False) -> bool:
    """True when ``text`` names the site: equal to a site name, or one contains the other once spaces and
    punctuation are dropped ("Move.org" ~ "moveorg", "Filmmaker Magazine" ~ domain "filmmakermagazine").
    ``strict``: the site name and at most a short word more ("BBC News" for "bbc"), for the part before a
    colon, which is as often the headline's own start ("Corti introduces GIM: ..." on corti.ai)."""
    k = re.sub(r"\W+", "", text.lower())
    if not k:
        return False
    if strict:
        return any(k == s or (len(s) >= 3 and k.startswith(s) and len(k) <= len(s) + 6) for s in sites)
    return any(k == s or (len(s) >= 4 and (k.startswith(s) or k.endswith(s)) and len(k) <= 2 * len(s) + 8)
               or (len(k) >= 4 and k in s) for s in sites)


def _strip_site(title: str, sites: list[str]) -> str:
    """A <title>/og:title without the site name: "Headline | Site", "Site - Headline", "Site: Headline".
    Only parts that name the site are dropped, so a headline with a dash in it stays whole."""
    parts = _TITLE_SEP.split(title)
    if len(parts) > 1:
        kept = [p for p in parts if not _is_site(p, sites)]
        if kept and len(kept) < len(parts):
            return " - ".join(kept) if len(kept) > 1 else kept[0]
    head, sep, rest = title.partition(": ")
    if sep and rest and _is_site(head, sites, strict=True):
        return rest
    head, _, rest = title.partition(" ")
    name, dot, tld = head.lower().removeprefix("www.").rpartition(".")
    if dot and tld.isalpha() and len(rest.split()) >= 2 and re.sub(r"\W+", "", name) in sites:
        return rest  # "example.com Headline": the domain written before the headline, no separator
    return title


_BREAKS = frozenset({"br", "div", "p", "li", "small", "h2", "h3"})  # not inline tags: "CO<sub>2</sub>", "<b>Ne</b>ws"


def _shown_text(el) -> str:
    """An element's text as shown: a line break (<br>) or a block inside it (a subtitle in a <div> or <small>
    under the headline) separates words, where ``text_content()`` runs them together ("(US)Your Guide")."""
    out = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            if child.tag in _BREAKS:
                out.append(" ")
            if child.tag != "br":
                out.append(_shown_text(child))
            if child.tag in _BREAKS:
                out.append(" ")
        out.append(child.tail or "")
    return "".join(out)


def _title(tree, node: dict, meta: dict, sites: list[str]) -> str | None:
    """The headline (`_title_raw`) without a part after " | ": headlines do not use the pipe, pages put
    sections, series and taglines behind it ("Headline | Opinion", "Headline | Top 19 Companies").
    (A dash is left alone: headlines use it, "Laos - Thailand rail link opens"; measured, cutting there
    loses more than it gains.)"""
    title = _title_raw(tree, node, meta, sites)
    if title:
        parts = _PIPE.split(title)
        if len(parts) > 1 and len(parts[0].split()) >= 3:
            return parts[0]
    return title


def _title_raw(tree, node: dict, meta: dict, sites: list[str]) -> str | None:
    """The headline. The reference titles (JSON-LD headline, og/twitter title, <title>, site name removed)
    are matched against the page's <h1>s: the visible headline is the title when a reference agrees with
    it, or only adds words after it (an SEO title's ", Tested & Reviewed", "in 2026", ", December 2025": the
    <h1> of three words or more is the headline, unless it is cut short with an ellipsis); where one
    contains the other otherwise the longer is the full headline (a shortened SEO title); where they are only similar the reference is the edited form (the <h1> may
    be upper-cased or abridged); an <h1> sharing nothing with them is the headline when it reads like one
    (4+ words; shorter ones are section labels such as "Our Blog"), unless it holds a paragraph or the page
    shows its own title as an <h2>/<h3> above it (the <h1>s are the post's sections). Where the page has a
    title of its own, an <h1> ending in a colon leads into something ("A message from our founder:")."""
    refs: list[str] = []
    for raw in (node.get("headline"), meta.get("og:title"), meta.get("twitter:title"), tree.findtext(".//title")):
        t = clean_text(raw)
        if t:
            t = _strip_site(t, sites)
            if word_key(t) and word_key(t) not in map(word_key, refs):
                refs.append(t)
    h1s, first = [], None
    for h1 in tree.iter("h1"):
        text = clean_text(_shown_text(h1))
        if not text or len(text) > 300 or _is_site(text, sites) or _chrome(h1) or (refs and text.endswith(":")):
            continue  # (a text ending in a colon leads into something: "A message from our founder:")
        h1s.append(_strip_site(text, sites))
        first = first if first is not None else h1
        if len(h1s) == 4:
            break
    for h in h1s:
        for r in refs:
            if word_key(h) == word_key(r):
                return h
    for h in h1s:
        if _LOST_CHARACTER.search(h):
            for r in refs:
                if _lost_characters(h, r):
                    return r  # the <h1> shows "?" for characters its page lost ("Planning? Beginner? Guide")
    for h in h1s:
        kh = word_key(h)
        for r in refs:
            kr = word_key(r)
            if min(len(kh), len(kr)) > 8 and (kh in kr or kr in kh):
                if kh.endswith(kr) and kh != kr and not re.fullmatch(r"\d{1,4} ", kh[:len(kh) - len(kr)]):
                    return r  # "Kicker: Headline" in the <h1> (a kicker span before the headline, a date or a time
                    # too; a year or a count alone before it is the headline's own: "2025 Software ... Guide")
                if kr.startswith(kh + " ") and len(TOKEN.findall(h)) >= 3 and _seo_tail(h, r):
                    return h  # the reference is the shown headline with words added ("..., Tested & Reviewed")
                long, short = (h, r) if len(kh) > len(kr) else (r, h)
                # "Headline | Section": the extra part is a label, not the headline; otherwise the
                # longer is the full headline (an SEO-shortened title, or a kicker before the <h1>'s words)
                return short if _split_off(long, short) or _credit_tail(long, short) else long
    for h in h1s:
        for r in refs:
            if len(TOKEN.findall(h)) < 2 and not _split_off(r, h):
                continue  # one word is no match for a title that merely holds it ("Discord" in "How we pwned ...")
            if max(_overlap(h, r), _overlap(r, h)) >= 0.5:
                # the visible wording, unless the <h1> is set in capitals (styling that lost the
                # headline's case and sometimes its spaces), or holds a paragraph: then the reference's
                return r if (h.isupper() and not r.isupper()) or _paragraph(h) else h
    # ...unless the page has a title of its own and the <h1> is not its headline: a paragraph set large, or a
    # post's section heading below the page's title shown as <h2>/<h3>
    if h1s and refs:
        shown = _shown_title(tree, first, refs, sites)
        if shown:
            return shown
    if h1s and len(h1s[0].split()) >= 4 and not (refs and _paragraph(h1s[0])):
        return h1s[0]
    if not refs:
        return h1s[0] if h1s else None
    k0 = word_key(refs[0])
    whole = next((r for r in refs[1:] if _continues(r, refs[0])), None) if _cut_short(refs[0]) else None
    if whole:
        return whole  # the first reference cut short, the other whole
    # one reference is another's tail ("Kicker: Headline" as headline, "Headline" as og:title): the headline
    return next((r for r in refs[1:] if len(word_key(r)) > 8 and k0.endswith(" " + word_key(r))), refs[0])


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _seo_tail(shown: str, ref: str) -> bool:
    """True when ``ref`` is the ``shown`` headline with words an SEO title adds: after a comma (", Tested &
    Reviewed", ", December 2025"), after a question or exclamation the headline ends with ("What Is Mesh WiFi? Our
    2026 Guide"), or a few words holding a year ("in 2026"). Not a subtitle after a colon or words that complete
    the sentence ("Russia-ASEAN Relations: A New Chapter", "... and the War in Ukraine"), nor when ``shown`` is
    cut short with an ellipsis: there the reference is the whole headline."""
    if shown.endswith(("…", "...")):
        return False
    n = len(TOKEN.findall(shown))
    ends = [m.end() for m in TOKEN.finditer(ref)]
    if len(ends) <= n:
        return False
    tail = ref[ends[n - 1]:].strip()
    return (tail.startswith(",") or shown.rstrip().endswith(("?", "!"))
            or (len(tail.split()) <= 4 and _YEAR.search(tail) is not None))


# a "?" or U+FFFD where a character was lost in the page's encoding: before a letter ("Beginner?s") or after a
# word and before the next ("Planning? Beginner? Guide" for "Planning: Beginner's Guide")
_LOST_CHARACTER = re.compile(r"[?\ufffd]\S|\w[?\ufffd]\s+\w")


def _lost_characters(shown: str, ref: str) -> bool:
    """True when ``ref`` is ``shown`` with each "?"/U+FFFD standing for one to three characters of its own."""
    pattern = ".{1,3}".join(re.escape(part) for part in re.split(r"[?\ufffd]", shown))
    return shown != ref and re.fullmatch(pattern, ref, re.S) is not None


def _shown_title(tree, first_h1, refs: list[str], sites: list[str]) -> str | None:
    """The page's own title shown in an <h2>/<h3> before its first <h1> (4 words at least, equal to a reference
    title): the headline of a blog whose template sets the post's title as <h2>/<h3> and whose post writes
    its sections as <h1> (the Rust blog, Blogger: wcxb-dev). A section's name equal to a short <title>
    ("World news") is no such title."""
    keys = {word_key(r): r for r in refs}
    for el in tree.iter("h1", "h2", "h3"):
        if el is first_h1:
            return None
        if el.tag == "h1":
            continue
        text = clean_text(_shown_text(el))
        if not text or len(text.split()) < 4:
            continue
        text = _strip_site(text, sites)
        if word_key(text) in keys:
            return keys[word_key(text)]  # the reference's wording (its punctuation: a heading's may be styled away)
        if any(_split_off(r, text) for r in refs):
            return text  # "Headline | Blog" as reference
    return None


_SENTENCE_END = re.compile(r"(\w*)([.!?…])(?=\s+\S)")


def _sentence_ends(text: str) -> int:
    """How many sentences end inside ``text``: a "?", or a "." "!" "…" after a word that is no abbreviation
    ("Gen.", "Mr.", "Prof.", "U.S.", "No. 1", "ASEAN." are none)."""
    n = 0
    for m in _SENTENCE_END.finditer(text):
        word = m.group(1)
        if m.group(2) == "?" or (len(word) >= 3 and not word.isupper() and not (word[0].isupper() and len(word) <= 4)):
            n += 1
    return n


def _paragraph(text: str) -> bool:
    """A text set as an <h1> that reads as a paragraph, not a headline: over 200 characters, or three sentences
    or more in 15 words or more (a renofi.com page sets its 250-character summary as <h1>; the longest of 970
    real headlines is 175 characters, and a headline holds at most a question and its answer)."""
    return len(text) > 200 or (_sentence_ends(text) >= 2 and len(text.split()) >= 15)


def _continues(whole: str, cut: str) -> bool:
    """True when ``whole`` is ``cut`` continued: ``cut`` without its ellipsis and last, perhaps partial, word
    ("... in landma", "... po...") is where ``whole`` starts, the partial word begins the word there, and
    what follows is no label or credit ("Headline | Section")."""
    words = word_key(cut.rstrip(" .…")).split()
    kw = word_key(whole)
    if len(words) < 4 or len(kw) <= len(" ".join(words)):
        return False
    head = " ".join(words[:-1])
    if not kw.startswith(head + " ") or not kw[len(head) + 1:].startswith(words[-1]):
        return False
    return not (_split_off(whole, cut) or _credit_tail(whole, cut))


def _cut_short(title: str) -> bool:
    """A title that may have been cut to a length: ending in an ellipsis, or 100 characters or more (SEO plugins
    cut JSON-LD headlines at 110, Google's old limit, often mid-word or mid-parenthesis)."""
    return title.endswith(("…", "...")) or len(title) >= 100


# what a page appends to a headline that is not part of it: a byline or dateline ("... Posted on July 1, 2024 by
# Ann"), a source or author in parentheses ("(via Passle)", "(latimes.com) 87", "(Ann Lee)"); a parenthesis
# holding a year or a number stays ("(2025)" is part of "Best Movers (2025)")
_CREDIT_TAIL = re.compile(r"^\s*(?:(?:posted|published|updated|written)\s+(?:on|by)\b.*|by\s+[A-Z].*"
                          r"|\((?!\s*(?:19|20)\d\d\s*\))[^()]*[^\d\s()][^()]*\)\s*\d*)$", re.I | re.S)


def _credit_tail(long: str, short: str) -> bool:
    """True when ``long`` is ``short`` followed by a credit, a dateline or a parenthesised source."""
    if not word_key(long).startswith(word_key(short)):
        return False
    # the tail: what follows the last of ``short``'s words in ``long``
    words = TOKEN.findall(short)
    at = 0
    for w in words:
        i = long.find(w, at)
        if i < 0:
            return False
        at = i + len(w)
    tail = long[at:].strip(" .,:;-–—")
    return bool(tail) and bool(_CREDIT_TAIL.match(tail))


def _split_off(long: str, short: str) -> bool:
    """True when ``long`` is ``short`` plus a part cut off by a title separator."""
    parts = _TITLE_SEP.split(long)
    return len(parts) > 1 and word_key(short) in (word_key(parts[0]), word_key(parts[-1]))


def _chrome(el) -> bool:
    """An <h1> that is site chrome, not the headline: a logo or site title, a menu, a widget, or inside
    <nav>/<footer>/<aside> (class names of the element and of its three nearest ancestors, but for an
    <article>, <main> or <body>: those hold the article whatever they are named). A name saying post or entry
    title ("entry-title", Elementor's "elementor-widget-theme-post-title") is no chrome name, nor are layout
    names (Elementor's "elementor-widget-container", in which every block of such a page sits; see
    _LAYOUT_NAMES): 7 wcxb-dev headlines were taken for chrome so. A title inside a sidebar's widget is still
    the widget's, and Elementor's site-title, logo and menu widgets are still chrome."""
    for _ in range(4):
        if el is None or not isinstance(el.tag, str):
            return False
        if el.tag in ("nav", "footer", "aside"):
            return True
        if el.tag not in ("article", "main", "body") and _chrome_names(f"{el.get('class', '')} {el.get('id', '')}"):
            return True
        el = el.getparent()
    return False


def _person(name: str, sites: list[str]) -> str | None:
    """A byline name reduced to the person: "Author: Ann Lee", "Ann Lee Tech Reporter", "Ann Lee Last updated
    March 3" -> "Ann Lee"; None for what names no person (the site itself, "Staff", "Admin", an id number,
    a template key such as "page.author", a month)."""
    name = _NAME_PREFIX.sub("", name.split("•")[0]).strip(" .,:-–|")
    words = name.split()
    for i, w in enumerate(words[1:], 1):
        low = w.strip(".,:()").lower()
        month = low in _MONTH_WORDS and (  # "Ann Lee March 3", "Ann Lee November", not "Tom May"
            any(c.isdigit() for c in words[i + 1]) if i + 1 < len(words) else low not in _NAME_MONTHS)
        if month or low in _NOT_NAME_WORDS or any(c.isdigit() for c in w):
            while i > 1 and words[i - 1].strip(".,").lower() in _ROLE_MODIFIERS:
                i -= 1  # "Tech Reporter", "Contributing Writer": the modifier goes with the role
            words = words[:i]
            break
    name = " ".join(words).strip(" .,:-–|")
    low = name.lower()
    if (not name or low in _NOT_NAME_WORDS or low in _MONTH_WORDS or low in _GENERIC_AUTHORS or name.isdigit() or len(name) > 60
            or ("." in name and " " not in name and name.count(".") > 1)):
        return None
    return name


def _byline(nodes: list) -> list[str]:
    """Names in the page's byline elements (class or itemprop "author"/"byline", the itemprop="name" inside
    them first), kept only when they read like a person's name: 2-4 capitalised words. Each text piece is
    a candidate of its own ("By" <a>Ann Lee</a> <span>Senior Reporter</span>)."""
    out: list[str] = []
    picked = [el for el in nodes if el.tag not in ("img", "meta")
              and (_CB.search(el.get("class") or "") or el.get("itemprop") == "author")]
    for el in picked[:12]:
        named = el.xpath(".//*[@itemprop='name']")
        for piece in (named[0] if named else el).itertext():
            piece = " ".join(piece.split())
            if not piece or len(piece) > 120:
                continue
            for name in split_authors([piece]):
                name = _person(name, []) or ""
                if _NAME_LIKE.match(name) and name not in out:
                    out.append(name)
            if out:
                return out
    return out


# Elements that may credit the author, found in one pass over the body's attribute values (those naming an author,
# a byline or a contributor), for both the byline reading (`_byline`) and trafilatura's author search
# (`_author_search`): XPath predicates with many contains() or EXSLT re:test() scan the whole tree once per
# expression and cost 1-3 ms a page each; this scan costs under 1 ms and leaves few candidates. (trafilatura's rarer
# class names, "username", "screenname", "writer" alone, are not looked for: measured, no page of wcxb-dev or fundus
# loses its author by it.)
_CREDIT_ATTRS = etree.XPath(".//@*[contains(.,'uthor') or contains(.,'yline') or contains(.,'ontributor')]")
_T1 = {"a", "address", "div", "link", "p", "span", "strong"}
_T2 = {"a", "div", "h3", "h4", "p", "span"}
_C1 = re.compile(r"author-?name|AuthorName|authorName")
_I2 = re.compile(r"author|zuozhe|bianji|xiaobian")
_C2 = re.compile(r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_C3 = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")
_CB = re.compile(r"author|byline|Author|Byline")


def _credit_nodes(tree) -> list:
    """Body elements with an attribute value that may name an author credit, in document order."""
    body = tree.find("body")
    if body is None:
        return []
    out, seen = [], set()
    for value in _CREDIT_ATTRS(body):
        el = value.getparent()
        if el is not body and el not in seen:  # <body class="... author-hidden"> is no credit
            seen.add(el)
            out.append(el)
    return out


def _search_rank(el) -> list[int]:
    """Which of trafilatura's three AUTHOR_XPATHS match ``el`` (1, 2, 3), as their predicates read."""
    tag, get = el.tag, el.get
    c, i, prop = get("class") or "", get("id") or "", get("itemprop") or ""
    ranks = []
    if tag == "author" or tag in _T1 and (get("rel") == "author" or i == "author" or c == "author"
                                          or prop == "author name" or get("data-testid") in ("AuthorCard", "AuthorURL")
                                          or _C1.search(c)):
        ranks.append(1)
    if tag in _T2 and (c in ("byline", "username", "byl", "BBL") or "author" in prop or _I2.search(i)
                       or _C2.search(c)):
        ranks.append(2)
    if "Byline" in (get("data-component") or "") or "author" in prop or "uthor" in i and re.search("[Aa]uthor", i) \
            or _C3.search(c):
        ranks.append(3)
    return ranks


_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                            r"article-(?:share|support)|print|category|meta-date|meta-reviewer")


def _discarded(el) -> bool:
    """An element trafilatura's author search leaves out: comments, sidebars, dates, quotes, figures."""
    tag = el.tag
    if tag in ("time", "figure"):
        return True
    if tag not in ("a", "div", "section", "span"):
        return False
    i, c = el.get("id"), el.get("class")
    return (i == "comments" or c in ("comments", "title", "date") or bool(i and _DISCARD_ID.search(i))
            or bool(c and _DISCARD_CLASS.search(c)) or "Figure" in (el.get("data-component") or ""))


def _kept_text(el, out: list[str]) -> list[str]:
    """The text of ``el`` without its discarded descendants (their tails kept)."""
    if el.text:
        out.append(el.text)
    for child in el:
        if isinstance(child.tag, str) and not _discarded(child):
            _kept_text(child, out)
        if child.tail:
            out.append(child.tail)
    return out


def _author_search(nodes: list) -> str | None:
    """trafilatura's author search (trafilatura.metadata.extract_author) over the credit nodes: its AUTHOR_XPATHS
    tried in order, the first element whose text is 3-119 characters outside AUTHOR_DISCARD_XPATHS (comments,
    sidebars, dates, figures: checked on the element's ancestors and skipped inside it), without its deep copy
    and pruning of the whole tree. Measured: the same names on wcxb-dev and fundus, at a fraction of the cost."""
    ranked = [(el, _search_rank(el)) for el in nodes]
    for rank in (1, 2, 3):
        for el, ranks in ranked:
            if rank not in ranks or _discarded(el) or any(_discarded(a) for a in el.iterancestors()):
                continue
            content = " ".join(" ".join(_kept_text(el, [])).split())
            if content and 2 < len(content) < 120:
                return normalize_authors(None, content)
    return None


def _authors(tree, node: dict, ids: dict, creators: dict, cites: list[str], sites: list[str], window) -> list[str]:
    """People: JSON-LD persons, else author <meta> tags (citation_author "Last, First" turned round),
    rel=author links, byline elements, "By Name" under the headline, trafilatura's byline search, then the
    JSON-LD organisation. A source naming only the site itself is kept aside while a later source names a
    person: the outlet is the credit of last resort (measured: the page's own credit beats nothing)."""
    people, orgs = _names(node.get("author"), ids) if node.get("author") else ([], [])
    fallback: list[str] = []
    nodes: list = []

    def credit():  # the credit elements, found once and only when a source needs them
        if not nodes:
            nodes.append(_credit_nodes(tree))
        return nodes[0]

    for source in (
        lambda: people,
        lambda: [" ".join(reversed(c.split(",", 1))) if c.count(",") == 1 else c for c in cites][:12],
        lambda: next(([turned_name(v) if k in _LIBRARY_KEYS else v for v in vs][:12] for k, vs in (
            (k, [v for v in creators.get(k, ()) if "://" not in v]) for k in _AUTHOR_KEYS) if vs), []),
        lambda: [" ".join(a.text_content().split()) for a in credit() if a.tag == "a" and a.get("rel") == "author"][:4],
        lambda: _byline(credit()),
        lambda: _by_text(window()),
        lambda: _author_link(credit()),
        lambda: _name_by_dateline(window()),
        # trafilatura's search copies and prunes the tree (several ms): only while no credit is found at all
        lambda: [] if fallback else [_author_search(credit()) or ""],
        lambda: orgs,
    ):
        names = [n for n in (_person(x, sites) for x in split_authors(source())) if n]
        names = [n for i, n in enumerate(names) if n.lower() not in map(str.lower, names[:i])]
        if fallback and [n.lower() for n in names] == [n.lower() for n in fallback]:
            fallback = names  # the same credit again, spelled by the page (trafilatura's search title-cases)
        if fallback:
            names = [n for n in names if _NAME_LIKE.match(n)]  # past the site's credit: a person's name only
        if names and all(_is_site(n, sites) for n in names):
            fallback = fallback or names
        elif names:
            return names
    return fallback


_SKIP_TEXT = {"script", "style"}


_ISO_DAY = re.compile(r"\s*((?:19|20)\d\d-\d\d-\d\d)(?:$|[T ])")


def _time_day(el) -> str | None:
    """The day a ``<time datetime="2017-03-01T12:00Z">`` states, where the text it shows does not state it
    clearly: an ambiguous slash date ("03/01/2017": March or January), a relative one ("3 days ago"), a day
    without its year. A date written out in the text ("March 1, 2017") is what the reader sees and stays."""
    m = _ISO_DAY.match(el.get("datetime") or "")
    if m is None:
        return None
    shown = el.text_content()
    clear = next((d for d in _SHOWN_DATE.finditer(shown) if not d["sy"]), None)
    return None if clear is not None else m.group(1)


def _texts_after(h1, max_nodes: int = 100, max_chars: int = _DATE_WINDOW) -> list[str]:
    """The text nodes after ``h1`` in document order (not its own), outside <script>/<style>: what the XPath
    ``following::text()`` gives, walked in Python so that it stops after ``max_chars`` instead of collecting every
    text node to the end of the page first (measured: 0.5 ms a page for the XPath)."""
    out: list[str] = []
    size = 0

    def add(text: str) -> bool:
        nonlocal size
        out.append(text)
        size += len(text)
        return len(out) >= max_nodes or size > max_chars

    def subtree(el) -> bool:
        if isinstance(el.tag, str) and el.tag not in _SKIP_TEXT:
            day = _time_day(el) if el.tag == "time" else None
            if day:
                if add(day):
                    return True
            else:
                if el.text and add(el.text):
                    return True
                for child in el:
                    if subtree(child):
                        return True
        return bool(el.tail) and add(el.tail)

    el = h1
    if el.tail and add(el.tail):
        return out
    while el is not None:
        for sib in el.itersiblings():
            if subtree(sib):
                return out
        el = el.getparent()
        if el is not None and el.tail and add(el.tail):
            return out
    return out


def _texts_before(h1, max_nodes: int = 20) -> list[str]:
    """The ``max_nodes`` text nodes nearest before ``h1``, nearest first, outside <script>/<style> (the XPath
    ``preceding::text()``, walked backwards)."""
    out: list[str] = []

    def subtree(el) -> bool:  # backwards: tail, children last to first, then the element's own text
        if el.tail:
            out.append(el.tail)
        day = _time_day(el) if el.tag == "time" else None
        if day:
            out.append(day)
        elif isinstance(el.tag, str) and el.tag not in _SKIP_TEXT:
            for child in reversed(el):
                if len(out) >= max_nodes or subtree(child):
                    return True
            if el.text:
                out.append(el.text)
        return len(out) >= max_nodes

    el = h1
    while el is not None:
        for sib in el.itersiblings(preceding=True):
            if subtree(sib):
                return out[:max_nodes]
        el = el.getparent()
        if el is not None and isinstance(el.tag, str) and el.tag not in _SKIP_TEXT and el.text:
            out.append(el.text)
            if len(out) >= max_nodes:
                break
    return out[:max_nodes]


def _headline_window(tree) -> tuple[str, str] | None:
    """Visible text just above and just after the first headline <h1> (where bylines and dates stand)."""
    body = tree.find("body")
    if body is None:
        return None
    h1 = next((h for h in body.iter("h1") if not _chrome(h)), None)
    if h1 is None:
        return None
    after = _texts_after(h1)
    before = _texts_before(h1)[::-1]  # in reading order: the text just above the headline is at the end
    # text pieces joined with " ¦ ", so that a name does not run on into the next element's words
    return _pieces(before)[-_DATE_WINDOW // 3:], _pieces(after)


def _pieces(texts) -> str:
    return " ¦ ".join(t for t in (" ".join(x.split()) for x in texts) if t)


# a date labelled as the last change, not the publication: taken only where the page shows no other
_UPDATED_LABEL = re.compile(r"(?:updated|modified|edited|revised|aktualisiert|geändert|actualizado|actualizada|"
                            r"atualizado|mis à jour|modifié|aggiornato|bijgewerkt|cập nhật|diperbarui|"
                            r"dikemaskini|обновлено)\W*(?:on|at|am|le|el|em|il|op|pada|lúc)?\W*$", re.I)


def _updated(part: str, m) -> bool:
    """True when the date ``m`` in ``part`` follows an "Updated" label in its own piece, or, where the date
    begins its piece (a ``<time>`` of its own: "Updated <time>2 hours ago</time>"), in the piece before."""
    sep = part.rfind(" ¦ ", 0, m.start())
    before = part[sep + 3 if sep >= 0 else 0:m.start()]
    if not before.strip() and sep >= 0:
        prev = part.rfind(" ¦ ", 0, sep)
        before = part[prev + 3 if prev >= 0 else 0:sep]
    return bool(_UPDATED_LABEL.search(before[-30:]))


def _shown_date(window) -> str | None:
    """The day the article shows under (or just above) its headline, as YYYY-MM-DD: the first date written
    out in the visible text near the first headline <h1> ("Sep 4, 2025", "17.05.2021"); a date labelled
    "Updated" only where no other date is shown ("Updated Nov 20, 2026 · Published Oct 2, 2026": Oct 2).
    A slash date counts only as a dateline of its own ("2/24/2026", not "Photo taken 3/14/2019"), and
    where that dateline is ambiguous ("09/04/2025": April or September) the search stops: the date shown is
    unreadable, and the next date is the prose's."""
    if not window:
        return None
    for part in (window[1], window[0]):  # after the headline first, then just above it
        updated = None
        for m in _SHOWN_DATE.finditer(part):
            if m["sy"]:
                start = part.rfind(" ¦ ", 0, m.start())
                end = part.find(" ¦ ", m.end())
                line = _dateline_match(part[start + 3 if start >= 0 else 0:end if end >= 0 else len(part)])
                if line is None or line.group() != m.group():
                    continue
            day = _date_of(m)
            if m["sy"] and not day:
                return updated
            if day and not _updated(part, m):
                return day
            updated = updated or day
        if updated:
            return updated
    return None


# a link to the author's own page: WordPress and most CMSs link a byline to /author/<slug>/ (also /authors/,
# /contributors/, /writers/, or a listing filtered by ?author=); its text is the person's name
_AUTHOR_HREF = re.compile(r"/(?:authors?|contributors?|writers?)/[^/?#]+|[?&]_?author=", re.I)


def _author_link(nodes: list) -> list[str]:
    """The names in the first link to an author page whose text reads as a person's name."""
    for el in nodes:
        if el.tag == "a" and _AUTHOR_HREF.search(el.get("href") or ""):
            names = [n for n in split_authors([" ".join(el.text_content().split())]) if _NAME_LIKE.match(n)]
            if names:
                return names
    return []


# words of a byline's role line ("Tech Writer", "Marketing Director", "Staff Reporter"): the role nouns only (a
# modifier such as "content" or "digital" alone is no role: "Article Content")
_ROLE_WORDS = _NOT_NAME_WORDS - {"updated", "last", "published", "posted", "read", "more", "about", "|", "•", "former",
                                 "head", "lead"}
_NAME_TAIL = re.compile(r"\s+(?:in|on|at)$")
_SEPARATOR = re.compile(r"^[\W_]*$")


def _name_by_dateline(window) -> list[str]:
    """A name standing alone just under the headline, right beside the article's date or a role ("Ann Lee ¦ Tech
    Writer", "Dec 26, 2025 ¦ • ¦ Ann Lee in ¦ Politics"): bylines without a "By" or a class naming them. A name-like
    piece with neither beside it is left alone (a section or a subheading: "Hotel Travel Hacks"), and so is one
    inside a sentence (the next piece goes on in lower case: "Der ¦ FC Liverpool ¦ hat in der")."""
    if not window:
        return []
    pieces = [p for p in window[1].split(" ¦ ")[:10] if not _SEPARATOR.match(p)]  # bullets, pipes between items
    for i, piece in enumerate(pieces[:8]):
        name = _NAME_TAIL.sub("", piece)
        if len(name.split()) > 3 or not _NAME_LIKE.match(name) or any(
                w.lower() in _NOT_NAME_WORDS or w.lower() in _MONTH_WORDS for w in name.split()):
            continue  # "Posted On", "Senior Editor", "March 2025": labels, not names
        after = pieces[i + 1] if i + 1 < len(pieces) else ""
        if after[:1].islower():
            continue
        for near in ([pieces[i - 1]] if i else []) + ([after] if after else []):
            words = near.lower().replace("-", " ").replace("&", " ").split()
            if (len(near) < 40 and _SHOWN_DATE.search(near)) or (
                    0 < len(words) <= 4 and any(w.strip(".,:") in _ROLE_WORDS for w in words)):
                return [name]
    return []


_TIME_OF_DAY = re.compile(r"\b\d{1,2}[:.]\d\d\b(?:\s*[ap]\.?m\.?)?|\b(?:[AaPp][Mm]|Uhr|UTC|GMT|[A-Z]{2,4}T)\b")


def _dateline_match(piece: str):
    """The date of a text piece that is a dateline: a date with at most a label or a time beside it ("Posted on
    Dec 4, 2025", "Updated: 2025-02-22", "Feb 6, 2025 - 11 minutes"), not a date inside a sentence or a photo
    caption ("...on Monday, 28 April 2025, at the court"); None otherwise."""
    m = _SHOWN_DATE.search(piece) if len(piece) <= 60 else None
    if m is None:
        return None
    rest = _TIME_OF_DAY.sub(" ", piece[:m.start()] + " " + piece[m.end():])
    return m if len(TOKEN.findall(rest)) <= 4 else None


def _dateline(window) -> str | None:
    """The first dateline piece just under the headline (or just above it); none where that piece is a
    slash date of no clear order ("09/04/2025")."""
    if not window:
        return None
    for pieces in (window[1].split(" ¦ ")[:12], window[0].split(" ¦ ")[::-1]):  # nearest the headline first
        for piece in pieces:
            m = _dateline_match(piece)
            if m:
                day = _date_of(m)
                if day or m["sy"]:
                    return day
    return None


_BODY_TEXT = etree.XPath("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::nav)"
                         " and not(ancestor::footer) and not(ancestor::aside)][string-length(normalize-space()) > 5]"
                         "[string-length(.) < 120]")


def _body_dateline(tree) -> str | None:
    """The first dateline piece anywhere in the page's visible text (outside menus, footers and sidebars): for
    pages with no date in their metadata and none near the headline (no <h1>, or a logo <h1>)."""
    for text in _BODY_TEXT(tree):
        piece = " ".join(text.split())
        m = _dateline_match(piece)
        if m and not m["sy"]:  # (slash dates: a table's, a form's, as often)
            day = _date_of(m)
            if day:
                return day
    return None


_ORIGINAL_WORDS = ("riginally", "RIGINALLY", "irst publish", "IRST PUBLISH")  # looked for in the HTML first
_ORIGINAL_TEXT = etree.XPath(
    "//body//text()[" + " or ".join(f"contains(., '{w}')" for w in _ORIGINAL_WORDS) + "]"
    "[not(ancestor::script) and not(ancestor::style) and not(ancestor::nav) and not(ancestor::aside)]")
# a note of its own: the block's text begins with it ("This article was originally published on ...",
# "Originally published: ...", "The story first appeared in Foreign Affairs on ..."), and the day follows
# within its clause
_ORIGINAL_NOTE = re.compile(r"^\W*(?:(?:this|the)\s+(?:[\w-]+\s+){1,2}?(?:(?:was|has been|is)\s+)?|it\s+was\s+)?"
                            r"(?:originally|first)\s+(?:published|posted|appeared|ran)\b"
                            r"[^.;!?,\d]{0,60}?"  # "on", ":", "in Foreign Affairs on": no figure, no second clause
                            r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:" + _SHOWN_DATE.pattern + ")", re.I)
_NOTE_BLOCKS = frozenset({"p", "div", "li", "section", "footer", "header", "article", "td", "dd", "blockquote",
                          "body"})
_COMMENTS = re.compile(r"comment|disqus", re.I)


def _original_date(tree) -> str | None:
    """The day a note of its own gives as the article's first publication ("This article was originally
    published on 26 Sep 2019", "Originally published: Wednesday, March 2, 2022"): the note is the whole
    text of its block, not a clause in prose ("Our investigation, first published on 3 March 2021, ...")
    nor a reader's comment, and the day follows within its clause (not "originally appeared on The
    Conversation. ... 3 May 2021", nor "first published in 2004, and on 3 May 2021 revised")."""
    for node in _ORIGINAL_TEXT(tree)[:5]:
        el = node.getparent()
        if el is not None and node.is_tail:
            el = el.getparent()  # the text after an inline element belongs to that element's parent
        while el is not None and el.tag not in _NOTE_BLOCKS:
            el = el.getparent()
        if el is None or any(_COMMENTS.search((a.get("id") or "") + " " + (a.get("class") or ""))
                             for a in (el, *el.iterancestors()) if a.tag not in ("body", "html")):
            continue  # (<body class="comments-open">: WordPress's, on every post)
        text = " ".join(el.text_content()[:600].split())
        m = _ORIGINAL_NOTE.match(text) if len(text) <= 300 else None
        day = _date_of(m) if m else None
        if day:
            return day
    return None


def _day_shift(day: str, days: int) -> str:
    """The ISO day ``days`` after ``day`` (before, when negative); ``day`` itself when it is no ISO day."""
    from datetime import date, timedelta
    try:
        return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
    except ValueError:
        return day


def _day_before(day: str) -> str:
    return _day_shift(day, -1)


def _day_after(day: str) -> str:
    return _day_shift(day, 1)


_UTC = re.compile(r"T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]00:?00)$", re.I)
_URL_DAY = re.compile(r"/((?:19|20)\d\d)[/-](\d\d?)[/-](\d\d?)(?=[/_.-]|$)")


def _url_day(url: str | None) -> str | None:
    """The day a URL's path is dated with (``/2025/12/18/slug``), ISO, or None."""
    from datetime import date

    m = _URL_DAY.search(urlsplit(url).path) if url else None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat() if m else None
    except ValueError:
        return None


_BYLINE_VERBS = frozenset({"posted", "published", "written", "updated", "reported", "edited", "compiled", "filed",
                           "produced", "authored", "contributed", "story", "words", "text", "article", "commentary",
                           "analysis", "opinion", "interview", "report", "column", "review", "essay"})


def _byline_at(part: str, m) -> bool:
    """Whether the "by Name" ``m`` in the window text ``part`` is a byline: it begins its line (after a word or
    three: "Posted by", "Story and photos by"), or follows a date, a time, a separator or a word of publishing
    ("Posted on March 14, 2025 by", "Commentary 052/2025 / by", "Published by"), or ends its line ("... Open
    Until July 31 by Eric Ries"). A "by" inside a sentence is the sentence's own ("can be reached by Canvas
    discussion", "guaranteed by USF. It is"), and so is "Step by Step Guide"."""
    before = part[part.rfind("¦", 0, m.start()) + 1:m.start()].split()
    if len(before) <= 3:
        return True
    last = before[-1].lower()
    if last == m.group(1).split()[0].lower():
        return False  # "Step by Step", "side by side"
    if any(c.isdigit() for c in last) or not any(c.isalpha() for c in last) or last.rstrip(",:") in _BYLINE_VERBS:
        return True
    end = part.find("¦", m.end())
    return not part[m.end():end if end >= 0 else len(part)].strip()


def _by_text(window) -> list[str]:
    """"By Ann Lee" / "Written by Ann Lee" in the visible text just after (or above) the headline."""
    if not window:
        return []
    for part in (window[1], window[0]):
        for m in _BY_TEXT.finditer(part):
            if _byline_at(part, m):
                return [m.group(1)]
    return []


def _date_of(m) -> str | None:
    from datetime import date
    g = m.groupdict()
    try:
        if g.get("mon1") or g.get("mon2"):
            mon = _MONTH_NUM[(g.get("mon1") or g.get("mon2")).lower()[:3]]
            return date(int(g.get("y1") or g.get("y2")), mon, int(g.get("d1") or g.get("d2"))).isoformat()
        if g.get("iy"):
            return date(int(g["iy"]), int(g["im"]), int(g["id"])).isoformat()
        if g.get("ey"):
            return date(int(g["ey"]), int(g["em"]), int(g["ed"])).isoformat()
        if g.get("sy"):
            a, b = int(g["sa"]), int(g["sb"])
            if (a > 12) == (b > 12):
                return None  # "09/04/2025": April 9 in Europe, September 4 in the US; "13/14/2025": no day
            return date(int(g["sy"]), b if a > 12 else a, a if a > 12 else b).isoformat()
    except (ValueError, KeyError):
        return None
    return None


def _join(base: str | None, ref: str) -> str:
    """``ref`` made absolute against ``base``; '' when it cannot be parsed (``http://[bad/``)."""
    try:
        return urljoin(base or "", ref.strip())
    except ValueError:
        return ""


def _reference_day(fetched: str | None) -> str:
    """The day a page's dates are judged against: when it was fetched (ISO), or today (UTC)."""
    from datetime import date, datetime, timezone

    today = datetime.now(timezone.utc).date().isoformat()
    if not fetched:
        return today
    try:  # an ISO string, or a date or datetime
        return date.fromisoformat(str(fetched)[:10]).isoformat()
    except ValueError:
        return today


def page_metadata(tree, url: str | None, fetched: str | None = None, source: str | None = None) -> dict:
    """Title, authors, date, language, canonical URL, description and site name of a parsed page. ``fetched``
    (ISO, default today): no date later than the day after it is the published one (the day after: a time
    zone ahead), and a date read from the page's text alone is not that very day (the masthead's clock).
    ``source``, the page's HTML when the caller has it, spares a search of the text for a rare note where
    its words are nowhere in the page."""
    meta: dict[str, str] = {}
    cites: list[str] = []
    creators: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key, content = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower(), el.get("content")
        if key == "citation_author" and content:
            cites.append(" ".join(content.split()))  # one tag per author, "Last, First"
        if key in _AUTHOR_KEYS and content and content.strip():
            creators.setdefault(key, []).append(content.strip())  # several dc.creator tags: several authors
        if key and content and key not in meta:
            meta[key] = content.strip()
    node, ids = _jsonld(tree)
    publisher = node.get("publisher")
    pub_name = publisher.get("name") if isinstance(publisher, dict) else None
    site = meta.get("og:site_name") or pub_name
    sites = _site_keys(url, (meta.get("og:site_name"), pub_name, meta.get("application-name")))
    cache: list = []

    def window():  # computed once, only when a byline or a date must be read from the text
        if not cache:
            cache.append(_headline_window(tree))
        return cache[0]

    authors = _authors(tree, node, ids, creators, cites, sites, window)
    today = _reference_day(fetched)
    latest = _day_after(today)

    def past(d: str | None) -> str | None:  # a date that can be a publication date when the page was fetched
        return d if d and d[:10] <= latest else None

    def guessed(d: str | None) -> str | None:  # ...and, read from text alone, not the day the visitor's clock
        # shows: the fetch day, or the day after where the site's time zone is already there (Asia, evenings UTC)
        return d if past(d) and d[:10] not in (today, latest) else None

    published = past(iso_date(node.get("datePublished"))) or next(
        (d for d in (past(iso_date(meta.get(k), loose=True)) for k in _DATE_KEYS) if d), None)
    # (a JSON-LD date written out, "Jun 24, 2025", is left aside: measured, it is a template's date more
    # often than the article's, and the day shown under the headline is the better fallback)
    if published:
        shown = past(_dateline(window()))
        if shown and shown < _day_before(published[:10]):
            # the page dates the article (a dateline of its own: "Dec 30, 2013", "Posted on 24 Apr 2000")
            # days or years before its metadata's "published": that metadata is a re-publication, a migration
            # or an import stamp, and the article cannot be shown as written before it was published
            published = shown
    day = _url_day(url) if published and _UTC.search(published) else None
    if day and day in (_day_before(published[:10]), _day_after(published[:10])):
        # a UTC timestamp one day off the day in the article's URL: the site dates its URLs in its own time zone
        # ("/2025/12/18/..." and "2025-12-19T03:05:00+00:00" in America; the other way in Asia); a time with
        # its own offset is already the site's day, and leaves the metadata's date alone
        published = day
    first = past(_original_date(tree)) if source is None or any(w in source for w in _ORIGINAL_WORDS) else None
    if first and (not published or first < _day_before(published[:10])):
        published = first  # a republished article, dated by its note of first publication
    if not published:
        # no date in the page's metadata: the day written under the headline, before htmldate's guess
        published = past(_shown_date(window()))
    if not published:
        from htmldate import find_date
        published = guessed(find_date(tree, url=url, extensive_search=False, original_date=True, max_date=latest))
    if not published:
        # nothing in the metadata, near the headline or by htmldate (measured: htmldate's guess is the better one
        # where it has one; before it, this lost two fundus pages and one wcxb page): a dateline in the page
        published = guessed(_body_dateline(tree))
    links = tree.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href")
    page = node.get("mainEntityOfPage")
    canon = [*links, meta.get("og:url"), node.get("url"), page.get("@id") if isinstance(page, dict) else page]
    canon = [_join(url, c) for c in canon if isinstance(c, str) and c.strip()]
    lang = tree.get("lang") or meta.get("og:locale") or meta.get("content-language") or node.get("inLanguage")
    lang = normalize_code(lang) if isinstance(lang, str) else None  # "en-US" -> en, "fil" -> tl, "nb" -> no
    desc = meta.get("og:description") or meta.get("description") or node.get("description")
    return {"title": _title(tree, node, meta, sites), "authors": authors, "published": published,
            "language": lang, "canonical_url": next((c for c in canon if c.startswith("http")), None),
            "description": desc if isinstance(desc, str) else None, "sitename": site}
