"""`corpus worker`: a standing worker (a Deployment's pod, a compose replica) waits for a crawl a scheduler
starts on Redis, joins it, and waits for the next one (crawler/commands/worker.py). Debian's redis-server
and the replay web on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from pipelines.crawl.shared_run import store_prefix
from test_crawl import FAST
from test_distributed import finish, hits, records, start_worker

EXE = Path(sys.executable).with_name("corpus")


def standing_worker(replay, store, redis_url, cwd, *flags):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    return subprocess.Popen([os.fspath(EXE), "worker", "--redis", redis_url, "--poll", "0.2", *flags, "--",
                             "--replay", replay.url, "--store", os.fspath(store), *FAST,
                             "-s", "CORPUS_EXTRACT_WORKERS=0", "rsis", "intellinews"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_standing_worker_waits_joins_the_scheduled_run_and_exits_with_its_status(replay, redis_url, tmp_path):
    store = tmp_path / "store"
    worker = standing_worker(replay, store, redis_url, tmp_path, "--once")
    time.sleep(1.5)
    assert worker.poll() is None, "no run on Redis yet: the worker waits"
    assert not replay.requests, "and requests nothing"
    assert not redis.Redis.from_url(redis_url).exists(f"{store_prefix(os.fspath(store))}:run")
    starter = start_worker(replay, store, redis_url, tmp_path)  # the scheduler's run (every outlet)
    (code, _, err), = finish([starter])
    assert code == 0, err[-2000:]
    out, werr = worker.communicate(timeout=120)
    assert worker.returncode == 0, werr[-2000:]
    assert "joining run" in werr and "corpus crawl exited 0" in werr
    stored = records(store)
    assert len(stored) == 35  # 5 outlets x 7 on-topic articles, as one crawl
    assert max(hits(replay).values()) == 1, "no article requested twice"


def test_a_standing_worker_stops_on_sigterm_with_exit_5(replay, redis_url, tmp_path):
    worker = standing_worker(replay, tmp_path / "store", redis_url, tmp_path)
    time.sleep(1.0)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 5, err
    assert "stopped by SIGTERM" in err


def test_a_worker_without_redis_is_a_usage_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    res = subprocess.run([os.fspath(EXE), "worker", "--", "--store", os.fspath(tmp_path / "s")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "needs --redis" in res.stderr


def test_a_worker_whose_redis_stays_away_exits_3(tmp_path):
    from s3server import closed_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    res = subprocess.run([os.fspath(EXE), "worker", "--redis", f"redis://127.0.0.1:{closed_port()}/0",
                          "--poll", "0.2", "--redis-timeout", "1", "--", "--store", os.fspath(tmp_path / "s")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 3, res.stderr
    assert "has not answered" in res.stderr
