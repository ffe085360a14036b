"""Run a corpus spider in this process with the project's settings."""

from __future__ import annotations

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

REPLAY_HANDLER = "crawler.replay_handler.ReplayDownloadHandler"


def project_settings(overrides: dict | None = None) -> Settings:
    """The settings of ``crawler/settings.py`` with command-line overrides on top."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    overrides = dict(overrides or {})
    if overrides.get("CORPUS_REPLAY_URL"):
        overrides.setdefault("DOWNLOAD_HANDLERS", {"http": REPLAY_HANDLER, "https": REPLAY_HANDLER})
    settings.setdict(overrides, priority="cmdline")
    return settings


def run_spider(spider_cls, settings: Settings, **spider_kwargs):
    """Run one spider to completion; returns its crawler (stats, spider.results)."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler, **spider_kwargs)
    process.start()
    return crawler
