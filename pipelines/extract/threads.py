"""Reader-comment threads recognised by their structure, not by their names.

trafilatura leaves out blocks named like comments (``comment``, ``disqus``...), but a thread whose markup
says nothing of the kind (``<section id="reactions"><ul class="thread">``, Disqus-like ``div.post`` items)
is read as more article: its comments come out as paragraphs, and a thread of ``<article>`` or
``class="post"`` items can even be taken as the article's container (trafilatura's ``BODY_XPATH`` tries those
first), putting a reader's comment before the lead.

A thread is a run of at least three sibling items of one tag, most of them shaped like a comment: an
action of its own (a "Reply", "Upvote" or "Report" link or button, a ``replytocom``/``#respond`` link, a
``rel="ugc"`` link, an avatar image, ``schema.org/Comment`` microdata), or a short name leading the item
with a time beside it (``<time>``, ``datetime``, "2 hours ago") and some text. It is dropped only where the
page's prose outside it is an article of its own, most of it before the thread: a live blog's entries
(times and short heads too) are the page's prose, and a dated list inside an article (a timeline) has
prose after it. Pure: no network.
"""

from __future__ import annotations

import re
from collections import defaultdict

from lxml import etree

__all__ = ["comment_threads", "drop_comment_threads"]

# what a comment's own action link or button says, in the languages of the corpus and its neighbours
_ACTIONS = frozenset("""
reply respond answer upvote downvote report flag like dislike quote permalink
antworten melden répondre signaler responder denunciar rispondi segnala beantwoorden reageren odpowiedz
svara svar vastaa ответить пожаловаться відповісти balas laporkan jawab trả lời ตอบกลับ ตอบ 回复 回覆 举报 返信
답글 답장 reply to this comment
""".split()) | {"reply to this", "trả lời", "report abuse", "report comment", "reply ↓", "↩ reply"}
_AGO = re.compile(r"\b\d{1,3}\s*(?:s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|wk|weeks?|"
                  r"mo|months?|y|yr|years?)\s+ago\b|^\s*\d{1,3}\s*(?:m|h|d|w|min|mins|hrs?)\s*$|"
                  r"\bvor\s+\d{1,3}\s+(?:Sekunden|Minuten|Stunden|Tagen|Wochen|Monaten|Jahren)\b|"
                  r"\bil y a\s+\d{1,3}\s+(?:secondes?|minutes?|heures?|jours?|semaines?|mois|ans?)\b|"
                  r"\bhace\s+\d{1,3}\s+(?:segundos?|minutos?|horas?|días?|semanas?|meses|años?)\b|"
                  r"\d{1,3}\s+(?:минут\w*|час\w*|дн\w*|недел\w*|месяц\w*|лет|год\w*)\s+назад|"
                  r"\d{1,3}\s+(?:menit|jam|hari|minggu|bulan|tahun)\s+(?:yang\s+)?lalu|"
                  r"\d{1,3}\s+(?:phút|giờ|ngày|tuần|tháng|năm)\s+trước", re.I)
_AGO_FIRST = ("vor ", "il y a", "hace ")
_ITEM_TAGS = frozenset({"li", "article", "div", "section", "dd", "blockquote"})
_NAME_TAGS = frozenset({"b", "strong", "cite", "span", "a", "div", "header", "footer", "p", "address"})
_NUMBER = re.compile(r"^\d+(?:[:.,/-]\d+)*\W*$")  # a token that is a number, a time or a date (no name)
MIN_ITEMS = 3          # a thread has at least this many comment-shaped items
ITEM_SHARE = 0.6       # ... and they are at least this share of the container's items of their tag
MIN_OUTSIDE = 50       # words of <p> prose before the thread: the article it follows
MIN_AFTER = 20         # the thread's container may hold this much <p> prose after it...
AFTER_SHARE = 0.25     # ... or this share of what it holds before it
MAX_CLIMB = 8          # levels from a signal up to its item
MAX_TIMES = 2000       # times looked at (a page of more is a list of dates, not of comments, past these)


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


_STRING = etree.XPath("string()", smart_strings=False)
_BEFORE = etree.XPath("preceding::p")  # in page order, neither ancestors nor descendants
_SIBLINGS_BEFORE = etree.XPath("preceding-sibling::p | preceding-sibling::*//p")
_SIBLINGS_AFTER = etree.XPath("following-sibling::p | following-sibling::*//p")


def _items_of(el, stop, counts: dict):
    """The ancestors of ``el`` (itself included, MAX_CLIMB levels up, not above ``stop``) that are items of a
    list-like container: each one of at least MIN_ITEMS siblings with its tag. Every level is a candidate:
    the thread's container is the one where enough items carry a signal. ``counts`` caches the siblings
    counted per (container, tag): a thread of 10,000 comments is counted once, not once per comment."""
    node = el
    for _ in range(MAX_CLIMB):
        parent = node.getparent()
        if parent is None or node is stop or parent.tag in ("body", "html"):
            return
        if node.tag in _ITEM_TAGS:
            key = (parent, node.tag)
            n = counts.get(key)
            if n is None:
                n = counts[key] = sum(1 for c in parent if c.tag == node.tag)
            if n >= MIN_ITEMS:
                yield node
        node = parent


