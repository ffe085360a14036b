"""Capture each response as it came over the wire, for the raw archive (``pipelines/archive/``).

``RawCapture`` is a downloader middleware at 595: its ``process_response`` runs before
HttpCompressionMiddleware (590) decodes the body, so it sees the bytes as fetched (still
gzip/br-encoded), with the request headers as sent.  It keeps them in ``request.meta`` (one
response's worth: the next response of that request replaces it), and hands a ``304 Not
Modified`` straight to the archive as a ``revisit`` record, since no item follows one.

``AttachCapture`` is a spider middleware: it puts the capture of a response into each page item
the spider makes of it, where the ``Archive`` item pipeline (``crawler/archive_pipeline.py``)
takes it out and writes it.

``CORPUS_WARC = False`` switches both off.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

META_KEY = "corpus_raw_capture"
ITEM_KEY = "warc_capture"


def _pairs(headers) -> list[tuple[str, str]]:
    out = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values if isinstance(values, (list, tuple)) else [values]:
            out.append((key, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


def capture_of(request, response) -> dict:
    """The plain capture dict of ``pipelines/archive/records.py``."""
    replayed = "replay" in response.flags
    ip = getattr(response, "ip_address", None)
    return {
        "url": response.url,
        "method": request.method,
        "request_headers": _pairs(request.headers),
        "protocol": getattr(response, "protocol", None) or "HTTP/1.1",
        "status": response.status,
        "reason": None,
        "response_headers": _pairs(response.headers),
        "body": response.body,
        "ip": None if replayed or ip is None else str(ip),  # a replay server's address says nothing
        "replayed": replayed,
    }


class RawCapture:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CORPUS_WARC", True):
            raise NotConfigured("CORPUS_WARC is off")
        return cls(crawler)

    def process_request(self, request):
        request.meta.pop(META_KEY, None)  # a retry or redirect carries no stale capture
        return None

    def process_response(self, request, response):
        capture = capture_of(request, response)
        if response.status == 304:
            archive = getattr(self.crawler, "corpus_archive", None)
            if archive is not None:
                archive.revisit_later(capture, request)
            return response
        request.meta[META_KEY] = capture
        return response


class AttachCapture(BaseSpiderMiddleware):
    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CORPUS_WARC", True):
            raise NotConfigured("CORPUS_WARC is off")
        return cls(crawler)

    def get_processed_item(self, item, response):
        if response is not None and isinstance(item, dict) and "page" in item:
            capture = response.meta.get(META_KEY)
            if capture is not None and capture["url"] == response.url:
                item[ITEM_KEY] = capture
        return item
