"""`corpus crawl --redis URL`: worker processes share one crawl through Debian's redis-server on 127.0.0.1
(crawler/distributed.py, pipelines/crawl/shared_run.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from pipelines.corpus.layout import Corpus
from pipelines.crawl.shared_run import SharedRun, store_prefix
from pipelines.crawl.urls import canonicalize
from pipelines.store import open_store
from test_crawl import FAST, article_hits, crawl

OUTLETS = ["intellinews", "russia-briefing", "rsis", "yahoo-finance", "russia-direct"]
EXE = Path(sys.executable).with_name("corpus")


def start_worker(replay, store, redis_url, cwd, *extra, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    full_env.update(env or {})
    return subprocess.Popen([os.fspath(EXE), "crawl", "--replay", replay.url, "--store", os.fspath(store),
                             "--redis", redis_url, *FAST, "-s", "CORPUS_EXTRACT_WORKERS=0", *extra, *OUTLETS],
                            cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs, timeout=120):
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        out.append((proc.returncode, stdout, stderr))
    return out


def records(store):
    """canonical URL -> record (which of an article's URLs a record names depends on which feed or sitemap
    listed it first)"""
    return {canonicalize(r["url"]): r for r in Corpus(open_store(store)).iter_records(with_text=False)}


def reports(store):
    return [json.loads(p.read_text()) for p in sorted((Path(store) / "corpus" / "runs").glob("*.json"))]


def hits(replay):
    """canonical article URL -> how often it was requested"""
    return Counter(canonicalize(f"https://{h.host}{h.path}") for h in article_hits(replay))


@pytest.fixture
def single(replay, corpus_cmd, tmp_path):
    """One ordinary crawl of the replay web: what the workers together must match."""
    store = tmp_path / "single"
    crawl(corpus_cmd, replay, store, "-s", "CORPUS_EXTRACT_WORKERS=0", *OUTLETS)
    done = records(store), hits(replay)
    replay.requests.clear()
    return done


def test_three_workers_together_crawl_what_one_crawl_does(single, replay, redis_url, tmp_path):
    one_records, one_hits = single
    store = tmp_path / "shared"
    workers = [start_worker(replay, store, redis_url, tmp_path) for _ in range(3)]
    results = finish(workers)
    for code, stdout, stderr in results:
        assert code == 0, stdout + stderr
    union = records(store)
    assert set(union) == set(one_records) and len(union) == 35
    assert {r["id"] for r in union.values()} == {r["id"] for r in one_records.values()}
    # nothing fetched twice: every article page requested once in all, as by the single crawl
    assert hits(replay) == one_hits and max(one_hits.values()) == 1
    # nothing stored twice: the workers' reports count each record once, as new; each did its share
    runs = [r for r in reports(store) if r.get("exit_name") == "ok"]
    assert len(runs) == 3
    new = [r["stats"].get("corpus/outcome/new", 0) for r in runs]
    assert sum(new) == 35 and sum(1 for n in new if n) >= 2, new
    # the state of every URL is in the compacted snapshot, written once by the last worker to leave
    state = json.loads((store / "state" / "urls.json").read_text())["urls"]
    assert {u for u, e in state.items() if e.get("status") in ("stored", "off-topic")} >= set(union)
    assert not list((store / "state" / "journal").glob("*.jsonl"))
    assert sum(r["stats"].get("corpus/redis/finaliser", 0) for r in runs) == 1
    # the manifest and INDEX.md list every record; no worker's open-run marker is left
    latest = json.loads((store / "corpus" / "manifests" / "latest.json").read_text())
    assert sum(latest["counts"].values()) >= 35, latest["counts"]
    assert not list((store / "corpus" / "manifests" / "open").glob("*.json"))
    index = (store / "corpus" / "INDEX.md").read_text()
    assert all(r["id"] in index for r in union.values())
    # the run ended: its queue, dupefilter and id are gone from Redis; the store's lock is released
    client = redis.Redis.from_url(redis_url)
    assert client.keys(store_prefix(str(store)) + ":run*") == []  # (P:dedup:* is the store's, pipelines/dedup/shared.py)
    assert not (store / "state" / "lock.json").exists()
    # the next run starts fresh: nothing is due, nothing requested again (the crawl state, not a dupefilter)
    replay.requests.clear()
    (code, stdout, stderr), = finish([start_worker(replay, store, redis_url, tmp_path)])
    assert code == 0, stdout + stderr
    assert not set(hits(replay)) & set(union)  # (listings and feeds are read again: discovery)
