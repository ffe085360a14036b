"""WARC records of one fetch, as bytes: one gzip member per record.

A *capture* is the plain dict the crawler hands over (no Scrapy types): the
request and the response as they went over the wire, before any decoding::

    url, method, request_headers [(name, value)], protocol ("HTTP/1.1"),
    status, reason, response_headers [(name, value)], body (bytes, still
    Content-Encoded), ip (or None)

Transfer-Encoding is undone by the HTTP client before we see the body, so a
``Transfer-Encoding`` header is kept as ``X-Crawler-Transfer-Encoding`` (what
Common Crawl does): a reader must not de-chunk a body that is not chunked.
"""

from __future__ import annotations

import io
import zlib
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import urlsplit

from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

__all__ = ["RecordMaker", "warc_date", "iso_from_warc_date", "SERVER_NOT_MODIFIED", "CORPUS_HEADERS"]

WARC_VERSION = "1.1"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
GZIP_LEVEL = 6
# Our own WARC headers (extension headers are allowed by the WARC standard):
CORPUS_HEADERS = {
    "outlet": "WARC-Corpus-Outlet",              # the registry outlet the page was fetched for
    "requested_url": "WARC-Corpus-Requested-URL",  # the URL asked for, before redirects
    "replayed": "WARC-Corpus-Replayed",          # "true": answered by a replay web, not the live site
    "keep_off_topic": "WARC-Corpus-Keep-Off-Topic",  # "true": the run stored off-topic pages (corpus fetch)
}
_HOP_BY_HOP = {"transfer-encoding"}


def warc_date(iso: str | None = None) -> str:
    """``2024-07-28T10:15:00+00:00`` (the record's ``fetched_at``) -> ``2024-07-28T10:15:00Z``."""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return when.strftime(fmt)


def iso_from_warc_date(value: str | None) -> str | None:
    """``2024-07-28T10:15:00Z`` -> ``2024-07-28T10:15:00+00:00`` (the form of ``fetched_at``)."""
    if not value:
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:  # WARC/0.x and ARC timestamps: 14 digits
            when = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def gzip_member(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return comp.compress(data) + comp.flush()


def _reason(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _response_headers(headers) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        if name.lower() in _HOP_BY_HOP:
            name = "X-Crawler-" + name
        out.append((name, value))
    return out


def _request_line_and_headers(capture: dict) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(capture["url"])
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(capture.get("request_headers") or [])
    if not any(n.lower() == "host" for n, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return f"{capture.get('method') or 'GET'} {target}", headers


class RecordMaker:
    """Serialises WARC/1.1 records with warcio, each as its own gzip member."""

    def __init__(self, gzip_level: int = GZIP_LEVEL):
        self.builder = RecordBuilder(warc_version=WARC_VERSION)
        self.level = gzip_level

    def _bytes(self, record) -> bytes:
        buf = io.BytesIO()
        WARCWriter(buf, gzip=False, warc_version=WARC_VERSION).write_record(record)
        return gzip_member(buf.getvalue(), self.level)

    def warcinfo(self, filename: str, info: dict) -> bytes:
        return self._bytes(self.builder.create_warcinfo_record(filename, info))

    def _request(self, capture: dict, date: str, concurrent_to: str):
        line, headers = _request_line_and_headers(capture)
        http = StatusAndHeaders(f"{line} {capture.get('protocol') or 'HTTP/1.1'}", headers, is_http_request=True)
        return self.builder.create_warc_record(
            capture["url"], "request", payload=io.BytesIO(b""), length=0, http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": concurrent_to})

    def _http(self, capture: dict) -> StatusAndHeaders:
        status = int(capture["status"])
        return StatusAndHeaders(f"{status} {_reason(status, capture.get('reason'))}",
                                _response_headers(capture.get("response_headers") or []),
                                protocol=capture.get("protocol") or "HTTP/1.1")

    def _warc_headers(self, capture: dict, date: str, extra: dict | None) -> dict:
        headers = {"WARC-Date": date, "WARC-Record-ID": self.builder._make_warc_id()}
        if capture.get("ip"):
            headers["WARC-IP-Address"] = capture["ip"]
        headers.update({k: v for k, v in (extra or {}).items() if v})
        return headers

    def response(self, capture: dict, date: str, extra: dict | None = None) -> tuple[bytes, bytes]:
        """(response member, request member) of one fetch."""
        body = capture.get("body") or b""
        warc_headers = self._warc_headers(capture, date, extra)
        record = self.builder.create_warc_record(
            capture["url"], "response", payload=io.BytesIO(body), length=len(body),
            http_headers=self._http(capture), warc_headers_dict=warc_headers)
        request = self._request(capture, date, warc_headers["WARC-Record-ID"])
        return self._bytes(record), self._bytes(request)

    def revisit(self, capture: dict, date: str, refers_to_uri: str, refers_to_date: str | None,
                extra: dict | None = None) -> tuple[bytes, bytes]:
        """(revisit member, request member) of a fetch answered ``304 Not Modified``."""
        warc_headers = self._warc_headers(capture, date, extra)
        warc_headers["WARC-Profile"] = SERVER_NOT_MODIFIED
        warc_headers["WARC-Refers-To-Target-URI"] = refers_to_uri
        if refers_to_date:
            warc_headers["WARC-Refers-To-Date"] = refers_to_date
        record = self.builder.create_warc_record(
            capture["url"], "revisit", payload=io.BytesIO(b""), length=0,
            http_headers=self._http(capture), warc_headers_dict=warc_headers)
        request = self._request(capture, date, warc_headers["WARC-Record-ID"])
        return self._bytes(record), self._bytes(request)
