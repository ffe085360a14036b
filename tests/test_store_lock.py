"""One run per store (pipelines/store/lock.py, crawler/storelock.py): the lock object against a real
local folder and moto's S3 server, and real `corpus` runs on the replay web."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crawler import exitcodes
from crawler.replay.server import DEFAULT_ROOT, ReplayServer
from pipelines.store.lock import LOCK_KEY, LockHeld, StoreLock, holder_gone, process_identity

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
OUTLETS = ["rsis", "asiaone"]  # outlets of the bundled replay web
EXE = Path(sys.executable).with_name("corpus")


def other_host_lock(renewed_ago: float, lease: float = 180.0) -> bytes:
    now = time.time()
    return json.dumps({"version": 1, "host": "crawler-7.elsewhere.example", "pid": 4242, "pid_start": "99",
                       "boot_id": "another-boot", "run_id": "run-elsewhere", "command": "crawl",
                       "acquired_at": "2026-01-01T00:00:00+00:00", "acquired": now - renewed_ago - 60,
                       "renewed_at": "2026-01-01T00:01:00+00:00", "renewed": now - renewed_ago,
                       "lease_seconds": lease}).encode()


def holder_of(store) -> dict | None:
    data = store.read(LOCK_KEY)
    return json.loads(data) if data else None


# --- the lock object, local and S3 -------------------------------------------------------------
def test_a_held_lock_refuses_another_run_until_released(blob_store):
    first = StoreLock(blob_store, command="crawl").acquire()
    assert holder_of(blob_store)["run_id"] == first.run_id
    assert holder_of(blob_store)["pid"] == os.getpid() and holder_of(blob_store)["host"] == socket.gethostname()
    second = StoreLock(blob_store, command="fetch")
    with pytest.raises(LockHeld) as caught:
        second.acquire()
    assert caught.value.holder["run_id"] == first.run_id
    assert f"run {first.run_id} (crawl, pid {os.getpid()} on {socket.gethostname()}) since" in str(caught.value)
    assert first.release() is True and holder_of(blob_store) is None
    with second:
        assert holder_of(blob_store)["run_id"] == second.run_id
    assert holder_of(blob_store) is None


def test_a_lock_held_by_a_crawl_shared_through_redis_is_described_without_a_pid():
    """A review saw `pid None` in the refusal: a shared run's lock names no pid (every worker renews it)."""
    from pipelines.store.lock import describe_holder

    now = time.time()
    holder = {"run_id": "redis-20261129T1500", "command": "crawl --redis", "pid": None, "pid_start": None,
              "host": "worker-3.example", "worker": "w3", "redis_run": "20261129T1500", "redis_prefix": "corpus",
              "acquired_at": "2026-11-29T15:00:00+00:00", "renewed": now - 12, "lease_seconds": 180}
    text = describe_holder(holder, now=now)
    assert "pid" not in text and "None" not in text
    assert ("run redis-20261129T1500 (crawl --redis, a crawl shared through Redis, last renewed by worker w3 on "
            "worker-3.example) since 2026-11-29T15:00:00+00:00, renewed 12 s ago; free once no worker renews it "
            "for 180 s") in text


def test_wait_lock_gets_the_lock_when_the_holder_releases_it(blob_store):
    first = StoreLock(blob_store).acquire()
    threading.Timer(0.5, first.release).start()
    start = time.monotonic()
    second = StoreLock(blob_store).acquire(wait=10, poll=0.1)
    assert second.held and 0.4 < time.monotonic() - start < 5
    second.release()


def test_another_hosts_lock_is_honoured_within_its_lease_and_taken_over_after(blob_store):
    blob_store.write(LOCK_KEY, other_host_lock(renewed_ago=10))
    with pytest.raises(LockHeld, match="run run-elsewhere .*crawler-7.elsewhere.example"):
        StoreLock(blob_store).acquire()
    assert holder_of(blob_store)["run_id"] == "run-elsewhere"
    blob_store.write(LOCK_KEY, other_host_lock(renewed_ago=200))  # lease 180 s: expired
    lock = StoreLock(blob_store).acquire()
    old, why = lock.taken_over
    assert old["run_id"] == "run-elsewhere" and "lease expired (renewed 200 s ago, lease 180 s)" in why
    assert holder_of(blob_store)["run_id"] == lock.run_id
    lock.release()


def test_a_dead_or_reused_pid_of_this_host_is_taken_over_at_once(blob_store):
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid is free
    me = process_identity()
    for pid, start, reason in ((gone.pid, None, f"its process {gone.pid} is gone"),
                               (os.getpid(), "1", f"its pid {os.getpid()} is now another process")):
        holder = {**me, "pid": pid, "pid_start": start, "run_id": f"dead-{pid}", "renewed": time.time(),
                  "lease_seconds": 3600}
        blob_store.write(LOCK_KEY, json.dumps(holder).encode())
        assert holder_gone(holder) == reason
        lock = StoreLock(blob_store).acquire()  # renewed just now, lease an hour: taken over all the same
        assert lock.taken_over[1] == reason and holder_of(blob_store)["run_id"] == lock.run_id
        lock.release()
    alive = {**me, "run_id": "alive", "renewed": time.time() - 10_000, "lease_seconds": 1}
    blob_store.write(LOCK_KEY, json.dumps(alive).encode())  # a live process of this host: its lease is moot
    with pytest.raises(LockHeld):
        StoreLock(blob_store).acquire()


