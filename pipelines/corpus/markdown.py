"""Page-derived text made safe for Markdown (``corpus/INDEX.md``): it reads as the text it is, never as
markup.

A title like ``<img src=x onerror=...>`` or ``[click](javascript:...)`` comes from whoever wrote the
page. ``md_text`` writes any such value as one line of literal text: HTML's ``<``, ``>`` and an ``&``
that could start a character reference become entities; Markdown's punctuation (``\\ ` * _ [ ] ( ) #
| ! ~ $ @``) and a leading ``-``, ``+`` or ``1.`` are backslash-escaped; ``://`` and the dots of
``www.example.com`` are escaped too, so that no linkifier (GitHub's, or markdown-it's fuzzy one) makes
a link of them; control and bidirectional-override characters are
dropped and newlines folded. ``md_link`` makes a link only of an http(s) URL, its target
percent-encoded where Markdown or a table would read it (spaces, parentheses, angle brackets, ``|``);
anything else (``javascript:``, ``data:``) is written as text. ``md_code`` is a code span for an id.
Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["md_code", "md_link", "md_plain", "md_text"]

# C0 and C1 controls (whitespace among them is folded first) and the bidirectional embeddings,
# overrides and isolates, which can make a line display in another order than it is written.
_DROP = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_REFERENCE = re.compile(r"&(?=[#A-Za-z0-9])")   # an '&' that could start &amp; &#60; &#x3c;
_PUNCT = re.compile(r"([\\`*_\[\]()#|!~$@])")
_LEADING = re.compile(r"^([-+=]|\d{1,9}(?=[.)]))")  # list item, setext underline, ordered list item
_SCHEME = re.compile(r"(?<=[A-Za-z0-9.+-]):(?=//)")
_DOMAIN_DOT = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_])")  # "evil.com", "www.x": a linkifier's bait
_CODE_SAFE = re.compile(r"[A-Za-z0-9._-]+")
# Kept as they are in a link target: unreserved and reserved characters of RFC 3986 and '%', but not
# the parentheses, whose pairing Markdown reads; everything else (space, <, >, |, `, \, ", {, }, ^,
# non-ASCII) is percent-encoded.
_URL_SAFE = "!#$%&'*+,-./:;=?@[]_~"


def _one_line(value: Any) -> str:
    return _DROP.sub("", " ".join(str(value if value is not None else "").split()))


def md_text(value: Any) -> str:
    """``value`` as one line of Markdown that renders as exactly its text (also safe in a table cell)."""
    text = _one_line(value)
    text = _REFERENCE.sub("&amp;", text)
    text = _PUNCT.sub(r"\\\1", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = _SCHEME.sub(r"\\:", text)
    text = _DOMAIN_DOT.sub(r"\\.", text)
    m = _LEADING.match(text)
    if m:
        text = (f"\\{text}" if not m.group(1)[0].isdigit()
                else f"{m.group(1)}\\{text[m.end():]}")
    return text


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 (),]*")


def md_plain(value: Any) -> str:
    """The project's own wording (``gone (HTTP 410)``, ``duplicate of a1b2``) as it is, when it holds
    nothing Markdown reads mid-line; escaped like ``md_text`` otherwise."""
    text = _one_line(value)
    return text if _PLAIN.fullmatch(text) else md_text(text)


def md_code(value: Any) -> str:
    """A code span for an identifier (``a1b2c3``); any other value as escaped text."""
    text = _one_line(value)
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else md_text(text)


def _target(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            netloc = quote(netloc, safe=_URL_SAFE)
    return urlunsplit((parts.scheme.lower(), quote(netloc, safe=_URL_SAFE),
                       *(quote(p, safe=_URL_SAFE) for p in (parts.path, parts.query, parts.fragment))))


def md_link(url: Any) -> str:
    """An autolink ``<https://...>`` for an http(s) URL; anything else as escaped text (never a link)."""
    text = _one_line(url)
    if not text:
        return ""
    target = _target(text)
    return f"<{target}>" if target else md_text(text)
