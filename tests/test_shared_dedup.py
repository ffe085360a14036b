"""Near-duplicate resolution shared by worker processes through Redis (pipelines/dedup/shared.py).

Eight processes race to ingest copies of the same three articles into one store (a local folder, moto's
S3 server): exactly one canonical record per article, every other copy linked to it, no text kept twice,
and records, story files and index the same as one process ingesting the pages in the order the lock
gave them. A holder killed with SIGKILL blocks the others no longer than its lease; a worker started
later, or one that was idle while another saved and trimmed the log, decides with everyone's documents.
Redis is Debian's redis-server on 127.0.0.1 (fixture ``redis_url``).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from pipelines.corpus.ingest import ingest
from pipelines.corpus.layout import Corpus
from pipelines.dedup.deduplicator import Deduplicator
from pipelines.dedup.shared import SharedDeduplicator
from pipelines.dedup.stories import STORIES
from pipelines.extract.extractor import Document
from pipelines.store import open_store

DOCS = Path(__file__).resolve().parent / "dedup_eval" / "docs"
REPO = Path(__file__).resolve().parent.parent
SYNDICATION = next((p for p in (REPO.parent / "shared" / "data" / "syndication-dev" / "texts.jsonl",
                                Path("/work/shared/data/syndication-dev/texts.jsonl")) if p.is_file()), None)
EXTRACTOR = {"name": "test", "version": "1"}
WORKERS = 8
# imported once by the fork server, before the workers fork (Python 3.11's fork server does not get the
# tests' folder on its path: the test module itself is imported by each worker, its imports are done)
PRELOAD = ["pytest", "redis", "boto3", "pipelines.extract.extractor", "pipelines.dedup.shared", "pipelines.corpus.ingest",
           "pipelines.store"]
LINKS = ("duplicate_of", "also_at", "same_story", "story_original", "text_kept", "text_sha256")


def _body(name: str) -> str:
    text = (DOCS / name).read_text(encoding="utf-8")
    return text.split("\n\n", 1)[1] if "\n\n" in text else text


def _page(outlet: str, slug: str, text: str, title: str = "t") -> dict:
    """A fetched page and its extraction, as plain data (they cross process boundaries)."""
    return {"page": {"url": f"https://{outlet}.example.com/news/{slug}", "outlet": outlet, "status": 200,
                     "fetched_at": "2026-01-01T00:00:00+00:00"},
            "document": {"text": text, "title": title, "authors": [], "published": "2024-07-28",
                         "language": "en", "canonical_url": None}}


def eval_pages() -> list[list[dict]]:
    """Per worker: a copy of each of three articles (exact copies and near copies: boilerplate, another
    headline, an "originally appeared in" credit), each at its own URL."""
    variants = ["orig", "boiler", "headline", "credit", "orig", "headline"]
    return [[_page(f"w{w}", f"{a}-{v}", _body(f"{a}_{v}.txt"))
             for a in ("000", "001", "002") for v in [variants[(w + int(a)) % len(variants)]]]
            for w in range(WORKERS)]


def syndication_pages() -> list[list[dict]]:
    """Per worker: a copy of each member of three verbatim groups of real syndicated articles."""
    rows = [json.loads(line) for line in SYNDICATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("kind") == "verbatim" and (r.get("group") or "").endswith("verbatim"):
            groups.setdefault(r["group"], []).append(r)
    chosen = [g for g in sorted(groups) if len(groups[g]) >= 2][:3]
    out = []
    for w in range(WORKERS):
        pages = []
        for g in chosen:
            for m, r in enumerate(groups[g]):
                pages.append(_page(f"w{w}m{m}", f"{g}-{m}", r["text"], r.get("title") or "t"))
        out.append(pages)
    return out


def _ingest(corpus, dedup, item: dict):
    return ingest(corpus, dedup, item["page"], Document(**item["document"]), extractor=EXTRACTOR)


def _race_worker(redis_url, prefix, spec, env, pages, barrier, lease):
    os.environ.update(env)
    import redis

    corpus = Corpus(open_store(spec))
    dedup = SharedDeduplicator(corpus, redis_url, prefix, lease=lease, save_every=10).load()
    order = redis.Redis.from_url(redis_url)
    barrier.wait(timeout=60)
    for item in pages:
        with dedup.exclusive():  # the order in which the lock was given, noted while it is held
            done = _ingest(corpus, dedup, item)
            order.rpush(f"{prefix}:test:order", json.dumps([done.record["id"], item]))
    dedup.save()
    dedup.close()


def _race(redis_url: str, spec: str, pages: list[list[dict]], env: dict | None = None) -> list[tuple[str, dict]]:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    barrier = ctx.Barrier(len(pages))
    procs = [ctx.Process(target=_race_worker, args=(redis_url, "race", spec, env or {}, p, barrier, 10.0))
             for p in pages]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(120)
    finally:
        for p in procs:
            if p.is_alive():  # a hung worker fails the test, it does not outlive it
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    import redis

    return [tuple(json.loads(x)) for x in redis.Redis.from_url(redis_url).lrange("race:test:order", 0, -1)]


def _state(corpus: Corpus) -> tuple[dict, dict, list]:
    records = {r["id"]: {k: r.get(k) for k in LINKS} | {"text": r.get("text") or ""} for r in corpus.iter_records()}
    stories = {k: corpus.read_json(k) for k in corpus.store.list(STORIES)}
    index = Deduplicator(corpus).load().index
    return records, stories, sorted((i, index.tags.get(i)) for i in index.ids())


def _check_race(shared: Corpus, order, reference_spec, pages) -> None:
    n = sum(len(p) for p in pages)
    assert len(order) == n and len({i for i, _ in order}) == n  # every page decided once, ids distinct
    records, stories, index = _state(shared)
    assert len(records) == n
    canonical = [i for i, r in records.items() if not r["duplicate_of"]]
    assert len(canonical) == 3, canonical
    for i, r in records.items():
        if r["duplicate_of"]:
            assert r["duplicate_of"] in canonical and not records[r["duplicate_of"]]["duplicate_of"]
            assert i in {a["id"] for a in records[r["duplicate_of"]]["also_at"]}
    kept = [r["text_sha256"] for r in records.values() if r["text"]]
    assert len(kept) == len(set(kept))  # no text kept twice
    # one process, the same pages in the same order: the same records, story files and index (the
    # reference on a local folder: the comparison is of contents)
    single = Corpus(open_store(reference_spec))
    dedup = Deduplicator(single).load()
    for _, item in order:
        _ingest(single, dedup, item)
    dedup.save()
    ref_records, ref_stories, ref_index = _state(single)
    assert records == ref_records
    assert stories == ref_stories
    assert index == ref_index


def test_eight_racing_workers_local_store(redis_url, tmp_path):
    pages = eval_pages()
    order = _race(redis_url, os.fspath(tmp_path / "store"), pages)
    _check_race(Corpus(open_store(tmp_path / "store")), order, os.fspath(tmp_path / "single"), pages)


def test_eight_racing_workers_s3_store(redis_url, s3_server, s3_endpoint, tmp_path):
    pages = eval_pages()
    spec = f"s3://{s3_server.make_bucket()}/corpus-root"
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    order = _race(redis_url, spec, pages, env)
    _check_race(Corpus(open_store(spec)), order, os.fspath(tmp_path / "single"), pages)


@pytest.mark.skipif(SYNDICATION is None, reason="../shared/data/syndication-dev not found")
def test_eight_racing_workers_real_syndicated_copies(redis_url, tmp_path):
    pages = syndication_pages()
    order = _race(redis_url, os.fspath(tmp_path / "store"), pages)
    _check_race(Corpus(open_store(tmp_path / "store")), order, os.fspath(tmp_path / "single"), pages)


# -- a holder killed mid-decision ----------------------------------------------------------------------------
def _killed_holder(redis_url, spec, item, ready):
    corpus = Corpus(open_store(spec))
    dedup = SharedDeduplicator(corpus, redis_url, "kill", lease=1.0).load()
    with dedup.exclusive():
        dedup.resolve(_record_of(item))  # decided and logged; its records never written
        ready.set()
        time.sleep(120)


def _record_of(item: dict) -> dict:
    from pipelines.corpus.record import build_record

    return build_record(item["page"], Document(**item["document"]), extractor=EXTRACTOR)


def test_holder_killed_mid_lock_blocks_the_others_no_longer_than_its_lease(redis_url, tmp_path):
    spec = os.fspath(tmp_path / "store")
    first = _page("early", "000-orig", _body("000_orig.txt"))
    corpus = Corpus(open_store(spec))
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    ready = ctx.Event()
    proc = ctx.Process(target=_killed_holder, args=(redis_url, spec, first, ready))
    proc.start()
    try:
        assert ready.wait(60)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    dedup = SharedDeduplicator(corpus, redis_url, "kill", lease=1.0)
    start = time.monotonic()
    done = _ingest(corpus, dedup, _page("later", "000-raw", _body("000_raw.txt")))
    waited = time.monotonic() - start
    assert waited < 1.0 + 2.0, waited  # the lease, and a margin for loading on a busy machine
    assert dedup.stats["waited_s"] >= 0.3  # it did wait for the dead holder's lease
    # the dead holder's page has no record: the copy is kept as the canonical one
    assert done.outcome == "new" and done.record["duplicate_of"] is None
    again = _ingest(corpus, dedup, first)  # its page fetched again (the queue's in-flight recovery)
    assert again.record["duplicate_of"] == done.record["id"]


# -- workers started later, and idle while another saved ----------------------------------------------------
def test_a_worker_started_later_sees_the_earlier_workers_documents(redis_url, blob_store):
    corpus = Corpus(blob_store)
    early = SharedDeduplicator(corpus, redis_url, "late", save_every=1000).load()
    heads = [_ingest(corpus, early, _page("early", f"{a}-orig", _body(f"{a}_orig.txt"))).record["id"]
             for a in ("000", "001")]
    # before any save: the later worker applies the log
    late = SharedDeduplicator(Corpus(blob_store), redis_url, "late").load()
    assert late.stats["replayed"] == 2 and sorted(late.index.ids()) == sorted(heads)
    assert _ingest(late.corpus, late, _page("late", "000-boiler", _body("000_boiler.txt"))).record["duplicate_of"] == heads[0]
    # after a save that trimmed the log: a third worker loads the persisted index
    assert early.save() and late.save() is False
    third = SharedDeduplicator(Corpus(blob_store), redis_url, "late").load()
    assert third.stats["replayed"] == 0 and len(third.index) == 2
    assert _ingest(third.corpus, third, _page("third", "001-raw", _body("001_raw.txt"))).record["duplicate_of"] == heads[1]
    # idle while others decided and saved: the entries it missed are gone from the log, the segments have them
    new = _ingest(corpus, early, _page("early", "002-orig", _body("002_orig.txt"))).record["id"]
    assert early.save()
    assert _ingest(late.corpus, late, _page("late", "002-headline", _body("002_headline.txt"))).record["duplicate_of"] == new
    assert late.stats["catch_ups"] == 1 and late.stats["reloads"] == 1  # the new segment only, no reload
    late.save()
    persisted = sorted(Deduplicator(Corpus(blob_store)).load().index.ids())
    for w in (early, late, third):
        w.load()  # takes the lock and syncs
        assert sorted(w.index.ids()) == persisted
        w.close()


def test_log_holds_only_what_no_save_covers(redis_url, tmp_path):
    import redis

    corpus = Corpus(open_store(tmp_path / "store"))
    dedup = SharedDeduplicator(corpus, redis_url, "trim", save_every=3).load()
    r = redis.Redis.from_url(redis_url)
    names = [f"{a}_{v}.txt" for a in ("000", "001", "002", "003") for v in ("orig", "boiler")]
    lengths = []
    for n, name in enumerate(names):
        _ingest(corpus, dedup, _page(f"o{n}", name[:-4], _body(name)))
        lengths.append(r.xlen("trim:dedup:log"))
    assert max(lengths) <= 4 and dedup.stats["saves"] >= 2  # saved every 3 entries, trimmed to the save
    dedup.save()
    assert r.xlen("trim:dedup:log") <= 1
    assert sorted(Deduplicator(corpus).load().index.ids()) == sorted(dedup.index.ids())
    dedup.close()


def test_redis_unreachable_is_a_store_error_not_a_crash(tmp_path):
    """The Store stage spools a page whose decision failed with a StoreError (stored by a later run)."""
    from s3server import closed_port

    from pipelines.dedup.shared import SharedDedupUnavailable
    from pipelines.store.base import StoreError

    corpus = Corpus(open_store(tmp_path / "store"))
    dedup = SharedDeduplicator(corpus, f"redis://127.0.0.1:{closed_port()}/0", "down")
    with pytest.raises(SharedDedupUnavailable) as err:
        _ingest(corpus, dedup, _page("o", "000-orig", _body("000_orig.txt")))
    assert isinstance(err.value, StoreError) and err.value.transient
    assert list(corpus.iter_records()) == []  # nothing written without a decision


def test_a_worker_whose_run_manifest_is_older_keeps_the_others_documents(redis_url, tmp_path):
    """A worker's manifest (read when its run began) lacks what the others wrote since: those documents are
    not taken for deleted ones at its load."""
    store = open_store(tmp_path / "store")
    late = Corpus(store)
    late.begin_run("test")  # the manifest as it was before the other worker wrote anything
    early_corpus = Corpus(open_store(tmp_path / "store"))
    early = SharedDeduplicator(early_corpus, redis_url, "stale").load()
    head = _ingest(early_corpus, early, _page("early", "000-orig", _body("000_orig.txt"))).record["id"]
    assert early.save()  # persisted and the log trimmed: only the index in the store knows it
    dedup = SharedDeduplicator(late, redis_url, "stale").load()
    assert head in dedup.index
    assert _ingest(late, dedup, _page("late", "000-credit", _body("000_credit.txt"))).record["duplicate_of"] == head
    early.close()
    dedup.close()
