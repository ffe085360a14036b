"""What every corpus spider shares: outcomes per URL, reasons for every failure.

Each requested URL ends in exactly one outcome: ``new``, ``updated``,
``unchanged``, ``duplicate of ID`` (set by the item pipelines), ``skipped:
REASON`` (an item dropped, or a request a rule refused) or ``error: REASON``
(HTTP error, unreachable, refused address).  Outcomes are counted in the crawl
stats under ``corpus/outcome/...`` and ``corpus/reason/...``.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.runreport import STORE_FAILED, count_store_error
from crawler.stopping import RunStopping
from crawler.middlewares.private_guard import PrivateAddressRefused
from crawler.middlewares.redirects import MAX_REACHED, RedirectFailed
from crawler.middlewares.retry_after import RetryLater
from crawler.middlewares.slow_hosts import HostTimingOut
from crawler.middlewares.url_length import UrlTooLong
from crawler.middlewares.robots import RobotsFailed, RobotsUnavailable
from crawler.middlewares.scheme_guard import SchemeRefused
from crawler.page import page_from_response
from pipelines.crawl.state import CrawlState
from pipelines.crawl.urls import canonicalize, redact_credentials
from pipelines.store import StoreError, open_store_from


_HOST_REASONS = ("connection refused", "DNS lookup failed", "TLS handshake failed")  # the host's, whatever the path


def failure_reason(failure) -> tuple[str, str]:
    """(kind, reason) of a failed request: kind is "error" or "skipped". A request that never went out because
    its host's robots.txt could not be fetched says so ("timed out (robots.txt: the page was not requested)"),
    unless the reason is the host's whatever the path (a refused connection, a name that does not resolve, a
    failed TLS handshake)."""
    if isinstance(failure.value, RobotsFailed):
        _, reason = _failure_reason(SimpleNamespace(value=failure.value.cause, request=getattr(failure, "request", None)))
        return "error", reason if reason.startswith(_HOST_REASONS) else f"{reason} (robots.txt: the page was not requested)"
    return _failure_reason(failure)


def _failure_reason(failure) -> tuple[str, str]:
    exc = failure.value
    if isinstance(exc, HttpError):
        return "error", f"HTTP {exc.response.status}"
    if isinstance(exc, (PrivateAddressRefused, SchemeRefused, RobotsUnavailable)):
        return "error", str(exc)
    if isinstance(exc, (RetryLater, HostTimingOut, RedirectFailed, UrlTooLong)):  # network faults: errors
        return "error", str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc) or "request ignored"
        if text == MAX_REACHED:  # Scrapy's RedirectMiddleware: more than REDIRECT_MAX_TIMES redirects
            return "error", f"too many redirects ({failure.request.meta.get('redirect_times', 0) + 1})"
        if "robots.txt" in text:
            return "skipped", "forbidden by robots.txt"
        if "DOWNLOAD_MAXSIZE" in text and "decompress" in text:  # HttpCompression: a gzip/brotli bomb
            limit = re.search(r"DOWNLOAD_MAXSIZE \((\d+) B\)", text)
            return "error", f"response too large (over {_size(limit.group(1)) if limit else 'DOWNLOAD_MAXSIZE'} decompressed)"
        return "skipped", text
    name = type(exc).__name__
    text = str(exc).strip()
    inner = getattr(exc.__cause__, "reasons", None) or getattr(exc, "reasons", None)
    if inner and name in ("DownloadFailedError", "ResponseFailed") and hasattr(inner[0], "value"):
        return _failure_reason(inner[0])  # Twisted's ResponseFailed wraps the failure that says why
    if type(exc).__module__.startswith("OpenSSL") or "SSL" in name:
        said = re.findall(r"'([^']+)'\)", text)  # [('SSL routines', '', 'wrong version number')]
        return "error", f"TLS handshake failed ({said[-1] if said else text[:120] or name})"
    if "DNSLookup" in name or "CannotResolveHost" in name:
        return "error", "DNS lookup failed"
    if "ConnectionRefused" in name:
        return "error", "connection refused"
    if "Timeout" in name:
        return "error", "timed out"
    if "DataLoss" in name:  # the connection ended before the Content-Length announced
        return "error", "connection lost mid-response (fewer bytes than announced)"
    if name in ("ConnectionLost", "ConnectionDone", "ConnectionAborted", "ResponseNeverReceived"):
        return "error", "connection lost"
    if "Cancelled" in name or "max size" in text or "maxsize" in text:
        # Scrapy cancels a download past DOWNLOAD_MAXSIZE: announced (a message naming both sizes, and the
        # request, whose URL may be the replay's) or while streaming (no message)
        sizes = re.search(r"(\d+) bytes which is larger than download max size \((\d+)\)", text)
        if sizes:
            return "error", f"response too large ({_size(sizes.group(1))} announced, limit {_size(sizes.group(2))})"
        return "error", "response too large (past DOWNLOAD_MAXSIZE while downloading)" if not text \
            else f"download cancelled ({text[:120]})"
    return "error", f"{name}: {text[:160]}" if text else name


def _size(n) -> str:
    n = int(n)
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def reason_slug(reason: str) -> str:
    return reason.split("(")[0].strip().lower().replace(" ", "-")[:60]


class CorpusSpider(scrapy.Spider):
    """Base class: records one outcome per requested URL."""

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.results = {}
        spider.state = None
        spider.shared = getattr(spider, "shared", None)  # crawler/distributed.py: a worker of a shared run
        spider.lastmods = {}  # canonical URL -> newest lastmod announced in this run
        spider._flushed_at = time.monotonic()
        crawler.signals.connect(spider._on_scraped, signal=signals.item_scraped)
        crawler.signals.connect(spider._on_dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider._open_state, signal=signals.spider_opened)
        crawler.signals.connect(spider._close_state, signal=signals.spider_closed)
        return spider

    # -- incremental state ---------------------------------------------------------
    def _open_state(self, spider):
        if spider is not self:
            return
        settings = self.crawler.settings
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        if self.shared is not None:  # a worker of a crawl shared through Redis: its own journal, its own report
            run_id += "-" + self.shared.worker_id[-6:]
        self.run_id = run_id
        self.flush_seconds = settings.getfloat("CORPUS_STATE_FLUSH_SECONDS", 2.0)
        store = open_store_from(settings)  # retries: the journal flush itself writes once (crawl/state.py)
        try:
            self.state = CrawlState.load(store, run_id=run_id)
        except StoreError as exc:  # the run goes on without known state, and fails with STORE; what it
            self.store_failed(exc)  # learns goes to a journal, never over the snapshot it could not read
            self.state = CrawlState(store, run_id=run_id, partial=True)

    def store_failed(self, exc: Exception) -> None:
        """Count a store failure: the run report and the exit status say the store failed."""
        self.logger.error("store error: %s", exc)
        count_store_error(self.crawler.stats, exc)

    def _close_state(self, spider, reason=None):
        if spider is not self or self.state is None:
            return
        try:
            if self.shared is None:
                self.state.compact()
            else:
                self._close_shared_state(reason)
        except StoreError as exc:
            self.store_failed(exc)

    def _close_shared_state(self, reason):
        """A worker of a shared run writes its journal and leaves the run; the last one to leave folds
        every worker's journal into the snapshot (reloaded first: compact() drops what it folded in)."""
        self.state.flush()
        try:
            if self.shared.leave(requeue=reason != "finished") > 0:
                return
        except Exception as exc:  # noqa: BLE001 - Redis is away: its heartbeat expires, the others go on
            self.logger.error("redis: could not leave the shared run: %s", exc)
            return
        from redis.exceptions import RedisError

        try:
            with self.shared.finish_lock():
                CrawlState.load(self.state.store, run_id=self.run_id).compact()
        except RedisError as exc:  # e.g. a full Redis: the journals stay, the next run's last worker folds them
            self.store_failed(StoreError(f"Redis failed while compacting the crawl state: {exc}"))
            return
        self.crawler.stats.set_value("corpus/redis/finaliser", 1)

    def _remember(self, url, kind, record=None, page=None):
        if self.state is None:
            return
        page = page or {}
        status = {"new": "stored", "updated": "stored", "unchanged": "stored"}.get(kind, kind)
        fields = {"status": status, "lastmod": page.get("lastmod") or self.lastmods.get(canonicalize(url)),
                  "retry_at": page.get("retry_at")}
        if page:
            fields.update(etag=page.get("etag"), last_modified=page.get("last_modified"),
                          fetched_at=page.get("fetched_at"))
            fetched, key = page.get("url"), canonicalize(url)
            if fetched and fetched != key:  # fetched as a feed gave it (a tracking query): what its WARC names
                fields["fetched_url"] = fetched
            elif fetched and (self.state.get(url) or {}).get("fetched_url"):
                fields["fetched_url"] = ""  # fetched at its canonical URL since
        if record:
            fields.update(id=record.get("id"), published=record.get("published"),
                          text_sha256=record.get("text_sha256"), duplicate_of=record.get("duplicate_of"))
        self.state.mark(url, **fields)
        if time.monotonic() - self._flushed_at >= self.flush_seconds:
            self._flushed_at = time.monotonic()
            try:
                self.state.flush()
            except StoreError as exc:  # its entries stay pending: the next flush or compact() writes them
                self.logger.warning("crawl state not flushed (tried again later): %s", exc)
                self.crawler.stats.inc_value("corpus/state/flush_failed")

    def outlet_for(self, url: str) -> str | None:
        return None

    def parse_article(self, response):
        page = page_from_response(response, self.outlet_for(response.url))
        if page["outlet"]:
            self.crawler.stats.inc_value(f"corpus/outlet/{page['outlet']}/fetched")
        if response.status == 304:  # conditional GET: nothing changed, nothing written
            self.crawler.stats.inc_value("corpus/not_modified")
            page.pop("fetched_at")
            self.note(page["requested_url"], "unchanged", outlet=page["outlet"], page=page)
            return
        yield {"page": page}

    def on_error(self, failure):
        if isinstance(failure.value, RunStopping):  # never sent: no outcome, so the URL stays due next run
            return  # (counted as corpus/stop/not_sent: crawler/stopping.py)
        kind, reason = failure_reason(failure)
        request = failure.request
        if kind == "error" and request.meta.get("follow") and reason.startswith("HTTP 4"):
            # a link the site itself gives, followed in --site mode: the site's broken link, not a
            # failure of the run (page errors count against --max-error-rate)
            kind, reason = "skipped", f"broken link ({reason})"
        if isinstance(failure.value, UrlTooLong) and not getattr(self, "any_error_fails", False):
            kind = "skipped"  # a link the crawl discovered, not a URL a person asked for
        url = request.meta.get("corpus_requested") or request.url
        self.note(url, f"{kind}: {reason}", outlet=self.outlet_for(url),
                  page={"lastmod": request.meta.get("corpus_lastmod"),
                        "retry_at": getattr(failure.value, "retry_at", None)})  # Retry-After past this run

    def note(self, url, outcome, *, record=None, outlet=None, page=None):
        """Record the outcome of ``url``: results, crawl stats and incremental state."""
        outcome = redact_credentials(outcome)  # an error quoting a user:password@ (no stats key, no report has it)
        kind, _, reason = outcome.partition(": ")
        kind = "duplicate" if kind.startswith("duplicate of") else kind
        if kind == "skipped" and reason.startswith("off-topic"):
            kind = "off-topic"
        self.results[url] = {"url": url, "outcome": outcome, "record": record}
        if not outcome.startswith(STORE_FAILED) and not (page or {}).get("unarchived"):
            self._remember(url, kind, record, page)  # (the store's failure, not the page's: due again next run;
            # so is a page stored whose raw response the archive could not take: its record gets the WARC then)
        stats = self.crawler.stats
        stats.inc_value(f"corpus/outcome/{kind}")
        if outlet:
            stats.inc_value(f"corpus/outlet/{outlet}/{kind}")
        if reason:
            stats.inc_value(f"corpus/reason/{kind}/{reason_slug(reason)}")

    def _on_scraped(self, item, response, spider):
        if spider is not self or "outcome" not in item:
            return
        page = item["page"]
        self.note(page["requested_url"], item["outcome"], record=item.get("record"),
                  outlet=page.get("outlet"), page=page)

    def _on_dropped(self, item, response, exception, spider):
        if spider is not self or "page" not in item:
            return
        page = item["page"]
        self.note(page["requested_url"], f"skipped: {exception}", outlet=page.get("outlet"), page=page)
