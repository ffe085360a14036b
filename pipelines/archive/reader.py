"""Read pages back from WARC files: ours, ``wget --warc-file`` ones, Common Crawl segments.

``index_warc`` walks a file and lists its HTTP responses (where each is, its URL, date, status,
content type, our ``WARC-Corpus-*`` facts) without keeping any body; what is not a page is
counted with its reason.  ``read_page`` reads one response back by its location and turns it
into the *page* dict ``pipelines/corpus/record.py`` builds a record from (body decoded from
chunked transfer coding and gzip/deflate/br content coding, as a browser would).
"""

from __future__ import annotations

import io
import re
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from pipelines.archive.records import CORPUS_HEADERS, iso_from_warc_date

__all__ = ["Capture", "WarcIndex", "index_warc", "read_record", "read_page", "page_from_record",
           "HTML_TYPES", "NotAWarc"]

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
# what the crawl's Extract stage takes as an article page (crawler/item_pipelines.py HTML_TYPES)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", None, ""})
MAX_BODY = 16 * 1024 * 1024  # DOWNLOAD_MAXSIZE of the crawl


class NotAWarc(ValueError):
    """The file is not a WARC file warcio can read."""


@dataclass
class Capture:
    """One HTTP response in a WARC file, without its body."""

    file: str            # store key (or path) of the WARC file
    offset: int
    length: int
    url: str
    date: str | None     # ISO 8601, UTC (the record's fetched_at)
    status: int | None
    content_type: str | None
    outlet: str | None = None
    requested_url: str | None = None
    replayed: bool = False
    keep_off_topic: bool = False
    record_id: str | None = None

    def location(self) -> dict:
        return {"file": self.file, "offset": self.offset, "length": self.length}

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class WarcIndex:
    captures: list[Capture] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> records not taken as pages
    records: int = 0


def _content_type(http) -> tuple[str | None, str | None]:
    full = (http.get_header("Content-Type") or "") if http else ""
    declared = _CHARSET.search(full)
    return full.split(";")[0].strip().lower() or None, declared.group(1) if declared else None


def _flag(rec_headers, name: str) -> bool:
    return (rec_headers.get_header(CORPUS_HEADERS[name]) or "").strip().lower() == "true"


def _status(http) -> int | None:
    try:
        return int(http.get_statuscode())
    except (TypeError, ValueError, AttributeError):
        return None


def index_warc(fh: BinaryIO, name: str) -> WarcIndex:
    """The HTTP responses of the WARC file open as ``fh`` (``name``: its store key)."""
    out = WarcIndex()
    last = None
    try:
        it = ArchiveIterator(fh, arc2warc=True)
        for record in it:
            if last is not None and _cut(last):  # read to its end now: the file ends inside it
                out.skipped["unreadable rest of file"] += 1
                last = None
                break
            last = record
            out.records += 1
            kind = record.rec_type
            if kind is None:  # the file ends inside a record's headers
                out.skipped["unreadable rest of file"] += 1
                break
            if kind != "response":
                if kind not in ("warcinfo", "request"):  # the companions of responses are not pages
                    out.skipped[f"{kind} record"] += 1
                continue
            http = record.http_headers
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if http is None or not uri.lower().startswith(("http://", "https://")):
                out.skipped["not an HTTP response"] += 1
                continue
            ctype, _ = _content_type(http)
            status = _status(http)
            headers = record.rec_headers
            capture = Capture(
                file=name, offset=0, length=0, url=uri.strip("<>"),
                date=iso_from_warc_date(headers.get_header("WARC-Date")), status=status, content_type=ctype,
                outlet=headers.get_header(CORPUS_HEADERS["outlet"]) or None,
                requested_url=headers.get_header(CORPUS_HEADERS["requested_url"]) or None,
                replayed=_flag(headers, "replayed"), keep_off_topic=_flag(headers, "keep_off_topic"),
                record_id=headers.get_header("WARC-Record-ID"))
            capture.offset, capture.length = it.get_record_offset(), it.get_record_length()
            if status is None or not 200 <= status < 300:
                out.skipped[f"HTTP {status}"] += 1
            elif ctype not in HTML_TYPES:
                out.skipped[f"not HTML ({ctype})"] += 1
            else:
                out.captures.append(capture)
    except ArchiveLoadFailed as exc:
        if out.records == 0:
            raise NotAWarc(f"{name}: not a WARC file ({str(exc).strip().splitlines()[0][:200]})") from None
        out.skipped["unreadable rest of file"] += 1
    except Exception as exc:  # noqa: BLE001 - a truncated or corrupt file (warcio fails many ways): keep what was read
        if out.records == 0:
            raise NotAWarc(f"{name}: not a WARC file ({type(exc).__name__}: {exc})") from None
        out.skipped["unreadable rest of file"] += 1
    if last is not None and (_cut(last) or _tail_left(fh, it) or _member_cut(fh, it)):
        out.skipped["unreadable rest of file"] += 1
    if out.records == 0 and _has_bytes(fh):  # warcio reads a file cut inside its first record as empty
        raise NotAWarc(f"{name}: no WARC record could be read (a file cut off inside its first record?)")
    return out


