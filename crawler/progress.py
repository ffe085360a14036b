"""Progress while a crawl runs: a live status line on a terminal, plain lines otherwise.

Enabled with ``CORPUS_PROGRESS = True`` (the ``corpus`` command does it);
``CORPUS_PROGRESS_INTERVAL`` seconds between updates.
"""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.summary import per_outlet


class Progress:
    def __init__(self, crawler, interval: float, stream=None):
        self.crawler = crawler
        self.interval = interval
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.task = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CORPUS_PROGRESS"):
            raise NotConfigured
        default = 0.5 if sys.stderr.isatty() else 10.0
        ext = cls(crawler, crawler.settings.getfloat("CORPUS_PROGRESS_INTERVAL", default))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider):
        from twisted.internet import task

        self.task = task.LoopingCall(self.show)
        self.task.start(self.interval, now=False)

    def line(self) -> str:
        rows = per_outlet(self.crawler.stats.get_stats())
        parts = [f"{name} {r['fetched']}/{r['discovered']}" + (f" +{r['new']}" if r["new"] else "")
                 for name, r in rows.items() if r["discovered"] or r["fetched"]]
        elapsed = int(time.monotonic() - self.started)
        return f"[{elapsed:>4}s] fetched/discovered: " + (", ".join(parts) or "discovering...")

    def show(self):
        text = self.line()
        if self.tty:
            width = 200
            self.stream.write("\r" + text[:width].ljust(min(width, len(text) + 2)))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def closed(self, spider, reason):
        if self.task and self.task.running:
            self.task.stop()
        if self.tty:
            self.stream.write("\n")
