"""Progress while a crawl runs: a live status line per outlet on a terminal, plain lines otherwise.

Enabled with ``CORPUS_PROGRESS = True`` (the ``corpus`` command does it);
``CORPUS_PROGRESS_INTERVAL`` seconds between updates (0.5 s on a terminal,
10 s otherwise).
"""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.summary import per_outlet


def outlet_line(name: str, row: dict[str, int]) -> str:
    stored = row["new"] + row["updated"]
    rest = ", ".join(f"{row[k]} {k}" for k in ("duplicate", "off-topic", "error") if row.get(k))
    return (f"{name:<20} {row['fetched']:>5}/{row['discovered']:<5} fetched/discovered"
            f"  {stored:>4} stored" + (f"  ({rest})" if rest else ""))


class Progress:
    def __init__(self, crawler, interval: float, stream=None):
        self.crawler = crawler
        self.interval = interval
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.task = None
        self.drawn = 0  # lines drawn last time (terminal mode)
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CORPUS_PROGRESS"):
            raise NotConfigured
        default = 0.5 if sys.stderr.isatty() else 10.0
        ext = cls(crawler, crawler.settings.getfloat("CORPUS_PROGRESS_INTERVAL") or default)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider):
        from twisted.internet import task

        self.task = task.LoopingCall(self.show)
        self.task.start(self.interval, now=False)

    def lines(self) -> list[str]:
        rows = per_outlet(self.crawler.stats.get_stats())
        elapsed = int(time.monotonic() - self.started)
        active = [outlet_line(name, r) for name, r in rows.items() if r["discovered"] or r["fetched"]]
        return [f"[{elapsed:>5}s] " + line for line in active] or [f"[{elapsed:>5}s] discovering..."]

    def show(self):
        lines = self.lines()
        if self.tty:  # redraw in place: cursor up over the previous block, clear each line
            up = f"\x1b[{self.drawn}F" if self.drawn else ""
            self.stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            self.drawn = len(lines)
        else:
            self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def closed(self, spider, reason):
        if self.task and self.task.running:
            self.task.stop()
