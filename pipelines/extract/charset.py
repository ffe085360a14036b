"""Decode fetched HTML bytes to text: BOM, declared charset, <meta charset>, then sniffing.

Order of trust: a byte-order mark; valid UTF-8 (a multi-byte UTF-8 sequence is almost never an
accident, so it beats a contradicting single-byte label); the HTTP header and <meta> labels that
decode the bytes strictly; finally charset-normalizer. Never raises.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["decode_html", "normalize_label"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{2,40})""", re.I)
# Labels that servers send by default without knowing; WHATWG decodes them all as windows-1252.
_WEAK = {"iso8859-1", "latin-1", "ascii", "cp1252", "iso-8859-1", "us-ascii", "windows-1252"}
_ALIASES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "x-sjis": "shift_jis",
            "gb2312": "gb18030", "gbk": "gb18030", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
            "tis-620": "cp874", "iso8859-11": "cp874"}


def normalize_label(label: str | bytes | None) -> str | None:
    """Python codec name for a charset label (WHATWG-style supersets), or None if unknown."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return _ALIASES.get(name, name)


def _meta_charset(data: bytes) -> str | None:
    m = _META.search(data[:16384])
    return normalize_label(m.group(1)) if m else None


def _strict(data: bytes, enc: str) -> str | None:
    try:
        return data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def _sniff(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
    except Exception:  # noqa: BLE001 - sniffing is best effort
        return None
    return normalize_label(best.encoding) if best else None


def decode_html(data: bytes | str, declared: str | None = None) -> str:
    """Decode HTML bytes using the HTTP-declared charset, BOM, <meta charset> and sniffing."""
    if isinstance(data, str):
        return data
    if not data:
        return ""
    try:
        for bom, enc in _BOMS:
            if data.startswith(bom):
                return data[len(bom):].decode(enc, "replace")
        utf8 = _strict(data, "utf-8")
        if utf8 is not None:
            return utf8
        header, meta = normalize_label(declared), _meta_charset(data)
        candidates = [e for e in (header, meta) if e and e != "utf-8"]
        if header in _WEAK and meta and meta not in _WEAK:
            candidates = [meta, header]  # a page's own label beats a server default
        strong = [e for e in candidates if e not in _WEAK]
        if not strong:
            # Only a default label, or none at all: sniff, the label decodes anything.
            sniffed = _sniff(data)
            if sniffed and sniffed != "utf-8":
                candidates.insert(0, sniffed)
        for enc in candidates:
            text = _strict(data, enc)
            if text is not None:
                return text
        enc = candidates[0] if candidates else "utf-8"
        return data.decode(enc, "replace")
    except Exception:  # noqa: BLE001 - never raise on hostile bytes
        return data.decode("utf-8", "replace")
