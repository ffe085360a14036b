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
    sniffed = normalize_label(best.encoding) if best else None
    return _latin_arbiter(data, sniffed) if sniffed in _LATIN else sniffed


# --- Western or Central European? -----------------------------------------------------------------
# charset-normalizer cannot tell windows-1252 from windows-1250 (or ISO 8859-2, -13, ...) for text
# whose accents are few, and breaks the tie towards the latter: Spanish "año" came out "ańo". The
# non-ASCII letters of one language come from one alphabet; the same bytes read in the wrong code page
# give a mixture no language writes (Polish ń beside Czech č and Romanian ţ; or ¹ and ³ inside words).
# Each candidate decoding is scored by the share of its non-ASCII letters that one language's alphabet
# covers; windows-1252 wins ties (WHATWG's default for an unlabelled page).
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # windows-1258's combining tone marks (Vietnamese)
_ALPHABETS = (
    "àâæçèéêëîïôœùûüÿ",   # French
    "äöüß",               # German
    "áéíñóúü",            # Spanish
    "àáâãçéêíóôõú",       # Portuguese
    "àèéìíîòóùú",         # Italian
    "àçèéíïòóúü",         # Catalan
    "áèéëïóöü",           # Dutch (and Indonesian and English loanwords: café, naïve)
    "åäöéü",              # Swedish, Finnish
    "æøåéó",              # Danish, Norwegian
    "áðéíóúýþæö",         # Icelandic
    "ąćęłńóśźż",          # Polish
    "áčďéěíňóřšťúůýž",    # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",          # Hungarian
    "čćđšž",              # Croatian, Bosnian, Serbian (Latin), Slovenian
    "ăâîșțşţ",            # Romanian
    "çë",                 # Albanian
    "ąčęėįšųūž",          # Lithuanian
    "āčēģīķļņšūž",        # Latvian
    "äõöüšž",             # Estonian
    "çğıöşü",             # Turkish
    # Vietnamese in windows-1258: a few precomposed letters, the tones as combining marks after them
    "àáâãèéêìíòóôõùúýăđơư" + _TONE_MARKS,
)
_LATIN = frozenset({"cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "iso8859-2", "iso8859-3", "iso8859-4",
                    "iso8859-9", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "latin-1",
                    "mac-latin2", "mac-roman", "mac-iceland", "mac-turkish", "cp437", "cp850", "cp852", "cp858",
                    "cp860", "cp861", "cp863", "cp865", "cp775", "hp-roman8"})
_NEUTRAL = frozenset("ªºµ")
_TONES = frozenset(_TONE_MARKS)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_PUNCTUATION = frozenset("\xa0\xad¡¿«»°§©®¶·")  # what may touch a word in any of these languages


def _alphabet_share(text: str) -> float:
    """Share of the non-ASCII letters of ``text`` that the best-fitting alphabet covers; a symbol of
    the Latin-1 block touching a letter (``by³o``, ``Rosj±``) counts as a letter no alphabet has."""
    counts: dict[str, int] = {}
    for m in _NON_ASCII.finditer(text):
        ch, i = m.group(), m.start()
        if ch in _NEUTRAL:
            continue
        if ch.isalpha() or (ch in _TONES and i > 0 and text[i - 1].isalpha()):
            key = ch.lower()
        elif ch <= "\xff" and ch not in _PUNCTUATION and (
                (i > 0 and text[i - 1].isalpha()) or (i + 1 < len(text) and text[i + 1].isalpha())):
            key = "?"
        else:
            continue
        counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values())
    if not total:
        return 1.0
    return max(sum(counts.get(c, 0) for c in alphabet) for alphabet in _ALPHABETS) / total


def _latin_arbiter(data: bytes, sniffed: str) -> str:
    """Of windows-1252, windows-1250, ISO 8859-2 and the sniffed Latin code page, the one whose reading
    looks most like one language (ties: in that order, the common code pages first)."""
    sample = data[:200_000]
    best, best_score = sniffed, -1.0
    for enc in dict.fromkeys(("cp1252", "cp1250", "iso8859-2", sniffed)):
        text = _strict(sample, enc)
        if text is None:
            continue
        score = _alphabet_share(text)
        if score > best_score:
            best, best_score = enc, score
    return best


def _composed(text: str, enc: str) -> str:
    """Windows-1258 writes Vietnamese tones as combining marks ("ky" + U+0301): composed here ("ký"), as every
    other encoding and every search for the word has them."""
    if enc == "cp1258":
        import unicodedata

        return unicodedata.normalize("NFC", text)
    return text


def decode_html(data: bytes | str, declared: str | None = None) -> str:
    """Decode HTML bytes using the HTTP-declared charset, BOM, <meta charset> and sniffing."""
    return decoded(data, declared)[0]


def decoded(data: bytes | str, declared: str | None = None) -> tuple[str, bytes | None]:
    """(``decode_html(data, declared)``, ``data`` itself when the text is exactly its UTF-8, else None): the
    parser reads UTF-8 bytes, and most pages need not be encoded back."""
    if isinstance(data, bytes) and data[:3] != b"\xef\xbb\xbf" and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        utf8 = _strict(data, "utf-8")
        if utf8 is not None:
            return utf8, data
    return _decode_html(data, declared), None


def _decode_html(data: bytes | str, declared: str | None = None) -> str:
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
                return _composed(text, enc)
        enc = candidates[0] if candidates else "utf-8"
        return _composed(data.decode(enc, "replace"), enc)
    except Exception:  # noqa: BLE001 - never raise on hostile bytes
        return data.decode("utf-8", "replace")
