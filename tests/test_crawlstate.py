from datetime import datetime, timedelta, timezone

from pipelines.crawl.state import CrawlState, RecheckPolicy, parse_time
from pipelines.store import open_store

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


def iso(dt):
    return dt.isoformat()


def test_new_url_is_due_and_known_is_not_until_interval(tmp_path):
    state = CrawlState.load(open_store(tmp_path), run_id="r1")
    url = "https://www.x.org/a?utm_source=t"
    assert state.due(url) == (True, "new")
    state.mark(url, status="stored", published=iso(NOW - timedelta(days=400)), checked_at=iso(NOW))
    assert state.due("http://x.org/a", now=NOW + timedelta(days=1)) == (False, "not-due")
    assert state.due("http://x.org/a", now=NOW + timedelta(days=31)) == (True, "recheck-due")


def test_fresh_articles_are_rechecked_sooner():
    policy = RecheckPolicy()
    fresh = {"status": "stored", "published": iso(NOW - timedelta(hours=5))}
    old = {"status": "stored", "published": iso(NOW - timedelta(days=90))}
    assert policy.interval(fresh, NOW) < policy.interval(old, NOW)


def test_newer_lastmod_makes_a_known_url_due(tmp_path):
    state = CrawlState.load(open_store(tmp_path), run_id="r1")
    state.mark("https://x.org/a", status="stored", lastmod="2024-07-01", checked_at=iso(NOW))
    assert state.due("https://x.org/a", lastmod="2024-07-01", now=NOW)[0] is False
    assert state.due("https://x.org/a", lastmod="2024-08-01", now=NOW) == (True, "lastmod-changed")


def test_errors_back_off_and_reset_on_success(tmp_path):
    state = CrawlState.load(open_store(tmp_path), run_id="r1")
    for _ in range(3):
        entry = state.mark("https://x.org/e", status="error", checked_at=iso(NOW))
    assert entry["failures"] == 3
    assert state.policy.interval(entry, NOW) == timedelta(hours=4)
    assert state.mark("https://x.org/e", status="stored")["failures"] == 0


def test_journal_survives_without_compact_and_compact_folds_it(tmp_path):
    store = open_store(tmp_path)
    state = CrawlState.load(store, run_id="r1")
    state.mark("https://x.org/a", status="stored", id="1" * 16)
    state.flush()
    state.mark("https://x.org/b", status="off-topic")  # never flushed: lost like a kill -9 would
    again = CrawlState.load(store, run_id="r2")  # the crashed run's journal is merged
    assert again.get("https://x.org/a")["id"] == "1" * 16 and again.get("https://x.org/b") is None
    again.mark("https://x.org/c", status="skipped")
    again.compact()
    assert list(store.list("state/journal/")) == []
    final = CrawlState.load(store, run_id="r3")
    assert {e["url"] for e in final.urls.values()} == {"https://x.org/a", "https://x.org/c"}


def test_parse_time_forms():
    assert parse_time("2024-07-28") == datetime(2024, 7, 28, tzinfo=timezone.utc)
    assert parse_time("2024-07-28T09:00:00Z").hour == 9
    assert parse_time("Wed, 03 Aug 2022 10:00:00 +0000") == datetime(2022, 8, 3, 10, tzinfo=timezone.utc)
    assert parse_time("not a date") is None and parse_time(None) is None
    # a feed's odd date keeps its day; a date a user typed is read whole or not at all (a reviewer's
    # `--since 2024-01-01T25:00` ran as 2024-01-01)
    assert parse_time("2024-01-01T25:00") == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert parse_time("2024-01-01T25:00", strict=True) is None
    assert parse_time("2024-07-28T09:00:00Z", strict=True).hour == 9 and parse_time("2024-07-28", strict=True)


def test_a_state_that_could_not_be_read_never_overwrites_the_snapshot(tmp_path):
    """A store that failed when the run read its state and came back before the run's end: the run's
    state knows only what it marked, and its compact() must not write that over the snapshot (a reviewer's
    S3 outage left state/urls.json with 0 of 47 URLs, and the next crawl fetched everything in full)."""
    store = open_store(tmp_path)
    state = CrawlState(store, run_id="r1")
    for i in range(3):
        state.mark(f"https://x.org/{i}", status="stored", checked_at=iso(NOW))
    state.compact()
    partial = CrawlState(store, run_id="r2", partial=True)  # as the spider makes it when load() failed
    partial.mark("https://x.org/new", status="stored", checked_at=iso(NOW))
    partial.compact()
    after = CrawlState.load(store, run_id="r3")
    assert set(after.urls) == {f"https://x.org/{i}" for i in range(3)} | {"https://x.org/new"}


def test_the_spider_keeps_the_snapshot_when_the_store_failed_at_its_start(tmp_path, monkeypatch):
    """The spider's side: its state load fails with a store error (the store down at the start), the run
    marks a page, and at its close the store is back: the snapshot keeps every URL, the page is journalled."""
    from scrapy.utils.test import get_crawler

    from crawler.spiders.base import CorpusSpider
    from pipelines.store import StoreError

    store = open_store(tmp_path)
    state = CrawlState(store, run_id="r1")
    for i in range(3):
        state.mark(f"https://x.org/{i}", status="stored", checked_at=iso(NOW))
    state.compact()

    def down(cls, *a, **kw):
        raise StoreError("read state/urls.json: connection refused")

    crawler = get_crawler(CorpusSpider, {"CORPUS_STORE": str(tmp_path)})
    spider = CorpusSpider.from_crawler(crawler, name="t")
    with monkeypatch.context() as m:
        m.setattr(CrawlState, "load", classmethod(down))
        spider._open_state(spider)
    assert spider.state.partial and crawler.stats.get_value("corpus/store/error") == 1  # the run fails: exit 3
    spider._remember("https://x.org/new", "new", {"id": "n"})
    spider._close_state(spider, "finished")
    assert set(CrawlState.load(store, run_id="r4").urls) == {f"https://x.org/{i}" for i in range(3)} | {
        "https://x.org/new"}
