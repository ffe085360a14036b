"""A test-only web site full of crawl traps, generated on the fly on 127.0.0.1.

Static files cannot hold an endless calendar, so this tiny ``http.server``
makes the pages up per request and logs every path it was asked for.

Real content (all should be stored):
  ``/2024/07/DD/<slug>/``   4 date-based articles linked from the home page
  ``/news/``                a section linking 14 articles ``/news/NNNN`` (one URL shape)
  ``/page/N/``              listing pagination, N = 2..13, each page linking ``/stories/story-N/``
Traps (none yields an article):
  ``/calendar/YYYY-MM/``    endless: prev/next month and ``?view=week`` / ``?view=day`` of itself (the
                            ``/calendar/YYYY/MM/`` shape is refused by address, a date archive of
                            registry.DEFAULT_EXCLUDE, before any request: this one reaches the detector)
  ``/events/?page=N``       endless pagination without a single item
  ``/shop/?sid=HEX``        a new session id in every link
  ``/docs/a/b/``            a relative link ``a/b/`` on every docs page: /docs/a/b/a/b/...
"""

from __future__ import annotations

import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DATE_ARTICLES = [
    ("2024/07/25", "lavrov-arrives-in-vientiane-for-asean-meetings"),
    ("2024/07/26", "russia-and-laos-sign-energy-memorandum"),
    ("2024/07/27", "asean-ministers-hear-moscow-on-myanmar"),
    ("2024/07/28", "russian-grain-deliveries-to-indonesia-rise"),
]
NEWS_IDS = list(range(1001, 1015))        # 14 articles of one shape on one section page
STORY_PAGES = list(range(2, 14))          # /page/2/ .. /page/13/: 12 listing pages, one story each
TOPIC = ("ASEAN Russia Moscow Vientiane Hanoi Jakarta Bangkok Manila Kuala Lumpur Naypyidaw Lavrov Putin "
         "Kremlin trade energy grain fertiliser nuclear Rosatom summit ministers delegation partnership "
         "cooperation talks agreement investment security dialogue Southeast Asia ports tourism exports "
         "pipeline wheat rice palm oil arms frigates bank payments rouble ringgit dong baht rupiah").split()
TRAPS = ("calendar", "events", "shop", "docs")


def article_text(key: str, paragraphs: int = 5) -> list[str]:
    """Distinct, article-like paragraphs about ASEAN and Russia (deterministic per key)."""
    rng = random.Random(key)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(4):
            words = [rng.choice(TOPIC) for _ in range(rng.randint(9, 15))]
            sentences.append(" ".join(["The", *words]).rstrip() + ".")
        out.append(" ".join(sentences))
    return out


def nav(traps=TRAPS) -> str:
    links = '<a href="/">Home</a> <a href="/news/">News</a> <a href="/about/">About</a>'
    if "calendar" in traps:
        links += ' <a href="/calendar/2024-07/">Calendar</a> <a href="/calendar/2024/07/">Archive</a>'
    if "events" in traps:
        links += ' <a href="/events/">Events</a>'
    return f"<nav>{links}</nav>"


def _page(title: str, body: str, *, article: bool = False, traps=TRAPS) -> bytes:
    head = f"<title>{title}</title>"
    if article:
        head += '<meta property="og:type" content="article">'
    return (f"<!doctype html><html><head><meta charset=utf-8>{head}</head><body>{nav(traps)}"
            f"<main>{body}</main><footer><a href='/about/'>About us</a></footer></body></html>").encode()


def _article_page(title: str, key: str, extra: str = "", traps=TRAPS) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in article_text(key))
    return _page(title, f"<article><h1>{title}</h1><p class=byline>By Staff, July 28, 2024</p>{paras}"
                       f"</article>{extra}", article=True, traps=traps)


def month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


