"""Retries that wait per outlet, never globally, and cost each URL a bounded time.

- A retried status (``RETRY_HTTP_CODES``: 429, 503, 5xx...): the retry goes back to the scheduler
  at once, and the download slot of that outlet alone is held (crawler/slot_holds.py) until the
  ``Retry-After`` time or, without the header, ``CORPUS_RETRY_BACKOFF`` times 2**attempt
  seconds: its queued requests and the retry wait, other outlets go on at full speed.  (Sleeping in this middleware,
  as before, held one of the downloader's ``CONCURRENT_REQUESTS`` places per waiting request.)
- A ``Retry-After`` longer than ``CORPUS_RETRY_AFTER_MAX`` is not waited for: the URL ends as
  ``error: rate limited (Retry-After N s; retried next run)`` (``RetryLater``), the crawl state
  makes it due at that time (``retry_at``, pipelines/crawl/state.py), and the slot's other URLs
  end the same way without being requested until then.
- Timeouts are retried at most ``CORPUS_TIMEOUT_RETRIES`` times: a server that drips bytes
  would otherwise cost ``RETRY_TIMES`` + 1 full ``DOWNLOAD_TIMEOUT``s per URL.
- ``CORPUS_RETRY_BUDGET``: no retry starts later than this many seconds after the URL's first
  failed try, and a retry's download timeout is cut to what is left of it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.utils.response import response_status_message
from twisted.internet.error import TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from crawler.slot_holds import fail_queued, hold_slot, slot_key


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Seconds named by a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def is_timeout(exc) -> bool:
    return isinstance(exc, (DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError))


class RetryLater(IgnoreRequest):
    """The server asked for a longer wait than this run gives: the URL is due again at ``retry_at``
    (ISO 8601, UTC); an error outcome of this run."""

    def __init__(self, status: int, seconds: float, retry_at: str):
        self.status, self.seconds, self.retry_at = status, seconds, retry_at
        what = "rate limited (" if status == 429 else f"server unavailable (HTTP {status}, "
        super().__init__(f"{what}Retry-After {seconds:.0f} s; retried next run)")


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("CORPUS_RETRY_BACKOFF", 1.0)
        self.max_wait = settings.getfloat("CORPUS_RETRY_AFTER_MAX", 120.0)
        self.timeout_retries = settings.getint("CORPUS_TIMEOUT_RETRIES", 1)
        self.budget = settings.getfloat("CORPUS_RETRY_BUDGET", 150.0)
        self.download_timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        self.later: dict[str, tuple[float, RetryLater]] = {}  # slot key -> (until, why): not requested

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        crawler.signals.connect(middleware._downloaded, signal=signals.response_downloaded)
        return middleware

    def _downloaded(self, response, request, spider=None):
        """As each response arrives, before its slot sends the next request: a retried status holds
        the slot (``Retry-After``, else the backoff), a ``Retry-After`` past the maximum closes it."""
        if response.status not in self.retry_http_codes:
            return
        announced = retry_after_seconds(response.headers.get("Retry-After"))
        if announced is not None and announced > self.max_wait:
            self._retry_later(request, response.status, announced)
            return
        wait = announced if announced is not None else self.backoff * (2 ** request.meta.get("retry_times", 0))
        if wait > 0:  # the server's wait holds for the other URLs of the outlet too, retried or not
            self.crawler.stats.inc_value("corpus/retry_wait_seconds", int(wait))
            hold_slot(self.crawler, request, wait)

    # -- the middleware -----------------------------------------------------------------
    async def process_request(self, request):
        if not self.later:
            return None
        until, why = self.later.get(slot_key(self.crawler, request), (0.0, None))
        if why is not None and time.monotonic() < until:
            self.crawler.stats.inc_value("corpus/retry_after/not_requested")
            raise RetryLater(why.status, until - time.monotonic(), why.retry_at)
        return None

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        announced = retry_after_seconds(response.headers.get("Retry-After"))
        if announced is not None and announced > self.max_wait:  # the slot was closed as it arrived
            until, why = self.later.get(slot_key(self.crawler, request), (0.0, None))
            raise RetryLater(response.status, announced, why.retry_at) if why else \
                self._retry_later(request, response.status, announced)
        wait = announced if announced is not None else self.backoff * (2 ** request.meta.get("retry_times", 0))
        retry = self._retry(request, response_status_message(response.status), wait=wait)
        if retry is None and announced is not None and request.meta.get("corpus_budget_spent"):
            raise self._retry_later(request, response.status, announced)
        return retry or response  # the slot is held already (_downloaded)

    def process_exception(self, request, exception, spider=None):
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        timeouts = request.meta.get("corpus_timeouts", 0) + is_timeout(exception)
        if is_timeout(exception) and timeouts > self.timeout_retries:
            self.crawler.stats.inc_value("corpus/retry/timeouts_given_up")
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            retry.meta["corpus_timeouts"] = timeouts
        return retry

    def _retry(self, request, reason, wait: float = 0.0):
        """Scrapy's retry, within the URL's time budget; the retry's timeout cut to what is left."""
        now = time.monotonic()
        first = request.meta.get("corpus_first_failure", now)
        left = first + self.budget - now - wait if self.budget > 0 else None
        if left is not None and left <= 0:
            request.meta["corpus_budget_spent"] = True
            self.crawler.stats.inc_value("corpus/retry/budget_spent")
            return None
        retry = super()._retry(request, reason)
        if retry is None:
            return None
        retry.meta["corpus_first_failure"] = first
        if left is not None:
            timeout = retry.meta.get("download_timeout") or self.download_timeout
            retry.meta["download_timeout"] = max(1.0, min(timeout, left))
        return retry

    def _retry_later(self, request, status: int, seconds: float) -> RetryLater:
        """The URL is due again after ``seconds``; the slot's other URLs are not requested until then."""
        retry_at = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).replace(microsecond=0)
        why = RetryLater(status, seconds, retry_at.isoformat())
        key = slot_key(self.crawler, request)
        self.later[key] = (time.monotonic() + seconds, why)
        self.crawler.stats.inc_value("corpus/retry_after/next_run")
        # queued behind this one: not sent either
        failed = fail_queued(self.crawler, key, lambda: RetryLater(status, seconds, why.retry_at))
        self.crawler.stats.inc_value("corpus/retry_after/not_requested", failed)
        return why
