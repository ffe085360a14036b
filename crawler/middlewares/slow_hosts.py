"""A host that keeps timing out stops costing a full timeout per URL.

After ``CORPUS_HOST_MAX_TIMEOUTS`` timeouts in a row from one host, with no answer from it in
between, that host's remaining requests of this run fail at once, never sent: ``error: timed out
(HOST timed out N times in a row; not requested)``.  They are retried next run like any error.  Any
answer from the host (any status) resets the count.  Counted per host name, not per download slot:
a slot is a whole site (``crawler/site_slots.py``), and one dead sub-domain says nothing of its
siblings.  ``0`` turns this off.
"""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.middlewares.retry_after import is_timeout
from crawler.slot_holds import fail_queued, host_key, slot_key


class HostTimingOut(IgnoreRequest):
    """Not requested: the request's host timed out too often in a row in this run."""

    def __init__(self, slot: str, timeouts: int):
        self.slot, self.timeouts = slot, timeouts
        super().__init__(f"timed out ({slot} timed out {timeouts} times in a row; not requested)")


class SlowHostBreaker:
    def __init__(self, crawler, limit: int):
        self.crawler = crawler
        self.limit = limit
        self.timeouts: dict[str, int] = {}  # host -> timeouts in a row

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("CORPUS_HOST_MAX_TIMEOUTS", 3)
        if limit <= 0:
            raise NotConfigured
        return cls(crawler, limit)

    def _key(self, request) -> str:
        return host_key(request)

    def process_request(self, request):
        key = self._key(request)
        count = self.timeouts.get(key, 0)
        if count >= self.limit:
            self.crawler.stats.inc_value("corpus/slow_host/not_requested")
            raise HostTimingOut(key, count)
        return None

    def process_response(self, request, response):
        self.timeouts.pop(self._key(request), None)
        return response

    def process_exception(self, request, exception):
        if is_timeout(exception):
            key = self._key(request)
            self.timeouts[key] = self.timeouts.get(key, 0) + 1
            if self.timeouts[key] == self.limit:
                self.crawler.stats.inc_value("corpus/slow_host/tripped")
                failed = fail_queued(self.crawler, slot_key(self.crawler, request),  # waiting, unsent
                                     lambda: HostTimingOut(key, self.limit), host=key)
                self.crawler.stats.inc_value("corpus/slow_host/not_requested", failed)
                self.crawler.spider.logger.warning(
                    "%s timed out %d times in a row: its other URLs of this run are not requested", key, self.limit)
        return None