def _cut(record) -> bool:
    """Whether the file ended inside ``record`` (once the iterator has read it to its end): its header block
    has no Content-Length (cut inside it), or fewer bytes followed than that says."""
    if record.rec_headers.get_header("Content-Length") is None:
        return True
    return getattr(record.raw_stream, "limit", 0) > 0


def _tail_left(fh: BinaryIO, it) -> bool:
    """Whether bytes other than white space follow the last record warcio read: a record cut inside its
    header block or gzip member, which warcio passes over without a word."""
    try:
        fh.seek(it.get_record_offset() + it.get_record_length())
        return bool(fh.read(1 << 16).strip(b"\r\n\t \x00"))
    except (OSError, ValueError, TypeError):
        return False


def _member_cut(fh: BinaryIO, it) -> bool:
    """Whether the gzip member of the last record warcio read ends before its end-of-stream marker: its
    record can be whole (a request decompressed to its last byte) while the file was still cut."""
    try:
        fh.seek(0)
        if fh.read(2) != b"\x1f\x8b":
            return False
        fh.seek(it.get_record_offset())
        d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        while not d.eof:
            chunk = fh.read(1 << 16)
            if not chunk:
                return True
            d.decompress(chunk, 1 << 20)  # the output is not kept (at most a record's, a MiB at a time)
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, 1 << 20)
        return False
    except zlib.error:
        return True
    except (OSError, ValueError, TypeError):
        return False


def _has_bytes(fh: BinaryIO) -> bool:
    try:
        fh.seek(0)
        return bool(fh.read(1))
    except (OSError, ValueError):
        return False


def read_record(fh: BinaryIO, offset: int, length: int):
    """The WARC record at ``offset`` (its gzip member or raw bytes, ``length`` long), parsed."""
    fh.seek(offset)
    data = fh.read(length)
    if len(data) != length:
        raise ValueError(f"WARC record at {offset}+{length} is cut off ({len(data)} bytes)")
    it = ArchiveIterator(io.BytesIO(data), arc2warc=True)
    record = next(iter(it), None)
    if record is None:
        raise ValueError(f"no WARC record at {offset}")
    return record, it


def page_from_record(record, *, max_body: int = MAX_BODY) -> dict:
    """The *page* dict of a response record (see ``pipelines/corpus/record.py``)."""
    http = record.http_headers
    headers = record.rec_headers
    ctype, charset = _content_type(http)
    url = (headers.get_header("WARC-Target-URI") or "").strip("<>")
    body = record.content_stream().read(max_body + 1)
    if len(body) > max_body:
        raise ValueError(f"body over {max_body} bytes")
    missing = getattr(record.raw_stream, "limit", 0)  # what the WARC Content-Length promised and the file lacks
    if missing > 0 and not record.raw_stream.read(1):
        raise ValueError(f"the record is cut off: {missing} of its {record.length} bytes are missing "
                         "(a truncated WARC file)")
    return {
        "url": url,
        "requested_url": headers.get_header(CORPUS_HEADERS["requested_url"]) or url,
        "status": _status(http),
        "content_type": ctype,
        "charset": charset,
        "etag": http.get_header("ETag"),
        "last_modified": http.get_header("Last-Modified"),
        "body": body,
        "fetched_at": iso_from_warc_date(headers.get_header("WARC-Date")),
        "outlet": headers.get_header(CORPUS_HEADERS["outlet"]) or None,
        "replayed": _flag(headers, "replayed"),
    }


def read_page(fh: BinaryIO, offset: int, length: int, *, max_body: int = MAX_BODY) -> dict:
    record, _ = read_record(fh, offset, length)
    if record.rec_type != "response":
        raise ValueError(f"the WARC record at {offset} is a {record.rec_type} record, not a response")
    return page_from_record(record, max_body=max_body)
