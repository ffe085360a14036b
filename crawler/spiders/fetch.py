"""One-off spider behind ``corpus fetch URL ...``: same settings, middlewares
and item pipelines as a crawl, so a fetched page and a crawled page are the
same record."""

from __future__ import annotations

import scrapy

from crawler.spiders.base import CorpusSpider


class FetchSpider(CorpusSpider):
    name = "fetch"
    any_error_fails = True  # a person asked for each URL: one error fails the run (exit status 1)

    def __init__(self, urls=None, outlets=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(urls, str):
            urls = urls.split(",")
        self.urls = list(urls or [])
        self.outlets = outlets  # callable url -> outlet name, or None

    def outlet_for(self, url):
        return self.outlets(url) if self.outlets else None

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                dont_filter=True,
                meta={"corpus_requested": url},
            )
