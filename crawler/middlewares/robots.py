"""robots.txt for every request, fetched once per host per run.

Scrapy's ``RobotsTxtMiddleware`` (2.19 with Twisted 26.10) hands the parser to
the first request waiting for a host's robots.txt only: the others get ``None``
and go out unchecked.  Here every waiting request gets its own Deferred, fired
with the parser when it arrives.

What a robots.txt answer means follows RFC 9309: 2xx, its rules; 4xx, no rules
(everything allowed); 5xx after the retries, everything disallowed for this
run (``RobotsUnavailable``); a network error, the same error for every request
to that host (the host is unreachable anyway), its outcome naming robots.txt
("error: timed out (robots.txt: the page was not requested)").

The spider's own request for a robots.txt (``meta["corpus_robots"]``, for its
``Sitemap:`` lines) is answered from the copy fetched here, so each host's
robots.txt is fetched once per run, not twice.
"""

from __future__ import annotations

import logging

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)


class RobotsUnavailable(IgnoreRequest):
    """robots.txt answered with a server error: nothing of that host is fetched in this run."""


class RobotsFailed(IgnoreRequest):
    """The host's robots.txt could not be fetched (a network error): none of its pages is requested this run.
    ``cause`` is that error; the page's outcome gives its reason ("timed out (robots.txt: the page was not
    requested)", ``crawler/spiders/base.py`` ``failure_reason``)."""

    def __init__(self, cause: BaseException):
        self.cause = cause
        super().__init__(f"robots.txt could not be fetched ({type(cause).__name__}): the page was not requested")


class _Waiting(list):
    """Deferreds of the requests waiting for one host's robots.txt."""


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


class _DisallowAll:
    def __init__(self, status: int):
        self.status = status

    def allowed(self, url, user_agent) -> bool:
        return False


class RobotsTxt(RobotsTxtMiddleware):
    def __init__(self, crawler):
        super().__init__(crawler)
        self._responses: dict[str, object] = {}  # netloc -> the robots.txt response (or the error)

    async def process_request(self, request: Request, spider=None):
        if request.meta.get("corpus_robots"):
            return await self._robots_response(request)
        if request.meta.get("dont_obey_robotstxt"):
            return None
        rp = await self.robot_parser(request)
        if isinstance(rp, _Failed):
            # (refused, e.g. a private address: the page is refused alike; a network error: the page is not
            # requested, and not retried either: it would fail at once again, and Scrapy's "Gave up retrying" and
            # the slow-host breaker would count pages never sent)
            raise rp.exc if isinstance(rp.exc, IgnoreRequest) else RobotsFailed(rp.exc)
        if isinstance(rp, _DisallowAll):
            self._stats.inc_value("robotstxt/unavailable")
            raise RobotsUnavailable(f"robots.txt unavailable (HTTP {rp.status}): the host is not crawled this run")
        self.process_request_2(rp, request)
        return None

    async def _robots_response(self, request: Request):
        """The robots.txt response fetched for the rules, handed to the spider as its own."""
        await self.robot_parser(request)
        got = self._responses.get(urlparse_cached(request).netloc)
        if isinstance(got, BaseException):
            raise got
        if got is None:
            raise IgnoreRequest("robots.txt was not fetched")
        return got.replace(request=request, url=request.url)

    async def robot_parser(self, request: Request):
        netloc = urlparse_cached(request).netloc
        entry = self._parsers.get(netloc)
        if entry is None and netloc not in self._parsers:
            waiting = self._parsers[netloc] = _Waiting()
            rp = await self._fetch(request, netloc)
            self._parsers[netloc] = rp
            for d in waiting:
                d.callback(rp)
            return rp
        if isinstance(entry, _Waiting):
            d: Deferred = Deferred()
            entry.append(d)
            return await maybe_deferred_to_future(d)
        return entry

    async def _fetch(self, request: Request, netloc: str):
        url = urlparse_cached(request)
        robots = Request(f"{url.scheme}://{netloc}/robots.txt", priority=self.DOWNLOAD_PRIORITY,
                         meta={"dont_obey_robotstxt": True},
                         callback=NO_CALLBACK)
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots)
        except Exception as exc:  # noqa: BLE001 - the host is unreachable: its requests fail the same way
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc).__name__}")
            self._responses[netloc] = exc
            if isinstance(exc, IgnoreRequest):  # refused (e.g. a private address): the request is refused too
                return _Failed(exc)
            logger.info("robots.txt of %s: %s", netloc, exc)
            return _Failed(exc)
        self._responses[netloc] = response
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500:
            logger.warning("robots.txt of %s answered HTTP %s: nothing of it is fetched this run",
                           netloc, response.status)
            return _DisallowAll(response.status)
        if response.status >= 400:
            return None  # no robots.txt: everything is allowed
        return build_from_crawler(self._parserimpl, self.crawler, response.body)