@pytest.mark.parametrize("start", ["stale", "free"])
def test_racing_takers_exactly_one_wins(blob_store, start):
    for _ in range(3):
        if start == "stale":
            blob_store.write(LOCK_KEY, other_host_lock(renewed_ago=1000))
        else:
            blob_store.delete(LOCK_KEY)
        locks = [StoreLock(blob_store, command=f"racer-{i}") for i in range(8)]
        barrier = threading.Barrier(len(locks))
        results: dict[int, bool] = {}

        def take(i):
            barrier.wait()
            results[i] = locks[i].try_acquire()

        threads = [threading.Thread(target=take, args=(i,)) for i in range(len(locks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        winners = [i for i, won in results.items() if won]
        assert len(results) == len(locks) and len(winners) == 1, results
        assert holder_of(blob_store)["run_id"] == locks[winners[0]].run_id
        losers = [locks[i] for i in results if i != winners[0]]
        assert all(lock.holder and lock.holder.get("run_id") == locks[winners[0]].run_id for lock in losers)
        assert locks[winners[0]].release()


def test_the_heartbeat_renews_and_a_lock_taken_away_is_noticed(blob_store):
    lost = threading.Event()
    lock = StoreLock(blob_store, lease=0.4, on_lost=lambda holder: lost.set()).acquire()
    first = holder_of(blob_store)["renewed"]
    lock.start_heartbeat()
    time.sleep(0.8)
    assert holder_of(blob_store)["renewed"] > first  # renewed by the heartbeat
    blob_store.write(LOCK_KEY, other_host_lock(renewed_ago=0))  # another run took it (this one was thought dead)
    assert lost.wait(5) and lock.lost
    assert lock.release() is False and holder_of(blob_store)["run_id"] == "run-elsewhere"  # not deleted


# --- real `corpus` runs ---------------------------------------------------------------------------
def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env.update(extra)
    return env


def start_crawl(replay_url: str, store, tmp_path, *extra, env=None) -> subprocess.Popen:
    """A crawl of the replay web with the registry's politeness (slow: it holds the lock for a while)."""
    return subprocess.Popen([os.fspath(EXE), "crawl", "--replay", replay_url, "--store", str(store), "--any-topic",
                             *extra], cwd=tmp_path, env=env or clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_lock(path: Path, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"the first crawl never took the lock: {proc.communicate(timeout=30)[1][-2000:]}")


def test_overlapping_crawls_the_second_exits_75_and_requests_nothing(replay, tmp_path, corpus_cmd):
    store = tmp_path / "s"
    with ReplayServer(DEFAULT_ROOT) as first_web:
        first = start_crawl(first_web.url, store, tmp_path)
        try:
            holder = wait_for_lock(store / "state" / "lock.json", first)
            second = corpus_cmd("crawl", "--replay", replay.url, "--store", store, "--any-topic",
                                "--report", tmp_path / "r.json", *FAST)
            assert first.poll() is None  # the first still runs
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
    assert second.returncode == exitcodes.LOCKED, second.stderr[-3000:]
    lines = [ln for ln in second.stderr.splitlines() if ln.startswith("corpus: exit")]
    assert len(lines) == 1 and lines[0].startswith("corpus: exit 75 (locked): the store of ")
    assert f"run {holder['run_id']} (crawl, pid {first.pid} on {socket.gethostname()}) since" in lines[0]
    assert replay.requests == []  # the second run requested nothing
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == 75 and report["exit_name"] == "locked"
    assert report["finish_reason"] == "store_locked" and report["lock_holder"]["run_id"] == holder["run_id"]
    assert first.returncode == exitcodes.INTERRUPTED and not (store / "state" / "lock.json").exists()


def test_a_crawl_killed_with_sigkill_leaves_a_lock_the_next_run_takes_over_at_once(replay, tmp_path, corpus_cmd):
    store = tmp_path / "s"
    with ReplayServer(DEFAULT_ROOT) as first_web:
        first = start_crawl(first_web.url, store, tmp_path)
        try:
            holder = wait_for_lock(store / "state" / "lock.json", first)
        finally:
            first.kill()
            first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL and holder["pid"] == first.pid
    assert (store / "state" / "lock.json").exists()  # left behind
    start = time.monotonic()
    res = corpus_cmd("crawl", *OUTLETS, "--replay", replay.url, "--store", store, "--any-topic", *FAST)
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    assert f"took over the store's lock from run {holder['run_id']} (pid {first.pid} on " in res.stderr
    assert f"its process {first.pid} is gone" in res.stderr
    assert replay.requests and time.monotonic() - start < 60  # no lease waited out (180 s)
    assert not (store / "state" / "lock.json").exists()


def test_another_hosts_lock_stops_a_fetch_until_its_lease_expires(replay, tmp_path, corpus_cmd):
    store = tmp_path / "s"
    (store / "state").mkdir(parents=True)
    url = "https://rsis.edu.sg/rsis-publication/rsis/asean-and-the-russia-ukraine-war-hedging-in-hard-times/"
    (store / "state" / "lock.json").write_bytes(other_host_lock(renewed_ago=30))
    held = corpus_cmd("fetch", "--replay", replay.url, "--store", store, url)
    assert held.returncode == exitcodes.LOCKED and "crawler-7.elsewhere.example" in held.stderr
    assert replay.requests == []
    shorter = corpus_cmd("fetch", "--replay", replay.url, "--store", store, url,
                         env={"CORPUS_STORE_LOCK_LEASE": "20"})  # the holder's own lease (180 s) counts
    assert shorter.returncode == exitcodes.LOCKED and replay.requests == []
    (store / "state" / "lock.json").write_bytes(other_host_lock(renewed_ago=300))
    taken = corpus_cmd("fetch", "--replay", replay.url, "--store", store, url)
    assert taken.returncode != exitcodes.LOCKED, taken.stderr[-3000:]
    assert "took over the store's lock from run run-elsewhere" in taken.stderr and "lease expired" in taken.stderr
    assert replay.requests and not (store / "state" / "lock.json").exists()
    (store / "state" / "lock.json").write_bytes(other_host_lock(renewed_ago=0))  # read-only commands: no lock
    export = corpus_cmd("export", "--store", store, "--out", tmp_path / "out.jsonl")
    assert export.returncode == exitcodes.OK, export.stderr[-3000:]
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["url"] == url


def test_a_manifest_rebuild_waits_for_the_store_and_keeps_a_live_runs_open_marker(replay, tmp_path, corpus_cmd):
    """A review ran `corpus manifest --rebuild` during a crawl: it cleared the crawl's open-run marker, the crawl
    was then killed, and the manifest stayed 26 records short for good. The rebuild writes, so it holds the
    store's lock like `dedup --rebuild`: exit 75 while another run holds it."""
    store = tmp_path / "s"
    url = "https://rsis.edu.sg/rsis-publication/rsis/asean-and-the-russia-ukraine-war-hedging-in-hard-times/"
    assert corpus_cmd("fetch", "--replay", replay.url, "--store", store, url).returncode == exitcodes.OK
    marker = store / "corpus" / "manifests" / "open" / "run-elsewhere.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("{}")  # as a live crawl's open-run marker
    (store / "state" / "lock.json").write_bytes(other_host_lock(renewed_ago=30))
    res = corpus_cmd("manifest", "--rebuild", "--store", store)
    assert res.returncode == exitcodes.LOCKED, res.stderr[-2000:]
    assert "crawler-7.elsewhere.example" in res.stderr and marker.exists()
    assert corpus_cmd("manifest", "--store", store).returncode == exitcodes.OK  # showing it takes no lock
    (store / "state" / "lock.json").unlink()
    res = corpus_cmd("manifest", "--rebuild", "--store", store)
    assert res.returncode == exitcodes.OK and "built from the records" in res.stderr, res.stderr[-2000:]
    assert not (store / "state" / "lock.json").exists()


def test_an_s3_store_held_by_another_run_is_exit_75(replay, s3_server, s3_endpoint, tmp_path, corpus_cmd):
    from pipelines.store import open_store

    spec = f"s3://{s3_server.make_bucket()}/corpus"
    store = open_store(spec)
    lock = StoreLock(store, command="crawl").acquire()
    env = {k: os.environ[k] for k in os.environ if k.startswith("AWS_")}
    try:
        res = corpus_cmd("crawl", *OUTLETS, "--replay", replay.url, "--store", spec, "--any-topic", *FAST, env=env)
    finally:
        lock.release()
    assert res.returncode == exitcodes.LOCKED, res.stderr[-3000:]
    assert f"run {lock.run_id} (crawl, pid {os.getpid()}" in res.stderr and replay.requests == []
    assert store.read(LOCK_KEY) is None


RACER = """
import sys, time
from pipelines.store import open_store
from pipelines.store.lock import StoreLock
store, at = open_store(sys.argv[1]), float(sys.argv[2])
lock = StoreLock(store, command="racer")
time.sleep(max(0.0, at - time.time()))
print("won" if lock.try_acquire() else "lost", lock.run_id)
"""


def test_racing_processes_on_a_stale_lock_exactly_one_wins(blob_store, tmp_path):
    blob_store.write(LOCK_KEY, other_host_lock(renewed_ago=1000))
    at = time.time() + 3  # every process imported and waiting by then, on a loaded machine too
    procs = [subprocess.Popen([sys.executable, "-c", RACER, blob_store.describe(), str(at)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1000:] for _, err in outs]
    results = [out.split() for out, _ in outs]
    winners = [run for verdict, run in results if verdict == "won"]
    assert len(winners) == 1, results
    assert holder_of(blob_store)["run_id"] == winners[0]
