"""Run manifests (pipelines/corpus/manifest.py), `corpus diff`, `corpus manifest`, and runs that cost what
they change: on both store backends, end to end with the replay web, and counted on moto's S3 server."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus, dumps_json, text_sha256
from pipelines.corpus.manifest import LATEST, OPEN, Manifest, ManifestRun, diff, entry_of, resolve
from pipelines.dedup.deduplicator import Deduplicator
from pipelines.store import open_store

REPO = Path(__file__).resolve().parents[1]
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]


def words(seed, n=90) -> str:
    rng = random.Random(seed)  # distinct texts: different articles, never near-duplicates
    return " ".join(f"w{rng.randrange(20000)}" for _ in range(n)) + "."


def make_record(doc_id, title=None, text=None, **kw) -> dict:
    text = words(doc_id) if text is None else text
    rec = {"id": doc_id, "url": f"https://example.org/a/{doc_id}", "canonical_url": f"https://example.org/a/{doc_id}",
           "outlet": "example", "title": title or f"Story {doc_id[:4]}", "authors": [], "language": "en",
           "published": f"2024-07-{10 + int(doc_id[1], 16):02d}", "text": text,
           "text_sha256": text_sha256(text) if text else None, "fetched_at": "2024-07-29T10:15:00+00:00",
           "http_status": 200, "etag": None, "last_modified": None, "extractor": {"name": "test"},
           "duplicate_of": None, "also_at": []}
    rec.update(kw)
    return rec


def ident(first: str, n: int = 0) -> str:
    return f"{first}{n:015x}"


A, B, C, D, E, F = (ident(x) for x in "abcdef")


def put_all(corpus, *records):
    for rec in records:
        corpus.noted([rec], corpus.put(rec))


def first_run(corpus):
    """a, b, f canonical; d a duplicate of c (c lists it in also_at)."""
    corpus.begin_run("test")
    c = make_record(C, also_at=[{"id": D, "url": f"https://example.org/a/{D}", "outlet": "example"}])
    d = make_record(D, text="", duplicate_of=C)
    put_all(corpus, make_record(A), make_record(B), c, d, make_record(F))
    return corpus.finish_run("r1")


class Reads:
    """Wraps a BlobStore and counts the reads and lists per key prefix (our store, not boto3)."""

    def __init__(self, inner):
        self.inner, self.reads, self.lists = inner, Counter(), Counter()

    def read(self, key):
        self.reads[key.split("/")[0] + "/" + key.split("/")[1] if "/" in key else key] += 1
        return self.inner.read(key)

    def list(self, prefix=""):
        self.lists[prefix] += 1
        return self.inner.list(prefix)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# -- the manifest on a store (local folder and moto S3) --------------------------------------------
def test_a_run_adds_changes_relinks_marks_gone_and_removes(blob_store):
    corpus = Corpus(blob_store)
    done = first_run(corpus)
    assert done["manifest"] == "corpus/manifests/r1.json" and done["changes"]["new"] == sorted([A, B, C, D, F])
    r1 = Manifest.read(blob_store, "latest")
    assert r1.run == "r1" and r1.root["counts"] == {"documents": 5, "canonical": 4, "duplicate": 1, "gone": 0}
    assert corpus.write_index() is False  # INDEX.md from the manifest == INDEX.md from every record

    corpus.begin_run("test")
    put_all(corpus, make_record(B, text=words("b, second version")), make_record(E))
    assert corpus.mark_gone(A, 410) is True
    assert corpus.remove(D) is True              # a duplicate: leaves c's also_at
    done = corpus.finish_run("r2")
    assert done["changes"] == {"new": [E], "updated": [B], "relinked": [C], "gone": [A], "removed": [D]}
    r2 = Manifest.read(blob_store, "latest")
    assert r2.run == "r2" and r2.root["previous"] == "r1" and r2.root["changes"] == done["changes"]
    assert r2.root["shards"]["f"] == r1.root["shards"]["f"]  # untouched shard: not rewritten, shared
    assert all(r2.root["shards"][p] != r1.root["shards"][p] for p in "abc")
    assert "d" not in r2.root["shards"] and r2.root["shards"]["e"]
    entries = r2.load(blob_store)
    assert entries[A]["status"] == "gone" and entries[A]["http_status"] == 410 and entries[A]["text"] is True
    assert entries[C]["also_at"] == [] and D not in entries
    assert corpus.get(D) is None and corpus.history(D)  # its last version is kept in history

    result = diff(blob_store, r1, r2)
    assert [i["id"] for i in result["added"]] == [E] and [i["id"] for i in result["removed"]] == [D]
    assert [(i["id"], i["fields"]) for i in result["changed"]] == [(B, ["text"])]
    assert [(i["id"], i["http_status"]) for i in result["gone"]] == [(A, 410)]
    relinked = [(i["id"], i["before"], i["after"]) for i in result["relinked"]]
    assert relinked == [(C, "canonical, also at 1", "canonical")]
    index = blob_store.read("corpus/INDEX.md").decode()
    assert f"| `{A}` |" in index and "gone (HTTP 410)" in index and f"`{D}`" not in index
    assert corpus.write_index() is False
    assert Manifest.read(blob_store).run == "r2"  # the full rebuild agreed: no correction written


def test_a_run_that_changes_nothing_writes_nothing(blob_store):
    corpus = Corpus(blob_store)
    first_run(corpus)
    before = {k: blob_store.read(k) for k in blob_store.list()}
    corpus.begin_run("test")
    put_all(corpus, make_record(A), make_record(F))  # the same records again: put says unchanged
    done = corpus.finish_run("r2")
    assert done["manifest"] is None and not any(done["changes"].values())
    assert {k: blob_store.read(k) for k in blob_store.list()} == before  # the open-run marker went too
    with pytest.raises(Exception, match="no manifest for run 'r2'"):
        resolve(blob_store, "r2")


def test_a_store_from_before_manifests_is_read_once_and_the_log_says_so(blob_store, caplog):
    corpus = Corpus(blob_store)
    for rec in (make_record(A), make_record(B), make_record(C)):
        corpus.put(rec)
    corpus.write_index()  # the old way: no manifest
    assert Manifest.read(blob_store) is None
    counted = Reads(blob_store)
    corpus = Corpus(counted)
    with caplog.at_level(logging.WARNING, logger="pipelines.corpus.manifest"):
        corpus.begin_run("test")
    assert "no manifest" in caplog.text and "reads every record, once" in caplog.text
    assert counted.reads["corpus/docs"] == 3
    done = corpus.finish_run("r1")
    assert done["rebuilt"] and done["changes"]["new"] == [A, B, C]
    counted.reads.clear(), counted.lists.clear()
    corpus.begin_run("test")
    corpus.finish_run("r2")
    assert counted.reads["corpus/docs"] == 0 and "corpus/docs/" not in counted.lists


def test_a_run_that_did_not_finish_makes_the_next_one_rebuild(blob_store, caplog):
    corpus = Corpus(blob_store)
    first_run(corpus)
    corpus.begin_run("test")
    put_all(corpus, make_record(E))        # ... and the process is killed: no finish_run
    assert list(blob_store.list(OPEN))
    again = Corpus(blob_store)
    with caplog.at_level(logging.WARNING, logger="pipelines.corpus.manifest"):
        again.begin_run("test")
    assert "did not finish" in caplog.text
    done = again.finish_run("r3")
    assert done["rebuilt"] and done["changes"]["new"] == [E]  # the killed run's record is not lost
    assert list(blob_store.list(OPEN)) == []
    assert E in Manifest.read(blob_store).load(blob_store)


def test_store_failures_during_a_run_make_the_next_run_rebuild(blob_store):
    corpus = Corpus(blob_store)
    first_run(corpus)
    corpus.begin_run("test")
    put_all(corpus, make_record(E))
    done = corpus.finish_run("r2", suspect="1 store failure(s) during the run")
    assert done["changes"]["new"] == [E] and len(list(blob_store.list(OPEN))) == 1
    corpus.begin_run("test")
    assert corpus.finish_run("r3")["rebuilt"]


def test_an_unreadable_manifest_is_rebuilt_with_a_clear_warning(blob_store, caplog):
    corpus = Corpus(blob_store)
    first_run(corpus)
    blob_store.write(LATEST, b"{not json")
    with caplog.at_level(logging.WARNING, logger="pipelines.corpus.manifest"):
        corpus.begin_run("test")
    assert "corpus/manifests/latest.json is not valid JSON" in caplog.text
    done = corpus.finish_run("r2")
    assert done["rebuilt"] and Manifest.read(blob_store).load(blob_store).keys() == {A, B, C, D, F}


def test_records_written_without_the_manifest_are_caught_by_the_full_rebuild(blob_store):
    """`corpus dedup --rebuild` and other batch paths put() records and call write_index(), which
    reads every record: the manifest is corrected from what it read."""
    corpus = Corpus(blob_store)
    first_run(corpus)
    corpus.put(make_record(B, text=words("b, rewritten by a batch job")))
    corpus.write_index()  # INDEX.md shows no text hash: unchanged, but the manifest does
    latest = Manifest.read(blob_store)
    assert latest.run != "r1" and latest.root["command"] == "write-index"
    assert latest.root["changes"]["updated"] == [B]


def test_a_different_shard_layout_still_diffs(blob_store):
    from pipelines.corpus.manifest import rebuild

    corpus = Corpus(blob_store)
    first_run(corpus)
    done = rebuild(corpus, "manifest --rebuild", run_id="r2", shard_digits=0)
    assert not any(done["changes"].values())  # same documents, one shard
    assert list(Manifest.read(blob_store).shards) == ["all"]
    corpus.begin_run("test")
    put_all(corpus, make_record(E))
    corpus.finish_run("r3")
    r3 = Manifest.read(blob_store, "r3")
    assert r3.digits == 0 and r3.root["changes"]["new"] == [E]
    result = diff(blob_store, Manifest.read(blob_store, "r1"), r3)
    assert [i["id"] for i in result["added"]] == [E] and not result["changed"] + result["removed"]


def test_removing_the_canonical_copy_of_others_is_refused(blob_store):
    corpus = Corpus(blob_store)
    first_run(corpus)
    corpus.begin_run("test")
    with pytest.raises(ValueError, match="canonical copy of 1 other"):
        corpus.remove(C)
    assert corpus.get(C) is not None


def test_two_runs_finishing_one_after_the_other_keep_both_changes(blob_store):
    first_run(Corpus(blob_store))
    one, two = Corpus(blob_store), Corpus(blob_store)
    one.begin_run("fetch"), two.begin_run("crawl")
    put_all(one, make_record(E))
    put_all(two, make_record(B, text=words("b, third")))
    one.finish_run("r2")
    done = two.finish_run("r3")
    assert done["base"] == "r2" and done["changes"]["updated"] == [B] and not done["changes"]["new"]
    entries = Manifest.read(blob_store).load(blob_store)
    assert E in entries and entries[B]["sha"] == text_sha256(words("b, third"))


def test_the_dedup_load_reads_only_the_documents_its_index_lacks(blob_store):
    corpus = Corpus(blob_store)
    first_run(corpus)
    dedup = Deduplicator(corpus).load()  # no manifest run: lists and reads the records
    dedup.index.remove(B)
    dedup.dirty = True
    dedup.save()
    counted = Reads(blob_store)
    corpus = Corpus(counted)
    corpus.begin_run("test")
    counted.reads.clear(), counted.lists.clear()
    loaded = Deduplicator(corpus).load()
    assert B in loaded.index
    assert counted.reads["corpus/docs"] == 1 and "corpus/docs/" not in counted.lists  # b only, no listing


# -- the commands ----------------------------------------------------------------------------------
def test_corpus_diff_and_corpus_manifest(corpus_cmd, tmp_path):
    store = tmp_path / "store"
    corpus = Corpus(open_store(store))
    first_run(corpus)
    corpus.begin_run("test")
    put_all(corpus, make_record(B, text=words("b, v2")), make_record(E, title="Lavrov | ASEAN"))
    corpus.mark_gone(A, 404)
    corpus.finish_run("r2")

    res = corpus_cmd("diff", "r1", "r2", "--store", store)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "r1 -> r2: 1 added, 1 changed, 1 gone, 0 removed, 0 relinked"
    assert any(ln.startswith(f"added     {E}") and ln.endswith("Lavrov | ASEAN") for ln in lines)
    assert any(ln.startswith(f"changed   {B}  text") for ln in lines)
    assert any(ln.startswith(f"gone      {A}  HTTP 404") for ln in lines)
    js = json.loads(corpus_cmd("diff", "latest^", "latest", "--json", "--store", store).stdout)
    assert js["from"] == "r1" and js["to"] == "r2" and [i["id"] for i in js["added"]] == [E]

    bad = corpus_cmd("diff", "nope", "--store", store)
    assert bad.returncode == 2 and "no manifest for run 'nope'" in bad.stderr
    assert corpus_cmd("manifest", "--list", "--store", store).stdout.split() == ["r1", "r2"]
    shown = corpus_cmd("manifest", "--store", store).stdout
    assert "run r2 (test" in shown and "6 documents: 4 canonical, 1 duplicates, 1 gone" in shown

    (store / "corpus" / "docs" / f"{F}.json").unlink()  # a record deleted by hand
    res = corpus_cmd("manifest", "--rebuild", "--store", store)
    assert res.returncode == 0, res.stderr
    assert "built from the records" in res.stderr and "1 removed" in res.stderr
    js = json.loads(corpus_cmd("diff", "r2", "latest", "--json", "--store", store).stdout)
    assert [i["id"] for i in js["removed"]] == [F] and not js["added"] + js["changed"]


def _cut(store_root: Path, doc_id: str) -> bytes:
    """Cut a record file halfway, as a full disk or a copy stopped midway leaves it; its old bytes."""
    path = store_root / "corpus" / "docs" / f"{doc_id}.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data[: len(data) // 2]


def test_one_broken_record_file_is_skipped_and_named_not_the_end_of_every_later_run(corpus_cmd, tmp_path, caplog):
    """A record file cut halfway stopped `manifest --rebuild`, `dedup --rebuild` and (through a rebuild the
    manifest asked for) every later crawl (a reviewer: exit 5 "interrupted" and every outlet's discovery
    failed). It is skipped and named; the manifest keeps its entry; a new fetch of it replaces it and
    keeps the broken bytes in its history."""
    store = tmp_path / "store"
    corpus = Corpus(open_store(store))
    first_run(corpus)
    broken = _cut(store, B)
    with caplog.at_level(logging.WARNING):
        ids = [r["id"] for r in Corpus(open_store(store)).iter_records()]
    assert B not in ids and {A, C, F} <= set(ids)
    assert f"skipped corpus/docs/{B}.json: is not JSON" in caplog.text

    res = corpus_cmd("manifest", "--rebuild", "--store", store)
    assert res.returncode == 1, res.stderr
    assert f"could not read corpus/docs/{B}.json" in res.stderr and "0 removed" in res.stderr
    assert "Traceback" not in res.stderr and list(open_store(store).list(OPEN)) == []
    assert B in Manifest.read(open_store(store)).load(open_store(store))  # still there: not removed
    res = corpus_cmd("dedup", "--rebuild", "--store", store)
    assert res.returncode == 1 and f"could not read corpus/docs/{B}.json" in res.stderr, res.stderr

    again = Corpus(open_store(store))  # a crawl that must rebuild the manifest (a killed run's marker)
    again.store.write(f"{OPEN}20240101T000000Z-dead.json", b"{}")
    again.begin_run("test")
    done = again.finish_run("r2")
    assert done["rebuilt"] and again.unreadable == [(f"corpus/docs/{B}.json", again.unreadable[0][1])]
    dd = Deduplicator(again).load()  # the deduplicator reads it as absent
    assert dd._record(B) is None

    fresh = make_record(B, text=words("b, fetched again"))
    assert again.put(fresh) == "updated"
    assert again.get(B)["text"] == fresh["text"]
    kept = [k for k in again.history(B) if k.endswith(".broken")]
    assert len(kept) == 1 and again.store.read(kept[0]) == broken


# -- end to end: crawls on the replay web ------------------------------------------------------------
TEST_HOST = "manifest-test.example.org"
LAVROV = ("Russian Foreign Minister Sergei Lavrov met ASEAN foreign ministers in Vientiane to discuss trade "
          "between Russia and Southeast Asia, energy for Vietnam and Indonesia and the Moscow-ASEAN dialogue. ")


def article(title: str) -> str:
    rng = random.Random(title)
    body = "".join(f"<p>{LAVROV if i == 0 else ''}{' '.join(f'w{rng.randrange(5000)}' for _ in range(60))}.</p>"
                   for i in range(5))
    return (f"<html><head><title>{title}</title><meta property='og:type' content='article'>"
            f"<meta property='article:published_time' content='2025-01-10T10:00:00Z'></head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


def sitemap(entries) -> str:
    urls = "".join(f"<url><loc>https://{TEST_HOST}/news/{slug}/</loc><lastmod>{mod}</lastmod></url>"
                   for slug, mod in entries)
    return f"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urls}</urlset>"


def make_test_site(root: Path) -> None:
    """stays (unchanged), retracted (410 from epoch 2), added (only from epoch 2)."""
    site = root / TEST_HOST
    for slug in ("stays", "retracted", "added"):
        (site / "news" / slug).mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    (site / "news" / "stays" / "index.html").write_text(article("Lavrov stays in Vientiane"))
    (site / "news" / "retracted" / "index.html").write_text(article("A story later retracted"))
    (site / "news" / "retracted" / "index.html~v2.meta.json").write_text('{"status": 410}')
    (site / "news" / "added" / "index.html~v2").write_text(article("A story added at epoch two"))
    (site / "sitemap.xml").write_text(sitemap([("stays", "2025-01-10"), ("retracted", "2025-01-10")]))
    (site / "sitemap.xml~v2").write_text(sitemap([("stays", "2025-01-10"), ("retracted", "2025-03-01"),
                                                  ("added", "2025-03-01")]))


def registry_with_test_outlet(path: Path) -> Path:
    text = (REPO / "crawler" / "outlets.toml").read_text()
    text += ("\n[[outlet]]\nname = \"manifest-test\"\ntitle = \"Manifest test\"\n"
             f"domains = [\"{TEST_HOST}\"]\narticles = ['^https://{TEST_HOST.replace('.', chr(92) + '.')}/news/']\n"
             f"[outlet.discovery]\nsitemaps = [\"https://{TEST_HOST}/sitemap.xml\"]\n")
    path.write_text(text)
    return path


def test_crawls_that_add_change_and_lose_pages_show_in_the_manifest_diff_and_report(corpus_cmd, tmp_path):
    from crawler.replay.server import DEFAULT_ROOT, ReplayServer

    make_test_site(tmp_path / "web")
    reg = registry_with_test_outlet(tmp_path / "reg.toml")
    store = tmp_path / "store"

    def crawl():
        res = corpus_cmd("crawl", "--replay", server.url, "--registry", reg, "--store", store, *FAST,
                         "--max-error-rate", "1", "russia-briefing", "manifest-test")
        assert res.returncode == 0, res.stderr[-3000:]
        report = json.loads(sorted((store / "corpus" / "runs").glob("*.json"))[-1].read_text())
        return report

    with ReplayServer([DEFAULT_ROOT, tmp_path / "web"]) as server:
        first = crawl()
        assert len(first["changes"]["new"]) == 9  # 7 russia-briefing + stays + retracted
        assert first["manifest"] == f"corpus/manifests/{first['run_id']}.json"
        server.epoch = 2
        second = crawl()
        server.requests.clear()
        third = crawl()  # nothing new: no manifest written
        # a one-off fetch of the retracted page: its error line names the stored (now gone) record's id
        refetch = corpus_cmd("fetch", "--replay", server.url, "--store", store,
                             f"https://{TEST_HOST}/news/retracted/")
    corpus = Corpus(open_store(store))
    by_url = {r["url"]: r for r in corpus.iter_records(with_text=False)}
    changed = next(r["id"] for u, r in by_url.items() if "trade-outlook" in u)
    gone = by_url[f"https://{TEST_HOST}/news/retracted/"]
    added = by_url[f"https://{TEST_HOST}/news/added/"]["id"]
    assert gone["gone"]["http_status"] == 410 and gone["text_sha256"]  # kept, marked gone
    assert refetch.stdout.startswith(f"{gone['id']}  error: HTTP 410"), refetch.stdout  # was "-" * 16
    assert second["changes"] == {"new": [added], "updated": [changed], "relinked": [], "gone": [gone["id"]],
                                 "removed": []}
    assert second["stats"]["corpus/manifest/gone"] == 1
    assert third["manifest"] is None and not any(third["changes"].values())
    assert Manifest.read(open_store(store)).run == second["run_id"]

    res = corpus_cmd("diff", first["run_id"], "latest", "--store", store)
    head, *lines = res.stdout.splitlines()
    assert head.endswith("1 added, 1 changed, 1 gone, 0 removed, 0 relinked")
    assert any(ln.startswith(f"gone      {gone['id']}  HTTP 410") for ln in lines)
    assert any(ln.startswith(f"changed   {changed}  text") for ln in lines)
    index = (store / "corpus" / "INDEX.md").read_bytes()
    assert f"| `{gone['id']}` |".encode() in index and b"gone (HTTP 410)" in index
    assert corpus.write_index() is False and (store / "corpus" / "INDEX.md").read_bytes() == index
    assert Manifest.read(open_store(store)).run == second["run_id"]  # the full rebuild found nothing to fix


def test_a_crawl_killed_halfway_loses_nothing_from_the_manifest(tmp_path):
    import signal
    import subprocess
    import time

    from crawler.replay.server import ReplayServer

    store = tmp_path / "store"
    args = [os.fspath(Path(sys.executable).with_name("corpus")), "crawl", "--replay", "", "--store", os.fspath(store),
            *FAST, "-s", "DOWNLOAD_DELAY=0.15", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "intellinews", "rsis"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    with ReplayServer() as server:
        args[3] = server.url
        proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        docs = store / "corpus" / "docs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not docs.is_dir() or len(list(docs.iterdir())) < 4):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert list((store / "corpus" / "manifests" / "open").iterdir())  # the run's marker stayed
        res = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "did not finish" in res.stderr
    store_ = open_store(store)
    entries = Manifest.read(store_).load(store_)
    assert set(entries) == {r["id"] for r in Corpus(store_).iter_records(with_text=False)} and len(entries) == 14


# -- the cost of a run, counted on moto's S3 server ----------------------------------------------------
def prefill(store, n: int) -> None:
    """n synthetic documents, their dedup index and their manifest, written directly (quickly)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.dedup import DedupConfig, NearDupIndex

    recs = [make_record(f"{i % 16:x}{i:015x}", title=f"Synthetic {i}") for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: store.write(f"corpus/docs/{r['id']}.json", dumps_json(r)), recs))
    from pipelines.dedup.persist import save_index

    index = NearDupIndex(DedupConfig())
    index.add_many([(r["id"], r["text"]) for r in recs])
    save_index(store, index)
    corpus = Corpus(store)
    run = ManifestRun(corpus, "prefill")
    run.entries = {r["id"]: entry_of(r) for r in recs}
    run.finish("prefill")


