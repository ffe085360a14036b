"""Which outlet a URL belongs to (the registry's outlet, else the site by the Public Suffix List), and whether the
registry knows the URL as a listing or feed of its outlet rather than an article."""

from __future__ import annotations

from pipelines.crawl.registry import load_registry
from pipelines.crawl.urls import site_name


def outlet_lookup(registry_path=None):
    """A function url -> outlet name."""
    registry = load_registry(registry_path)

    def lookup(url: str) -> str | None:
        outlet = registry.for_url(url)
        return outlet.name if outlet else (site_name(url) or None)

    return lookup


def listing_lookup(registry_path=None):
    """A function url -> True when a registry outlet owns ``url`` and knows it, by its address, as a
    listing, feed or sitemap (its entry points, a pagination page, an excluded or a default listing
    shape; see ``Outlet.is_listing``). An owned URL that merely does not match the outlet's article
    patterns is not a listing, nor is a URL no outlet owns."""
    registry = load_registry(registry_path)

    def is_listing(url: str) -> bool:
        outlet = registry.for_url(url)
        return bool(outlet and outlet.is_listing(url))

    return is_listing
