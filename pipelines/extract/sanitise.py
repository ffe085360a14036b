"""Markup made parseable before extraction: characters that no XML tree can hold are taken out.

lxml builds XML-compatible trees; a page that says ``&#1;`` (or ``&#65534;``, ``&#xD800;``, ``&#0;``)
anywhere gets that character into a text node, and trafilatura (and our pruning) then fail on the whole
page: one stray reference dropped the article. ``sanitise_markup`` rewrites such references before
parsing, the way a browser reads them (HTML's rules for numeric references): C0 controls other than
tab, line feed and carriage return are dropped (form feed becomes a space), NUL, surrogates, U+FFFE,
U+FFFF and numbers past U+10FFFF are dropped, and 128-159 are the windows-1252 characters (``&#150;``
is an en dash). The same characters written raw are dropped too. Everything else is left as it is.

``binary_kind`` and ``mostly_controls`` tell a file that is not text at all (a PDF, an image, an
archive labelled text/html) from a page with a few stray control bytes, so that a single NUL no
longer makes a page "not HTML".
"""

from __future__ import annotations

import re

__all__ = ["binary_kind", "mostly_controls", "sanitise_markup", "sanitised"]

_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
# Raw characters an XML tree cannot hold: C0 controls but tab, LF, CR (form feed handled apart),
# surrogates (a str can carry lone ones), U+FFFE and U+FFFF.
_RAW = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f]")
_KEEP = {9, 10, 13}


def _reference(m: re.Match) -> str:
    digits = (m.group(1) or m.group(2)).lstrip("0") or "0"
    if len(digits) > 8:
        return ""  # past U+10FFFF whatever it says
    code = int(digits, 16 if m.group(1) else 10)
    if code in _KEEP or (code >= 0x20 and not 0x80 <= code <= 0x9F and not 0xD800 <= code <= 0xDFFF
                         and code not in (0xFFFE, 0xFFFF) and code <= 0x10FFFF):
        return m.group(0)
    if code == 0x0C:
        return " "
    if 0x80 <= code <= 0x9F:
        try:
            return bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            return ""  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: no character
    return ""


# The same checks on the UTF-8 bytes, without a regex over the whole page (about 3 ns a character): most
# pages need no change, and this tells so in a fraction of a millisecond.
_REF_BYTES = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])  # and the form feed


def _clean_already(text: str, data: bytes | None = None) -> bytes | None:
    """``text``'s UTF-8 bytes (``data`` when the caller has them) when it has nothing ``sanitise_markup`` would
    change, else None (also when unsure)."""
    if data is None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None  # lone surrogates
    # bytes.translate deletes in one C loop, ten times faster than a regex character class over the page
    if len(data.translate(None, _CONTROL_BYTES)) != len(data) or b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:
        return None
    for m in _REF_BYTES.finditer(data):
        ref = m.group(0).decode("ascii")
        if _reference(_REF.match(ref)) != ref:
            return None
    return data


def sanitise_markup(text: str) -> str:
    """``text`` without the references and raw characters that would break parsing (see module doc)."""
    return sanitised(text)[0]


def sanitised(text: str, data: bytes | None = None) -> tuple[str, bytes | None]:
    """(``sanitise_markup(text)``, its UTF-8 bytes when the check already had them, else None): the parser
    reads bytes, and a page of 230,000 characters is not encoded again. ``data``: ``text``'s UTF-8 bytes,
    when the caller has them (the page as fetched, when it was UTF-8)."""
    data = _clean_already(text, data)
    if data is not None:
        return text, data
    if "&#" in text:
        text = _REF.sub(_reference, text)
    if "\x0c" in text:
        text = text.replace("\x0c", " ")
    return _RAW.sub("", text), None


_MAGIC = (
    (b"%PDF-", "a PDF document"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"), (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"), (b"\x7fELF", "an executable"), (b"OggS", "an Ogg file"), (b"ID3", "an MP3 file"),
    (b"\x00\x00\x01\x00", "an icon"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"wOF2", "a web font"),
    (b"wOFF", "a web font"), (b"\x00asm", "WebAssembly"),
)


def binary_kind(data: bytes) -> str | None:
    """What a body is by its leading bytes, when it is a known binary format (``a PDF document``)."""
    head = data[:16]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "a RIFF media file"
    return None


def mostly_controls(text: str, sample: int = 4096) -> bool:
    """Whether the start of ``text`` holds more control characters (NUL among them) than any page of
    text does: binary data, or text decoded with the wrong codec (UTF-16 read as bytes)."""
    head = text[:sample]
    return len(_CONTROLS.findall(head)) > max(8, len(head) // 100)