def count_calls(store) -> Counter:
    """S3 API calls of this store's client, by operation (botocore's before-call event)."""
    calls = Counter()
    lock = threading.Lock()

    def seen(model, **_):
        with lock:
            calls[model.name] += 1

    store.client.meta.events.register("before-call.s3", seen)
    return calls


def store_stage_of_one_fetch(store, html: str, url: str) -> None:
    """What the Store stage of `corpus fetch URL` does (crawler/item_pipelines.py Store): open the run's
    manifest, load the dedup index, store the page, write the manifest and INDEX.md."""
    from pipelines.corpus.ingest import ingest
    from pipelines.extract.extractor import try_extract

    corpus = Corpus(store)
    corpus.begin_run("fetch")
    dedup = Deduplicator(corpus).load()
    page = {"url": url, "requested_url": url, "status": 200, "content_type": "text/html", "body": html.encode(),
            "fetched_at": "2026-01-01T00:00:00+00:00", "outlet": "manifest-test"}
    done = ingest(corpus, dedup, page, try_extract(html.encode(), url).document, extractor={"name": "test"})
    corpus.noted([done.record, *done.others], done.outcome)
    dedup.save()
    assert corpus.finish_run()["changes"]["new"] == [done.record["id"]]


def test_one_fetch_makes_the_same_s3_requests_into_50_or_500_documents(s3_server, s3_endpoint):
    costs = {}
    for n in (50, 500):
        store = open_store(f"s3://{s3_server.make_bucket()}/corpus")
        prefill(store, n)
        calls = count_calls(store)
        store_stage_of_one_fetch(store, article("One fetched page"), f"https://{TEST_HOST}/news/one/")
        costs[n] = calls
    assert costs[50] == costs[500], costs
    assert costs[500]["ListObjectsV2"] == 1 and sum(costs[500].values()) < 40, costs  # the open-run markers
    # before manifests, the same run read every record to write INDEX.md:
    store = open_store(f"s3://{s3_server.make_bucket()}/corpus")
    prefill(store, 50)
    calls = count_calls(store)
    Corpus(store).write_index()
    assert calls["GetObject"] > 50


