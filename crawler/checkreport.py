"""What ``corpus check`` found: probe results in, table, JSON, problems and verdict out.

Pure: no Scrapy, no network, no store.  ``crawler/spiders/check.py`` fills
one ``OutletCheck`` per outlet (a ``Route`` per robots.txt, sitemap, feed and
listing it probed, a ``Sample`` per article it fetched and extracted); this
module says, in plain words, what is broken and whether each outlet still
yields articles:

- an outlet is **broken** when no route gives an article URL, or (with
  samples asked for) none of its sample articles extracts any text;
- a route that fails (HTTP error, unreachable, not a sitemap/feed, empty,
  no URL matching the outlet's article patterns) is a problem even when
  another route of the outlet still works, but only broken outlets fail the
  check (exit status ``exitcodes.DISCOVERY``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from crawler import exitcodes
from pipelines.crawl.state import parse_time

ROUTE_KINDS = ("robots", "sitemap", "news-sitemap", "feed", "listing")
COLUMNS = ("outlet", "kind", "url", "status", "entries", "articles", "newest")
SAMPLE_COLUMNS = ("outlet", "url", "status", "date", "words", "topic", "title")


@dataclass
class Route:
    """One discovery route probed: a robots.txt, a sitemap (or news sitemap), a feed or a listing page."""

    outlet: str
    kind: str                      # one of ROUTE_KINDS
    url: str
    via: str | None = None         # "robots.txt", or the sitemap index it was listed in; None: the registry
    status: int | None = None      # HTTP status of the answer (None: no answer)
    error: str | None = None       # why it failed: "HTTP 404", "DNS lookup failed", "not a feed (an HTML page)"
    final_url: str | None = None   # where a redirect led
    entries: int | None = None     # robots: Sitemap lines; sitemap: URLs or sub-sitemaps; feed: items;
                                   # listing: links to the outlet's own site
    articles: int | None = None    # how many of those pass the outlet's article patterns
    newest: str | None = None      # newest date seen (lastmod, news publication_date, pubDate), ISO 8601
    index: bool = False            # a sitemap index (its entries are sitemaps)
    sitemaps: list[str] = field(default_factory=list)  # robots.txt: its Sitemap lines
    refused: list[str] = field(default_factory=list)   # the first URLs it lists that are not http(s): never requested
    refused_count: int = 0                              # ... and how many there are

    @property
    def label(self) -> str:
        """The route kind as the table shows it."""
        if self.kind == "robots":
            return "robots.txt"
        name = f"{self.kind} index" if self.index else self.kind
        if self.via == "robots.txt":
            return f"{name} (robots.txt)"
        if self.via:
            return f"{name} (index)"
        return name

    def to_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


@dataclass
class Sample:
    """One sample article fetched and extracted."""

    outlet: str
    url: str
    date: str | None = None         # the date its route announced (lastmod, publication_date, pubDate)
    status: int | None = None
    error: str | None = None        # it could not be fetched, or is not an HTML page
    no_text: str | None = None      # the extractor found no article text: its reason (no-article-text, too-short)
    title: str | None = None
    published: str | None = None    # the date the page itself gives
    words: int = 0
    topic: float | None = None      # topic score (pipelines.topic.score)
    relevant: bool | None = None
    topic_reason: str | None = None

    @property
    def extracted(self) -> bool:
        return self.error is None and self.no_text is None and self.words > 0

    def to_dict(self) -> dict:
        return {**asdict(self), "extracted": self.extracted}


@dataclass
class OutletCheck:
    """Everything probed for one outlet."""

    name: str
    routes: list[Route] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    article_urls: int = 0           # distinct article URLs found over all routes

    def add(self, kind: str, url: str, via: str | None = None) -> Route:
        route = Route(self.name, kind, url, via)
        self.routes.append(route)
        return route


# -- dates and samples ---------------------------------------------------------------------------------
def newest(dates) -> str | None:
    """The newest of ``dates`` (ISO 8601 or RFC 2822 strings; unparseable ones ignored), as ISO 8601."""
    best = None
    for value in dates:
        when = parse_time(value)
        if when is not None and (best is None or when > best):
            best = when
    return best.isoformat() if best else None


def pick_samples(candidates: dict[str, str | None], n: int) -> list[tuple[str, str | None]]:
    """Up to ``n`` of ``candidates`` (URL -> announced date, in the order found), newest first;
    undated URLs after the dated ones, in the order found."""
    order = {url: i for i, url in enumerate(candidates)}
    dated = [(parse_time(d), url) for url, d in candidates.items() if parse_time(d)]
    undated = [url for url, d in candidates.items() if not parse_time(d)]
    dated.sort(key=lambda pair: (-pair[0].timestamp(), order[pair[1]]))
    chosen = [url for _, url in dated] + undated
    return [(url, candidates[url]) for url in chosen[:max(n, 0)]]


# -- problems and verdict --------------------------------------------------------------------------------
def route_problem(route: Route, check: OutletCheck | None = None) -> str | None:
    """What is wrong with one route, in plain words (None: nothing).  With ``check`` (the outlet's
    other routes), a sitemap index is judged by the sub-sitemaps followed from it: one sub-sitemap
    without articles (pages, categories) is normal, all of them without is not."""
    where = f"{route.outlet}: {route.label} {route.url}"
    if route.kind == "robots":
        if route.error and not (route.status and 400 <= route.status < 500):
            return f"{where} {route.error}"  # 5xx or unreachable: nothing of the host is crawled
        return None                           # 4xx: no robots.txt, everything allowed
    if route.error:
        return f"{where} {route.error}"
    if route.entries is None:
        return f"{where} got no answer"
    if route.kind == "listing":
        if not route.entries:
            return f"{where} has no links to the site"
        if not route.articles:
            return f"{route.outlet}: {route.entries} listing links, none match the article patterns ({route.url})"
        return None
    if not route.entries:
        return f"{where} has 0 entries"
    if route.index:
        subs = [r for r in (check.routes if check else ()) if r.via == route.url]
        if subs and all(r.entries is not None and not r.index and not r.articles for r in subs):
            return (f"{where}: none of the {len(subs)} sitemap{'s' if len(subs) != 1 else ''} followed from it "
                    "lists a URL matching the article patterns")
        return None  # its sub-sitemaps are routes of their own
    if route.via and route.via != "robots.txt":
        return None  # a sub-sitemap of an index: judged with its index
    if not route.articles:
        return f"{where}: {route.entries} entries, none match the article patterns"
    return None


def refused_problem(route: Route) -> str | None:
    """A route listing URLs of another scheme than http(s) (``file:``, ``ftp:``...), which are never requested."""
    if not route.refused_count:
        return None
    more = " ..." if route.refused_count > len(route.refused) else ""
    many = route.refused_count != 1
    return (f"{route.outlet}: {route.label} {route.url} lists {route.refused_count} URL"
            f"{'s that are' if many else ' that is'} not http(s), not requested "
            f"(only http and https are fetched): {', '.join(route.refused)}{more}")


def sample_problem(sample: Sample) -> str | None:
    where = f"{sample.outlet}: sample article {sample.url}"
    if sample.error:
        return f"{where} {sample.error}"
    if not sample.extracted:
        return f"{where} extracted no text ({sample.no_text or 'empty'})"
    return None


def outlet_problems(check: OutletCheck, samples_wanted: int) -> tuple[bool, list[str]]:
    """(broken, problems) of one outlet: broken when it yields no article."""
    problems = [p for p in (route_problem(r, check) for r in check.routes) if p]
    problems += [p for p in map(refused_problem, check.routes) if p]
    problems += [p for p in map(sample_problem, check.samples) if p]
    routes = [r for r in check.routes if r.kind != "robots"]
    broken = False
    if not routes:
        broken = True
        problems.append(f"{check.name}: no discovery route (no sitemap, feed or listing, and robots.txt "
                        "names no sitemap)")
    elif not check.article_urls:
        broken = True
        problems.append(f"{check.name}: no route gives an article URL")
    elif samples_wanted > 0 and not any(s.extracted for s in check.samples):
        broken = True
        tried = len(check.samples)
        problems.append(f"{check.name}: none of {tried} sample article{'s' if tried != 1 else ''} extracted any text"
                        if tried else f"{check.name}: no sample article was fetched")
    return broken, problems


def assess(checks: list[OutletCheck], samples_wanted: int, *, finish_reason: str | None = "finished",
           interrupted_by: str | None = None) -> dict:
    """The verdict: ``exit_code``, one-line ``reason``, ``broken`` outlets and every ``problem``."""
    problems: list[str] = []
    broken: list[str] = []
    for check in checks:
        bad, found = outlet_problems(check, samples_wanted)
        problems += found
        if bad:
            broken.append(check.name)
    codes = []
    reason = "ok"
    if interrupted_by or (finish_reason or "") != "finished":
        by = f" by {interrupted_by}" if interrupted_by else ""
        codes.append(exitcodes.INTERRUPTED)
        reason = f"the check was interrupted{by} (finish_reason {finish_reason})"
    if broken:
        codes.append(exitcodes.DISCOVERY)
        if not codes[:-1]:
            reason = (f"{len(broken)} of {len(checks)} outlet{'s' if len(checks) != 1 else ''} yield no article: "
                      + ", ".join(broken))
    code = exitcodes.worst(codes)
    return {"exit_code": code, "exit_name": exitcodes.NAMES.get(code, "?"), "reason": reason,
            "checked": [c.name for c in checks], "broken": broken, "problems": problems,
            "samples_wanted": samples_wanted}


# -- output ----------------------------------------------------------------------------------------------
def _day(value: str | None) -> str:
    return value[:10] if value else "-"


def _num(value) -> str:
    return "-" if value is None else str(value)


def _short(error: str) -> str:
    """An error as a table cell: "is not a feed (an HTML page)" -> "not a feed"."""
    text = error[3:] if error.startswith("is ") else error
    return text.split(" (")[0]


def _status(status: int | None, error: str | None) -> str:
    if status is None:
        return _short(error) if error else "-"
    if error and not error.startswith("HTTP "):
        return f"{status} {_short(error)}"
    return str(status)


def route_row(route: Route) -> list[str]:
    url = route.url if not route.final_url else f"{route.url} -> {route.final_url}"
    articles = "-" if route.kind == "robots" or route.index else _num(route.articles)
    return [route.outlet, route.label, url, _status(route.status, route.error), _num(route.entries), articles,
            _day(route.newest)]


def sample_row(sample: Sample) -> list[str]:
    topic = "-" if sample.topic is None else f"{sample.topic:.2f}" + ("" if sample.relevant else " off-topic")
    if sample.extracted:
        title = sample.title or "(no title)"
    elif sample.error:
        title = f"({_short(sample.error)})"
    else:
        title = f"(no text: {sample.no_text or 'empty'})"
    return [sample.outlet, sample.url, _status(sample.status, sample.error), _day(sample.published or sample.date),
            str(sample.words) if sample.extracted else "-", topic, title]


def _grid(heads, rows) -> list[str]:
    widths = [max(len(row[i]) for row in [heads, *rows]) for i in range(len(heads))]
    numeric = {"entries", "articles", "words"}

    def fmt(row):
        cells = [cell.rjust(w) if heads[i] in numeric else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return [fmt(heads), "  ".join("-" * w for w in widths), *map(fmt, rows)]


def table(checks: list[OutletCheck], verdict: dict) -> str:
    """The routes table, the samples table, the problems and a one-line summary."""
    lines = _grid(list(COLUMNS), [route_row(r) for c in checks for r in c.routes])
    samples = [sample_row(s) for c in checks for s in c.samples]
    if samples:
        lines += ["", "samples"] + _grid(list(SAMPLE_COLUMNS), samples)
    if verdict["problems"]:
        lines += ["", "problems"] + [f"  {p}" for p in verdict["problems"]]
    n, broken = len(checks), verdict["broken"]
    lines += ["", f"{n} outlet{'s' if n != 1 else ''} checked: {n - len(broken)} yield articles"
              + (f", {len(broken)} yield none ({', '.join(broken)})" if broken else "")]
    return "\n".join(lines)


def as_json(checks: list[OutletCheck], verdict: dict) -> dict:
    """The same as the table, as JSON-able data."""
    broken = set(verdict["broken"])
    outlets = []
    for check in checks:
        _, problems = outlet_problems(check, verdict["samples_wanted"])
        outlets.append({"outlet": check.name, "ok": check.name not in broken, "article_urls": check.article_urls,
                        "routes": [r.to_dict() for r in check.routes],
                        "samples": [s.to_dict() for s in check.samples], "problems": problems})
    return {**verdict, "outlets": outlets}
