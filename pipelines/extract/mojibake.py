"""Text written twice in the wrong encoding (mojibake), repaired by ftfy.

Some pages hold their text already garbled in their own bytes: UTF-8 read as Windows-1252 and written out
again as UTF-8 ("isnâ€™t" for "isn’t", "Â" and a no-break space for a no-break space), or Windows-1252 read as
Latin-1 (a C1 control, U+0092, for "’"). Decoding the page right cannot undo that; ftfy (installed with
wordfreq already, and made for exactly this) can. 14 of the 966 development pages hold such text.

The page is repaired before anything reads it, while the no-break spaces are still there (a trimmed line
loses the space and keeps the "Â"), text node by text node: only nodes showing a telltale pair go to ftfy,
which decides. A page is scanned for that pair only when one of the lead letters occurs in it at all: 0.2 ms
a page over the development sets, 5 ms more on a page that has mojibake.
"""

from __future__ import annotations

import re
from itertools import islice

from ftfy import fix_encoding

__all__ = ["page_suspect", "repair", "repair_tree", "repair_values"]

# the lead byte of a two- or three-byte UTF-8 sequence read as Windows-1252 or Latin-1 (Â Ã â, and Ä Å Ð Ñ
# Ø Ù for Central European, Greek and Cyrillic letters), followed by what a continuation byte reads as there
_WEAK_LEADS = "\u00c4\u00c5\u00d0\u00d1\u00d8\u00d9"  # letters in some languages: Ä Å Ð Ñ Ø Ù
_LEADS = f"\u00c2\u00c3{_WEAK_LEADS}\u00e2"
_FOLLOWERS = ("\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
              "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122")
_PAIR = re.compile(f"[{_LEADS}][{_FOLLOWERS}]")
# pairs a page does not write as letters: "â" and a continuation ("â€™"; no language ends a word in "â"
# before punctuation), and "Â" or "Ã" followed by what is not punctuation after a word (Portuguese capitals
# end in "Ã": "IRMÃ”", "«MAÇÔ, "AMANHÃ" and a no-break space). One of these, or five of the others (Å, Ð,
# Ñ, Ø... are letters too, "Ø½" a pipe's diameter), make a page suspect.
_AFTER_WORD = "\u00a0\u00ab\u00bb\u00b0\u00ae\u00b2\u00b3\u00b9\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026\u2122"
_STRONG_A = re.compile(f"\u00e2[{_FOLLOWERS}]")
_STRONG_B = re.compile(f"[\u00c2\u00c3](?![{_AFTER_WORD}])[{_FOLLOWERS}]")
_WEAK = re.compile(f"[{_WEAK_LEADS}][{_FOLLOWERS}]")
_WEAK_NEEDED = 5
# in a node of a suspect page, a C1 control too: no page means to hold one (Windows-1252 read as Latin-1)
_SUSPECT = re.compile(f"{_PAIR.pattern}|[\u0080-\u009f]")
_ATTRIBUTES = ("content", "title", "alt")  # meta values (titles, descriptions, authors) and captions
_SKIP = frozenset(("script", "style"))
_CODE = frozenset(("pre", "code", "kbd", "samp"))  # their text is shown as written: left as it is


def page_suspect(text: str) -> bool:
    """Whether a page's text may hold mojibake: a cheap scan (a lead letter first, then the pairs)."""
    # each pattern only where its lead letter occurs at all (a scan of a page costs about 1 ms, a test for
    # one letter a fiftieth of that)
    return (("\u00e2" in text and _STRONG_A.search(text) is not None)
            or (("\u00c2" in text or "\u00c3" in text) and _STRONG_B.search(text) is not None)
            or (any(lead in text for lead in _WEAK_LEADS)
                and sum(1 for _ in islice(_WEAK.finditer(text), _WEAK_NEEDED)) >= _WEAK_NEEDED))


def repair(text: str | None) -> str | None:
    """A text with its mojibake undone (as it is when there is none; ftfy decides)."""
    return fix_encoding(text) if text and _SUSPECT.search(text) else text


def repair_values(values: dict) -> dict:
    """A dict of metadata with its strings, and the strings of its lists, repaired."""
    return {k: repair(v) if isinstance(v, str) else [repair(x) if isinstance(x, str) else x for x in v]
            if isinstance(v, list) else v for k, v in values.items()}


def repair_tree(tree) -> int:
    """Repair the tree's text, tails and meta values in place (scripts, styles and code left); how many
    changed."""
    changed = 0
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag not in _SKIP and (new := repair(el.text)) != el.text and not _in_code(el):
            el.text, changed = new, changed + 1
        if (new := repair(el.tail)) != el.tail and not _in_code(el.getparent()):
            el.tail, changed = new, changed + 1
        for name in _ATTRIBUTES:
            if (value := el.get(name)) and (new := repair(value)) != value:
                el.set(name, new)
                changed += 1
    return changed


def _in_code(el) -> bool:
    """Whether the element is code or inside code (asked only of a node ftfy would change)."""
    while el is not None:
        if el.tag in _CODE:
            return True
        el = el.getparent()
    return False
