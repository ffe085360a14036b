"""Name resolution that connects only to public addresses it checked itself (``TWISTED_DNS_RESOLVER``).

A guard that resolves a host name and lets Scrapy resolve it again to connect
checks one answer and connects to another: a name that answers a public
address first and ``127.0.0.1`` next (DNS rebinding) gets through.  Here one
resolver does both: ``PublicResolver`` is Twisted's name resolver for every
connection, refuses a name when any address it resolves to is not public
(``non_public``), and hands Twisted only the addresses it checked.  The
address guard (``crawler/middlewares/private_guard.py``) asks the same
resolver before a request goes out, so that a refusal is the request's
outcome with its reason, and the answer it checked is *pinned*: the
connection uses it, with no second lookup, for the rest of the run.

Fail closed: a name that does not resolve (or not within ``DNS_TIMEOUT``)
is an error, never let through.  ``CORPUS_ALLOW_PRIVATE`` lets every address
through; the host of ``CORPUS_REPLAY_URL`` (a replay web on 127.0.0.1) is
allowed, being the one server a replayed crawl connects to.

``non_public`` also knows the IPv6 forms that Python's ``is_global`` calls
global although they reach private space: IPv4-compatible ``::127.0.0.1``,
IPv4-translated ``::ffff:0:a.b.c.d``, NAT64 ``64:ff9b::/96`` with a private
IPv4 inside and local-use NAT64 ``64:ff9b:1::/48``, 6to4 ``2002::/16`` and
Teredo ``2001::/32`` with a private IPv4 inside, site-local ``fec0::/10``,
discard-only ``100::/64``, documentation ``2001:db8::/32`` and ``3fff::/20``,
SRv6 ``5f00::/16``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.utils.datatypes import LocalCache
from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

logger = logging.getLogger(__name__)

ALLOW_HINT = "loopback, private or link-local; pass --allow-private to allow"


class AddressRefused(IgnoreRequest):
    """The request targets an address that is not on the public internet."""


def refusal(ip: str, host: str) -> str:
    return f"refused non-public address {ip} for {host} ({ALLOW_HINT})"


# -- which addresses are public ------------------------------------------------------------------------
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_NEVER = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",     # IETF protocol assignments (the dummy address 192.0.0.8, NAT64 discovery, ...)
    "192.88.99.0/24",   # 6to4 relay anycast (deprecated)
))
_V6_NEVER = tuple(ipaddress.ip_network(n) for n in (
    "::/96",            # unspecified, loopback and IPv4-compatible (deprecated): ::127.0.0.1
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    "64:ff9b:1::/48",   # local-use NAT64
    "100::/64",         # discard-only
    "2001:db8::/32",    # documentation
    "3fff::/20",        # documentation (RFC 9637)
    "5f00::/16",        # SRv6 segment identifiers
    "fc00::/7",         # unique local
    "fe80::/10",        # link-local
    "fec0::/10",        # site-local (deprecated)
    "ff00::/8",         # multicast
))


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches or carries: mapped, NAT64, 6to4, Teredo server and client."""
    if addr.ipv4_mapped:
        return [addr.ipv4_mapped]
    if addr in _NAT64:
        return [ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)]
    if addr.sixtofour:
        return [addr.sixtofour]
    if addr.teredo:
        return list(addr.teredo)
    return []


def non_public(ip: str) -> bool:
    """Whether ``ip`` is an address a crawler of the public web must not connect to (also when it
    is no address at all)."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(addr, ipaddress.IPv6Address):
        if any(addr in net for net in _V6_NEVER):
            return True
        inner = _embedded_ipv4(addr)
        if any(non_public(str(v4)) for v4 in inner):
            return True
        if addr.ipv4_mapped or addr in _NAT64:
            return False  # judged by the (public) IPv4 address it reaches
    elif any(addr in net for net in _V4_NEVER):
        return True
    return not addr.is_global or addr.is_multicast


_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)


def literal_ip(host: str) -> str | None:
    """The address a host that is an address names: ``[::1]``, ``10.0.0.1``, and the forms the C
    library reads as IPv4 (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``); None for a name."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def host_key(name: str) -> str:
    """A host name as one key: lower case, ASCII (IDNA), as in a request URL."""
    name = name.strip().lower()
    if name.isascii():
        return name
    try:
        from twisted.internet._idna import _idnaBytes  # Twisted's own IDNA, the one its endpoints use

        return _idnaBytes(name).decode("ascii").lower()
    except (ImportError, UnicodeError):
        return name


