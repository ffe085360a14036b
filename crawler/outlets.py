"""Which outlet a URL belongs to: the registry's outlet, else the site's host name."""

from __future__ import annotations

from pipelines.registry import load_registry
from pipelines.urls import registered_host


def outlet_lookup(registry_path=None):
    """A function url -> outlet name."""
    registry = load_registry(registry_path)

    def lookup(url: str) -> str | None:
        outlet = registry.for_url(url)
        return outlet.name if outlet else (registered_host(url) or None)

    return lookup
