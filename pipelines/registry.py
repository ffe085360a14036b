"""The outlet registry: outlets as data (``crawler/outlets.toml``), validated.

Each ``[[outlet]]`` names the outlet, its domains, where to discover articles
(robots.txt sitemaps, sitemaps and news sitemaps, RSS/Atom feeds, listing
pages with their pagination), which URLs are articles, the extraction profile,
its priority as an original publisher (for the canonical copy of syndicated
stories) and per-outlet politeness overrides.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .urls import registered_host, url_problem

__all__ = ["Outlet", "Registry", "RegistryError", "load_registry", "DEFAULT_REGISTRY", "site_outlet"]

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "crawler" / "outlets.toml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class RegistryError(ValueError):
    """The registry file is not valid; the message says where."""


@dataclass(frozen=True)
class Outlet:
    name: str
    title: str
    domains: tuple[str, ...]
    profile: str | None = None
    priority: int = 50
    kind: str = "news"
    status: str = "unverified"
    notes: str = ""
    articles: tuple[str, ...] = ()          # regexes of article URLs (full URL)
    exclude: tuple[str, ...] = ()           # regexes of URLs never followed
    robots_sitemaps: bool = True
    sitemaps: tuple[str, ...] = ()
    news_sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    pagination: tuple[str, ...] = ()        # regexes of listing-pagination URLs to follow
    max_listing_pages: int = 5
    follow_links: bool = False              # crawl same-host links (for --site)
    download_delay: float | None = None
    concurrency: int | None = None
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def owns(self, url: str) -> bool:
        host = registered_host(url)
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def _rx(self, kind: str) -> list[re.Pattern]:
        if kind not in self._compiled:
            self._compiled[kind] = [re.compile(p) for p in getattr(self, kind)]
        return self._compiled[kind]

    def is_article(self, url: str) -> bool:
        if not self.owns(url) or any(rx.search(url) for rx in self._rx("exclude")):
            return False
        return not self.articles or any(rx.search(url) for rx in self._rx("articles"))

    def is_pagination(self, url: str) -> bool:
        return self.owns(url) and any(rx.search(url) for rx in self._rx("pagination"))

    def start_urls(self) -> list[str]:
        return [*self.sitemaps, *self.news_sitemaps, *self.feeds, *self.listings]


@dataclass
class Registry:
    outlets: dict[str, Outlet]
    path: Path | None = None

    def __iter__(self):
        return iter(self.outlets.values())

    def __len__(self):
        return len(self.outlets)

    def get(self, name: str) -> Outlet:
        try:
            return self.outlets[name]
        except KeyError:
            raise RegistryError(f"no outlet named {name!r} (known: {', '.join(sorted(self.outlets))})") from None

    def priority(self, name: str | None) -> int:
        """How original an outlet's articles are (for the canonical copy); 50 when unknown."""
        outlet = self.outlets.get(name) if name else None
        return outlet.priority if outlet else 50

    def for_url(self, url: str) -> Outlet | None:
        """The outlet owning ``url``; the most specific domain wins."""
        best, best_len = None, -1
        host = registered_host(url)
        for outlet in self.outlets.values():
            for d in outlet.domains:
                if (host == d or host.endswith("." + d)) and len(d) > best_len:
                    best, best_len = outlet, len(d)
        return best


_TUPLES = {"domains", "articles", "exclude", "sitemaps", "news_sitemaps", "feeds", "listings", "pagination"}


def _outlet(raw: dict, where: str, profiles: set[str] | None) -> Outlet:
    raw = dict(raw)
    disc = raw.pop("discovery", {}) or {}
    polite = raw.pop("politeness", {}) or {}
    data = {**raw, **disc}
    if "download_delay" in polite:
        data["download_delay"] = float(polite["download_delay"])
    if "concurrency" in polite:
        data["concurrency"] = int(polite["concurrency"])
    known = set(Outlet.__dataclass_fields__) - {"_compiled"}
    unknown = set(data) - known
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "title", "domains"):
        if not data.get(key):
            raise RegistryError(f"{where}: missing {key!r}")
    if not _NAME.match(data["name"]):
        raise RegistryError(f"{where}: name {data['name']!r} must be lower-case letters, digits, dashes")
    for key in _TUPLES & set(data):
        if isinstance(data[key], str):
            data[key] = [data[key]]
        data[key] = tuple(data[key])
    for pattern in (*data.get("articles", ()), *data.get("exclude", ()), *data.get("pagination", ())):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RegistryError(f"{where}: bad pattern {pattern!r}: {exc}") from None
    for url in (*data.get("sitemaps", ()), *data.get("news_sitemaps", ()), *data.get("feeds", ()),
                *data.get("listings", ())):
        if problem := url_problem(url):
            raise RegistryError(f"{where}: invalid URL {url!r} ({problem})")
    if profiles is not None and data.get("profile") and data["profile"] not in profiles:
        raise RegistryError(f"{where}: unknown extraction profile {data['profile']!r}")
    return Outlet(**data)


def load_registry(path: str | Path | None = None, *, profiles: set[str] | None = None) -> Registry:
    """Load and validate a registry file (default: the bundled ``crawler/outlets.toml``)."""
    path = Path(path) if path else DEFAULT_REGISTRY
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from None
    outlets: dict[str, Outlet] = {}
    for i, raw in enumerate(data.get("outlet", [])):
        where = f"{path.name}: outlet #{i + 1} ({raw.get('name', '?')})"
        outlet = _outlet(raw, where, profiles)
        if outlet.name in outlets:
            raise RegistryError(f"{where}: duplicate name {outlet.name!r}")
        outlets[outlet.name] = outlet
    if not outlets:
        raise RegistryError(f"{path}: no [[outlet]] entries")
    return Registry(outlets, path)


def site_outlet(url: str) -> Outlet:
    """An ad-hoc outlet for ``corpus crawl --site URL``: robots sitemaps, feeds and same-host links."""
    if problem := url_problem(url):
        raise RegistryError(f"--site needs an http(s) URL, not {url!r} ({problem})")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    name = re.sub(r"[^a-z0-9-]+", "-", registered_host(url)).strip("-") or "site"
    root = f"{parts.scheme}://{parts.netloc}"
    return Outlet(name=name, title=host, domains=(registered_host(url),), status="ad hoc (--site)",
                  listings=(url if parts.path not in ("", "/") else root + "/",), follow_links=True,
                  robots_sitemaps=True, max_listing_pages=50, priority=40)
