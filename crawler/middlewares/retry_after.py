"""Retries with exponential backoff that honour ``Retry-After`` on 429 and 503.

Scrapy's RetryMiddleware retries at once; on a throttled server that is the
wrong answer.  This subclass waits ``Retry-After`` seconds (capped by
``CORPUS_RETRY_AFTER_MAX``) or, without the header, ``CORPUS_RETRY_BACKOFF``
times 2**attempt, before handing the retry back to the scheduler.
"""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.utils.response import response_status_message


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


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("CORPUS_RETRY_BACKOFF", 1.0)
        self.max_wait = settings.getfloat("CORPUS_RETRY_AFTER_MAX", 120.0)

    async def process_response(self, request, response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0)
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            wait = self.backoff * (2**attempt)
        wait = min(wait, self.max_wait)
        retry = get_retry_request(
            request,
            reason=response_status_message(response.status),
            spider=self.crawler.spider,
            max_retry_times=self.max_retry_times,
            priority_adjust=self.priority_adjust,
            stats_base_key="retry",
        )
        if retry is None:
            return response
        if wait > 0:
            self.crawler.stats.inc_value("corpus/retry_wait_seconds", int(wait))
            await asyncio.sleep(wait)
        return retry
