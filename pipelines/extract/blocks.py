"""Text blocks of a page and what describes them: the units the body selector keeps or drops.

A block is the nearest block-level element around a run of text (a <p>, a heading, a list item, a <div>
holding text directly...). One walk over the tree gives every block its text, how much of it is link text,
its tag, and the class/id words and landmarks (article, main, aside, nav, footer...) of its ancestors;
`features()` then adds how the block sits against the text trafilatura kept (inside it, next to it, in the
container that holds most of it). Pure: lxml and numpy, no network.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np

from pipelines.extract.words import word_key

__all__ = ["Block", "blocks", "features", "FEATURES"]

_BLOCK = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "figcaption",
          "td", "th", "div", "section", "article", "main", "aside", "header", "footer", "nav", "form", "ul",
          "ol", "dl", "table", "tr", "tbody", "thead", "figure", "address", "details", "summary", "caption",
          "body", "html", "fieldset", "center", "hgroup"}
_SKIP = {"script", "style", "noscript", "svg", "math", "iframe", "object", "button", "select",
         "option", "textarea", "head", "title", "meta", "link", "canvas", "video", "audio"}
_LANDMARKS = ("article", "main", "header", "footer", "nav", "aside", "form", "figure", "table", "li")
_ROLES = ("navigation", "complementary", "contentinfo", "banner")  # ARIA landmarks around the content
_TAGS = ("p", "h1", "h2", "h3", "h4", "li", "blockquote", "div", "td", "other")
# Words that name a page region in class/id attributes, across sites and CMSs (WordPress, Drupal, Arc,
# news themes): the ones that mark content, and the ones that mark what surrounds it.
_CONTENT_WORDS = ("article", "content", "body", "post", "entry", "story", "text", "main", "prose", "rich",
                  "paragraph", "detail")
_BOILER_WORDS = ("comment", "footer", "sidebar", "related", "share", "social", "nav", "menu", "promo",
                 "advert", "ad", "ads", "newsletter", "subscribe", "widget", "breadcrumb", "tag", "tags",
                 "caption", "credit", "cookie", "popup", "modal", "recommend", "more", "teaser", "meta",
                 "byline", "author", "date", "time", "header", "banner", "signup", "login", "toolbar",
                 "trending", "popular", "card", "list", "title", "label", "hidden", "sr", "copyright",
                 "disclaimer", "bio", "note", "embed", "video", "photo", "image", "gallery", "sponsor")
_SPLIT_ATTR = re.compile(r"[^a-z]+")
_SENT_END = re.compile(r"[.!?\u3002\uff01\uff1f][\"'”’»)]?(?:\s|$)")


@dataclass
class Block:
    el: object
    tag: str
    parts: list = field(default_factory=list)
    link_chars: int = 0
    marks: frozenset = frozenset()
    attrs: tuple = ()           # class/id words of the element and its ancestors, nearest first
    depth: int = 0
    ancestors: tuple = ()        # serial numbers of ancestor blocks, in walk order (for the container features)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


def _attr_words(el) -> list[str]:
    words = []
    for name in ("class", "id"):
        value = el.get(name)
        if value:
            words.extend(w for w in _SPLIT_ATTR.split(value.lower()) if w)
    return words


def blocks(tree) -> list[Block]:
    """The page's text blocks in document order (empty ones left out)."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    out: dict[int, Block] = {}
    order: list[Block] = []
    serial = itertools.count(1)  # not id(el): an lxml proxy no longer referenced is freed and its id reused,
    # so two ancestors could share one (the features then varied with memory layout, i.e. PYTHONHASHSEED)

    def block_of(el, info) -> Block:
        b = out.get(id(info["block"]))
        if b is None:
            bel = info["block"]
            b = Block(el=bel, tag=bel.tag if isinstance(bel.tag, str) else "div", marks=info["marks"],
                      attrs=info["attrs"], depth=info["depth"], ancestors=info["anc"])
            out[id(bel)] = b
            order.append(b)
        return b

    def add_tail(el, ctx) -> None:  # text after an element belongs to the block around it
        if el.tail and el.tail.strip():
            b = block_of(el, ctx)
            b.parts.append(el.tail)
            if ctx["link"]:
                b.link_chars += len(el.tail.strip())

    # iterative walk: (element, info of its context, phase) -- phase 1 = after children (for the tail)
    stack = [(root, {"block": root, "marks": frozenset(), "attrs": (), "depth": 0, "anc": (), "link": False}, 0)]
    while stack:
        el, ctx, phase = stack.pop()
        if phase == 1:
            add_tail(el, ctx)
            continue
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None or tag in _SKIP:
            add_tail(el, ctx)
            continue
        tag = tag.lower()
        words = _attr_words(el)
        inner = dict(ctx)
        inner["attrs"] = tuple(words) + ctx["attrs"][:24] if words else ctx["attrs"]
        inner["link"] = ctx["link"] or tag == "a"
        if tag in _LANDMARKS or el.get("role") in _ROLES:
            inner["marks"] = ctx["marks"] | {tag if tag in _LANDMARKS else el.get("role")}
        if el.get("hidden") is not None or "display:none" in (el.get("style") or "").replace(" ", ""):
            inner["marks"] = inner["marks"] | {"hidden"}  # shown by a script, or never: a feature, not a cut
        if tag in _BLOCK:
            inner["block"] = el
            inner["depth"] = ctx["depth"] + 1
            inner["anc"] = ctx["anc"] + (next(serial),)
        stack.append((el, ctx, 1))
        if el.text and el.text.strip():
            b = block_of(el, inner)
            if tag == "br":
                b.parts.append(" ")
            b.parts.append(el.text)
            if inner["link"]:
                b.link_chars += len(el.text.strip())
        elif tag == "br":
            block_of(el, ctx).parts.append(" ")
        for child in reversed(el):
            stack.append((child, inner, 0))
    return [b for b in order if b.text]


