"""Crawl traps: the pure detector on URL sequences, then `corpus crawl --site` on a site full of traps."""

from __future__ import annotations

import json
from collections import Counter, deque

import pytest

from pipelines.crawl.traps import HELD, TrapDetector, url_family, url_shape

SITE = "https://x.org"


# -- a tiny crawl loop over a synthetic link graph, as the spider drives the detector ----------
def simulate(detector, start, links, is_article, *, listing=lambda u: False, batch=1, limit=2000):
    """Breadth-first over ``links(url)``; ``batch`` pages are fetched before their outcomes come back
    (concurrency).  Returns the URLs fetched, in order."""
    queue, fetched, seen = deque([start]), [], {start}
    inflight = []

    def follow(urls):
        for u in urls:
            ok, _ = detector.should_follow(u)
            if ok:
                queue.append(u)

    while (queue or inflight) and len(fetched) < limit:
        while queue and len(inflight) < batch:
            url = queue.popleft()
            fetched.append(url)
            out = [u for u in links(url) if u not in seen]
            seen.update(out)
            if listing(url):
                follow(detector.page(url, out, article=False))
            else:
                detector.page(url, out)
            follow(out)
            inflight.append(url)
        url = inflight.pop(0)
        if not listing(url):
            follow(detector.outcome(url, is_article(url)))
        if not queue and not inflight:
            follow(detector.finish())
    return fetched


def calendar_links(url):
    path = url[len(SITE):].split("?")[0]
    if path == "/":
        return [f"{SITE}/calendar/2024/07/", f"{SITE}/about/"]
    if path.startswith("/calendar/"):
        y, m = (int(x) for x in path.strip("/").split("/")[1:3])
        n = y * 12 + m - 1
        prev, nxt = divmod(n - 1, 12), divmod(n + 1, 12)
        here = f"{SITE}/calendar/{y}/{m:02d}/"
        return [f"{SITE}/calendar/{prev[0]}/{prev[1] + 1:02d}/", f"{SITE}/calendar/{nxt[0]}/{nxt[1] + 1:02d}/",
                here, here + "?view=week", here + "?view=day", f"{SITE}/about/"]
    return []


# -- shapes ---------------------------------------------------------------------------------
def test_url_shapes_generalise_counters_and_group_families():
    assert url_shape("https://www.x.org/calendar/2024/07/?view=week") == "x.org/calendar/N/N/?view=week"
    assert url_family("https://x.org/calendar/2024/07/?view=day") == "x.org/calendar/N/N/"
    assert url_shape("http://x.org/news/12345?page=3&sid=0a1b2c3d4e5f6a7b") == "x.org/news/N?page=N"
    assert url_shape("https://x.org/2024/07/28/lavrov-in-vientiane/") == "x.org/N/N/N/lavrov-in-vientiane/"
    assert url_shape("https://x.org/item/5f3a9c1b2d7e/") == "x.org/item/H/"
    assert url_shape("https://x.org/story-12/") == url_shape("https://x.org/story-345/")
    assert url_family("https://x.org/a/b/c/d/e/f/g/") == "x.org/a/b/**"  # ever deeper: one family
    assert url_shape("https://x.org/?utm_source=rss") == "x.org/"


# -- traps ----------------------------------------------------------------------------------
def test_endless_calendar_stops_within_budget():
    traps, refused = [], []
    for batch in (1, 2, 4):
        det = TrapDetector(on_trap=traps.append, on_refused=lambda t, u: refused.append(u))
        traps.clear()
        fetched = simulate(det, f"{SITE}/", calendar_links, lambda u: False, batch=batch)
        calendar = [u for u in fetched if "/calendar/" in u]
        assert 1 <= len(calendar) <= 10, (batch, calendar)
        assert [t.key for t in traps] == ["x.org/calendar/N/N/"]
        assert traps[0].requests == len(calendar) and traps[0].kind == "shape"
        assert "yielded no article" in traps[0].reason and "?view=week" in traps[0].reason
        assert refused and det.held() == 0
    ok, why = det.should_follow(f"{SITE}/calendar/1999/01/?view=day")
    assert not ok and "calendar" in why


