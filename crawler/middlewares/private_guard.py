"""Refuse requests to loopback, private, link-local and other non-public addresses.

Checked on every request, so a redirect to such an address is refused too
(redirected requests pass through the downloader middlewares again).  A host
name is resolved by the process's ``PublicResolver`` (``crawler/resolver.py``,
``TWISTED_DNS_RESOLVER``) and refused when any of its addresses is not public;
the addresses checked here are the ones the connection uses (pinned: no second
lookup that could answer differently).  A name that does not resolve is an
error (``error: DNS lookup failed``), never let through.  With a replay web
configured, host names are answered by the archive, not DNS, so only literal
addresses (and ``localhost``) are checked.  ``CORPUS_ALLOW_PRIVATE``
(``corpus fetch --allow-private``) switches the guard off.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured

from crawler.resolver import (AddressRefused, PublicResolver, installed_resolver, literal_ip, non_public, refusal,
                              shared_resolver)

__all__ = ["PrivateAddressGuard", "PrivateAddressRefused", "literal_ip", "non_public"]

PrivateAddressRefused = AddressRefused  # the request targets an address that is not on the public internet


def check_handlers(settings) -> None:
    """Fail closed when http(s) would be downloaded by a handler that resolves names itself (Scrapy's httpx
    or aiohttp handlers do): only Twisted's connections go through the checking resolver."""
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
    from scrapy.utils.misc import load_object

    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    for scheme in ("http", "https"):
        handler = handlers.get(scheme)
        cls = load_object(handler) if isinstance(handler, str) else handler
        if cls is not None and not (isinstance(cls, type) and issubclass(cls, HTTP11DownloadHandler)):
            raise RuntimeError(f"the {scheme} download handler {handler!r} resolves host names itself, past the "
                               "address checks: use Scrapy's HTTP11DownloadHandler (or pass --allow-private)")


class PrivateAddressGuard:
    def __init__(self, replay: bool, resolver: PublicResolver | None = None, installed: bool = False):
        self.replay = replay
        self.resolver = resolver or PublicResolver()
        self.installed = installed  # the resolver is the reactor's: it must still be when requests go out

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.getbool("CORPUS_ALLOW_PRIVATE"):
            raise NotConfigured("private addresses allowed (CORPUS_ALLOW_PRIVATE)")
        check_handlers(crawler.settings)
        return cls(replay=bool(crawler.settings.get("CORPUS_REPLAY_URL")), resolver=shared_resolver(crawler),
                   installed=True)

    async def process_request(self, request):
        host = (urlsplit(request.url).hostname or "").lower()
        ip = literal_ip(host)
        if ip is not None:
            if non_public(ip):
                raise PrivateAddressRefused(refusal(ip, host))
        elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise PrivateAddressRefused(refusal("127.0.0.1", host))
        elif not self.replay:
            if self.installed and installed_resolver() is not self.resolver:  # fail closed: checked != connected
                raise PrivateAddressRefused(f"refused {host}: the DNS resolver was replaced, the address checked "
                                            "would not be the one connected to (TWISTED_DNS_RESOLVER)")
            await self.resolver.addresses(host)  # raises AddressRefused or CannotResolveHostError
        return None
