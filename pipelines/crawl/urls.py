"""URL canonicalisation and record ids.

Two URLs that name the same article must give the same id: the scheme and a
leading ``www.`` are folded, tracking parameters (``utm_*``, ``fbclid``, ...)
and fragments are dropped, the query is sorted, default ports go away and the
host is lower-cased.  The record id is the first 16 hex digits of the SHA-256
of the canonical URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["CREDENTIALS", "canonicalize", "bare_host", "doc_id", "has_credentials", "host_of", "host_under",
           "is_public_suffix", "page_key", "redact_credentials", "registered_host", "same_site", "site_of", "site_name", "url_problem",
           "FETCHED_SCHEMES", "refused_scheme", "scheme_refusal"]

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


FETCHED_SCHEMES = ("http", "https")  # the only schemes ever requested: no file:, ftp:, data:, s3:
_SCHEME = re.compile(r"^[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.-]*):")


def refused_scheme(url: str) -> str | None:
    """The scheme of ``url`` (lower case, ``""`` for none) when it is not http or https, else None."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:  # a bad host or port: the scheme is still read
        scheme = (m.group(1).lower() if (m := _SCHEME.match(url)) else "")
    return None if scheme in FETCHED_SCHEMES else scheme


def scheme_refusal(scheme: str) -> str:
    """Why a URL of ``scheme`` is not fetched, in one phrase."""
    return f"refused scheme {scheme[:20]!r} (only http and https are fetched)" if scheme else "no scheme (http or https)"


# user:password@ before a host: in a URL (``http://alice:pw@host/``, ``s3://KEY:SECRET/WITH/SLASHES@bucket``) or
# in a message quoting a netloc ("invalid hostname: alice:pw@host")
_URL_TOKEN = re.compile(r"(?<![\w+.-])([a-zA-Z][\w+.-]*://)([^\s'\"<>]+)")
_USERINFO = re.compile(r"(?<![\w.~%!$&'()*+,;=:/?#@-])[\w.~%!$&'()*+,;=-]+:[^\s/?#@]*@(?=[\w\[])")
CREDENTIALS = "credentials in the URL (user:password@ is never sent)"


def _redact_url(m) -> str:
    scheme, rest = m.group(1), m.group(2)
    end = len(rest)
    for stop in "?#":
        if stop in rest:
            end = min(end, rest.index(stop))
    at = rest.rfind("@", 0, end)
    if at < 0:
        return m.group()
    userinfo = rest[:at]
    # a "/" before the "@": a secret holding one (AWS secret keys do), or a path holding "@" after a host
    # ("https://example.org/wiki/a:b@c"), whose authority has a dot
    if "/" in userinfo and "." in userinfo.split("/", 1)[0]:
        return m.group()
    return scheme + "***@" + rest[at + 1:]


def redact_credentials(text: str) -> str:
    """``text`` with every user name and password before a host replaced by ``***`` (``http://***@host/``;
    an S3 key id is a user name there): what a log, a report or the run's stats may show."""
    if "@" not in text:
        return text
    return _USERINFO.sub("***@", _URL_TOKEN.sub(_redact_url, text))


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a user name or password before its host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return "@" in parts.netloc


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
    if (scheme := refused_scheme(url)) is not None:
        return scheme_refusal(scheme)
    if not parts.hostname:
        return "no host"
    if has_credentials(url):
        return CREDENTIALS
    return None