def system_lookup(host: str) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the system's order of preference."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- the resolver ----------------------------------------------------------------------------------------
@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str):
        self.name = name

    def cancel(self) -> None:  # the lookup runs to its end; its answer is then dropped by the endpoint
        pass


@implementer(IHostnameResolver)
class PublicResolver:
    """Twisted name resolver (``TWISTED_DNS_RESOLVER``) that resolves once, checks, pins, fails closed."""

    def __init__(self, reactor=None, *, allow_private: bool = False, allowed_hosts=(), timeout: float = 60.0,
                 cache_size: int = 10000, lookup=system_lookup):
        self.reactor = reactor
        self.allow_private = allow_private
        self.allowed_hosts = frozenset(host_key(h) for h in allowed_hosts if h)
        self.timeout = timeout
        self.lookup = lookup  # host -> [address, ...] (blocking: runs in a thread); tests drive it
        self.pins: LocalCache = LocalCache(cache_size)  # host -> checked addresses, or the refusal
        self._pending: dict[str, asyncio.Future] = {}

    @classmethod
    def from_crawler(cls, crawler, reactor):
        current = getattr(reactor, "nameResolver", None)
        if isinstance(current, cls):  # the address guard installed it first: one resolver, one set of pins
            return current
        settings = crawler.settings
        replay = settings.get("CORPUS_REPLAY_URL") or ""
        return cls(reactor, allow_private=settings.getbool("CORPUS_ALLOW_PRIVATE"),
                   allowed_hosts=[urlsplit(replay).hostname] if replay else (),
                   timeout=settings.getfloat("DNS_TIMEOUT", 60.0),
                   cache_size=settings.getint("DNSCACHE_SIZE", 10000))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    # -- the check, shared by the guard and the connection --------------------------------------------
    def _allowed(self, key: str) -> bool:
        return self.allow_private or key in self.allowed_hosts

    def refuses(self, ip: str) -> bool:
        """Whether an address is refused (``non_public``; a test's resolver may name its own)."""
        return non_public(ip)

    def checked(self, host: str, addresses) -> tuple[str, ...]:
        """``addresses`` of ``host`` when every one is allowed; raises ``AddressRefused`` (one is not)
        or ``CannotResolveHostError`` (none)."""
        addresses = tuple(addresses)
        if not addresses:
            raise CannotResolveHostError(f"DNS lookup failed: no address for {host}")
        if not self._allowed(host_key(host)):
            bad = [a for a in addresses if self.refuses(a)]
            if bad:
                raise AddressRefused(refusal(bad[0], host))
        return addresses

    def _pin(self, key: str, outcome) -> None:
        self.pins[key] = outcome

    def _pinned(self, key: str) -> tuple[str, ...] | None:
        outcome = self.pins.get(key)
        if isinstance(outcome, AddressRefused):
            raise AddressRefused(str(outcome))
        return outcome

    async def addresses(self, host: str) -> tuple[str, ...]:
        """The checked addresses of ``host`` (for the guard, before the request goes out): pinned, so
        that the connection uses them and nothing else.  Raises ``AddressRefused`` or
        ``CannotResolveHostError``."""
        key = host_key(host)
        ip = literal_ip(key)
        if ip is not None:
            return self.checked(key, [ip])
        pinned = self._pinned(key)
        if pinned is not None:
            return pinned
        task = self._pending.get(key)
        if task is None:  # one lookup per name, however many requests wait for it: the task pins its
            task = asyncio.ensure_future(self._resolve(key, host))  # answer before it counts as done, so
            self._pending[key] = task  # a request arriving after it never starts a second lookup
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(task)

    async def _resolve(self, key: str, host: str) -> tuple[str, ...]:
        """Look ``key`` up once, check the answer and pin it (or the refusal)."""
        lookup = asyncio.get_running_loop().run_in_executor(None, self.lookup, key)
        try:
            found = await asyncio.wait_for(lookup, self.timeout)
        except asyncio.TimeoutError:
            raise CannotResolveHostError(f"DNS lookup failed: {host} timed out") from None
        except (OSError, UnicodeError, ValueError) as exc:
            raise CannotResolveHostError(f"DNS lookup failed: {host} ({exc})") from None
        pinned = self._pinned(key)  # the connection side resolved it meanwhile (the guard off for it)
        if pinned is not None:
            return pinned
        try:
            addresses = self.checked(key, found)
        except AddressRefused as exc:
            self._pin(key, exc)  # refused for the rest of the run: no new lookup, no second chance
            raise
        self._pin(key, addresses)
        return addresses

    # -- IHostnameResolver: what Twisted connects to --------------------------------------------------
    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0, addressTypes=None,
                        transportSemantics="TCP"):
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        key = host_key(hostName)
        ip = literal_ip(key)
        try:
            pinned = (ip,) if ip is not None else self._pinned(key)
        except AddressRefused as exc:
            pinned, d = None, defer.fail(exc)
        else:
            if pinned is not None:
                d = defer.succeed(pinned)
            else:  # not asked by the guard (it is off, or another route): resolve and check here, once
                d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.lookup, key)
                d.addTimeout(self.timeout, self.reactor)

        def check(found):
            if pinned is not None and ip is None:
                return found  # checked when pinned
            try:
                addresses = self.checked(key, found)
            except AddressRefused as exc:
                if ip is None:
                    self._pin(key, exc)
                raise
            if ip is None:
                self._pin(key, addresses)
            return addresses

        def deliver(addresses):
            for address in addresses:
                family = IPv6Address if ":" in address else IPv4Address
                if addressTypes is None or family in addressTypes:
                    if family is IPv6Address:
                        resolutionReceiver.addressResolved(IPv6Address("TCP", address.split("%", 1)[0], portNumber))
                    else:
                        resolutionReceiver.addressResolved(IPv4Address("TCP", address, portNumber))

        def failed(failure):  # no address at all: the endpoint fails with a DNS lookup error
            logger.warning("not connecting to %s: %s", hostName, failure.getErrorMessage() or failure.type.__name__)

        d.addCallback(check)
        d.addCallbacks(deliver, failed)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution


def installed_resolver() -> PublicResolver | None:
    """The ``PublicResolver`` of the running reactor, if it is the one installed."""
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, PublicResolver) else None


def shared_resolver(crawler) -> PublicResolver:
    """The process's resolver, for the address guard: the one installed on the reactor, else one of the
    ``TWISTED_DNS_RESOLVER`` class, installed now (Scrapy installs its resolver only when the reactor
    starts, after the middlewares are built; it then finds this one).  Fails when that setting names
    a resolver that does not check what it connects to."""
    from scrapy.utils.misc import load_object
    from twisted.internet import reactor

    name = crawler.settings.get("TWISTED_DNS_RESOLVER")
    cls = load_object(name)
    if not (isinstance(cls, type) and issubclass(cls, PublicResolver)):
        raise RuntimeError(f"TWISTED_DNS_RESOLVER = {name!r} does not check the addresses it connects to: the "
                           "address guard needs crawler.resolver.PublicResolver (or pass --allow-private)")
    resolver = cls.from_crawler(crawler, reactor)
    if installed_resolver() is not resolver:
        resolver.install_on_reactor()
    return resolver
