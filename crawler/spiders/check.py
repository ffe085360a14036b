"""The spider behind ``corpus check``: is each outlet still crawlable?

It probes every discovery route of the selected outlets (robots.txt and its
``Sitemap:`` lines, sitemaps and news sitemaps, feeds, the first page of each
listing) with the crawl's parsers (``crawler/discovery.py``), counts entries
and article URLs per route (``OutletCheck``, ``crawler/checkreport.py``),
then, once discovery is done (``spider_idle``), fetches the newest few
article URLs of each outlet and extracts them with the project's extractor
and topic scorer.  Same settings and middlewares as a crawl (robots.txt,
throttling, User-Agent, replay); no item is ever yielded, no item pipeline
or run report runs, the store is never opened.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.spiders import split_list
from crawler.checkreport import OutletCheck, Sample, newest, pick_samples
from crawler.discovery import page_links, parse_feed, parse_sitemap, robots_sitemaps, split_fetchable
from crawler.page import page_from_response
from crawler.spiders.base import failure_reason
from pipelines.crawl.registry import load_registry, site_outlet
from pipelines.crawl.urls import canonicalize

MAX_SUB_SITEMAPS = 3   # sub-sitemaps followed per sitemap index (the newest by lastmod)
MAX_INDEX_DEPTH = 2    # an index listed in an index is followed; deeper ones are not
NAMED_REFUSALS = 5     # URLs of another scheme than http(s) named per route (all are counted)
HTML_TYPES = {"text/html", "application/xhtml+xml", "text/plain", None, ""}


class CheckSpider(scrapy.Spider):
    name = "check"
    # A check writes nothing: no item pipeline (the store pipeline would open the store), no run report,
    # no progress lines.  ``scrapy crawl check -a outlets=rsis`` is as harmless as ``corpus check rsis``.
    custom_settings = {
        "ITEM_PIPELINES": {},
        "EXTENSIONS": {"crawler.runreport.RunReport": None, "crawler.progress.Progress": None},
    }

    def __init__(self, outlets=None, site=None, registry=None, samples=3, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = load_registry(registry or None)
        if site:
            self.selected = [site_outlet(site)]
            self.registry.outlets[self.selected[0].name] = self.selected[0]
        else:
            names = split_list(outlets)
            self.selected = [self.registry.get(n) for n in names] if names else list(self.registry)
        self.samples_wanted = max(int(samples), 0)
        self.checks = {o.name: OutletCheck(o.name) for o in self.selected}
        # article URLs found, per outlet: canonical URL -> [URL as first found, newest date announced]
        self.candidates: dict[str, dict[str, list]] = {o.name: {} for o in self.selected}
        self.routed: dict[str, set[str]] = {o.name: set() for o in self.selected}
        self.sampling = False
        self.finish_reason: str | None = None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        from pipelines.extract.topic import load_config

        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.min_words = crawler.settings.getint("CORPUS_MIN_WORDS", 40)
        spider.topic_config = load_config(crawler.settings.get("CORPUS_TOPIC_TERMS") or None)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    def results(self) -> list[OutletCheck]:
        return [self.checks[o.name] for o in self.selected]

    # -- discovery routes ------------------------------------------------------------------------
    async def start(self):
        for outlet in self.selected:
            check = self.checks[outlet.name]
            roots = {"{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in outlet.start_urls()}
            for root in sorted(roots or {f"https://{outlet.domains[0]}"}):
                # answered from the copy the robots middleware fetched: one robots.txt fetch per host
                route = check.add("robots", f"{root}/robots.txt")
                yield scrapy.Request(route.url, callback=self.parse_robots, errback=self.route_failed,
                                     meta={"route": route, "outlet": outlet, "corpus_robots": True,
                                           "dont_retry": True}, dont_filter=True)
            for kind, urls in (("sitemap", outlet.sitemaps), ("news-sitemap", outlet.news_sitemaps),
                               ("feed", outlet.feeds), ("listing", outlet.listings)):
                for url in urls:
                    yield self._route(outlet, kind, url)

    def _route(self, outlet, kind, url, via=None, depth=0):
        self.routed[outlet.name].add(url)
        route = self.checks[outlet.name].add(kind, url, via)
        callback = {"sitemap": self.parse_sitemap, "news-sitemap": self.parse_sitemap,
                    "feed": self.parse_feed, "listing": self.parse_listing}[kind]
        # dont_filter: two outlets may share a route; each gets its own answer and its own row
        return scrapy.Request(url, callback=callback, errback=self.route_failed, dont_filter=True,
                              meta={"route": route, "outlet": outlet, "depth": depth})

    def _answered(self, response):
        route = response.meta["route"]
        route.status = response.status
        if response.url != route.url:
            route.final_url = response.url
        return route, response.meta["outlet"]

    def _found(self, outlet, route, urls_dates) -> None:
        """Count the article URLs among a route's entries; remember them as sample candidates."""
        articles = 0
        found = self.candidates[outlet.name]
        for url, date in urls_dates:
            if not outlet.is_article(url):
                continue
            articles += 1
            known = found.setdefault(canonicalize(url), [url, None])
            if date:
                known[1] = newest([known[1], date]) or known[1] or date
        route.articles = articles
        self.checks[outlet.name].article_urls = len(found)

    def _fetchable(self, route, items, url_of=lambda item: item) -> list:
        """The items whose URL is http or https; the others are never requested, and the route names them."""
        kept, refused = split_fetchable(items, url_of)
        if refused:
            route.refused_count += len(refused)
            route.refused = (route.refused + [url[:200] for url, _ in refused])[:NAMED_REFUSALS]
        return kept

    def route_failed(self, failure):
        request = failure.request
        route = request.meta["route"]
        _, route.error = failure_reason(failure)
        if isinstance(failure.value, HttpError):
            route.status = failure.value.response.status
        self.logger.info("check: %s %s: %s", route.label, route.url, route.error)  # the table says it

    def parse_robots(self, response):
        route, outlet = self._answered(response)
        listed = robots_sitemaps(response.body.decode("utf-8", "replace"), response.url)
        route.sitemaps = self._fetchable(route, listed)
        route.entries = len(listed)
        if not outlet.robots_sitemaps:
            return
        for url in route.sitemaps:
            if url not in self.routed[outlet.name]:
                yield self._route(outlet, "sitemap", url, via="robots.txt")

    def parse_sitemap(self, response):
        route, outlet = self._answered(response)
        kind, listed = parse_sitemap(response.body, response.url)
        entries = self._fetchable(route, listed, lambda e: e.url)
        route.entries = len(listed)
        route.newest = newest(d for e in entries for d in (e.lastmod, e.published))
        if kind == "invalid":
            route.error = "is not a sitemap (no XML urlset or sitemapindex)"
            route.entries = None
            return
        if kind == "index":
            route.index = True
            depth = response.meta.get("depth", 0) + 1
            if depth > MAX_INDEX_DEPTH:
                return
            subs = [e.url for e in entries if e.url not in self.routed[outlet.name]]
            dates = {e.url: e.lastmod for e in entries}
            for url, _ in pick_samples({u: dates[u] for u in subs}, MAX_SUB_SITEMAPS):
                yield self._route(outlet, route.kind, url, via=route.url, depth=depth)
            return
        self._found(outlet, route, [(e.url, e.published or e.lastmod) for e in entries])

    def parse_feed(self, response):
        route, outlet = self._answered(response)
        listed = parse_feed(response.body, response.url)
        entries = self._fetchable(route, listed, lambda e: e.url)
        route.entries = len(listed)
        route.newest = newest(d for e in entries for d in (e.published, e.lastmod))
        if not listed and b"<html" in response.body[:2048].lower():
            route.error = "is not a feed (an HTML page)"
        self._found(outlet, route, [(e.url, e.published or e.lastmod) for e in entries])

    def parse_listing(self, response):
        route, outlet = self._answered(response)
        if not hasattr(response, "text"):
            route.error = "is not an HTML page"
            return
        links, _ = page_links(response.body, response.url)
        owned = [url for url in links if outlet.owns(url)]
        route.entries = len(owned)
        self._found(outlet, route, [(url, None) for url in owned])

    # -- sample articles ---------------------------------------------------------------------------
    def on_idle(self, spider):
        """Discovery is done: fetch the newest sample articles of each outlet (once)."""
        if spider is not self or self.sampling:
            return
        self.sampling = True
        scheduled = 0
        for outlet in self.selected:
            found = dict(self.candidates[outlet.name].values())
            for url, date in pick_samples(found, self.samples_wanted):
                sample = Sample(outlet.name, url, date)
                self.checks[outlet.name].samples.append(sample)
                self.crawler.engine.crawl(scrapy.Request(url, callback=self.parse_sample, errback=self.sample_failed,
                                                         dont_filter=True, meta={"sample": sample}))
                scheduled += 1
        if scheduled:
            raise DontCloseSpider

    def parse_sample(self, response):
        from pipelines.extract.extractor import count_words, try_extract
        from pipelines.extract.topic import score

        sample = response.meta["sample"]
        sample.status = response.status
        page = page_from_response(response, sample.outlet)
        if page["content_type"] not in HTML_TYPES:
            sample.error = f"is not an article page ({page['content_type']})"
            return
        try:
            result = try_extract(page["body"], page["url"], headers_charset=page["charset"], min_words=self.min_words)
        except Exception as exc:  # noqa: BLE001 - a bug or a pathological page: said, not a crash
            self.logger.exception("extraction failed on %s", response.url)
            sample.error = f"extraction failed ({type(exc).__name__}: {str(exc)[:120]})"
            return
        doc = result.document
        if doc is None:
            sample.no_text = result.reason
            return
        sample.title, sample.published, sample.words = doc.title, doc.published, count_words(doc.text)
        topic = score(doc.title, doc.text, self.topic_config)
        sample.topic, sample.relevant, sample.topic_reason = round(topic.score, 4), topic.relevant, topic.reason

    def sample_failed(self, failure):
        sample = failure.request.meta["sample"]
        _, sample.error = failure_reason(failure)
        if isinstance(failure.value, HttpError):
            sample.status = failure.value.response.status
        self.logger.info("check: sample %s: %s", sample.url, sample.error)

    def on_closed(self, spider, reason):
        if spider is self:
            self.finish_reason = reason
