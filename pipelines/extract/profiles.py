"""Outlet profiles: per-domain selectors and boilerplate-paragraph patterns, kept as data in profiles.toml.

A profile says what generic extraction leaves behind on one outlet: `drop` selectors (CSS, or XPath when
the selector starts with "/", "./" or "(") removed from the page before extraction, an optional `keep`
selector of the article container, and `drop_text` regexes of whole paragraphs removed afterwards.
The `default` profile's rules apply to every page, in addition to the outlet's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Profile", "load_profiles", "profile_for_url", "get_profile", "DEFAULT_PATH"]

DEFAULT_PATH = Path(__file__).with_name("profiles.toml")


@dataclass(frozen=True)
class Profile:
    """Extraction rules for one outlet (or the generic `default` rules)."""

    name: str
    domains: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    keep: str | None = None
    drop_text: tuple[str, ...] = ()
    _patterns: tuple[re.Pattern, ...] = field(default=(), repr=False, compare=False)

    @property
    def patterns(self) -> tuple[re.Pattern, ...]:
        """Compiled `drop_text` regexes (case-insensitive, matched against a whole paragraph)."""
        return self._patterns

    def matches(self, host: str) -> bool:
        """True if `host` is one of the profile's domains or a subdomain of one."""
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


def _make(name: str, spec: dict) -> Profile:
    drop_text = tuple(spec.get("drop_text", ()))
    return Profile(
        name=name,
        domains=tuple(d.lower() for d in spec.get("domains", ())),
        drop=tuple(spec.get("drop", ())),
        keep=spec.get("keep") or None,
        drop_text=drop_text,
        _patterns=tuple(re.compile(p, re.I | re.S) for p in drop_text),
    )


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Profile]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    profiles = {"default": _make("default", data.get("default", {}))}
    for name, spec in data.get("profiles", {}).items():
        profiles[name] = _make(name, spec)
    return profiles


def load_profiles(path: str | Path | None = None) -> dict[str, Profile]:
    """All profiles of a TOML file (the packaged profiles.toml by default), by name; includes `default`."""
    return dict(_load(str(path or DEFAULT_PATH)))


def get_profile(name: str, path: str | Path | None = None) -> Profile:
    """The profile called `name`; KeyError if there is none."""
    profiles = _load(str(path or DEFAULT_PATH))
    if name not in profiles:
        raise KeyError(f"unknown extraction profile: {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def profile_for_url(url: str | None, path: str | Path | None = None) -> Profile | None:
    """The outlet profile whose domains cover the URL's host, or None (the default rules still apply)."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    except ValueError:
        return None
    for profile in _load(str(path or DEFAULT_PATH)).values():
        if profile.name != "default" and profile.matches(host):
            return profile
    return None
