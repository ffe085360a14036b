"""A cheap cap on the markup of a page before it is parsed: large pages lose what is never text.

Extraction (lxml, trafilatura, readability, the listing check) costs time and memory with the number
of elements of a page, more than linearly on some shapes: a 1 MB page of nested ``<div><span>`` takes
seconds, 2 MB over a gigabyte. Real pages are far smaller once their code is set aside: of the 966 real
article pages of ``../shared/data/fundus-pages`` and ``wcxb-dev``, the largest is 2.2 MB (0.81 MB
without scripts, styles, SVG and comments) and holds at most 4,975 elements.

So a page that is small (``SMALL_BYTES`` and ``SMALL_ELEMENTS``) is handed on byte for byte. A larger
one loses, in one linear pass over the bytes, its ``<script>`` (JSON-LD metadata is kept), ``<style>``,
``<svg>``, ``<noscript>`` and ``<template>`` elements, comments and ``data:`` URIs; what is still past
``max_bytes`` or ``max_elements`` is cut at a tag boundary (lxml closes what the cut leaves open).
Pure: bytes in, bytes out; no parsing, no scrapy.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["Capped", "cap_markup", "reopen_page", "SMALL_BYTES", "SMALL_ELEMENTS", "MAX_BYTES", "MAX_ELEMENTS"]

SMALL_BYTES = 1024 * 1024       # pages up to this size and ...
SMALL_ELEMENTS = 20_000         # ... this many elements pass untouched
MAX_BYTES = 2 * 1024 * 1024     # what goes on to the parser at most (2.6x the largest real page, stripped)
MAX_ELEMENTS = 20_000           # elements handed on at most (4x the most of any real page)

_TAG = re.compile(rb"<[A-Za-z]")
_DROP_OPEN = re.compile(rb"<(script|style|svg|noscript|template)\b([^>]*)>|<!--", re.I)
_KEEP_SCRIPT = re.compile(rb"type\s*=\s*['\"]?application/ld\+json", re.I)
_DATA_URI = re.compile(rb"data:[\w.+-]+/[\w.+-]+(?:;[\w.+=-]+)*;base64,[A-Za-z0-9+/=\s]{64,}")


@dataclass
class Capped:
    """The markup to parse, and what was done to it (``stripped``/``cut``: bytes removed)."""

    html: bytes
    original: int
    stripped: int = 0
    cut: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.stripped or self.cut)


def _strip_code(html: bytes) -> bytes:
    """Without code elements and comments; an element left open drops the rest, as a browser would."""
    out, pos, lower = [], 0, None
    for m in _DROP_OPEN.finditer(html):
        if m.start() < pos:  # inside what was already dropped
            continue
        tag = m.group(1)
        if tag is not None and tag.lower() == b"script" and _KEEP_SCRIPT.search(m.group(2) or b""):
            continue  # JSON-LD: the page's metadata
        out.append(html[pos:m.start()])
        if tag is None:
            end = html.find(b"-->", m.end())
            pos = len(html) if end < 0 else end + 3
            continue
        if lower is None:
            lower = html.lower()
        close = b"</" + tag.lower()
        end = lower.find(close, m.end())
        if end < 0:
            pos = len(html)
            break
        gt = html.find(b">", end)
        pos = len(html) if gt < 0 else gt + 1
    out.append(html[pos:])
    return b"".join(out)


def _cut_at(html: bytes, limit: int) -> int:
    """A position at most ``limit``: the start of a tag near it, else a UTF-8 character boundary."""
    lt = html.rfind(b"<", max(0, limit - 65536), limit)
    if lt > 0:
        return lt
    while limit > 0 and (html[limit] & 0xC0) == 0x80:
        limit -= 1
    return limit


def cap_markup(html: bytes, *, max_bytes: int = MAX_BYTES, max_elements: int = MAX_ELEMENTS,
               small_bytes: int = SMALL_BYTES) -> Capped:
    """The page's markup, capped as the module says (``max_elements`` 0: no element cap)."""
    n = len(html)
    small_elements = min(SMALL_ELEMENTS, max_elements) if max_elements else 0
    if n <= small_bytes and (not small_elements or len(_TAG.findall(html, 0, n)) <= small_elements):
        return Capped(html, n)
    if html.count(b"\x00", 0, 4096) > 8:  # UTF-16 or binary: the byte patterns do not apply
        return Capped(html, n)
    stripped = _DATA_URI.sub(b"data:,", _strip_code(html))
    out = Capped(stripped, n, stripped=n - len(stripped))
    limit = min(len(stripped), max_bytes) if max_bytes else len(stripped)
    if max_elements:
        for i, m in enumerate(_TAG.finditer(stripped, 0, limit)):
            if i == max_elements:
                limit = m.start()
                break
    if limit < len(stripped):
        limit = limit if stripped[limit:limit + 1] == b"<" else _cut_at(stripped, limit)
        out.html, out.cut = stripped[:limit], len(stripped) - limit
    return out


def _both(pattern: str, flags: int = re.I) -> dict:
    return {str: re.compile(pattern, flags), bytes: re.compile(pattern.encode(), flags)}


_END_OF_PAGE = _both(r"</(?:body|html)\s*>")
_TAG_AFTER = _both(r"<(?!/|!--|script\b|style\b|link\b|meta\b|noscript\b)[a-z]")
_CODE = _both(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)


def reopen_page(html: bytes | str) -> bytes | str:
    """The markup without its ``</body>`` and ``</html>`` end tags when more markup follows the first of them
    (a theme that closes the page after its header, then prints the article): a browser shows what follows
    in the body, libxml2 drops what follows ``</html>`` (on one wcxb-dev page, the whole article). End tags
    inside scripts and styles are left as written (a JSON-LD ``articleBody`` may quote one). Anything else
    comes back as it is, the same object. Both the extractor and the listing check parse this."""
    kind = bytes if isinstance(html, bytes) else str
    end = _END_OF_PAGE[kind].search(html)
    if end is None or _TAG_AFTER[kind].search(html, end.end()) is None:
        return html
    code = [m.span() for m in _CODE[kind].finditer(html)]
    starts = [a for a, _ in code]
    out, last = [], 0
    for m in _END_OF_PAGE[kind].finditer(html):
        i = bisect_right(starts, m.start()) - 1
        if i >= 0 and m.start() < code[i][1]:
            continue  # inside a script or style
        out.append(html[last:m.start()])
        last = m.end()
    out.append(html[last:])
    return kind().join(out)