def page_key(url: str) -> str:
    """What tells pages apart among URLs a person gave: the canonical form, or the URL as given where it is
    no fetchable URL (``url_problem``: canonicalize would fail on a bad port, or mean nothing)."""
    return url if url_problem(url) else canonicalize(url)


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
    """Lower-case host name of ``url`` ('' when there is none, or the URL cannot be parsed)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except (ValueError, TypeError, AttributeError):
        return ""


def registered_host(url: str) -> str:
    """Host without a leading ``www.``, for matching outlets by domain."""
    return bare_host(host_of(url))


def bare_host(host: str) -> str:
    """``host`` without a leading ``www.``."""
    return host[4:] if host.startswith("www.") else host


def site_name(url: str) -> str:
    """The name of the site of ``url`` when no registry outlet owns it (a record's ``outlet``): its registrable
    domain (``site_of``), so ``m.washingtontimes.com`` and ``www.washingtontimes.com`` are one publisher,
    ``washingtontimes.com``, but two blogs on a platform (``a.substack.com``) stay two."""
    return site_of(host_of(url))


# --- same site ----------------------------------------------------------------------------------
# "Same site" is decided here and only here (site_of / same_site), with the Public Suffix List as the
# `publicsuffixlist` package ships it (ICANN and private sections, e.g. github.io, blogspot.com;
# read from the package's own file, never fetched). A few platforms give every user a sub-domain
# without being in the list; one user's blog is not another's site on them either.
EXTRA_PUBLIC_SUFFIXES = frozenset({
    "substack.com", "wordpress.com", "tumblr.com", "medium.com", "livejournal.com", "ghost.io",
    "typepad.com", "beehiiv.com", "hashnode.dev", "weebly.com",
})


@lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the bundled list; accept_unknown: an unknown TLD is a public suffix


def _ascii_host(host: str) -> str:
    """``host`` lower-cased, without a trailing dot or IPv6 brackets, IDN labels in punycode."""
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.isascii():
        return host
    try:
        import idna

        return idna.encode(host, uts46=True).decode("ascii")
    except Exception:  # noqa: BLE001 - idna absent or the name is not valid IDNA2008
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _ip_like(host: str) -> str | None:
    """The normal form of an IP-literal host; the host itself for a numeric last label
    (``127.1``, ``0x7f.0.0.1``: no TLD is numeric); None for a name."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    if ":" in host or last.isdigit() or re.fullmatch(r"0x[0-9a-f]*", last):
        return host
    return None


@lru_cache(maxsize=4096)
def is_public_suffix(host: str) -> bool:
    """Whether ``host`` is itself a public suffix (``co.uk``, ``github.io``, ``substack.com``), under
    which anyone may register a site: it never owns its sub-domains."""
    host = _ascii_host(host)
    if not host or _ip_like(host) is not None:
        return False
    return host in EXTRA_PUBLIC_SUFFIXES or _psl().is_public(host)


@lru_cache(maxsize=4096)
def site_of(host: str) -> str:
    """The site a host belongs to: its registrable domain by the Public Suffix List.

    ``news.bbc.co.uk`` -> ``bbc.co.uk``, ``ca.finance.yahoo.com`` -> ``yahoo.com``, but
    ``victim.github.io`` -> ``victim.github.io`` (github.io is a public suffix). An IP address is
    its own site (normal form), as is ``localhost`` or any one-label name; a public suffix itself
    (``github.io``, ``www.github.io``) is the platform's own site. IDN hosts compare in punycode.
    """
    host = _ascii_host(host)
    if not host:
        return ""
    ip = _ip_like(host)
    if ip is not None:
        return ip
    if "." not in host:
        return host
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    site = _psl().privatesuffix(host) or host
    if site in EXTRA_PUBLIC_SUFFIXES and host != site:
        site = ".".join(host.split(".")[-(site.count(".") + 2):])
    return site


def host_under(host: str, domain: str) -> bool:
    """Whether ``host`` is ``domain`` or one of its sub-domains; never the sub-domains of a public
    suffix (a ``github.io`` domain owns ``github.io``, not every user's ``*.github.io``)."""
    return host == domain or (host.endswith("." + domain) and not is_public_suffix(domain))


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (``m.``, ``www.``, regional sub-domains folded; two
    users of a hosting platform such as ``a.github.io`` and ``b.github.io`` are not). Ports and
    schemes do not matter."""
    ha, hb = host_of(a), host_of(b)
    if not (ha and hb):
        return False
    sa = site_of(ha)
    return bool(sa) and sa == site_of(hb)
