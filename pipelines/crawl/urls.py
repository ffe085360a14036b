"""URL canonicalisation and record ids.

Two URLs that name the same article must give the same id: the scheme and a
leading ``www.`` are folded, tracking parameters (``utm_*``, ``fbclid``, ...)
and fragments are dropped, the query is sorted, default ports go away and the
host is lower-cased.  The record id is the first 16 hex digits of the SHA-256
of the canonical URL.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["canonicalize", "doc_id", "host_of", "registered_host", "same_site", "url_problem"]

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|"
    r"_ga|_gl|ref|ref_src|ref_url|cid|icid|cmp|cmpid|ncid|ito|taid|guccounter|guce_referrer\w*|"
    r"\.tsrc|soc_src|soc_trk|spm|share|smid|src|at_medium|at_campaign|mkt_tok|oly_\w+|vero_\w+)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a URL never carries raw (RFC 3986): whitespace, controls, quotes, angle brackets...
_INVALID_CHARS = re.compile(r'[\x00-\x20\x7f"<>\\]')


def _clean_path(path: str) -> str:
    if not path:
        return "/"
    had_slash = path.endswith("/")
    norm = posixpath.normpath(unquote(path))
    if norm in (".", "//"):
        norm = "/"
    if had_slash and not norm.endswith("/"):
        norm += "/"
    return quote(norm, safe="/:@!$&'()*+,;=-._~%")


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a fetchable http(s) URL, or None when it is."""
    if not isinstance(url, str) or not url:
        return "empty"
    if bad := _INVALID_CHARS.search(url):
        what = "a space" if bad.group() == " " else f"the character {bad.group()!r}"
        return f"{what} in the URL (percent-encode it)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs"
    if not parts.hostname:
        return "no host"
    return None


def canonicalize(url: str) -> str:
    """Return the canonical form of ``url`` (https, no ``www.``, no tracking)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url.strip()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMS.match(k)
    ]
    query.sort()
    return urlunsplit(("https", netloc, _clean_path(parts.path), urlencode(query), ""))


def doc_id(url: str) -> str:
    """Stable 16-hex-digit id of the article at ``url`` (via its canonical form)."""
    return hashlib.sha256(canonicalize(url).encode("utf-8")).hexdigest()[:16]


def host_of(url: str) -> str:
    """Lower-case host name of ``url`` ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def registered_host(url: str) -> str:
    """Host without a leading ``www.``, for matching outlets by domain."""
    host = host_of(url)
    return host[4:] if host.startswith("www.") else host


_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "edu", "ac", "or", "ne", "go", "mil", "nic"}


def site_of(host: str) -> str:
    """The registrable part of a host name, approximately (no public-suffix list):
    ``ca.finance.yahoo.com`` -> ``yahoo.com``, ``www.bbc.co.uk`` -> ``bbc.co.uk``."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (``m.``, ``www.``, regional sub-domains folded)."""
    ha, hb = host_of(a), host_of(b)
    return bool(ha and hb) and site_of(ha) == site_of(hb)
