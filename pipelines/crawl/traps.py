"""Crawl traps: URL patterns that only ever lead to more of themselves.

An endless calendar (``/calendar/2024/07/`` links June and August, and its
own ``?view=week``), ``?page=N`` listings without a single item, links that
carry a fresh session id, relative links that deepen a path forever
(``/docs/a/b/a/b/...``): each yields no article and would eat a crawl's
budget.  ``TrapDetector`` recognises them from URLs and page outcomes alone
(pure Python, no Scrapy, no network):

* **URL shapes.**  A URL's *shape* is its host, its path with digit runs,
  dates and hex ids generalised (``/calendar/N/N/``) and its sorted query keys
  with generalised values (``?view=week``, ``?page=N``); session ids are left
  out.  Shapes with the same host and path form a *family* (the calendar's
  month, week and day views are one family).  Paths deeper than
  ``deep_collapse`` segments fall into the family of their first two.
* **Evidence per page.**  A fetched page is *productive* when it yielded an
  article (its outcome: stored, unchanged, duplicate, even off-topic) or when
  its links lead somewhere new: a followable link of another family seen for
  the first time.  Otherwise it is *barren*: no article, and only more of its
  own kind (or links already known).
* **Probation.**  A shape is *proven* by its first productive page.  The
  shapes of a family that are not proven share a budget of ``budget``
  requests; past it, new URLs of those shapes are *held* (not refused yet):
  released as soon as their shape proves itself (``page``/``outcome`` return
  them), refused when every budgeted request came back barren, the family
  then being declared a trap (``Trap``).  So no trap costs more than
  ``budget`` requests, and a listing of one URL shape linked many times
  before its first page is back (``/news/1001`` ... ``/news/1014``) loses
  nothing, it only waits.  A proven shape whose last ``barren_streak`` pages
  in a row were barren is a trap too (a calendar that had events in 2024 and
  then goes on forever).
* **Structure.**  Refused on sight: URLs longer than ``max_url_length``,
  paths deeper than ``max_depth`` segments, paths whose segments repeat
  (``/a/b/a/b/a/b``, or one segment three times), and a URL that differs from
  one already followed only by a session id (``?sid=``, ``;jsessionid=``...).

``should_follow(url) -> (bool, reason)``: ask before requesting ``url``; a
``True`` counts the request.  Then feed back what happened: ``page(url,
links, article=...)`` when a page is parsed for links (``article=False`` for
a pure listing page; ``None`` when an article outcome follows) and
``outcome(url, article)`` when the article outcome is known.  ``finish()``
settles what is still held when the crawl runs dry.  ``on_trap(trap)`` and
``on_refused(trap, url)`` let the caller count and log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

from pipelines.crawl.urls import canonicalize

__all__ = ["HELD", "SESSION_PARAMS", "Trap", "TrapDetector", "url_family", "url_shape"]

HELD = "held"  # the reason of a URL not followed *yet* starts with this word
SESSION_PARAMS = re.compile(
    r"^(sid|sess|sessid|session|session_?id|sessionkey|phpsessid|jsessionid|aspsessionid\w*|"
    r"cfid|cftoken|zenid|oscsid|s_id|wsid)$", re.IGNORECASE)
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sid|sessionid)=[^/?#]*", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGITS = re.compile(r"\d+")
_MAX_VALUE = 24  # longer query values are generalised to *


def _generalise(text: str) -> str:
    """Digit runs -> N, hex ids and random-looking tokens -> H, the rest kept."""
    def token(m: re.Match) -> str:
        t = m.group()
        if t.isdigit():
            return "N"
        has_digit = any(c.isdigit() for c in t)
        if has_digit and len(t) >= 8 and _HEX.fullmatch(t) and not t.isalpha():
            return "H"
        if has_digit and len(t) >= 16 and any(c.isalpha() for c in t):
            return "H"
        return _DIGITS.sub("N", t)
    return _TOKEN.sub(token, text)


def _split(url: str) -> tuple[str, list[str], bool, list[tuple[str, str]]]:
    """(host, path segments, trailing slash, query pairs) of a canonical URL, session ids out of the path."""
    parts = urlsplit(url)
    path = _PATH_SESSION.sub("", parts.path)
    segs = [s for s in path.split("/") if s]
    return parts.netloc, segs, path.endswith("/") and bool(segs), parse_qsl(parts.query, keep_blank_values=True)


def _family(host: str, segs: list[str], slash: bool, deep_collapse: int) -> str:
    gen = [_generalise(s) for s in segs]
    if len(gen) > deep_collapse:
        return f"{host}/{'/'.join(gen[:2])}/**"
    return f"{host}/{'/'.join(gen)}{'/' if slash else ''}"


def _query_shape(query: list[tuple[str, str]]) -> str:
    items = []
    for key, value in query:
        if SESSION_PARAMS.match(key):
            continue
        items.append(f"{key}={'*' if len(value) > _MAX_VALUE else _generalise(value)}")
    return "&".join(sorted(set(items)))


def url_family(url: str, deep_collapse: int = 6) -> str:
    """Host and generalised path of ``url``: ``example.com/calendar/N/N/``."""
    host, segs, slash, _ = _split(canonicalize(url))
    return _family(host, segs, slash, deep_collapse)


def url_shape(url: str, deep_collapse: int = 6) -> str:
    """The family plus the generalised query: ``example.com/calendar/N/N/?view=week``."""
    host, segs, slash, query = _split(canonicalize(url))
    q = _query_shape(query)
    return _family(host, segs, slash, deep_collapse) + (f"?{q}" if q else "")


def _slug(text: str) -> str:
    """A stats-key-friendly name; the port is left out (stable from run to run)."""
    text = re.sub(r"^([^/:\s]+):\d+", r"\1", text)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "trap"


@dataclass
class Trap:
    """A declared trap: a family (or shape) of URLs, or a structural rule, and what it cost."""
    key: str                # the family, shape, or "host rule"
    slug: str               # for stats keys: corpus/traps/<slug>
    kind: str               # "shape" | "streak" | "url-too-long" | "path-too-deep" | "repeated-segments" | "session-id"
    reason: str
    requests: int = 0       # requests spent in it before it was recognised
    refused: int = 0        # URLs refused since
    example: str = ""       # one URL of it


@dataclass
class _Shape:
    key: str
    family: str
    requests: int = 0
    inflight: int = 0
    productive: int = 0
    barren: int = 0
    streak: int = 0
    pages: int = 0
    same_links: int = 0     # new links of its own family found on its pages
    trap: Trap | None = None


@dataclass
class _Family:
    key: str
    shapes: dict[str, _Shape] = field(default_factory=dict)
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # canonical -> (shape, url as given)
    trap: Trap | None = None

    def unproven(self) -> list[_Shape]:
        return [s for s in self.shapes.values() if not s.productive]


class TrapDetector:
    """Recognises crawl traps; see the module documentation."""

    def __init__(self, budget: int = 10, *, max_depth: int = 12, max_url_length: int = 1024,
                 max_repeats: int = 3, barren_streak: int | None = None, deep_collapse: int = 6,
                 on_trap: Callable[[Trap], None] | None = None,
                 on_refused: Callable[[Trap, str], None] | None = None):
        self.budget = budget
        self.max_depth = max_depth
        self.max_url_length = max_url_length
        self.max_repeats = max_repeats
        self.barren_streak = barren_streak or 2 * budget
        self.deep_collapse = deep_collapse
        self.on_trap = on_trap
        self.on_refused = on_refused
        self.traps: dict[str, Trap] = {}
        self.families: dict[str, _Family] = {}
        self.refused = 0                       # distinct URLs refused
        self._shapes: dict[str, _Shape] = {}
        self._followed: set[str] = set()       # canonical URLs allowed
        self._pending: dict[str, _Shape] = {}  # allowed, outcome not known yet
        self._novel: dict[str, int] = {}       # parsed page -> new links of other families
        self._refused: set[str] = set()
        self._bare: set[str] = set()           # followed URLs without their session ids
        self._links: set[str] = set()          # every link seen on a page (raw and canonical)

    # -- classification ------------------------------------------------------------
    def _classify(self, key: str) -> tuple[_Family, _Shape, str, list[str]]:
        host, segs, slash, query = _split(key)
        fam_key = _family(host, segs, slash, self.deep_collapse)
        q = _query_shape(query)
        shape_key = fam_key + (f"?{q}" if q else "")
        fam = self.families.get(fam_key)
        if fam is None:
            fam = self.families[fam_key] = _Family(fam_key)
        shape = self._shapes.get(shape_key)
        if shape is None:
            shape = self._shapes[shape_key] = fam.shapes[shape_key] = _Shape(shape_key, fam_key)
        return fam, shape, host, segs

    def _structural(self, key: str, host: str, segs: list[str]) -> tuple[str, str] | None:
        """(kind, reason) when the URL itself gives the trap away."""
        if len(key) > self.max_url_length:
            return "url-too-long", f"URL longer than {self.max_url_length} characters"
        if len(segs) > self.max_depth:
            return "path-too-deep", f"path deeper than {self.max_depth} segments"
        low = [s.lower() for s in segs]
        for size in range(1, 5):
            for start in range(0, len(low) - size * self.max_repeats + 1):
                block = low[start:start + size]
                if all(low[start + i * size:start + (i + 1) * size] == block for i in range(self.max_repeats)):
                    return "repeated-segments", f"path segments repeat (/{'/'.join(block)} {self.max_repeats} times)"
        counts: dict[str, int] = {}
        for s in low:
            if not s.isdigit():
                counts[s] = counts.get(s, 0) + 1
                if counts[s] >= self.max_repeats:
                    return "repeated-segments", f"path segment {s!r} {self.max_repeats} times"
        parts = urlsplit(key)
        session = _PATH_SESSION.search(parts.path) or any(SESSION_PARAMS.match(k) for k, _ in
                                                          parse_qsl(parts.query, keep_blank_values=True))
        if session and self._bare_form(key) in self._bare:
            return "session-id", "a session-id variant of a URL already followed"
        return None

    @staticmethod
    def _bare_form(key: str) -> str:
        parts = urlsplit(key)
        query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query, keep_blank_values=True)
                         if not SESSION_PARAMS.match(k))
        return f"{parts.netloc}{_PATH_SESSION.sub('', parts.path)}?{query}"

    def _would_refuse(self, key: str) -> bool:
        if key in self._refused:
            return True
        fam, shape, host, segs = self._classify(key)
        if self._structural(key, host, segs):
            return True
        return bool(shape.trap or (fam.trap and not shape.productive))

    # -- decisions -------------------------------------------------------------------
    def should_follow(self, url: str) -> tuple[bool, str]:
        """Whether to request ``url`` now; a yes counts one request of its shape.

        A no says why: a trap's reason, or ``held: ...`` for a URL whose shape
        is on probation (``page``/``outcome``/``finish`` settle it later)."""
        key = canonicalize(url)
        if key in self._followed:
            return True, "followed already"
        fam, shape, host, segs = self._classify(key)
        if key in self._refused:
            trap = shape.trap or fam.trap
            return False, trap.reason if trap else "refused"
        if found := self._structural(key, host, segs):
            kind, reason = found
            trap_key = f"{host} {kind}"
            trap = self.traps.get(trap_key)
            if trap is None:
                trap = self._declare(Trap(trap_key, _slug(f"{host}-{kind}"), kind, reason, example=url))
            self._refuse(trap, key, url)
            return False, reason
        trap = shape.trap or (fam.trap if not shape.productive else None)
        if trap:
            self._refuse(trap, key, url)
            return False, trap.reason
        if not shape.productive:
            spent = sum(s.requests for s in fam.unproven())
            if spent >= self.budget:
                fam.held.setdefault(key, (shape.key, url))
                return False, (f"{HELD}: {spent} requests of {fam.key} without an article yet; "
                               "waiting for their outcome")
        shape.requests += 1
        shape.inflight += 1
        self._followed.add(key)
        self._pending[key] = shape
        self._bare.add(self._bare_form(key))
        self._links.add(key)
        return True, ""

    def page(self, url: str, links, *, article: bool | None = None) -> list[str]:
        """A page was parsed: ``links`` are its followable links.  ``article=False``: a listing page,
        settled now; ``None``: its article outcome comes later (``outcome``).  Returns held URLs
        released by it (their shape proved itself)."""
        key = canonicalize(url)
        fam, shape, _, _ = self._classify(key)
        self._links.add(key)
        novel = same = 0
        for link in links:
            if link in self._links:
                continue
            lkey = canonicalize(link)
            known = lkey in self._links
            self._links.update((link, lkey))
            if known:
                continue
            if self._would_refuse(lkey):
                continue
            if self._classify(lkey)[0] is fam:
                same += 1
            else:
                novel += 1
        shape.pages += 1
        shape.same_links += same
        self._novel[key] = self._novel.get(key, 0) + novel
        if article is None and key in self._pending:
            return []
        return self._settle(key, shape, bool(article) or novel > 0)

    def outcome(self, url: str, article: bool) -> list[str]:
        """The article outcome of a followed page (stored, unchanged, duplicate, off-topic: an
        article; no text, not HTML, an error: none).  Returns held URLs it released."""
        key = canonicalize(url)
        shape = self._pending.get(key)
        if shape is None:
            return []
        return self._settle(key, shape, article or self._novel.get(key, 0) > 0)

    def finish(self) -> list[str]:
        """The crawl ran dry: every family still holding URLs is settled (released when its shape
        proved itself meanwhile, else declared a trap).  Returns the URLs released."""
        released = []
        for fam in list(self.families.values()):
            if not fam.held:
                continue
            released += self._release(fam)
            if fam.held:
                self._family_trap(fam)
        return released

    # -- bookkeeping -----------------------------------------------------------------
    def _settle(self, key: str, shape: _Shape, productive: bool) -> list[str]:
        if self._pending.pop(key, None) is not None:
            shape.inflight -= 1
        fam = self.families[shape.family]
        if productive:
            shape.productive += 1
            shape.streak = 0
            return self._release(fam)
        shape.barren += 1
        shape.streak += 1
        if shape.productive and not shape.trap and shape.streak >= self.barren_streak:
            shape.trap = self._declare(Trap(
                shape.key, _slug(shape.key), "streak",
                f"the last {shape.streak} pages of {shape.key} yielded no article and nothing new",
                requests=shape.streak, example=key))
        unproven = fam.unproven()
        if (not fam.trap and unproven and sum(s.requests for s in unproven) >= self.budget
                and not any(s.inflight for s in unproven)):
            self._family_trap(fam, example=key)
        return []

    def _release(self, fam: _Family) -> list[str]:
        keys = [key for key, (skey, _) in fam.held.items() if self._shapes[skey].productive]
        return [fam.held.pop(key)[1] for key in keys]

    def _family_trap(self, fam: _Family, example: str = "") -> None:
        unproven = fam.unproven()
        requests = sum(s.requests for s in unproven)
        pages = sum(s.pages for s in unproven)
        same = sum(s.same_links for s in unproven)
        shapes = ", ".join(sorted(s.key[len(fam.key):] or "(no query)" for s in unproven if s.requests))
        per_page = f"; {same / pages:.1f} new links of their own kind per page" if pages else ""
        trap = fam.trap = self._declare(Trap(
            fam.key, _slug(fam.key), "shape",
            f"{requests} requests of {fam.key} [{shapes}] yielded no article and led only to more of "
            f"their kind{per_page}", requests=requests,
            example=example or next((url for _, url in fam.held.values()), "")))
        for key in list(fam.held):
            self._refuse(trap, key, fam.held.pop(key)[1])

    def _declare(self, trap: Trap) -> Trap:
        self.traps[trap.key] = trap
        if self.on_trap:
            self.on_trap(trap)
        return trap

    def _refuse(self, trap: Trap, key: str, url: str) -> None:
        if key in self._refused:
            return
        self._refused.add(key)
        self.refused += 1
        trap.refused += 1
        if self.on_refused:
            self.on_refused(trap, url)

    # -- reporting -------------------------------------------------------------------
    def held(self) -> int:
        """URLs held right now."""
        return sum(len(f.held) for f in self.families.values())

    def shape_stats(self, url: str) -> dict:
        """Counters of the shape of ``url`` (for tests and logs)."""
        fam, shape, _, _ = self._classify(canonicalize(url))
        return {"shape": shape.key, "family": fam.key, "requests": shape.requests, "inflight": shape.inflight,
                "productive": shape.productive, "barren": shape.barren, "held": len(fam.held),
                "trapped": bool(shape.trap or (fam.trap and not shape.productive))}
