"""Reader-comment threads recognised by their structure, not by their names.

trafilatura leaves out blocks named like comments (``comment``, ``disqus``...), but a thread whose markup
says nothing of the kind (``<section id="reactions"><ol class="thread">``, Disqus-like ``div.post`` items)
is read as more article: its comments come out as paragraphs, and a thread of ``<article>`` or
``class="post"`` items can even be taken as the article's container (trafilatura's ``BODY_XPATH`` tries those
first), putting a reader's comment before the lead.

A thread is a run of at least three sibling items of one tag, most of them with a comment's own control:
a "Reply" link or button (in the corpus's languages; "Upvote", "Report abuse"), a ``replytocom`` or
``#respond`` link, a ``rel="ugc"`` link. An avatar, a name and a time
alone are not enough: a live blog's entries (a reporter's name, a time), a timeline and a list of officials'
statements have that shape too, and losing an article's prose is worse than keeping a reader's comment. It
is dropped only after an article's prose (MIN_OUTSIDE words of <p> before it) and where it ends its
container's prose. Pure: no network.
"""

from __future__ import annotations

import re
from collections import defaultdict

from lxml import etree

__all__ = ["comment_threads", "drop_comment_threads"]

# what a comment's own control says (the whole text of a link or button), in the corpus's languages and its
# neighbours'; words that other lists have as well ("Like", "Share", "Permalink", "Answer", "Report") are not
_ACTIONS = frozenset("""
reply respond upvote downvote antworten répondre responder rispondi beantwoorden odpowiedz svara vastaa
ответить відповісти balas ตอบกลับ 回复 回覆 返信 답글
""".split()) | {"reply to this", "reply to this comment", "reply to comment", "trả lời", "report abuse",
                "report comment", "report this comment", "leave a reply", "reply ↓", "↩ reply"}
_COUNT = re.compile(r"\s*[(\[]?\d+[)\]]?$")  # "Reply (2)", "Reply 2"
_ITEM_TAGS = frozenset({"li", "article", "div", "section", "dd", "blockquote"})
MIN_ITEMS = 3          # a thread has at least this many comment-shaped items
ITEM_SHARE = 0.6       # ... and they are at least this share of the container's items of their tag
MIN_OUTSIDE = 50       # words of <p> prose before the thread: the article it follows
MIN_AFTER = 20         # the thread's container may hold this much <p> prose after it...
AFTER_SHARE = 0.25     # ... or this share of what it holds before it
MAX_CLIMB = 8          # levels from a signal up to its item


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


def _signals(body) -> list:
    """The elements that mark a comment by themselves: an action link or button, a ``replytocom``,
    ``#respond`` or ``rel="ugc"`` link; one pass over the page's links and buttons (not avatars: related
    posts, author lists and readers' reviews have them too). A link's words are its whole text when it
    has few children (an icon before "Reply"), else its own text: this runs on every page."""
    marks = []
    actions = _ACTIONS
    for el in body.iter("a", "button"):
        get = el.get
        href = get("href")
        if href and ("replytocom" in href or "#respond" in href) or "ugc" in (get("rel") or ""):
            marks.append(el)
            continue
        text = el.text if len(el) == 0 else (_STRING(el) if len(el) <= 3 else el.text)
        if not text or len(text) > 40:
            continue
        key = text.strip().lower()
        if key in actions:
            marks.append(el)
            continue
        if not key:
            continue
        key = " ".join(key.split()).strip("·|()[]:")
        if key[-1:].isdigit():
            key = _COUNT.sub("", key)
        if key in actions:
            marks.append(el)
    return marks


def comment_threads(tree) -> list:
    """The containers of the page's comment threads (outermost only), in page order."""
    body = tree.find("body")
    if body is None:
        return []
    marks = _signals(body)
    if len(marks) < MIN_ITEMS:
        return []
    items: dict = defaultdict(set)  # container -> its items with a comment's own control
    counts: dict = {}
    for el in marks:
        for item in _items_of(el, body, counts):
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
