"""Article containers that trafilatura's boilerplate rules discard by name, and the article kept anyway.

trafilatura drops every block whose class or id carries a boilerplate token (``OVERALL_DISCARD_XPATH``:
"embed", "sidebar", "footer", "related", "banner", "widget"...; ``TEASER_DISCARD_XPATH``: "teaser"). Most
are boilerplate, but some hold the article: Webflow's ``w-embed`` (a table whose unclosed tag swallows the
rest of the post), a ``map-and-related`` column. Such a block is recognised by what it holds: running prose
that trafilatura's text left out, at least as much as it kept (``discarded_holders``), inside the element
trafilatura read from (``within_reach``). Only the names of those blocks are hidden from trafilatura for
one more run, and its text is taken when it is much longer and keeps what the first run had.

Measured on wcxb-dev and fundus (bench/extraction.py, README "Blocks named like widgets"): wcxb word F1
0.9448 -> 0.9462, fundus and the seeds unchanged; trafilatura runs again on 4 of 966 pages, none of
fundus's news pages.
"""

from __future__ import annotations

from collections import Counter

from lxml import etree
from trafilatura.xpaths import BODY_XPATH, OVERALL_DISCARD_XPATH, TEASER_DISCARD_XPATH

# trafilatura's own name tests, asked of one element instead of searched for in a tree (the second
# OVERALL expression, hidden blocks, is left alone: what a page hides is mostly not its article)
_NAMED = [etree.XPath("self::*" + x.path.strip()[len(".//*"):],
                      namespaces={"re": "http://exslt.org/regular-expressions"})
          for x in (OVERALL_DISCARD_XPATH[0], *TEASER_DISCARD_XPATH)]
_NAME_ATTRS = ("class", "id", "role", "data-component", "data-lp-replacement-content")


def _named(el) -> bool:
    return any(test(el) for test in _NAMED)


def discarded_holders(missing: list[tuple[etree._Element, int]], least: int, kept=(), got: int = 0
                      ) -> list[etree._Element]:
    """Blocks trafilatura discards by name that hold the article it left out: at least ``least`` words of the
    left-out paragraphs ``missing`` ((element, words) pairs), and as many as the ``got`` words it kept (an
    article, not an appendix to one); half of them in running prose, paragraphs that share a parent with
    another left-out one (a teaser card, a list of related stories or a comment holds one paragraph each:
    on a short news story those outweigh the story, and a reviewer's pages took them in); and none of the
    paragraphs its text has (``kept``): it did not discard those, so their names change nothing."""
    inside_kept = {a for p in kept for a in p.iterancestors()}
    siblings = Counter(p.getparent() for p, _ in missing)
    held: dict = {}
    running: dict = {}
    for p, n in missing:
        run = n if siblings[p.getparent()] >= 2 else 0
        for a in p.iterancestors():
            if a.tag in ("body", "html"):
                break
            held[a] = held.get(a, 0) + n
            running[a] = running.get(a, 0) + run
    return [a for a, n in held.items() if n >= least and n >= got and 2 * running[a] >= n
            and a not in inside_kept and _named(a)]


def reading_container(tree, kept=()):
    """The element trafilatura read the article from: the first match of its first matching ``BODY_XPATH``,
    when that holds one of the ``kept`` paragraphs; None when it read from another container or the page."""
    container = next((found[0] for expr in BODY_XPATH if (found := expr(tree))), None)
    if container is None or not any(a is container for p in kept for a in p.iterancestors()):
        return None
    return container


def within_reach(blocks: list[etree._Element], tree, kept=()) -> list[etree._Element]:
    """The blocks that can enter trafilatura's text: it reads the article from the first element its first
    matching ``BODY_XPATH`` finds (``article``, ``.post-content``...), unless that holds too little, when it
    tries the next expressions and at last the page. So when that element holds a paragraph it kept, a block
    outside it (a teaser group, a carousel, a consent dialog beside the article) is out of its reach
    whatever its name, and trying it would only cost a run (6 of fundus's news pages had such a block)."""
    if not blocks:
        return blocks
    container = reading_container(tree, kept)
    if container is None:
        return blocks  # trafilatura did not read from it: another container, or the page
    return [b for b in blocks
            if b is container or container in b.iterancestors() or b in container.iterancestors()]


def without_names(blocks: list[etree._Element], run):
    """``run()`` with the blocks' boilerplate names hidden, then put back in their order (which matters:
    trafilatura's ``@id|@class`` tests read whichever comes first)."""
    saved = [(el, list(el.attrib.items())) for el in blocks]
    for el in blocks:
        for k in _NAME_ATTRS:
            el.attrib.pop(k, None)
    try:
        return run()
    finally:
        for el, attrs in saved:
            el.attrib.clear()
            el.attrib.update(attrs)
