"""Run a corpus spider in this process with the project's settings."""

from __future__ import annotations

import signal

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import interrupts


def project_settings(overrides: dict | None = None) -> Settings:
    """The settings of ``crawler/settings.py`` with command-line overrides on top
    (what depends on other settings is derived later, by ``crawler.addon.CorpusAddon``)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(dict(overrides or {}), priority="cmdline")
    return settings


class CorpusProcess(CrawlerProcess):
    """A CrawlerProcess that remembers which signal stopped it, for the run report and exit status."""

    def _note_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        for crawler in self.crawlers:
            crawler.corpus_interrupted_by = name

    def _signal_shutdown(self, signum, frame):
        self._note_signal(signum)
        super()._signal_shutdown(signum, frame)

    def _signal_kill(self, signum, frame):
        self._note_signal(signum)
        super()._signal_kill(signum, frame)


def run_spider(spider_cls, settings: Settings, **spider_kwargs):
    """Run one spider to completion; returns its crawler (stats, spider.results, corpus_report)."""
    with interrupts.held():  # a stop signal while Scrapy builds the crawler: exit 5, not a mangled error
        process = CorpusProcess(settings)
        crawler = process.create_crawler(spider_cls)
        process.crawl(crawler, **spider_kwargs)
    process.start()  # installs Scrapy's handlers: from here a stop signal is a graceful shutdown
    interrupts.install()  # Scrapy leaves the default handlers behind: a late signal is exit 5, not 143
    return crawler