def test_page_n_listing_without_items_is_a_trap():
    def links(url):
        n = int(url.rsplit("=", 1)[1]) if "?page=" in url else 1
        return [f"{SITE}/events/?page={n + 1}", f"{SITE}/about/"]

    det = TrapDetector()
    fetched = simulate(det, f"{SITE}/events/", links, lambda u: False, listing=lambda u: "/events/" in u)
    assert sum("?page=" in u for u in fetched) <= 10
    assert det.traps and det.shape_stats(f"{SITE}/events/?page=99")["trapped"]


def test_repeated_segments_and_ever_deeper_paths():
    det = TrapDetector()
    assert det.should_follow(f"{SITE}/docs/a/b/")[0]
    assert det.should_follow(f"{SITE}/docs/a/b/a/b/")[0]
    ok, why = det.should_follow(f"{SITE}/docs/a/b/a/b/a/b/")
    assert not ok and "repeat" in why
    assert not det.should_follow(f"{SITE}/x/en/y/en/z/en/")[0]      # one segment three times
    assert det.should_follow(f"{SITE}/2022/02/02/slug/")[0]         # a date is not a repetition
    ok, why = det.should_follow(SITE + "".join(f"/s{i}" for i in range(13)))
    assert not ok and "deeper" in why
    ok, why = det.should_follow(f"{SITE}/search?q=" + "x" * 1100)
    assert not ok and "longer" in why
    kinds = {t.kind for t in det.traps.values()}
    assert kinds == {"repeated-segments", "path-too-deep", "url-too-long"}
    assert det.refused == 4

    # relative links that add a new name each time: /docs/p0/p1/p2/... one family past 6 segments
    def deeper(url):
        depth = url.count("/") - 3
        return [url + f"p{depth}/"]
    fetched = simulate(det, f"{SITE}/docs/", deeper, lambda u: False)
    assert len(fetched) <= 6 + 10


def test_session_ids_are_followed_once():
    det = TrapDetector()
    assert det.should_follow(f"{SITE}/shop/?sid=0a1b2c3d4e5f")[0]
    ok, why = det.should_follow(f"{SITE}/shop/?sid=99aa88bb77cc")
    assert not ok and "session" in why
    assert det.should_follow(f"{SITE}/shop/cart/?sid=99aa88bb77cc")[0]        # another page: once
    assert not det.should_follow(f"{SITE}/shop/cart/?sid=123456abcdef")[0]
    assert det.should_follow(f"{SITE}/app/;jsessionid=ABC123")[0]
    assert not det.should_follow(f"{SITE}/app/;jsessionid=DEF456")[0]
    assert det.should_follow(f"{SITE}/shop/?sid=0a1b2c3d4e5f")[0]             # the very same URL: yes


# -- what must not be blocked ---------------------------------------------------------------
def test_date_based_article_urls_are_not_blocked():
    articles = [f"{SITE}/2024/{m:02d}/{d:02d}/story-about-asean-{m}-{d}/" for m in range(1, 7) for d in range(1, 29)]

    def links(url):
        return articles if url == f"{SITE}/" else [f"{SITE}/", articles[0]]

    det = TrapDetector()
    for batch in (1, 8):
        det = TrapDetector()
        fetched = simulate(det, f"{SITE}/", links, lambda u: u in articles, batch=batch)
        assert set(articles) <= set(fetched) and not det.traps


def test_paginated_listing_that_yields_articles_is_followed_to_its_end():
    def links(url):
        if url == f"{SITE}/":
            return [f"{SITE}/page/2/"]
        if "/page/" in url:
            n = int(url.rstrip("/").rsplit("/", 1)[1])
            nxt = [f"{SITE}/page/{n + 1}/"] if n < 50 else []
            return [f"{SITE}/stories/story-{n}/", f"{SITE}/", *nxt]
        return [f"{SITE}/"]

    for batch in (1, 4):
        det = TrapDetector()
        fetched = simulate(det, f"{SITE}/", links, lambda u: "/stories/" in u,
                           listing=lambda u: "/page/" in u or u == f"{SITE}/", batch=batch)
        assert sum("/page/" in u for u in fetched) == 49
        assert sum("/stories/" in u for u in fetched) == 49
        assert not det.traps


def test_one_shape_linked_in_a_burst_is_held_then_released():
    det = TrapDetector()
    news = [f"{SITE}/news/{n}" for n in range(1001, 1031)]
    decisions = [det.should_follow(u) for u in news]
    assert [ok for ok, _ in decisions] == [True] * 10 + [False] * 20
    assert all(why.startswith(HELD) for _, why in decisions[10:]) and det.held() == 20
    released = det.outcome(news[0], True)          # the first one is an article: the shape is proven
    assert released == news[10:] and det.held() == 0
    assert all(det.should_follow(u)[0] for u in released)
    assert not det.traps and det.refused == 0


