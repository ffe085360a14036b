"""A stopping run sends nothing more: the requests queued in the downloader's per-site slots are dropped.

Scrapy's graceful stop (a stop signal, or the run closing itself when its store or Redis is gone) waits
for every request the downloader already holds, and a slot sends its queue one politeness delay after
another: sixteen requests queued for a site with a 10 s delay kept a stopped run fetching for minutes (a
reviewer measured 16 requests over 34 s after SIGTERM, on loopback). The requests in flight finish; the
queued ones fail with ``RunStopping``, which the spider does not record as an outcome, so the crawl state
keeps them due and the next run fetches them (in a run shared through Redis they are not settled: the
worker leaving hands them back to the queue for the others). How many: ``corpus/stop/not_sent``.
"""

from __future__ import annotations

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

__all__ = ["DrainOnStop", "NOT_SENT", "RunStopping"]

NOT_SENT = "corpus_not_sent"  # request.meta: dropped unsent by a stopping run (a shared run keeps it in flight)


class RunStopping(IgnoreRequest):
    """A request the downloader held when the run began to stop: never sent, due again next run."""


class DrainOnStop:
    """Watches for the run to stop (every ``interval`` seconds) and then empties the downloader's slot queues."""

    def __init__(self, crawler, interval: float = 0.25):
        self.crawler = crawler
        self.interval = interval
        self.task = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider):
        from twisted.internet import task

        self.task = task.LoopingCall(self.check)
        self.task.start(self.interval, now=False)

    def closed(self, spider, reason=None):
        if self.task is not None and self.task.running:
            self.task.stop()

    def stopping(self) -> bool:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        return engine is not None and (not engine.running or getattr(slot, "closing", None) is not None)

    def check(self) -> None:
        if not self.stopping():
            return
        dropped = self.drain()
        if dropped:
            self.crawler.stats.inc_value("corpus/stop/not_sent", dropped)

    def drain(self) -> int:
        from crawler.slot_holds import fail_queued

        slots = getattr(getattr(self.crawler.engine, "downloader", None), "slots", {})
        return sum(fail_queued(self.crawler, key, lambda: RunStopping("not sent: the run is stopping"),
                               meta={NOT_SENT: True}) for key in list(slots))