def test_a_crawl_that_rebuilds_the_manifest_over_a_broken_record_warns_and_exits_0(corpus_cmd, tmp_path):
    """The reviewer's case end to end: a record file cut halfway and a killed run's marker (so the next crawl
    rebuilds the manifest from the records). The crawl ran on (it was exit 5, every outlet "no discovery
    route"); its report names the file."""
    from crawler.replay.server import ReplayServer

    make_test_site(tmp_path / "web")
    reg = registry_with_test_outlet(tmp_path / "reg.toml")
    store = tmp_path / "store"
    with ReplayServer([tmp_path / "web"]) as server:
        args = ("crawl", "--replay", server.url, "--registry", reg, "--store", store, *FAST, "manifest-test")
        first = corpus_cmd(*args)
        assert first.returncode == 0, first.stderr[-3000:]
        victim = sorted((store / "corpus" / "docs").glob("*.json"))[0].stem
        _cut(store, victim)
        open_store(store).write(f"{OPEN}20240101T000000Z-killed.json", b"{}")
        res = corpus_cmd(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(sorted((store / "corpus" / "runs").glob("*.json"))[-1].read_text())
    assert report["exit_code"] == 0 and report["stats"]["corpus/store/unreadable_records"] == 1
    assert any(f"corpus/docs/{victim}.json" in w for w in report["warnings"]), report["warnings"]
    assert "warning: 1 record file(s) in the store could not be read" in res.stderr


def test_a_missing_or_damaged_store_is_a_store_error_and_latest_works_for_export(corpus_cmd, tmp_path):
    """A reviewer's low findings: on a store that is not there `diff` and `manifest` said "no manifest yet"
    (exit 2) and `manifest --list` printed nothing (exit 0); a broken latest.json was a usage error (2); and
    `export --changed-since latest^` was refused though `diff` takes it."""
    missing = tmp_path / "nothing"
    for args in (("diff", "latest"), ("manifest",), ("manifest", "--list")):
        res = corpus_cmd(*args, "--store", missing)
        assert res.returncode == 3 and "no corpus at" in res.stderr, (args, res.stderr)
    assert not missing.exists()

    store = tmp_path / "store"
    corpus = Corpus(open_store(store))
    first_run(corpus)
    corpus.begin_run("test")
    put_all(corpus, make_record(E))
    corpus.finish_run("r2")
    res = corpus_cmd("export", "--changed-since", "latest^", "--out", tmp_path / "x.jsonl", "--store", store)
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["id"] for line in (tmp_path / "x.jsonl").read_text().splitlines()] == [E]

    (store / "corpus" / "manifests" / "latest.json").write_text("{broken")
    for args in (("diff", "latest^"), ("manifest", "--json")):
        res = corpus_cmd(*args, "--store", store)
        assert res.returncode == 3 and "latest.json is not valid JSON" in res.stderr, (args, res.stderr)


