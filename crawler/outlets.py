"""Which outlet a URL belongs to (by domain); the registry grows in the crawl issue."""

from __future__ import annotations

from pipelines.urls import registered_host


def outlet_lookup():
    """A function url -> outlet name (the registered host for now)."""
    return lambda url: registered_host(url) or None
