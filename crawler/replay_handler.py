"""Download handler that answers requests from a replay web, by host.

With ``CORPUS_REPLAY_URL = "http://127.0.0.1:PORT"`` a request for
``https://intellinews.com/a?b=1`` is fetched, over real HTTP, as
``http://127.0.0.1:PORT/intellinews.com/a?b=1`` (the layout of
``crawler.replay.server``), and the response is handed back under the
original URL: spiders, middlewares and records all see the outlets' real
URLs, as when a web archive replays a crawl.  Responses carry the flag
``replay`` and the records built from them say ``"replayed": true``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler


def replay_url(base: str, url: str) -> str:
    """Address of ``url`` on the replay server at ``base``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}/{host}{path}{query}"


class ReplayDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler that rewrites each request to the replay server."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.base = crawler.settings.get("CORPUS_REPLAY_URL", "")

    async def download_request(self, request):
        if not self.base:
            return await super().download_request(request)
        proxied = request.replace(url=replay_url(self.base, request.url))
        response = await super().download_request(proxied)
        return response.replace(url=request.url, request=request, flags=[*response.flags, "replay"])
