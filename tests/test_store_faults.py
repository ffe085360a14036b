"""A failing store: retries, the pending spool, a missing bucket, stale temp files, the dedup index after
a kill. Crawls run against the replay web and store into moto's S3 server through tests/faultproxy.py
(faults: refuse, reset, hang), or into a local folder."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from crawler import exitcodes
from faultproxy import FaultProxy
from pipelines.crawl.urls import canonicalize
from pipelines.store import RetryingStore, RetryPolicy, StoreError, open_store
from pipelines.store.local import LocalStore, stale_temp
from s3server import DUMMY_ENV

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
OUTLETS = ["intellinews", "rsis"]  # 18 article pages in the replay web
RSIS_ARTICLES = 9


@pytest.fixture
def proxy(s3_server):
    with FaultProxy(s3_server.url) as p:
        yield p


def s3_env(tmp_path, endpoint: str) -> dict:
    env = dict(DUMMY_ENV, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
               XDG_STATE_HOME=str(tmp_path / "xdg"))
    return env


def client(url: str):
    return boto3.session.Session().client("s3", endpoint_url=url, region_name="us-east-1",
                                          aws_access_key_id="testing", aws_secret_access_key="testing")


def keys(url: str, bucket: str, prefix: str = "") -> list[str]:
    pages = client(url).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", ()))


def doc_ids(url: str, bucket: str) -> set[str]:
    return {k.rsplit("/", 1)[1][:-5] for k in keys(url, bucket, "c/corpus/docs/") if k.endswith(".json")}


def corpus_exe() -> str:
    return os.fspath(Path(sys.executable).with_name("corpus"))


def crawl_args(replay_url: str, store: str, *extra, outlets=OUTLETS) -> list[str]:
    return [corpus_exe(), "crawl", "--replay", replay_url, "--store", store, "--any-topic", *FAST,
            "--max-error-rate", "1", *extra, *outlets]


def records(url: str, bucket: str) -> list[dict]:
    s3 = client(url)
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
            for k in keys(url, bucket, "c/corpus/docs/") if k.endswith(".json")]


def popen(args, env, cwd):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    full.update(env)
    return subprocess.Popen(args, env=full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=60.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# -- the store itself --------------------------------------------------------------------------------
def test_a_missing_bucket_is_a_store_error_and_a_missing_key_is_not(s3_server, s3_endpoint):
    gone = open_store("s3://no-such-bucket-for-faults/p")
    for action in (lambda: gone.exists("k.json"), lambda: gone.read("k.json"), lambda: gone.delete("k.json"),
                   lambda: gone.write("k.json", b"{}")):
        with pytest.raises(StoreError, match="bucket 'no-such-bucket-for-faults' does not exist") as info:
            action()
        assert not info.value.transient  # no retry can mend it
    there = open_store(f"s3://{s3_server.make_bucket()}/p")
    assert there.exists("k.json") is False and there.read("k.json") is None
    there.delete("k.json")  # no error for a missing key
    there.write("k.json", b"{}")
    assert there.exists("k.json") and there.read("k.json") == b"{}"


def test_retries_ride_out_a_short_outage_and_give_up_within_the_budget(s3_server, s3_endpoint, proxy, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    bucket = s3_server.make_bucket()
    for mode in ("refuse", "reset"):
        store = RetryingStore(open_store(f"s3://{bucket}/p"), RetryPolicy(retries=8, budget=10))
        proxy.schedule(mode, start=0, duration=1.5)
        start = time.monotonic()
        store.write(f"k-{mode}.json", b"{}")
        assert 1.0 < time.monotonic() - start < 6 and store.retried > 0
        assert store.read(f"k-{mode}.json") == b"{}"
    store = RetryingStore(open_store(f"s3://{bucket}/p"), RetryPolicy(retries=20, budget=1.5))
    proxy.set_mode("refuse")
    start = time.monotonic()
    with pytest.raises(StoreError, match="cannot reach S3 endpoint"):
        store.write("never.json", b"{}")
    assert time.monotonic() - start < 4
    start = time.monotonic()  # taken to be down now: operations fail at once, for the budget's length
    proxy.set_mode("pass")
    with pytest.raises(StoreError, match="taken to be down"):
        store.read("k-reset.json")
    assert time.monotonic() - start < 0.5
    time.sleep(max(0.0, store.down_until - time.monotonic()) + 0.05)
    assert store.read("k-reset.json") == b"{}" and store.down_until == 0  # tried again: back up
    missing = RetryingStore(open_store("s3://no-such-bucket-for-faults/p"), RetryPolicy(retries=8, budget=30))
    start = time.monotonic()
    with pytest.raises(StoreError, match="does not exist"):
        missing.write("k.json", b"{}")
    assert time.monotonic() - start < 2 and missing.retried == 0  # not transient: no retry


def test_only_temp_files_of_writers_that_are_gone_are_removed(tmp_path):
    store = LocalStore(tmp_path / "s")
    store.write("corpus/docs/a.json", b"{}")
    folder = tmp_path / "s" / "corpus" / "docs"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    host = stale_temp.__defaults__[0]
    files = {
        "dead": folder / f".~tmp-w-{host}-{dead}-abc123",          # its writer was killed
        "live": folder / f".~tmp-w-{host}-{os.getpid()}-abc123",   # a writer still running (this one)
        "other-host": folder / ".~tmp-w-elsewhere-1-abc123",       # cannot tell: kept for a day
        "old": folder / ".~tmp-k2j3h4g5",                          # old-style name, two days old
        "warc": tmp_path / "s" / ".warc-spool" / ".~tmp-warc-corpus%2Fraw%2Fx.warc.gz.open",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 86400
    os.utime(files["old"], (two_days_ago, two_days_ago))
    assert store.clean_temps() == 2
    assert {name for name, path in files.items() if path.exists()} == {"live", "other-host", "warc"}
    assert list(store.list()) == ["corpus/docs/a.json"]
    # a real writer's temp file is named for it: a kill -9 during a write leaves one that the next start removes
    code = ("import os, signal; from pipelines.store.local import LocalStore; s = LocalStore(%r); "
            "s._temp(s._path('corpus/docs/b.json'), b'x' * 10); os.kill(os.getpid(), signal.SIGKILL)"
            % str(tmp_path / "s"))
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent)
    killed = [p for p in folder.iterdir() if p.name.startswith(".~tmp-w-") and p not in files.values()]
    assert len(killed) == 1  # the killed writer's
    assert store.clean_temps() == 1 and not killed[0].exists() and files["live"].exists()


# -- crawls through the fault proxy ------------------------------------------------------------------
def test_a_missing_bucket_ends_the_run_at_the_start_with_exit_3_and_no_traceback(s3_server, replay, tmp_path):
    env = s3_env(tmp_path, s3_server.url)
    res = subprocess.run(crawl_args(replay.url, "s3://no-such-bucket-for-faults/c", "--report", tmp_path / "r.json"),
                         env={**{k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}, **env},
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == exitcodes.STORE, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert "bucket 'no-such-bucket-for-faults' does not exist" in res.stderr
    # the same store opened by Scrapy itself (no `corpus` check before): closed at the start, no traceback
    scrapy = os.fspath(Path(sys.executable).with_name("scrapy"))
    res = subprocess.run([scrapy, "crawl", "outlet", "-a", "outlets=rsis", "-s", f"CORPUS_REPLAY_URL={replay.url}",
                          "-s", "CORPUS_STORE=s3://no-such-bucket-for-faults/c", "-s", f"CORPUS_REPORT_FILE={tmp_path / 's.json'}",
                          "-s", "LOG_LEVEL=ERROR"],
                         env={**{k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}, **env},
                         cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["exit_code"] == exitcodes.STORE and "does not exist" in report["reason"]
    assert report["finish_reason"] == "store_unavailable" and report["pages_attempted"] == 0
    # discovery never began: no outlet is said to have failed it
    assert not any("discovery" in p for p in report["problems"]), report["problems"]
    assert any("discovery was not tried" in w for w in report["warnings"])
    assert report["outlets_found_nothing"] == [] and report["outlets_quiet"] == {}


def test_a_short_outage_mid_crawl_costs_nothing(s3_server, replay, proxy, tmp_path):
    bucket = s3_server.make_bucket()
    env = s3_env(tmp_path, proxy.url)
    proc = popen(crawl_args(replay.url, f"s3://{bucket}/c", "-s", "DOWNLOAD_DELAY=0.1",
                            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"), env, tmp_path)
    assert wait_for(lambda: doc_ids(s3_server.url, bucket)), "no record stored"
    proxy.schedule("reset", start=0, duration=3)  # 3 s: every connection cut, new ones reset
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    assert proxy.counts["reset"] > 0  # the outage did hit the run
    report = json.loads(client(s3_server.url).get_object(
        Bucket=bucket, Key=keys(s3_server.url, bucket, "c/corpus/runs/")[-1])["Body"].read())
    assert report["stats"].get("corpus/store/error", 0) == 0 and report["page_errors"] == 0
    assert len(doc_ids(s3_server.url, bucket)) == report["stats"]["corpus/store/new"] == 18
    assert "c/dedup/index/manifest.json" in keys(s3_server.url, bucket) and "c/corpus/INDEX.md" in keys(s3_server.url, bucket)


def test_a_store_that_stays_down_spools_the_pages_and_the_next_run_stores_them_once(s3_server, replay, proxy,
                                                                                   tmp_path):
    bucket = s3_server.make_bucket()
    env = s3_env(tmp_path, proxy.url)
    quick = ["-s", "CORPUS_STORE_RETRIES=3", "-s", "CORPUS_STORE_RETRY_SECONDS=1", "-s", "DOWNLOAD_DELAY=0.1",
             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
    proc = popen(crawl_args(replay.url, f"s3://{bucket}/c", *quick, outlets=["rsis"]), env, tmp_path)
    assert wait_for(lambda: doc_ids(s3_server.url, bucket)), "no record stored"
    proxy.set_mode("refuse")  # down until the run has ended: its end-of-run writes fail too
    out, err = proc.communicate(timeout=180)
    stored_before = doc_ids(s3_server.url, bucket)
    assert proc.returncode == exitcodes.STORE, err[-3000:]
    assert "Traceback" not in err
    local_runs = sorted((tmp_path / "xdg" / "asean-russia-corpus" / "runs").glob("*.json"))
    assert local_runs, "the run report went nowhere"
    report = json.loads(local_runs[-1].read_text())
    spooled = report["stats"]["corpus/pending/spooled"]
    folder = Path(report["stats"]["corpus/pending/folder"])
    assert spooled == len(list(folder.glob("*.json.gz"))) > 0
    assert any("stored when the next run" in p and str(folder) in p for p in report["problems"])
    assert report["exit_code"] == exitcodes.STORE
    # nothing fetched is lost: stored, or kept (or both: a write whose answer the outage cut)
    fetched = report["stats"]["corpus/outlet/rsis/fetched"]
    assert len(stored_before) + spooled >= fetched == RSIS_ARTICLES
    kept = [json.loads(gzip.decompress(p.read_bytes())) for p in folder.glob("*.json.gz")]
    entry = kept[0]
    assert entry["body_base64"] and entry["document"]["text"]  # the raw response and what was extracted
    assert "c/corpus/manifests/latest.json" not in keys(s3_server.url, bucket)  # the end of the run failed

    proxy.set_mode("pass")
    first_run_hits = len(replay.requests)
    again = popen(crawl_args(replay.url, f"s3://{bucket}/c", *quick, outlets=["rsis"]), env, tmp_path)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err[-3000:]
    assert not list(folder.glob("*.json.gz"))  # the spool is empty
    expected = doc_ids(s3_server.url, bucket)
    assert len(expected) == RSIS_ARTICLES  # every page, once
    spooled_urls = {e["page"]["url"] for e in kept}
    stored_urls = {r["url"] for r in records(s3_server.url, bucket)}
    assert spooled_urls <= stored_urls
    report2 = json.loads(client(s3_server.url).get_object(
        Bucket=bucket, Key=keys(s3_server.url, bucket, "c/corpus/runs/")[-1])["Body"].read())
    stats = report2["stats"]
    assert sum(v for k, v in stats.items() if k.startswith("corpus/pending/stored/")) == spooled
    assert stats.get("corpus/store/updated", 0) == 0 and not keys(s3_server.url, bucket, "c/corpus/history/")
    # the spooled pages are this run's (its summary counts them: a reviewer saw "new 0" for a run that added
    # 16 records), and their crawl state says stored: not fetched a second time in the same run
    pending = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("corpus/pending/stored/")}
    assert report2["summary"]["rsis"]["new"] == pending.get("new", 0) > 0, (report2["summary"], pending)
    spooled_keys = {canonicalize(u) for u in spooled_urls}
    again_fetched = {canonicalize(f"https://{h.host}{h.path}") for h in replay.requests[first_run_hits:]}
    assert not spooled_keys & again_fetched, sorted(spooled_keys & again_fetched)
    # what the failed end of the first run did not write, the second wrote
    names = keys(s3_server.url, bucket)
    assert {"c/corpus/manifests/latest.json", "c/corpus/INDEX.md", "c/dedup/index/manifest.json",
            "c/state/urls.json"} <= set(names)
    index = client(s3_server.url).get_object(Bucket=bucket, Key="c/corpus/INDEX.md")["Body"].read().decode()
    assert all(f"`{i}`" in index for i in expected)


# -- the dedup index after a kill ------------------------------------------------------------------------
def test_the_dedup_index_agrees_with_a_rebuild_after_a_kill_between_record_writes_and_its_save(
        s3_server, s3_endpoint, replay, proxy, tmp_path):
    from pipelines.corpus.layout import Corpus
    from pipelines.dedup import DedupConfig
    from pipelines.dedup.deduplicator import Deduplicator
    from pipelines.dedup.persist import load_index

    def persisted():
        return load_index(store, DedupConfig(), None)

    bucket = s3_server.make_bucket()
    store = open_store(f"s3://{bucket}/c")  # moto itself, not through the proxy
    corpus = Corpus(store)
    env = s3_env(tmp_path, proxy.url)

    def args(*outlets, extra=()):
        return [corpus_exe(), "crawl", "--replay", replay.url, "--store", f"s3://{bucket}/c", "--any-topic", *FAST,
                "--max-error-rate", "1", *extra, *outlets]

    first = popen(args("russia-briefing"), env, tmp_path)
    assert first.wait(timeout=180) == 0, first.stderr.read()[-2000:]
    target = next(r for r in corpus.iter_records(with_text=False) if "trade-outlook" in r["url"])
    old_sha = target["text_sha256"]
    assert persisted().tags[target["id"]] == old_sha

    replay.epoch = 2  # the trade-outlook article changes
    # the changed page is the only one of its outlet due again; a new outlet, crawled slowly, keeps the run going
    killed = popen(args("russia-briefing", "intellinews", extra=["-s", "DOWNLOAD_DELAY=0.5", "-s",
                                                                 "CONCURRENT_REQUESTS_PER_DOMAIN=1"]), env, tmp_path)
    assert wait_for(lambda: corpus.get(target["id"], with_text=False)["text_sha256"] != old_sha, timeout=120,
                    every=0.01)
    proxy.set_mode("hang")  # nothing more reaches the store: the index cannot be saved ...
    killed.send_signal(signal.SIGKILL)  # ... and the run dies with its record written
    killed.wait()
    proxy.set_mode("pass")
    stale = persisted()
    assert stale.tags[target["id"]] == old_sha  # the kill left the index behind the record

    # the next run (one page of another outlet: the changed page is not fetched again) loads the index
    third = popen([corpus_exe(), "fetch", "--replay", replay.url, "--store", f"s3://{bucket}/c",
                   "https://rsis.edu.sg/rsis-publication/nts/climate-adaptation-in-southeast-asian-coastal-cities/"],
                  env, tmp_path)
    assert third.wait(timeout=180) in (0, 1), third.stderr.read()[-2000:]
    loaded = persisted()
    rebuilt = Deduplicator(Corpus(store))
    rebuilt.rebuild()  # in memory: what `corpus dedup --rebuild` computes
    ids = {r["id"] for r in corpus.iter_records(with_text=False)}
    assert set(rebuilt.index.ids()) <= set(loaded.ids()) <= ids
    for doc_id in rebuilt.index.ids():
        assert loaded.text_hash(doc_id) == rebuilt.index.text_hash(doc_id), doc_id
        assert loaded.tags[doc_id] == rebuilt.index.tags[doc_id]
    assert loaded.tags[target["id"]] != old_sha


def test_the_pending_spool_is_per_store_and_keeps_the_response_as_fetched(tmp_path, monkeypatch):
    from pipelines.corpus.pending import PendingSpool

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    one, other = PendingSpool.for_store(open_store(tmp_path / "a")), PendingSpool.for_store(open_store(tmp_path / "b"))
    assert one.folder != other.folder and one.folder.parent == other.folder.parent
    page = {"url": "https://x.example/a", "requested_url": "https://x.example/a?utm_source=rss",
            "body": b"<html>\xff\x00 raw bytes</html>", "status": 200, "etag": '"e1"'}
    document = {"text": "Body text.", "title": "T", "authors": [], "published": None, "language": "en",
                "canonical_url": None}
    one.put(page, document, {"topic": {"score": 1.0}}, {"name": "x", "version": "1"})
    one.put(dict(page, etag='"e2"'), document, None, {"name": "x", "version": "1"})  # the same URL: newest kept
    assert len(one) == 1 and len(other) == 0
    entry = one.load(one.files()[0])
    assert entry["page"]["body"] == page["body"] and entry["page"]["etag"] == '"e2"'
    seen = []
    done = one.replay(lambda e: seen.append(e["page"]["url"]) or "new")
    assert done.outcomes == {"new": 1} and seen == [page["url"]] and len(one) == 0


def _no_big_files():  # in the child: writes past 100 bytes fail with EFBIG, as a full disk fails with ENOSPC
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


def test_a_disk_that_refuses_writes_is_a_store_error_exit_3_without_a_traceback(tmp_path):
    """A full local disk (or a quota, a read-only remount) failed a page as `storing failed (OSError...)`,
    exit 1, tracebacks, a report saying ok; the OSError of a write is the store failing."""
    # (-B, PYTHONDONTWRITEBYTECODE: under the limit Python would leave truncated .pyc files behind)
    probe = subprocess.run([sys.executable, "-B", "-c", (
        "import sys; from pipelines.store.local import LocalStore; from pipelines.store import StoreError\n"
        f"s = LocalStore({str(tmp_path / 'probe')!r})\n"
        "try:\n    s.write('a/b.json', b'x' * 1000)\nexcept StoreError as e:\n    print('StoreError', e)\n")],
        preexec_fn=_no_big_files, capture_output=True, text=True, timeout=60)
    assert probe.stdout.startswith("StoreError") and "File too large" in probe.stdout, probe.stderr[-2000:]
    assert not [p for p in (tmp_path / "probe").rglob("*") if p.is_file()]  # no temp file left behind

    exe = Path(sys.executable).with_name("corpus")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")},
           "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run([os.fspath(exe), "fetch", "--store", str(tmp_path / "s"), "https://example.org/a"],
                         preexec_fn=_no_big_files, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert res.returncode == exitcodes.STORE, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("corpus: exit 3 (store)")]


def test_a_body_read_cut_by_a_reset_is_tried_again():
    """urllib3's ProtocolError (a GET's body cut by a reset, as a fault window does mid-read) was taken for
    a permanent failure: the page was an error in a 3 s outage the retries should have absorbed."""
    from http.client import IncompleteRead

    from botocore.exceptions import ClientError
    from urllib3.exceptions import ProtocolError

    from pipelines.store.s3 import _transient

    assert _transient(ProtocolError("Connection broken", ConnectionResetError(104, "reset")))
    assert _transient(IncompleteRead(b"partial"))
    assert not _transient(ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                                      "GetObject"))
