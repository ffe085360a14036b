"""Redirect loops and over-long redirect chains end as page errors, with the chain named.

Scrapy's RedirectMiddleware follows up to ``REDIRECT_MAX_TIMES`` redirects and then drops the
request with ``IgnoreRequest("max redirections reached")``, which read as ``skipped`` (a run
with only such pages exited 0); in a crawl, a redirect back to an address already requested
was dropped by the duplicate filter without any outcome.  Here (``RedirectLoopGuard``, just
before RedirectMiddleware sees the response):

- a redirect back to an address of its own chain (A -> B -> A) is refused the moment it comes
  round: ``error: redirect loop (A -> B -> A)``;
- a chain over the limit is ``error: too many redirects (N)`` (crawler/spiders/base.py);
- the redirected request still meets the duplicate filter: an article that two addresses redirect
  to (the bare host and ``www.``) is fetched once, not once per address (letting redirects past the
  filter fetched such articles twice in a run); a loop is refused here before the filter sees it.

A meta-refresh loop is caught when the refreshed request comes round (``process_request``).
"""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import safe_url_string

MAX_REACHED = "max redirections reached"  # Scrapy's own message (RedirectMiddleware._redirect)
REDIRECTS = {301, 302, 303, 307, 308}


class RedirectFailed(IgnoreRequest):
    """A redirect chain that cannot end: an error outcome of the page."""


def chain_text(urls: list[str], limit: int = 4) -> str:
    """``A -> B -> A``; a long chain keeps its ends."""
    if len(urls) > limit:
        urls = [*urls[: limit // 2], "...", *urls[-(limit // 2):]]
    return " -> ".join(urls)


def location_of(request, response) -> str | None:
    """Where a redirect response sends ``request``, resolved as Scrapy's RedirectMiddleware does."""
    if response.status not in REDIRECTS or "Location" not in response.headers:
        return None
    raw = response.headers["Location"]
    location = safe_url_string(raw)
    if raw.startswith(b"//"):
        location = urlparse_cached(request).scheme + "://" + location.lstrip("/")
    return urljoin(request.url, location)


class RedirectLoopGuard:
    def __init__(self, max_times: int):
        self.max_times = max_times

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("REDIRECT_ENABLED"):
            raise NotConfigured
        return cls(crawler.settings.getint("REDIRECT_MAX_TIMES"))

    @staticmethod
    def _refuse_loop(url: str, earlier: list[str]) -> None:
        here = urldefrag(url)[0]
        visited = [urldefrag(u)[0] for u in earlier]
        if here in visited:
            raise RedirectFailed(f"redirect loop ({chain_text(visited[visited.index(here):] + [here])})")

    def process_request(self, request):
        if request.meta.get("redirect_urls"):  # a meta refresh (or a redirect that got past below)
            self._refuse_loop(request.url, request.meta["redirect_urls"])
        return None

    def process_response(self, request, response):
        if request.meta.get("dont_redirect") or request.meta.get("handle_httpstatus_all") \
                or response.status in request.meta.get("handle_httpstatus_list", ()):
            return response
        target = location_of(request, response)
        if target is None:
            return response
        self._refuse_loop(target, [*request.meta.get("redirect_urls", []), request.url])
        followed = request.meta.get("redirect_times", 0)
        if followed >= self.max_times:
            raise RedirectFailed(f"too many redirects ({followed + 1})")
        return response
