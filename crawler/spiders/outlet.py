"""The registry-driven spider: one class for every outlet in ``crawler/outlets.toml``.

Discovery from robots.txt sitemaps, sitemaps and news sitemaps, RSS/Atom
feeds and listing pages with pagination; article URLs by the outlet's
patterns.  Known URLs are requested again only when due (a newer
``lastmod``, or the re-check interval), and then conditionally
(``If-None-Match``/``If-Modified-Since``).  ``scrapy crawl outlet -a
outlets=rsis,intellinews -a since=2024-01-01`` works from the repository root.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import urlsplit

import scrapy

from crawler.spiders import split_list
from crawler.discovery import page_links, parse_feed, parse_sitemap, robots_sitemaps, split_fetchable
from crawler.spiders.base import CorpusSpider, failure_reason
from crawler.stopping import RunStopping
from pipelines.crawl.state import parse_time
from pipelines.crawl.registry import load_registry, site_outlet
from pipelines.crawl.traps import HELD, TrapDetector
from pipelines.crawl.urls import canonicalize, scheme_refusal

LOGGED_REFUSALS = 5  # per outlet, the first URLs of another scheme are logged as warnings; all are counted


class OutletSpider(CorpusSpider):
    name = "outlet"

    def __init__(self, outlets=None, since=None, max_pages=None, site=None, registry=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = load_registry(registry or None)
        self.site = site
        if site:
            self.selected = [site_outlet(site)]
            self.registry.outlets[self.selected[0].name] = self.selected[0]
        else:
            names = split_list(outlets)
            self.selected = [self.registry.get(n) for n in names] if names else list(self.registry)
        self.since = parse_time(since, strict=True) if since else None
        if since and self.since is None:
            raise ValueError(f"--since: not a date: {since!r}")
        self.max_pages = int(max_pages) if max_pages else (200 if site else None)
        self.seen: set[str] = set()       # article URLs discovered in this run
        self.requested: set[str] = set()  # ... and requested
        self.not_due: set[str] = set()
        self.started_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        self.scheduled: dict[str, int] = {}
        self.listing_pages: dict[str, int] = {}
        self.discovery_failures: dict[str, list[tuple[str, str]]] = {}  # outlet -> [(route, why)]
        # crawl traps (pipelines/crawl/traps.py): followed links are asked first, page outcomes fed back
        self.traps = TrapDetector(on_trap=self._trap_declared, on_refused=self._trap_refused)
        self.trap_held: dict[str, tuple[str, str]] = {}  # URL held by the detector -> (kind, outlet)

    def outlet_for(self, url):
        if self.site and self.selected[0].owns(url):  # --site: the site's own outlet, not a registry one
            return self.selected[0].name
        outlet = self.registry.for_url(url)
        return outlet.name if outlet else None

    def _stat(self, outlet, key, n=1):
        self.crawler.stats.inc_value(f"corpus/outlet/{outlet.name}/{key}", n)

    # -- discovery -------------------------------------------------------------------
    async def start(self):
        for outlet in self.selected:
            meta = {"outlet": outlet.name}
            if outlet.robots_sitemaps:
                roots = {"{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in outlet.start_urls()}
                roots = roots or {f"https://{outlet.domains[0]}"}
                for root in sorted(roots):
                    # answered from the copy the robots middleware fetched: one robots.txt fetch per host
                    yield scrapy.Request(f"{root}/robots.txt", callback=self.parse_robots,
                                         meta={**meta, "corpus_robots": True, "dont_retry": True},
                                         errback=self.on_discovery_error, dont_filter=self.shared is None)
            for url in (*outlet.sitemaps, *outlet.news_sitemaps):
                yield self._route(url, self.parse_sitemap, outlet)
            for url in outlet.feeds:
                yield self._route(url, self.parse_feed, outlet)
            for url in outlet.listings:
                yield self._route(url, self.parse_listing, outlet)

    def _discover(self, url, callback, outlet, **meta):
        self._stat(outlet, "discovery_requests")
        return scrapy.Request(url, callback=callback, errback=self.on_discovery_error,
                              meta={"outlet": outlet.name, **meta})

    def _route(self, url, callback, outlet):
        """A discovery route: a sitemap, feed or listing of the registry or of robots.txt. When every
        route of an outlet fails, the run fails (exit status 4) and the report names them."""
        self._stat(outlet, "discovery_routes")
        return self._discover(url, callback, outlet, corpus_route=True)

    def _route_done(self, response, problem: str | None = None) -> None:
        if not response.meta.get("corpus_route"):
            return
        outlet = response.meta["outlet"]
        if problem:
            self._route_failed(outlet, response.url, problem)
        else:
            self.crawler.stats.inc_value(f"corpus/outlet/{outlet}/discovery_ok")
            if self.shared is not None:
                self.shared.count(f"{outlet}/discovery_ok")

    def _route_failed(self, outlet: str, url: str, problem: str) -> None:
        self.crawler.stats.inc_value(f"corpus/outlet/{outlet}/discovery_failed")
        if self.shared is not None:
            self.shared.count(f"{outlet}/discovery_failed")
        self.discovery_failures.setdefault(outlet, []).append((url, problem))
        self.logger.warning("discovery failed: %s (%s)", url, problem)

    def on_discovery_error(self, failure):
        request = failure.request
        outlet = request.meta.get("outlet")
        self.crawler.stats.inc_value(f"corpus/outlet/{outlet}/discovery_errors")
        kind, reason = failure_reason(failure)
        if request.meta.get("corpus_route") and failure.check(RunStopping):
            # never sent: the run began to stop (crawler/stopping.py); the route did not fail, it is due next run
            self.crawler.stats.inc_value(f"corpus/outlet/{outlet}/discovery_not_sent")
        elif request.meta.get("corpus_route"):
            self._route_failed(outlet, request.url, reason)
        else:  # robots.txt (none is normal), a sub-sitemap, a pagination page
            level = logging.INFO if request.url.endswith("/robots.txt") else logging.WARNING
            self.logger.log(level, "discovery failed: %s (%s)", request.url, reason)

    def _fetchable(self, outlet, items, where, url_of=lambda item: item) -> list:
        """The items whose URL is http or https; the others (``file:``, ``ftp:``, ``data:``, ``s3:``...)
        are dropped here, before any request, and counted."""
        kept, refused = split_fetchable(items, url_of)
        for url, scheme in refused:
            self._stat(outlet, "refused_scheme")
            self.crawler.stats.inc_value(f"corpus/discovery/refused_scheme/{scheme or 'none'}")
            n = self.crawler.stats.get_value(f"corpus/outlet/{outlet.name}/refused_scheme", 0)
            self.logger.log(logging.WARNING if n <= LOGGED_REFUSALS else logging.DEBUG,
                            "discovery: not requesting %s (listed in %s): %s", url[:300], where, scheme_refusal(scheme))
        return kept

    def parse_robots(self, response):
        outlet = self.registry.get(response.meta["outlet"])
        for url in self._fetchable(outlet, robots_sitemaps(response.text, response.url), response.url):
            if url not in outlet.sitemaps and url not in outlet.news_sitemaps:
                yield self._route(url, self.parse_sitemap, outlet)

    def parse_sitemap(self, response):
        outlet = self.registry.get(response.meta["outlet"])
        kind, entries = parse_sitemap(response.body, response.url)
        self._route_done(response, "not a sitemap (no XML urlset or sitemapindex)" if kind == "invalid" else None)
        for entry in self._fetchable(outlet, entries, response.url, lambda e: e.url):
            if kind == "index":
                if self.since and (mod := parse_time(entry.lastmod)) and mod < self.since:
                    continue  # a sub-sitemap untouched since before --since
                yield self._discover(entry.url, self.parse_sitemap, outlet)
            else:
                yield from self.candidate(outlet, entry.url, entry.lastmod, entry.published)

    def parse_feed(self, response):
        outlet = self.registry.get(response.meta["outlet"])
        entries = parse_feed(response.body, response.url)
        html = not entries and b"<html" in response.body[:2048].lower()
        self._route_done(response, "not a feed (an HTML page)" if html else None)
        for entry in self._fetchable(outlet, entries, response.url, lambda e: e.url):
            yield from self.candidate(outlet, entry.url, entry.lastmod, entry.published)

    def parse_listing(self, response):
        outlet = self.registry.get(response.meta["outlet"])
        links, feeds = page_links(response.body, response.url)  # http(s) only
        self._route_done(response)
        if outlet.follow_links:
            for url in feeds:
                if outlet.owns(url):
                    yield self._discover(url, self.parse_feed, outlet)
        self._trap_page(response, outlet, links)
        for url in links:
            if outlet.is_pagination(url):
                if self.listing_pages.get(outlet.name, 0) < outlet.max_listing_pages \
                        and self._trap_ok(url, outlet, "listing"):
                    self.listing_pages[outlet.name] = self.listing_pages.get(outlet.name, 0) + 1
                    yield self._discover(url, self.parse_listing, outlet)
            elif outlet.is_article(url):
                yield from self.candidate(outlet, url, None, None, follow=outlet.follow_links)

    def parse_page(self, response):
        """Site mode: every same-host page is an article candidate and a source of links (first,
        so that the trap detector sees the page's links before its article outcome)."""
        if response.meta.get("follow") and response.status == 200 and hasattr(response, "text"):
            yield from self.parse_listing(response)
        yield from self.parse_article(response)

    # -- article candidates ------------------------------------------------------------
    def candidate(self, outlet, url, lastmod, published, follow=False):
        """Schedule ``url`` if it is an article that is new or due; count why not otherwise.

        A URL can be found several times (feed, sitemap, listing); a later
        sighting with a newer ``lastmod`` can make a known URL due.
        """
        if not outlet.is_article(url):
            return
        key = canonicalize(url)
        if lastmod:
            self.lastmods[key] = max(lastmod, self.lastmods.get(key) or "")
        if key in self.requested:
            entry = self.state.get(url)
            if lastmod and entry and entry.get("checked_at", "") >= self.started_at and not entry.get("lastmod"):
                self.state.mark(url, lastmod=lastmod)  # fetched already: note the date it announces
            return
        first = key not in self.seen
        self.seen.add(key)
        if first:
            self._stat(outlet, "discovered")
            if self.shared is not None:  # a shared run: counted run-wide too (crawler/distributed.py)
                self.shared.saw(outlet.name, key)
        when = parse_time(published) or parse_time(lastmod)
        if self.since and when and when < self.since:
            if first:
                self._stat(outlet, "before_since")
            return
        due, why = self.state.due(url, lastmod=lastmod)
        if not due:
            if first:
                self._stat(outlet, "known_not_due")
                self.not_due.add(key)
            return
        if key in self.not_due:
            self._stat(outlet, "known_not_due", -1)
        if self.max_pages is not None and self.scheduled.get(outlet.name, 0) >= self.max_pages:
            self._stat(outlet, "over_max_pages")
            return
        if follow and not self._trap_ok(url, outlet, "candidate"):
            return
        self.requested.add(key)
        self.scheduled[outlet.name] = self.scheduled.get(outlet.name, 0) + 1
        self._stat(outlet, f"due/{why}")
        headers, meta = {}, {"outlet": outlet.name, "corpus_requested": url, "corpus_lastmod": lastmod,
                             "follow": follow}
        known = self.state.get(url)
        if known and why != "new":
            if known.get("etag"):
                headers["If-None-Match"] = known["etag"]
            if known.get("last_modified"):
                headers["If-Modified-Since"] = known["last_modified"]
            if headers:
                meta["handle_httpstatus_list"] = [304]
        yield scrapy.Request(url, callback=self.parse_page if follow else self.parse_article,
                             errback=self.on_error, headers=headers, meta=meta)

    # -- crawl traps (pipelines/crawl/traps.py) ------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        # the registry: `-a registry=FILE`, else CORPUS_REGISTRY (-s or the environment), else the bundled one
        kwargs["registry"] = kwargs.get("registry") or crawler.settings.get("CORPUS_REGISTRY") or None
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._trap_idle, signal=scrapy.signals.spider_idle)
        return spider

    def _trap_ok(self, url, outlet, kind) -> bool:
        """Ask the trap detector before following ``url``; a held URL waits for its shape's verdict."""
        ok, why = self.traps.should_follow(url)
        if not ok and why.startswith(HELD) and url not in self.trap_held:
            self.trap_held[url] = (kind, outlet.name)
            self._stat(outlet, "trap_held")  # waits for its shape's first outcome: released or refused
        if not ok:
            self.logger.debug("not following %s: %s", url, why)
        return ok

    def _trap_page(self, response, outlet, links) -> None:
        """Tell the detector which followable links a page has; a page fetched as an article
        candidate (site mode) gets its verdict later, with its article outcome (``note``)."""
        url = response.meta.get("corpus_requested") or (response.meta.get("redirect_urls") or [response.url])[0]
        followable = [u for u in links if outlet.is_pagination(u) or outlet.is_article(u)]
        self._trap_release(self.traps.page(url, followable, article=None if response.meta.get("follow") else False))

    def note(self, url, outcome, **kwargs):
        super().note(url, outcome, **kwargs)
        kind, _, reason = outcome.partition(": ")
        article = (kind in ("new", "updated", "unchanged") or kind.startswith("duplicate")
                   or reason.startswith(("off-topic", "published before")))  # an article all the same
        self._trap_release(self.traps.outcome(url, article))

    def _trap_release(self, urls) -> int:
        """Schedule held URLs whose shape proved itself; returns how many requests went out."""
        sent = 0
        for url in urls:
            kind, name = self.trap_held.pop(url, ("", ""))
            if not name:
                continue
            outlet = self.registry.get(name)
            if kind == "listing":
                requests = []
                if self.listing_pages.get(name, 0) < outlet.max_listing_pages and self._trap_ok(url, outlet, kind):
                    self.listing_pages[name] = self.listing_pages.get(name, 0) + 1
                    requests.append(self._discover(url, self.parse_listing, outlet))
            else:
                requests = self.candidate(outlet, url, None, None, follow=True)
            for request in requests:
                self.crawler.engine.crawl(request)
                sent += 1
        return sent

    def _trap_idle(self, spider):
        if spider is self and self._trap_release(self.traps.finish()):
            raise scrapy.exceptions.DontCloseSpider

    def _trap_outlet(self, url) -> str:
        return self.outlet_for(url) or (self.selected[0].name if len(self.selected) == 1 else "unknown")

    def _trap_declared(self, trap) -> None:
        stats, outlet = self.crawler.stats, self._trap_outlet(trap.example)
        stats.set_value(f"corpus/traps/{trap.slug}", trap.requests)
        stats.inc_value(f"corpus/outlet/{outlet}/traps")
        stats.inc_value(f"corpus/outlet/{outlet}/trap_requests", trap.requests)
        self.logger.warning("crawl trap: %s: %s (%d requests spent in it); refusing more",
                            trap.key, trap.reason, trap.requests)

    def _trap_refused(self, trap, url) -> None:
        self.trap_held.pop(url, None)
        stats, outlet = self.crawler.stats, self._trap_outlet(url)
        stats.inc_value(f"corpus/traps/{trap.slug}/refused")
        stats.inc_value(f"corpus/outlet/{outlet}/trap_refused")
