"""Only http and https are ever requested: the first downloader middleware refuses any other scheme.

A ``file:``, ``ftp:``, ``data:`` or ``s3:`` URL (from a sitemap, a feed, a
robots.txt ``Sitemap:`` line, a link) would otherwise reach a Scrapy download
handler that reads the local disk or another service.  Those handlers are off
(``DOWNLOAD_HANDLERS`` in ``crawler/settings.py``, kept off by
``crawler/addon.py``), discovery drops such URLs before it makes requests
(``crawler/discovery.py``), and this middleware refuses whatever still comes:
``error: refused scheme 'file' (only http and https are fetched)``.  It runs
first, also with ``--allow-private``.

A redirect to another scheme is not followed by Scrapy (its redirect
middleware hands the 3xx back); this middleware says why instead of
``HTTP 302``: ``error: refused redirect to scheme 'file' (...)``.

A URL with ``user:password@`` before its host is refused too, first or as a redirect's target: the
crawler sends no one's credentials, and its reports and stats never carry them.
"""

from __future__ import annotations

from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest
from w3lib.url import safe_url_string

from pipelines.crawl.urls import CREDENTIALS, has_credentials, refused_scheme, scheme_refusal


class SchemeRefused(IgnoreRequest):
    """The request (or the redirect it got) is not http or https."""


class SchemeGuard:
    def process_request(self, request):
        scheme = refused_scheme(request.url)
        if scheme is not None:
            raise SchemeRefused(scheme_refusal(scheme))
        if has_credentials(request.url):  # user:password@ (a link, a feed's entry): never sent, never logged
            raise SchemeRefused("refused " + CREDENTIALS)
        return None

    def process_response(self, request, response):
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location and not request.meta.get("dont_redirect"):
            try:
                target = urljoin(request.url, safe_url_string(location))
            except ValueError as exc:  # "http://[::1": no address at all
                raise SchemeRefused(f"refused redirect to a malformed address ({exc})") from None
            scheme = refused_scheme(target)
            if scheme is not None:
                raise SchemeRefused("refused redirect to " + scheme_refusal(scheme).removeprefix("refused "))
            if has_credentials(target):
                raise SchemeRefused("refused redirect to a URL with credentials (user:password@ is never sent)")
        return response


class RedirectSchemeGuard(SchemeGuard):
    """The redirect half, placed after Scrapy's RedirectMiddleware (600) so that it sees each 3xx first:
    RedirectMiddleware builds a Request from the Location before it checks the scheme, and one without
    ``//`` (``javascript:``, ``mailto:``) or a malformed one failed there with a bare ``ValueError``."""

    def process_request(self, request):
        return None
