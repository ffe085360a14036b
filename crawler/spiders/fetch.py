"""One-off spider behind ``corpus fetch URL ...``: same settings, middlewares
and item pipelines as a crawl, so a fetched page and a crawled page are the
same record.

A URL that a registry outlet knows, by its address, as one of its listings,
feeds or sitemaps (``Outlet.is_listing``) is not requested: it ends as
``skipped: not an article (listing page)``.  Any other URL is fetched, also
an owned one of a shape the outlet's article patterns do not know (a person
asked for it); the extraction stage still drops a page whose content is a
listing (``pipelines/extract/listing.py``).

A URL whose page an earlier run fetched but could not store (the pending spool) was stored when this run
opened its store; it is that page's outcome here and is not fetched a second time.
"""

from __future__ import annotations

import scrapy

from crawler.outlets import listing_lookup
from crawler.spiders.base import CorpusSpider
from pipelines.crawl.urls import page_key, refused_scheme, scheme_refusal
from pipelines.extract.listing import LISTING_REASON

LISTING_SKIP = f"skipped: {LISTING_REASON}"


class FetchSpider(CorpusSpider):
    name = "fetch"
    any_error_fails = True  # a person asked for each URL: one error fails the run (exit status 1)

    def __init__(self, urls=None, outlets=None, listings=None, invalid=(), *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(urls, str):
            urls = urls.split(",")
        self.urls = list(urls or [])
        self.invalid = list(invalid)  # (url, why): counted as errors of this run, never requested
        self.outlets = outlets  # callable url -> outlet name, or None
        self.listings = listings  # callable url -> bool (a registry listing/feed); default: the registry's

    def outlet_for(self, url):
        return self.outlets(url) if self.outlets else None

    async def start(self):
        if self.listings is None:
            self.listings = listing_lookup(self.settings.get("CORPUS_REGISTRY") or None)
        spooled = {page_key(u): r for u, r in self.results.items()}  # pages the spool stored at the start
        for url, why in self.invalid:
            self.note(url, f"error: invalid URL ({why})")
        for url in self.urls:
            done = spooled.get(page_key(url)) if spooled else None
            if done is not None:  # its page, spooled by an earlier run whose store was down (perhaps under another
                # spelling: a feed's tracking query), was stored at this run's start: its outcome, not a second fetch
                self.results[url] = dict(done, url=url)
                self.crawler.stats.inc_value("corpus/fetch/stored-from-spool")
                continue
            if (scheme := refused_scheme(url)) is not None:  # `scrapy crawl fetch -a urls=file:///x`: never fetched
                self.note(url, f"error: {scheme_refusal(scheme)}")
                continue
            if self.listings(url):
                self.crawler.stats.inc_value("corpus/fetch/listing-address")
                self.note(url, LISTING_SKIP, outlet=self.outlet_for(url))
                continue
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                dont_filter=True,
                meta={"corpus_requested": url},
            )