def test_one_shape_linked_in_a_burst_that_yields_nothing_is_refused():
    traps, refused = [], []
    det = TrapDetector(on_trap=traps.append, on_refused=lambda t, u: refused.append(u))
    tags = [f"{SITE}/tagged/{n}" for n in range(30)]
    allowed = [u for u in tags if det.should_follow(u)[0]]
    assert len(allowed) == 10
    for u in allowed[:-1]:
        assert det.outcome(u, False) == [] and not traps
    det.outcome(allowed[-1], False)                   # the budget is spent, all barren: a trap
    assert len(traps) == 1 and traps[0].requests == 10 and refused == tags[10:]
    assert det.refused == 20 and det.held() == 0


def test_a_proven_shape_that_goes_barren_forever_is_stopped():
    def links(url):
        return calendar_links(url)[:2] if "/calendar/" in url else calendar_links(url)

    months_with_events = {f"{SITE}/calendar/2024/{m:02d}/" for m in (6, 7, 8)}
    det = TrapDetector()
    fetched = simulate(det, f"{SITE}/", links, lambda u: u in months_with_events)
    assert 3 < sum("/calendar/" in u for u in fetched) <= 3 + 2 * det.barren_streak
    assert any(t.kind == "streak" for t in det.traps.values())


def test_finish_settles_what_is_still_held():
    det = TrapDetector(budget=3)
    urls = [f"{SITE}/list/{n}/" for n in range(6)]
    assert [det.should_follow(u)[0] for u in urls] == [True] * 3 + [False] * 3
    det.outcome(urls[0], False)                       # two requests never come back (errors)
    assert det.finish() == [] and det.held() == 0 and det.refused == 3
    assert list(det.traps) == ["x.org/list/N/"]


# -- the spider on a live test site ---------------------------------------------------------
@pytest.fixture
def trap_site():
    from trapsite import TrapSite

    with TrapSite() as site:
        yield site


def test_site_crawl_stops_in_every_trap_and_stores_every_article(trap_site, corpus_cmd, tmp_path):
    from trapsite import DATE_ARTICLES, NEWS_IDS, STORY_PAGES

    from pipelines.corpus.layout import Corpus
    from pipelines.store import open_store

    store = tmp_path / "store"
    res = corpus_cmd("crawl", "--site", trap_site.url, "--allow-private", "--any-topic", "--store", store,
                     "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", timeout=300)
    if res.returncode:  # a run may fail for reasons that are not about traps (exit codes of their own)
        print("exit status", res.returncode, res.stderr[-2000:])
    urls = {r["url"] for r in Corpus(open_store(store)).iter_records()}
    base = trap_site.url.rstrip("/")
    expected = ({f"{base}/{d}/{s}/" for d, s in DATE_ARTICLES} | {f"{base}/news/{n}" for n in NEWS_IDS}
                | {f"{base}/stories/story-{n}/" for n in STORY_PAGES})
    assert expected <= urls, sorted(expected - urls)
    hits = Counter(p.split("/")[1].split("?")[0] for p in trap_site.paths)
    assert hits["calendar"] <= 10, hits
    assert hits["events"] <= 10 + 1 and hits["shop"] <= 3 and hits["docs"] <= 3, hits
    assert trap_site.hits("/page/") and len(trap_site.hits("/page/")) == len(STORY_PAGES)
    run = json.loads(sorted((store / "corpus" / "runs").iterdir())[-1].read_text())
    stats = run["stats"]
    assert not trap_site.hits("/calendar/2024/07/")  # a date archive's shape: refused by address, never requested
    assert stats["corpus/traps/127-0-0-1-calendar-n-n"] == hits["calendar"]
    assert stats["corpus/traps/127-0-0-1-calendar-n-n/refused"] >= 1
    outlet = "corpus/outlet/127.0.0.1/"
    assert stats[outlet + "traps"] >= 4 and stats[outlet + "trap_requests"] >= hits["calendar"]
    assert stats[outlet + "trap_refused"] >= 4
    assert stats[outlet + "trap_held"] >= len(NEWS_IDS) - 10  # /news/N waited for its first article, then went
    assert "crawl trap" in res.stderr and "calendar" in res.stderr