def _named_and_timed(item) -> bool:
    """A short name leading the item (1-4 words in an element of its own, not a sentence) and text beyond
    it: with a time in the item, the shape of a comment without an action of its own. Reads the item's
    first texts only, however large it is."""
    holder = next((e for e in item.iter() if e.text and e.text.strip()), None)
    if holder is None or holder is item or holder.tag not in _NAME_TAGS:
        return False
    texts = item.itertext()
    lead = next((" ".join(t.split()) for t in texts if t.strip()), "")
    if lead != " ".join(holder.text.split()):
        return False  # text before the name's element: not led by it
    n = _words(lead)
    if not 1 <= n <= 4 or lead[-1:] in "!?:" or any(_NUMBER.match(token) for token in lead.split()):
        return False  # ("10:32", "July 2024": a live blog's entry, a timeline's item)
    more = 0
    for text in texts:  # text beyond the name: 8 words of it are enough to know
        more += _words(text)
        if more >= 8:
            return True
    return False


def _signals(body) -> tuple[list, list]:
    """The elements that mark a comment by themselves (an action link or button, a ``replytocom``,
    ``#respond`` or ``rel="ugc"`` link, an avatar), and the times (``<time>``, a link or button saying
    "2 hours ago"), in one pass over the page's links, buttons, images and times. A link's words are its
    own text, or its one child's (``<a><span>Reply</span></a>``): no deeper, this runs on every page."""
    marks, times = [], []
    actions, ago_first, ago = _ACTIONS, _AGO_FIRST, _AGO
    for el in body.iter("time", "a", "button", "img"):
        tag = el.tag
        if tag == "time":
            times.append(el)
            continue
        get = el.get
        if tag == "img":
            cls = get("class") or ""
            if "avatar" in cls or "userpic" in cls or "avatar" in (get("src") or ""):
                marks.append(el)
            continue
        href = get("href")
        if href and ("replytocom" in href or "#respond" in href) or "ugc" in (get("rel") or ""):
            marks.append(el)
            continue
        text = el.text
        if not text or text.isspace():
            if len(el) != 1:
                continue
            text = el[0].text
            if not text:
                continue
        if len(text) > 40:
            continue
        key = text.strip().lower()
        if key in actions:
            marks.append(el)
            continue
        if not key:
            continue
        if " " in key or "\n" in key or "\t" in key:
            key = " ".join(key.split())
        key = key.strip("·|()[]:")
        if key in actions:
            marks.append(el)
        elif (key[:1].isdigit() or key.startswith(ago_first)) and ago.search(key):
            times.append(el)
    return marks, times


def comment_threads(tree) -> list:
    """The containers of the page's comment threads (outermost only), in page order."""
    body = tree.find("body")
    if body is None:
        return []
    marks, times = _signals(body)
    if len(marks) + len(times) < MIN_ITEMS:
        return []
    items: dict = defaultdict(set)  # container -> its items shaped like a comment
    counts: dict = {}
    for el in marks:
        for item in _items_of(el, body, counts):
            items[item.getparent()].add(item)
    judged: set = set()
    for el in times[:MAX_TIMES]:  # time-stamped items: comment-shaped when a short name leads them
        for item in _items_of(el, body, counts):
            if item not in judged:
                judged.add(item)
                if _named_and_timed(item):
                    items[item.getparent()].add(item)
    found = []
    for container, marked in items.items():
        tag = next(iter(marked)).tag
        siblings = sum(1 for c in container if c.tag == tag)
        if len(marked) >= MIN_ITEMS and len(marked) >= ITEM_SHARE * siblings:
            found.append(container)
    found = [c for c in found if _follows_article(c)]  # (a container holding the article has none before it)
    return [c for c in found if not any(a in found for a in c.iterancestors())]


def _follows_article(thread) -> bool:
    """Whether an article's prose comes before ``thread`` (MIN_OUTSIDE words of <p> anywhere before it) and
    the thread ends the prose of its own container (its following siblings hold under AFTER_SHARE of the
    <p> words its preceding siblings hold, or under MIN_AFTER): a dated list with the article's prose
    after it (a timeline) is the article's."""
    if sum(_words(_STRING(p)) for p in _BEFORE(thread)) < MIN_OUTSIDE:
        return False
    after = sum(_words(_STRING(p)) for p in _SIBLINGS_AFTER(thread))
    return after < MIN_AFTER or after <= AFTER_SHARE * sum(_words(_STRING(p)) for p in _SIBLINGS_BEFORE(thread))


def drop_comment_threads(tree) -> int:
    """Remove the page's comment threads from ``tree`` in place; how many."""
    threads = comment_threads(tree)
    for thread in threads:
        thread.drop_tree()
    return len(threads)