FEATURES = (["log_words", "log_chars", "link_ratio", "sent_ends", "ends_punct", "comma_rate", "upper_rate",
             "digit_rate", "in_traf", "prev_traf", "next_traf", "in_span", "in_main_container", "rel_pos",
             "dist_traf", "depth_rel", "repeated", "is_title", "container_traf_share", "words_before_share"]
            + [f"tag_{t}" for t in _TAGS] + [f"mark_{m}" for m in _LANDMARKS]
            + ["hidden", "role_nav", "attr_content_near", "attr_boiler_near", "attr_content_far", "attr_boiler_far"]
            + [f"w_{w}" for w in _BOILER_WORDS])


def features(items: list[Block], traf_text: str, title: str | None = None) -> np.ndarray:
    """One row of FEATURES per block, against the text trafilatura kept (`traf_text`)."""
    n = len(items)
    x = np.zeros((n, len(FEATURES)), dtype=np.float32)
    if not n:
        return x
    col = {name: i for i, name in enumerate(FEATURES)}
    kept = " " + word_key(traf_text) + " "
    title_key = word_key(title) if title else None
    norms = [word_key(b.text) for b in items]
    counts: dict[str, int] = {}
    for k in norms:
        counts[k] = counts.get(k, 0) + 1
    kw = kept.split()
    kept_tri = set(zip(kw, kw[1:], kw[2:]))
    cover = np.zeros(n, dtype=np.float32)  # share of the block's word trigrams in trafilatura's text
    for i, k in enumerate(norms):
        ws = k.split()
        if len(ws) >= 3:
            tri = list(zip(ws, ws[1:], ws[2:]))
            cover[i] = sum(t in kept_tri for t in tri) / len(tri)
        else:
            cover[i] = bool(k) and f" {k} " in kept
    in_traf = cover >= 0.5
    words = np.array([len(k.split()) for k in norms], dtype=np.float32)
    # the container of trafilatura's text: the deepest ancestor holding at least 80% of its words
    anc_words: dict[int, float] = {}
    total = float(words[in_traf].sum())
    for b, w, t in zip(items, words, in_traf):
        if t:
            for a in b.ancestors:
                anc_words[a] = anc_words.get(a, 0.0) + w
    main = None
    if total:
        for b, t in zip(items, in_traf):
            if t:
                for a in reversed(b.ancestors):
                    if anc_words.get(a, 0.0) >= 0.8 * total:
                        main = a
                        break
                break
    traf_idx = np.flatnonzero(in_traf)
    first, last = (traf_idx[0], traf_idx[-1]) if len(traf_idx) else (-1, -1)
    cum = np.cumsum(words)
    all_words = float(cum[-1]) or 1.0
    max_depth = max(b.depth for b in items) or 1
    container_words: dict[int, list[float]] = {}
    for b, w, t in zip(items, words, in_traf):
        parent = b.ancestors[-2] if len(b.ancestors) >= 2 else 0
        s = container_words.setdefault(parent, [0.0, 0.0])
        s[0] += w
        s[1] += w * t
    width = len(FEATURES)
    content, boiler = frozenset(_CONTENT_WORDS), frozenset(_BOILER_WORDS)
    words_l, cover_l, cum_l = words.tolist(), cover.tolist(), cum.tolist()
    rows = []
    for i, (b, k) in enumerate(zip(items, norms)):
        text = b.text
        nw = words_l[i]
        chars = len(text) or 1
        head = text[:400]  # character classes from the start of the block: enough, and bounded
        row = [0.0] * width
        row[col["log_words"]] = float(np.log1p(nw))
        row[col["log_chars"]] = float(np.log1p(chars))
        row[col["link_ratio"]] = min(b.link_chars / chars, 1.0)
        row[col["sent_ends"]] = min(len(_SENT_END.findall(text)), 20)
        row[col["ends_punct"]] = text[-1] in ".!?。！？\"'”’»):;"
        row[col["comma_rate"]] = text.count(",") / (nw or 1)
        row[col["upper_rate"]] = sum(map(str.isupper, head)) / min(chars, 400)
        row[col["digit_rate"]] = sum(map(str.isdigit, head)) / min(chars, 400)
        row[col["in_traf"]] = cover_l[i]
        row[col["prev_traf"]] = cover_l[i - 1] if i else 0
        row[col["next_traf"]] = cover_l[i + 1] if i + 1 < n else 0
        row[col["in_span"]] = first <= i <= last
        row[col["in_main_container"]] = main is not None and main in b.ancestors
        row[col["rel_pos"]] = i / n
        row[col["dist_traf"]] = (0 if first <= i <= last else min(abs(i - first), abs(i - last)) / n) if first >= 0 else 1
        row[col["depth_rel"]] = b.depth / max_depth
        row[col["repeated"]] = counts.get(k, 0) > 1
        row[col["is_title"]] = bool(title_key) and k == title_key
        parent = b.ancestors[-2] if len(b.ancestors) >= 2 else 0
        cw = container_words[parent]
        row[col["container_traf_share"]] = cw[1] / cw[0] if cw[0] else 0
        row[col["words_before_share"]] = (cum_l[i] - nw) / all_words
        tag = b.tag if b.tag in _TAGS else ("h4" if b.tag in ("h5", "h6") else "other")
        row[col[f"tag_{tag}"]] = 1
        for m in b.marks:
            j = col.get(f"mark_{m}")
            if j is not None:
                row[j] = 1
        row[col["hidden"]] = "hidden" in b.marks
        row[col["role_nav"]] = any(m in _ROLES for m in b.marks)
        near, far = b.attrs[:4], b.attrs[4:]
        row[col["attr_content_near"]] = sum(w in content for w in near)
        row[col["attr_boiler_near"]] = sum(w in boiler for w in near)
        row[col["attr_content_far"]] = sum(w in content for w in far)
        row[col["attr_boiler_far"]] = sum(w in boiler for w in far)
        for w in set(b.attrs[:8]):
            j = col.get(f"w_{w}")
            if j is not None:
                row[j] = 1
        rows.append(row)
    x[:] = np.asarray(rows, dtype=np.float32)
    return x
