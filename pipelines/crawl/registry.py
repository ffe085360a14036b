"""The outlet registry: outlets as data (``crawler/outlets.toml``), validated.

Each ``[[outlet]]`` names the outlet, its domains, where to discover articles
(robots.txt sitemaps, sitemaps and news sitemaps, RSS/Atom feeds, listing
pages with their pagination), which URLs are articles, the extraction profile,
its priority as an original publisher (for the canonical copy of syndicated
stories), per-outlet politeness overrides and what was checked about it.

URL patterns (``articles``, ``exclude``, ``pagination``) see one form only:
the canonical URL (``urls.canonicalize``: https, host without ``www.``,
tracking parameters gone, query sorted, trailing slash kept), so a link with or
without ``www.``, over http or with ``?utm_source=...`` is judged the same.
``DEFAULT_EXCLUDE`` (tag, category, feed, pagination, archive, author and
search shapes, the home page) applies to every outlet on top of its own
``exclude``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipelines.crawl.urls import canonicalize, host_under, is_public_suffix, registered_host, site_name, url_problem

__all__ = ["Outlet", "Registry", "RegistryError", "load_registry", "DEFAULT_REGISTRY", "DEFAULT_EXCLUDE",
           "CHECK_VALUES", "site_outlet"]

DEFAULT_REGISTRY = Path(__file__).resolve().parents[2] / "crawler" / "outlets.toml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# Listing, feed and navigation shapes that are never articles, for every outlet (matched with
# re.search on the canonical URL, like an outlet's own `exclude`).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    r"^https://[^/?]+/$",                                  # the home page
    r"/(tags?|categor(y|ies)|topics?|authors?|contributors?)/",
    r"/(feeds?|rss|atom|rssindex)(/|\.xml|\.rss|\?|$)",      # /feed/, /rss/, /rss.xml, /feed/atom/, /rssindex
    r"\.(xml|rss|atom)(\?|$)",                              # sitemaps and feed files
    r"/page/\d+/?(\?|$)",                                  # /page/N/ pagination
    r"[?&](page|paged|offset|PAGEN_\d+)=",                 # ?page=N, ?offset=N, Bitrix ?PAGEN_1=N
    r"/archives?(/\d{4}(/\d{2})?)?/?(\?|$)",                # /archive, /archive?page=N, /archives/2024/05/
    r"^https://[^/?]+/\d{4}(/\d{2}){0,2}/?(\?|$)",          # date archives /2024/05/
    r"/(19|20)\d\d/(\?|$)|/(19|20)\d\d/\d\d(/\d\d)?/?(\?|$)",  # ... under a section: /news/2024/, /news/2024/05
    r"/search(/|\?|$)",                                    # search pages
    r"[?&](s|q|query)=",                                    # search queries
)

_MOBILE_HOST = ("m.", "mobile.", "amp.")
_AMP_TAIL = re.compile(r"^(.*?)/amp/?$")
_AMP_QUERY = re.compile(r"^(amp|amp=|amp=1|amp=true|outputtype=amp|output=amp)$", re.I)


def desktop_form(url: str) -> str:
    """A canonical address (``canonicalize``) as its desktop page's: the ``m.``, ``mobile.`` or ``amp.`` host
    prefix, a trailing ``/amp`` segment, a leading ``/amp/`` one and an AMP query parameter (``?amp=1``,
    ``outputType=amp``) removed. For matching the registry's patterns only (written for the desktop site):
    ``m.thestar.com.my/news/...``, ``scmp.com/.../article/1/slug/amp`` are the outlets' articles too; the
    page keeps its own address, and its ``rel=canonical`` usually names the desktop one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    for prefix in _MOBILE_HOST:
        rest = host[len(prefix):]
        if host.startswith(prefix) and "." in rest and not is_public_suffix(rest):
            host = rest
            break
    path = parts.path
    tail = _AMP_TAIL.match(path)
    if tail:
        base = tail.group(1)
        path = base if base.endswith((".html", ".htm", ".php", ".aspx")) else base + "/"
    if path.startswith("/amp/"):
        path = path[len("/amp"):]
    query = "&".join(q for q in parts.query.split("&") if q and not _AMP_QUERY.match(q))
    netloc = host + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


