"""A URL over ``URLLENGTH_LIMIT`` characters (2,083 by default) is refused with its reason.

Scrapy's UrlLengthMiddleware (a spider middleware) drops such requests without a word, so a
URL given to ``corpus fetch`` said ``no response`` and a discovered one vanished.  This
downloader middleware, in its place, refuses the request before anything is sent: the spider's
errback gets ``UrlTooLong``, which ``failure_reason`` reads as ``URL too long (N characters,
limit L)`` (``error:`` for a URL asked for, ``skipped:`` for a link a crawl discovered).
"""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest, NotConfigured


class UrlTooLong(IgnoreRequest):
    def __init__(self, length: int, limit: int):
        self.length, self.limit = length, limit
        super().__init__(f"URL too long ({length} characters, limit {limit})")


class UrlLength:
    def __init__(self, limit: int):
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("URLLENGTH_LIMIT")
        if not limit:
            raise NotConfigured
        return cls(limit)

    def process_request(self, request):
        if len(request.url) > self.limit:
            raise UrlTooLong(len(request.url), self.limit)
        return None
