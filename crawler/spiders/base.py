"""What every corpus spider shares: outcomes per URL, reasons for every failure.

Each requested URL ends in exactly one outcome: ``new``, ``updated``,
``unchanged``, ``duplicate of ID`` (set by the item pipelines), ``skipped:
REASON`` (an item dropped, or a request a rule refused) or ``error: REASON``
(HTTP error, unreachable, refused address).  Outcomes are counted in the crawl
stats under ``corpus/outcome/...`` and ``corpus/reason/...``.
"""

from __future__ import annotations

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.middlewares.private_guard import PrivateAddressRefused
from crawler.page import page_from_response


def failure_reason(failure) -> tuple[str, str]:
    """(kind, reason) of a failed request: kind is "error" or "skipped"."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return "error", f"HTTP {exc.response.status}"
    if isinstance(exc, PrivateAddressRefused):
        return "error", str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc) or "request ignored"
        if "robots.txt" in text:
            return "skipped", "forbidden by robots.txt"
        return "skipped", text
    name = type(exc).__name__
    text = str(exc).strip()
    if "DNSLookup" in name:
        return "error", "DNS lookup failed"
    if "ConnectionRefused" in name:
        return "error", "connection refused"
    if "Timeout" in name:
        return "error", "timed out"
    if "Cancelled" in name or "max size" in text or "maxsize" in text:
        return "error", f"response too large or cancelled ({text[:120]})"
    return "error", f"{name}: {text[:160]}" if text else name


def reason_slug(reason: str) -> str:
    return reason.split("(")[0].strip().lower().replace(" ", "-")[:60]


class CorpusSpider(scrapy.Spider):
    """Base class: records one outcome per requested URL."""

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.results = {}
        crawler.signals.connect(spider._on_scraped, signal=signals.item_scraped)
        crawler.signals.connect(spider._on_dropped, signal=signals.item_dropped)
        return spider

    def outlet_for(self, url: str) -> str | None:
        return None

    def parse_article(self, response):
        yield {"page": page_from_response(response, self.outlet_for(response.url))}

    def on_error(self, failure):
        kind, reason = failure_reason(failure)
        request = failure.request
        url = request.meta.get("corpus_requested") or request.url
        self.note(url, f"{kind}: {reason}", outlet=self.outlet_for(url))

    def note(self, url, outcome, *, record=None, outlet=None):
        """Record the outcome of ``url`` and count it in the stats."""
        kind, _, reason = outcome.partition(": ")
        kind = "duplicate" if kind.startswith("duplicate of") else kind
        self.results[url] = {"url": url, "outcome": outcome, "record": record}
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
        self.note(page["requested_url"], item["outcome"], record=item.get("record"), outlet=page.get("outlet"))

    def _on_dropped(self, item, response, exception, spider):
        if spider is not self or "page" not in item:
            return
        page = item["page"]
        self.note(page["requested_url"], f"skipped: {exception}", outlet=page.get("outlet"))
