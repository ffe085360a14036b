"""Retries that wait per outlet, never globally, and cost each URL a bounded time.

- A retried status (``RETRY_HTTP_CODES``: 429, 503, 5xx...): the retry goes back to the scheduler
  at once, and the download slot of that outlet alone is held (crawler/slot_holds.py) until the
  ``Retry-After`` time or, without the header, ``CORPUS_RETRY_BACKOFF`` times 2**attempt
  seconds: its queued requests and the retry wait, other outlets go on at full speed.  (Sleeping
  in this middleware, as before, held one of the downloader's ``CONCURRENT_REQUESTS`` places per
  waiting request.)
- A ``Retry-After`` longer than ``CORPUS_RETRY_AFTER_MAX`` is not waited for: the URL ends as
  ``error: rate limited (Retry-After N s; retried next run)`` (``RetryLater``), the crawl state
  makes it due at that time (``retry_at``, pipelines/crawl/state.py), and the host's other URLs
  end the same way without being requested until then (the host's: a slot is a whole site,
  crawler/site_slots.py, and one sub-domain's answer closes no other).
- ``CORPUS_OUTLET_WAIT_MAX``: the waits of one outlet add up to at most this in a run; a 429 or
  503 whose ``Retry-After`` would pass it closes that host for the run, its URLs ending as
  ``error: rate limited (Retry-After N s, after M s of waits in this run; retried next run)``
  (a server that throttles every new URL would otherwise hold the run N times ``Retry-After``).
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

from crawler.slot_holds import fail_queued, hold_slot, host_key, slot_key


# The longest wait a server can ask for: a Retry-After of years (or an HTTP date in 2099, or a number too
# large for a date) would shut an outlet out of every scheduled run until then; past this it is due
# again after a day, like any URL the server asked to wait.
RETRY_AFTER_CEILING = 86400.0


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Seconds named by a ``Retry-After`` header (delta-seconds or HTTP date), at most
    ``RETRY_AFTER_CEILING``."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return min(float(text), RETRY_AFTER_CEILING)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()), RETRY_AFTER_CEILING)


def is_timeout(exc) -> bool:
    return isinstance(exc, (DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError))


class RetryLater(IgnoreRequest):
    """The server asked for a longer wait than this run gives: the URL is due again at ``retry_at``
    (ISO 8601, UTC); an error outcome of this run."""

    def __init__(self, status: int, seconds: float, retry_at: str, note: str = ""):
        self.status, self.seconds, self.retry_at, self.note = status, seconds, retry_at, note
        what = "rate limited (" if status == 429 else f"server unavailable (HTTP {status}, "
        super().__init__(f"{what}Retry-After {seconds:.0f} s{note}; retried next run)")

    @classmethod
    def after(cls, status: int, seconds: float, note: str = "") -> "RetryLater":
        retry_at = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).replace(microsecond=0)
        return cls(status, seconds, retry_at.isoformat(), note)


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("CORPUS_RETRY_BACKOFF", 1.0)
        self.max_wait = settings.getfloat("CORPUS_RETRY_AFTER_MAX", 120.0)
        self.timeout_retries = settings.getint("CORPUS_TIMEOUT_RETRIES", 1)
        self.budget = settings.getfloat("CORPUS_RETRY_BUDGET", 150.0)
        self.download_timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        self.outlet_wait_max = settings.getfloat("CORPUS_OUTLET_WAIT_MAX", 120.0)
        self.waited: dict[str, float] = {}  # slot key -> seconds it was held in this run
        self.later: dict[str, tuple[float, RetryLater]] = {}  # host -> (until, why): not requested

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        crawler.signals.connect(middleware._downloaded, signal=signals.response_downloaded)
        return middleware

    def _downloaded(self, response, request, spider=None):
        """As each response arrives, before its slot sends the next request: a retried status holds
        the slot (``Retry-After``, else the backoff); a ``Retry-After`` past ``CORPUS_RETRY_AFTER_MAX``
        closes it until then, one past what is left of ``CORPUS_OUTLET_WAIT_MAX`` for the run."""
        if response.status not in self.retry_http_codes:
            return
        key = slot_key(self.crawler, request)
        waited = self.waited.get(key, 0.0)
        announced = retry_after_seconds(response.headers.get("Retry-After"))
        if announced is not None and announced > self.max_wait:
            request.meta["corpus_retry_later"] = self._close(request, RetryLater.after(response.status, announced),
                                                             time.monotonic() + announced)
            return
        if announced is not None and waited + announced > self.outlet_wait_max:
            why = RetryLater.after(response.status, announced, f", after {waited:.0f} s of waits in this run")
            request.meta["corpus_retry_later"] = self._close(request, why, float("inf"))
            return
        wait = announced if announced is not None else self.backoff * (2 ** request.meta.get("retry_times", 0))
        if 0 < wait and waited + wait <= self.outlet_wait_max:  # the wait holds the outlet's other URLs too
            self.waited[key] = waited + wait
            self.crawler.stats.inc_value("corpus/retry_wait_seconds", int(wait))
            hold_slot(self.crawler, request, wait)

    # -- the middleware -----------------------------------------------------------------
    async def process_request(self, request):
        if not self.later:
            return None
        until, why = self.later.get(host_key(request), (0.0, None))
        if why is not None and time.monotonic() < until:
            self.crawler.stats.inc_value("corpus/retry_after/not_requested")
            raise RetryLater(why.status, why.seconds, why.retry_at, why.note)
        return None

    async def process_response(self, request, response):
        why = request.meta.pop("corpus_retry_later", None)  # the slot was closed as it arrived
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        if why is not None:
            raise why
        announced = retry_after_seconds(response.headers.get("Retry-After"))
        wait = announced if announced is not None else self.backoff * (2 ** request.meta.get("retry_times", 0))
        retry = self._retry(request, response_status_message(response.status), wait=wait)
        if retry is None and announced is not None and request.meta.get("corpus_budget_spent"):
            raise RetryLater.after(response.status, announced, ", past this URL's retry budget")
        if retry is not None and announced is not None:  # the server asked for this URL after the wait:
            retry.priority = request.priority + 1  # first when the slot opens (not behind new URLs)
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

    def _close(self, request, why: RetryLater, until: float) -> RetryLater:
        """Requests to the host of ``request`` are not sent until ``until`` (monotonic): the queued ones
        fail now and later ones as they come, each with ``why`` (due again at its ``retry_at``). Closed per
        host, not per slot (a whole site): the host that answered asked it; the hold before (``_downloaded``)
        slows the site's slot."""
        host = host_key(request)
        self.later[host] = (until, why)
        self.crawler.stats.inc_value("corpus/retry_after/next_run")
        failed = fail_queued(self.crawler, slot_key(self.crawler, request),
                             lambda: RetryLater(why.status, why.seconds, why.retry_at, why.note), host=host)
        self.crawler.stats.inc_value("corpus/retry_after/not_requested", failed)
        return why
