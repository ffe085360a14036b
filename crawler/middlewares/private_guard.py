"""Refuse requests to loopback, private, link-local and other non-public addresses.

Checked on every request, so a redirect to such an address is refused too
(redirected requests pass through the downloader middlewares again).  A host
name is resolved and refused when any of its addresses is not public.  With
a replay web configured, host names are answered by the archive, not DNS, so
only literal addresses (and ``localhost``) are checked.  ``CORPUS_ALLOW_PRIVATE``
(``corpus fetch --allow-private``) switches the guard off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured


class PrivateAddressRefused(IgnoreRequest):
    """The request targets an address that is not on the public internet."""


def non_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


def literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def resolve(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []  # unresolvable: the download itself fails with a DNS error
    return sorted({info[4][0] for info in infos})


class PrivateAddressGuard:
    def __init__(self, replay: bool):
        self.replay = replay

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.getbool("CORPUS_ALLOW_PRIVATE"):
            raise NotConfigured("private addresses allowed (CORPUS_ALLOW_PRIVATE)")
        return cls(replay=bool(crawler.settings.get("CORPUS_REPLAY_URL")))

    async def process_request(self, request):
        host = (urlsplit(request.url).hostname or "").lower()
        ip = literal_ip(host)
        if ip is not None:
            addresses = [ip]
        elif host == "localhost" or host.endswith(".localhost"):
            addresses = ["127.0.0.1"]
        elif self.replay:
            return None
        else:
            addresses = await resolve(host)
        bad = [a for a in addresses if non_public(a)]
        if bad:
            raise PrivateAddressRefused(
                f"refused non-public address {bad[0]} for {host} "
                "(loopback, private or link-local; pass --allow-private to allow)"
            )
        return None
