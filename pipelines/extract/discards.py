"""Article containers that trafilatura's boilerplate rules discard by name, and the article kept anyway.

trafilatura drops every block whose class or id carries a boilerplate token (``OVERALL_DISCARD_XPATH``:
"embed", "sidebar", "footer", "related", "banner", "widget"...; ``TEASER_DISCARD_XPATH``: "teaser"). Most
are boilerplate, but some hold the article: Webflow's ``w-embed`` (a table whose unclosed tag swallows the
rest of the post), a ``page1-footer`` wrapping a whole guide, a ``map-and-related`` column. Such a block is
recognised by what it holds: the page's prose paragraphs that trafilatura's text left out. Only the names
of those blocks are hidden from trafilatura for one more run, and its text is taken when it is much longer
and keeps what the first run had.

Measured on wcxb-dev and fundus (bench/extraction.py): 3 of 966 pages changed by more than a point, none
worse; cost where it runs (under 10% of pages): the missing paragraphs' ancestors tested one by one, and
trafilatura run once more on the pages where a block qualifies.
"""

from __future__ import annotations

from lxml import etree
from trafilatura.xpaths import OVERALL_DISCARD_XPATH, TEASER_DISCARD_XPATH

# trafilatura's own name tests, asked of one element instead of searched for in a tree (the second
# OVERALL expression, hidden blocks, is left alone: what a page hides is mostly not its article)
_NAMED = [etree.XPath("self::*" + x.path.strip()[len(".//*"):], namespaces={"re": "http://exslt.org/regular-expressions"})
          for x in (OVERALL_DISCARD_XPATH[0], *TEASER_DISCARD_XPATH)]
_NAME_ATTRS = ("class", "id", "role", "data-component", "data-lp-replacement-content")


def _named(el) -> bool:
    return any(test(el) for test in _NAMED)


def discarded_holders(missing: list[tuple[etree._Element, int]], least: int, kept=()) -> list[etree._Element]:
    """Blocks trafilatura discards by name that hold at least ``least`` words of the left-out paragraphs
    ``missing`` ((element, words) pairs) and none of the paragraphs its text has (``kept``): it did not
    discard those, so their names change nothing (a run saved on 9 of 28 dev pages)."""
    inside_kept = {a for p in kept for a in p.iterancestors()}
    held: dict = {}
    for p, n in missing:
        for a in p.iterancestors():
            if a.tag in ("body", "html"):
                break
            held[a] = held.get(a, 0) + n
    return [a for a, n in held.items() if n >= least and a not in inside_kept and _named(a)]


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