# What `checked` may say about an outlet (see the header of crawler/outlets.toml).
CHECK_VALUES = re.compile(r"^((real-urls|live-check) \d{4}-\d{2}-\d{2}|replay-model)$")


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
    checked: tuple[str, ...] = ()          # what was checked: "real-urls DATE", "replay-model", "live-check DATE"
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
        return any(host_under(host, d) for d in self.domains)

    def _rx(self, kind: str) -> list[re.Pattern]:
        if kind not in self._compiled:
            patterns = (*DEFAULT_EXCLUDE, *self.exclude) if kind == "exclude" else getattr(self, kind)
            self._compiled[kind] = [re.compile(p) for p in patterns]
        return self._compiled[kind]

    def _entry_points(self) -> frozenset[str]:
        if "entry" not in self._compiled:
            self._compiled["entry"] = frozenset(canonicalize(u) for u in self.start_urls())
        return self._compiled["entry"]

    def is_article(self, url: str) -> bool:
        """Whether ``url`` (any form: it is canonicalised first) is one of this outlet's articles; the
        mobile or AMP address of an article is one too (``desktop_form``)."""
        if not self.owns(url):
            return False
        url = canonicalize(url)
        return self._article_form(desktop_form(url))  # an AMP listing (/news/amp/) is a listing, not "amp"

    def _article_form(self, url: str) -> bool:
        if any(rx.search(url) for rx in (*self._rx("exclude"), *self._rx("pagination"))):
            return False
        return not self.articles or any(rx.search(url) for rx in self._rx("articles"))

    def is_pagination(self, url: str) -> bool:
        """Whether ``url`` is a page of one of this outlet's listings, to follow."""
        if not self.owns(url):
            return False
        url = canonicalize(url)
        return any(rx.search(url) for rx in self._rx("pagination"))

    def is_listing(self, url: str) -> bool:
        """Whether ``url`` is, by its address, a listing, feed or sitemap of this outlet (not an
        article): one of its own entry points, a pagination page, or an excluded shape (its own
        ``exclude`` or ``DEFAULT_EXCLUDE``).  An owned URL that merely does not match ``articles``
        is not a listing: it may be an article of a shape the registry does not know."""
        if not self.owns(url):
            return False
        url = canonicalize(url)
        return any(form in self._entry_points() or any(rx.search(form) for rx in self._rx("pagination"))
                   or any(rx.search(form) for rx in self._rx("exclude")) for form in {url, desktop_form(url)})

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
        owner = self.owner(registered_host(url))
        return owner[0] if owner else None

    def owner(self, host: str) -> tuple[Outlet, str] | None:
        """The outlet owning ``host`` (without its ``www.``) and the domain it owns it by; the most specific
        domain wins."""
        best: tuple[Outlet, str] | None = None
        for outlet in self.outlets.values():
            for d in outlet.domains:
                if host_under(host, d) and (best is None or len(d) > len(best[1])):
                    best = (outlet, d)
        return best


_TUPLES = {"domains", "articles", "exclude", "sitemaps", "news_sitemaps", "feeds", "listings", "pagination",
           "checked"}


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
    for domain in data["domains"]:
        if is_public_suffix(domain):
            raise RegistryError(f"{where}: domain {domain!r} is a public suffix: anyone can have a site under it; "
                                "name the outlet's own host")
    for pattern in (*data.get("articles", ()), *data.get("exclude", ()), *data.get("pagination", ())):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RegistryError(f"{where}: bad pattern {pattern!r}: {exc}") from None
        if "www\\." in pattern:
            raise RegistryError(f"{where}: pattern {pattern!r} names www.: patterns see the canonical URL, "
                                "whose host has no www.")
    for value in data.get("checked", ()):
        if not isinstance(value, str) or not CHECK_VALUES.match(value):
            raise RegistryError(f"{where}: checked value {value!r} is not one of 'real-urls YYYY-MM-DD', "
                                "'replay-model', 'live-check YYYY-MM-DD'")
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
    name = site_name(url) or "site"  # the name `corpus fetch` gives the same site's records (its registrable domain)
    root = f"{parts.scheme}://{parts.netloc}"
    return Outlet(name=name, title=host, domains=(registered_host(url),), checked=(),
                  notes="ad hoc (--site): nothing checked",
                  listings=(url if parts.path not in ("", "/") else root + "/",), follow_links=True,
                  pagination=(r"/page/\d+/?(\?|$)", r"[?&](page|paged|offset)=\d+"),
                  robots_sitemaps=True, max_listing_pages=50, priority=40)
