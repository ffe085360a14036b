"""`corpus crawl --redis URL`: worker processes share one crawl through Debian's redis-server on 127.0.0.1
(crawler/distributed.py, pipelines/crawl/shared_run.py)."""

from __future__ import annotations

import json
import os
import re
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


def start_worker(replay, store, redis_url, cwd, *extra, env=None, via_env=False):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    full_env.update(env or {})
    if via_env:  # CORPUS_REDIS_URL instead of --redis
        full_env["CORPUS_REDIS_URL"] = redis_url
    where = [] if via_env else ["--redis", redis_url]
    return subprocess.Popen([os.fspath(EXE), "crawl", "--replay", replay.url, "--store", os.fspath(store),
                             *where, *FAST, "-s", "CORPUS_EXTRACT_WORKERS=0", *extra, *OUTLETS],
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
    workers = [start_worker(replay, store, redis_url, tmp_path, via_env=n == 2) for n in range(3)]
    results = finish(workers)
    for code, stdout, stderr in results:
        assert code == 0, stdout + stderr
    assert len({re.search(r"of run (\S+) on Redis", stderr).group(1) for _, _, stderr in results}) == 1
    union = records(store)
    assert set(union) == set(one_records) and len(union) == 35
    assert {r["id"] for r in union.values()} == {r["id"] for r in one_records.values()}
    # nothing fetched twice: every article page requested once in all, as by the single crawl
    assert hits(replay) == one_hits and max(one_hits.values()) == 1
    # nothing stored twice: the workers' reports count each record once, as new (how the work was split
    # depends on when each process got going: not asserted; the SIGKILL test has workers share for sure)
    runs = [r for r in reports(store) if r.get("exit_name") == "ok"]
    assert len(runs) == 3
    new = [r["stats"].get("corpus/outcome/new", 0) for r in runs]
    assert sum(new) == 35, new
    # the state of every URL is in the compacted snapshot, written once by the last worker to leave
    state = json.loads((store / "state" / "urls.json").read_text())["urls"]
    assert {u for u, e in state.items() if e.get("status") in ("stored", "off-topic")} >= set(union)
    assert not list((store / "state" / "journal").glob("*.jsonl"))
    assert sum(r["stats"].get("corpus/redis/finaliser", 0) for r in runs) == 1
    # discovery is judged run-wide: each report has the run's figures; the outlets' history has one entry
    assert all(r["summary"][o]["discovered"] == 9 for r in runs for o in OUTLETS)
    health = json.loads((store / "state" / "outlets.json").read_text())["outlets"]
    assert {o: [e["discovered"] for e in health[o]] for o in OUTLETS} == {o: [9] for o in OUTLETS}
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


def inflight(client, prefix):
    """worker id -> the URLs it holds in flight (popped, not settled)"""
    out = {}
    for key in client.keys(f"{prefix}:run:*:inflight:*"):
        urls = [json.loads(v.split(b"|", 1)[1])["url"] for v in client.hvals(key)]
        out[key.decode().rsplit(":", 1)[1]] = urls
    return out


def test_a_worker_killed_with_sigkill_loses_nothing(single, replay, redis_url, corpus_cmd, tmp_path):
    one_records, one_hits = single
    store = tmp_path / "shared"
    client = redis.Redis.from_url(redis_url)
    prefix = store_prefix(str(store))
    lease = ["-s", "CORPUS_REDIS_WORKER_LEASE=1.5"]
    victim = start_worker(replay, store, redis_url, tmp_path, *lease, "-s", "DOWNLOAD_DELAY=0.4")
    held: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and victim.poll() is None:
        held = [u for urls in inflight(client, prefix).values() for u in urls if canonicalize(u) in one_records]
        if len(held) >= 2 and list((store / "corpus" / "docs").rglob("*.json")):  # articles in flight, some stored
            break
        time.sleep(0.05)
    assert victim.poll() is None and len(held) >= 2, "the victim never held articles in flight"
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    left = inflight(client, prefix)
    assert sum(map(len, left.values())) >= 2  # its in-flight requests survived it, in Redis
    # the run still holds the store's lock: an ordinary crawl is kept out (exit 75), requesting nothing
    before = len(replay.requests)
    res = corpus_cmd("crawl", "--replay", replay.url, "--store", store, *FAST, *OUTLETS)
    assert res.returncode == 75, res.stdout + res.stderr
    assert len(replay.requests) == before
    # two workers join the same run, put the dead worker's requests back in the queue and finish the crawl
    rest = finish([start_worker(replay, store, redis_url, tmp_path, *lease) for _ in range(2)])
    for code, stdout, stderr in rest:
        assert code == 0, stdout + stderr
    assert any("back in the queue" in stderr for _, _, stderr in rest)
    union = records(store)
    assert set(union) == set(one_records)
    assert {r["id"] for r in union.values()} == {r["id"] for r in one_records.values()}
    # what was fetched twice is only what the dead worker had in flight (fetched again by the others)
    twice = {u for u, n in hits(replay).items() if n > 1}
    assert twice <= {canonicalize(u) for urls in left.values() for u in urls}
    assert client.keys(f"{prefix}:run*") == []  # the run ended
    assert not (store / "state" / "lock.json").exists()


def test_the_queue_is_reliable_and_stores_never_mix(redis_url):
    client = redis.Redis.from_url(redis_url)
    a = SharedRun(client, "/tmp/store-one", lease=0.3, worker_id="a")
    b = SharedRun(client, "/tmp/store-one/", lease=5, worker_id="b")
    other = SharedRun(client, "s3://bucket/prefix", lease=5, worker_id="c")
    assert a.join() == b.join() != other.join()  # one run per store; the same store spelt two ways
    assert a.prefix == b.prefix != other.prefix
    for n in range(3):
        a.push(f"request-{n}".encode(), -n)
    got = [a.pop(), a.pop()]
    assert [data for _, data in got] == [b"request-2", b"request-1"]  # highest priority first
    assert a.in_flight() == 2 and b.queued() == 1 and b.pending() == (1, 2, 1)
    a.settle(got[0][0])
    time.sleep(0.4)  # a's heartbeat (never renewed) expires: a is taken for dead
    assert b.reclaim() == 1 and b.workers() == {"b"}
    assert sorted(data for _, data in [b.pop(), b.pop()]) == [b"request-0", b"request-1"]
    assert b.pop() is None and other.queued() == 0 and other.pop() is None
    assert b.leave() == 0 and b.end()
    assert client.keys(f"{b.prefix}:*") == [] and client.exists(other.run_key)


def test_a_worker_is_kept_out_while_an_ordinary_crawl_holds_the_store(replay, redis_url, tmp_path):
    from pipelines.store.lock import StoreLock

    store = tmp_path / "store"
    client = redis.Redis.from_url(redis_url)
    with StoreLock(open_store(store), command="crawl"):  # an ordinary run holds the store
        (code, stdout, stderr), = finish([start_worker(replay, store, redis_url, tmp_path)], timeout=60)
    assert code == 75, stdout + stderr
    assert "is locked by another run" in stderr and replay.requests == []
    assert client.keys(store_prefix(str(store)) + ":*") == []  # it left the shared run, which ended


def is_article(url: str) -> bool:
    return url.split("?")[0].endswith(".html") or "/rsis-publication/rsis/" in url and url.count("/") > 5


def test_a_worker_stopped_with_sigterm_gives_its_requests_back(replay, redis_url, tmp_path):
    from pipelines.crawl.state import CrawlState

    store = tmp_path / "shared"
    client = redis.Redis.from_url(redis_url)
    prefix = store_prefix(str(store))
    worker = start_worker(replay, store, redis_url, tmp_path, "-s", "DOWNLOAD_DELAY=0.4")
    held: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None and len(held) < 2:
        held = [u for urls in inflight(client, prefix).values() for u in urls if is_article(u)]
        time.sleep(0.05)
    assert len(held) >= 2
    worker.send_signal(signal.SIGTERM)
    code, stdout, stderr = finish([worker], timeout=60)[0]
    assert code == 5, stdout + stderr
    assert inflight(client, prefix) == {}  # settled, or back in the queue: nothing held by a worker that left
    assert client.exists(f"{prefix}:run") and not (store / "state" / "lock.json").exists()
    run = client.get(f"{prefix}:run").decode()
    queued = {json.loads(m)["url"] for m in client.zrange(f"{prefix}:run:{run}:requests", 0, -1)}
    state = CrawlState.load(open_store(store), run_id="check")
    settled = {u for u in held if (state.get(u) or {}).get("status") in ("stored", "off-topic")}
    assert set(held) <= settled | queued, (held, settled, queued)
    # the next worker resumes the run and finishes it: every held article ends stored or off-topic
    (code, stdout, stderr), = finish([start_worker(replay, store, redis_url, tmp_path)])
    assert code == 0, stdout + stderr
    state = CrawlState.load(open_store(store), run_id="check")
    assert all(state.get(u)["status"] in ("stored", "off-topic") for u in held)
    assert client.keys(f"{prefix}:run*") == []


def test_redis_going_away_stops_the_worker_with_exit_3(replay, tmp_path):
    from redisserver import RedisServer

    store = tmp_path / "shared"
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        worker = start_worker(replay, store, server.url, tmp_path, "-s", "DOWNLOAD_DELAY=0.4")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None and not inflight(client, store_prefix(str(store))):
            time.sleep(0.05)
        assert worker.poll() is None
    finally:
        server.stop()
    code, stdout, stderr = finish([worker], timeout=90)[0]  # not a hang: a clear failure, as for a store
    assert code == 3, stdout + stderr
    assert "exit 3 (store): the store failed" in stderr and "Redis failed " in stderr, stderr
    # other workers may still run: the lock stays in the run's name, freed a lease after its last renewal
    assert json.loads((store / "state" / "lock.json").read_text())["run_id"].startswith("redis-")


def test_redis_going_away_as_the_worker_starts_is_exit_3_without_a_traceback(replay, tmp_path):
    """A reviewer killed Redis while a worker was opening its spider (the scheduler's first question, the
    queue's length): six tracebacks ("Scraper slot not assigned") and exit 5, "interrupted", which a
    CronJob retries quietly, where a store that fails is exit 3. A proxy cuts Redis at exactly that
    command here."""
    from faultproxy import FaultProxy
    from redisserver import RedisServer

    with RedisServer() as server, FaultProxy(server.url.split("//", 1)[1].split("/", 1)[0]) as proxy:
        proxy.trip_on = b"ZCARD"  # the queue's length: asked first when the scheduler opens
        worker = start_worker(replay, tmp_path / "store", f"redis://127.0.0.1:{proxy.port}/0", tmp_path)
        (code, stdout, stderr), = finish([worker], timeout=120)
    assert proxy.mode == "refuse", stderr[-3000:]  # the outage did come at that step
    assert code == 3, stdout + stderr[-3000:]
    assert "Traceback" not in stderr and "Unhandled error" not in stderr, stderr[-3000:]
    assert "exit 3 (store)" in stderr and "Redis failed " in stderr, stderr[-3000:]
    assert not article_hits(replay)


def test_redis_that_does_not_answer_is_exit_3_before_any_request(replay, corpus_cmd, tmp_path):
    res = corpus_cmd("crawl", "--replay", replay.url, "--store", tmp_path / "store",
                     "--redis", "redis://:s3cret@127.0.0.1:1/0", "intellinews")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "Redis at redis://***@127.0.0.1:1/0 does not answer" in res.stderr and "s3cret" not in res.stderr
    assert replay.requests == []
    res = corpus_cmd("crawl", "--store", tmp_path / "store", "--redis", "localhost:6379", "intellinews")
    assert res.returncode == 2 and "--redis takes redis://HOST:PORT/DB" in res.stderr


def test_a_full_redis_is_exit_3_without_a_traceback(replay, tmp_path):
    """Redis at its maxmemory (noeviction) refuses writes: at the start, nothing is requested; in the middle,
    the worker stops with exit 3 and its pages are spooled, not lost. No traceback either way."""
    from redisserver import RedisServer

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory", client.info("memory")["used_memory"] + 20_000)
        full = start_worker(replay, tmp_path / "a", server.url, tmp_path)
        (code, _, err), = finish([full])
        assert code == 3 and "refused to join the run" in err, err[-2000:]
        assert "Traceback" not in err and not article_hits(replay)
        client.config_set("maxmemory", 0)
        client.flushall()
        worker = start_worker(replay, tmp_path / "b", server.url, tmp_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(k.endswith(b":requests") for k in client.keys()):
            time.sleep(0.02)
        client.config_set("maxmemory", client.info("memory")["used_memory"] + 20_000)
        (code, _, err), = finish([worker])
        assert code == 3, err[-2000:]
        assert "Traceback" not in err, err[-3000:]