@pytest.mark.parametrize("content", [b"{}", b'{"title": "x"}', b"[]", b"null", b"\x00\x01binary", b"", "other"])
def test_a_record_file_that_is_no_record_of_its_id_is_skipped_by_every_full_read(corpus_cmd, tmp_path, content):
    """A JSON object without an id (or with another record's: a file copied over) passed the reader and broke
    every sort by id downstream: a crawl's manifest rebuild (exit 5), `manifest --rebuild`, `dedup --rebuild`
    (a second reviewer). It is unreadable like a cut file."""
    store = tmp_path / "store"
    corpus = Corpus(open_store(store))
    first_run(corpus)
    path = store / "corpus" / "docs" / f"{B}.json"
    path.write_bytes((store / "corpus" / "docs" / f"{A}.json").read_bytes() if content == "other" else content)
    assert B not in [r["id"] for r in Corpus(open_store(store)).iter_records(with_text=False)]
    for args in (("manifest", "--rebuild"), ("dedup", "--rebuild")):
        res = corpus_cmd(*args, "--store", store)
        assert res.returncode == 1 and f"could not read corpus/docs/{B}.json" in res.stderr, (args, res.stderr[-2000:])
        assert "Traceback" not in res.stderr
    res = corpus_cmd("export", "--format", "parquet", "--out", tmp_path / "x.parquet", "--store", store)
    assert res.returncode == 1 and (tmp_path / "x.parquet").exists(), res.stderr[-2000:]


def test_a_reader_that_closes_the_pipe_is_exit_74_in_one_line_not_a_traceback(replay, corpus_cmd, tmp_path):
    """`corpus manifest | head` died with a BrokenPipeError traceback (a review); `export` already said it in a
    line. Every command now does, with the output status."""
    import os
    import subprocess
    import sys

    from crawler import exitcodes

    store = tmp_path / "s"
    url = "https://rsis.edu.sg/rsis-publication/rsis/asean-and-the-russia-ukraine-war-hedging-in-hard-times/"
    assert corpus_cmd("fetch", "--replay", replay.url, "--store", store, url).returncode == exitcodes.OK
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    for args in (["manifest", "--json"], ["manifest", "--list"]):
        proc = subprocess.Popen([os.fspath(Path(sys.executable).with_name("corpus")), *args, "--store", str(store)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
        proc.stdout.close()  # the reader is gone before the command writes
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == exitcodes.OUTPUT, err
        assert "Traceback" not in err and err.strip().splitlines()[-1] == (
            f"corpus: exit 74 (output): manifest: standard output was closed (broken pipe)")
