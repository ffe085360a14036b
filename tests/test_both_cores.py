"""Both cores (issue 11): the topic score computed in the extraction workers, a crawl with workers storing
what a crawl without them stores, and ``corpus reextract`` on the crawl's extraction pool (its budgets).

Pages are the bundled replay web's, served on 127.0.0.1 only; the pathological page runs in a worker
under a small budget of time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipelines.corpus.layout import Corpus
from pipelines.extract.topic import load_config, score
from pipelines.extract.workers import BUDGET, ExtractPool
from pipelines.store import open_store
from tests.test_budget import article, nested

REPLAY = Path(__file__).resolve().parents[1] / "crawler" / "replay" / "web"
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
GiB = 2**30
# what a record is made of, not when it was written
SAME = ("id", "url", "title", "published", "text_sha256", "language", "word_count", "topic", "duplicate_of",
        "also_at", "canonical_url", "outlet")


def replay_pages(limit: int = 12) -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(REPLAY.rglob("*")):
        if path.is_file() and path.suffix in ("", ".html") and not path.name.startswith((".", "robots")):
            body = path.read_bytes()
            if b"<p" in body and (b"<html" in body[:2000].lower() or b"<!doctype" in body[:200].lower()):
                out.append(("http://" + path.relative_to(REPLAY).as_posix(), body))
    return out[:limit]


def test_topic_score_in_the_workers_equals_the_crawl_process_one():
    cfg = load_config(None)
    pages = replay_pages() + [("http://127.0.0.1/asean", article("asean"))]
    with ExtractPool(2) as pool, ExtractPool(0) as inline:
        pooled = [pool.submit(body, url, None, 40, True, "") for url, body in pages]
        here = [inline.submit(body, url, None, 40, True, "") for url, body in pages]
        unscored = pool.submit(pages[-1][1], pages[-1][0]).result(timeout=120)
        pooled, here = [f.result(timeout=120) for f in pooled], [f.result(timeout=120) for f in here]
    documents = 0
    for (url, _), a, b in zip(pages, pooled, here):
        assert (a.document is None) == (b.document is None), url
        if a.document is None:
            assert a.topic is None and b.topic is None
            continue
        documents += 1
        expected = score(a.document.title, a.document.text, cfg).to_dict()
        assert a.topic == expected == b.topic, url
    assert documents >= 4
    assert any(r.topic and r.topic["relevant"] for r in pooled) and any(r.topic and not r.topic["relevant"]
                                                                        for r in pooled)
    assert unscored.document is not None and unscored.topic is None  # no terms asked: no score


def _records(store) -> dict[str, dict]:
    return {r["id"]: {k: r.get(k) for k in SAME} for r in Corpus(open_store(store)).iter_records()}


def test_crawl_with_two_workers_stores_the_records_of_a_crawl_without(replay, corpus_cmd, tmp_path):
    stores = {}
    for workers in (0, 2):
        store = tmp_path / f"store{workers}"
        res = corpus_cmd("crawl", "--replay", replay.url, "--store", store, *FAST, "-s",
                         f"CORPUS_EXTRACT_WORKERS={workers}", "rsis", "russia-direct", timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr[-3000:]
        stores[workers] = _records(store)
    assert len(stores[0]) >= 3
    assert stores[2] == stores[0]
    assert all(r["topic"] and "relevant" in r["topic"] for r in stores[2].values())


def _archive(store, pages) -> None:
    from pipelines.archive.writer import WarcArchive

    archive = WarcArchive(store, run_id="test", info={"software": "tests/test_both_cores.py"})
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n, (url, body) in enumerate(pages):
        capture = {"url": url, "method": "GET", "protocol": "HTTP/1.1", "status": 200, "reason": None,
                   "request_headers": [("User-Agent", "test")],
                   "response_headers": [("Content-Type", "text/html; charset=utf-8"),
                                        ("Content-Length", str(len(body)))],
                   "body": body, "ip": None, "replayed": False}
        archive.append(capture, fetched_at=(when + timedelta(seconds=n)).isoformat(), meta={"keep_off_topic": True})
    archive.close()


def test_reextract_in_the_pool_stores_what_extraction_in_process_stores(tmp_path):
    from pipelines.archive.reextract import reextract
    from pipelines.extract.extractor import try_extract

    pages = replay_pages(10) + [("http://127.0.0.1/asean", article("asean"))]
    reports = {}
    for how in ("pool", "in-process"):
        store = open_store(tmp_path / how)
        _archive(store, pages)
        kwargs = {"workers": 2} if how == "pool" else {"workers": 1, "extract": try_extract}
        reports[how] = reextract(store, **kwargs)
    assert reports["pool"].outcomes["new"] >= 4 and not reports["pool"].errors
    assert reports["pool"].outcomes == reports["in-process"].outcomes
    assert reports["pool"].skipped == reports["in-process"].skipped
    assert _records(tmp_path / "pool") == _records(tmp_path / "in-process")


def test_reextract_keeps_the_crawls_budget_per_page(tmp_path):
    from pipelines.archive.reextract import reextract

    store = open_store(tmp_path / "store")
    _archive(store, [("http://127.0.0.1/a", article("a")), ("http://127.0.0.1/slow", nested(2)),
                     ("http://127.0.0.1/b", article("b"))])
    report = reextract(store, workers=1, pool_options={"timeout": 1, "max_memory": GiB, "max_elements": 0})
    assert report.outcomes["new"] == 2
    assert len(report.errors) == 1 and "/slow" in report.errors[0] and f"{BUDGET} (time 1 s)" in report.errors[0]