class TrapSite:
    """``with TrapSite() as site:`` serves on ``site.url``; ``site.paths`` logs every request."""

    def __init__(self, traps=TRAPS):
        self.traps = tuple(traps)
        self.paths: list[str] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with site.lock:
                    site.paths.append(self.path)
                status, body = site.render(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def hits(self, prefix: str) -> list[str]:
        return [p for p in self.paths if p.startswith(prefix)]

    # -- pages -----------------------------------------------------------------------
    def render(self, raw: str) -> tuple[int, bytes]:
        traps = self.traps

        def page(title, body, article=False):
            return _page(title, body, article=article, traps=traps)

        def article_page(title, key, extra=""):
            return _article_page(title, key, extra, traps=traps)

        parts = urlsplit(raw)
        path, query = parts.path, parse_qs(parts.query)
        segs = [s for s in path.split("/") if s]
        if path == "/":
            links = "".join(f'<li><a href="/{d}/{s}/">{s.replace("-", " ")}</a></li>' for d, s in DATE_ARTICLES)
            return 200, page("Trap site", f"<h1>Latest</h1><ul>{links}</ul>"
                                          '<a href="/page/2/">Older stories</a> '
                                          + (f'<a href="/shop/?sid={random.getrandbits(64):016x}">Shop</a> '
                                             if "shop" in traps else "")
                                          + ('<a href="/docs/">Docs</a>' if "docs" in traps else ""))
        if path == "/about/":
            return 200, page("About", "<p>A small test site.</p>")
        for d, s in DATE_ARTICLES:
            if path == f"/{d}/{s}/":
                return 200, article_page(s.replace("-", " ").capitalize(), s)
        if path == "/news/":
            links = "".join(f'<li><a href="/news/{n}">Story {n}</a></li>' for n in NEWS_IDS)
            return 200, page("News", f"<h1>News</h1><ul>{links}</ul>")
        if len(segs) == 2 and segs[0] == "news" and segs[1].isdigit() and int(segs[1]) in NEWS_IDS:
            n = int(segs[1])
            related = f'<aside><a href="/news/{NEWS_IDS[(n - 1001 + 1) % len(NEWS_IDS)]}">Related</a></aside>'
            return 200, article_page(f"News story {n} on ASEAN and Russia", f"news-{n}", related)
        if len(segs) == 2 and segs[0] == "page" and segs[1].isdigit() and int(segs[1]) in STORY_PAGES:
            n = int(segs[1])
            nxt = f'<a href="/page/{n + 1}/">Older</a>' if n + 1 in STORY_PAGES else ""
            return 200, page(f"Stories, page {n}",
                             f'<ul><li><a href="/stories/story-{n}/">Story {n}</a></li></ul>'
                             f'<a href="{"/" if n == 2 else f"/page/{n - 1}/"}">Newer</a> {nxt}')
        if len(segs) == 2 and segs[0] == "stories" and segs[1].startswith("story-"):
            n = segs[1][6:]
            if n.isdigit() and int(n) in STORY_PAGES:
                return 200, article_page(f"Story {n}: Russia and ASEAN", f"story-{n}")
        if len(segs) == 2 and segs[0] == "calendar" and re.fullmatch(r"\d{4}-\d\d", segs[1]):
            year, month = int(segs[1][:4]), int(segs[1][5:])
            view = (query.get("view") or ["month"])[0]
            q = "" if view == "month" else f"?view={view}"
            (py, pm), (ny, nm) = month_add(year, month, -1), month_add(year, month, 1)
            here = f"/calendar/{year}-{month:02d}/"
            return 200, page(f"Calendar {year}-{month:02d} ({view})",
                             f"<h1>Events in {year}-{month:02d}</h1><p>No events.</p>"
                             f'<a href="/calendar/{py}-{pm:02d}/{q}">Previous</a> '
                             f'<a href="/calendar/{ny}-{nm:02d}/{q}">Next</a> '
                             f'<a href="{here}">Month</a> <a href="{here}?view=week">Week</a> '
                             f'<a href="{here}?view=day">Day</a>')
        if path == "/events/":
            n = int((query.get("page") or ["1"])[0])
            return 200, page(f"Events, page {n}", f'<p>No upcoming events.</p><a href="/events/?page={n + 1}">More</a>')
        if segs[:1] == ["shop"]:
            sid = f"{random.getrandbits(64):016x}"
            return 200, page("Shop", f'<p>Nothing for sale.</p><a href="/shop/?sid={sid}">Shop</a> '
                                     f'<a href="/shop/cart/?sid={sid}">Cart</a>')
        if segs[:1] == ["docs"]:
            return 200, page("Docs", '<p>Read the guide.</p><a href="a/b/">Guide</a>')
        return 404, page("Not found", "<p>Not found.</p>")
