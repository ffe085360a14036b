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
    first = worker.stderr.readline()  # "waiting for runs of ...": its arguments checked, its handlers in place
    assert "waiting for runs" in first, first
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


def test_a_crawl_sent_to_a_run_that_ended_starts_none(replay, redis_url, tmp_path):
    """`corpus worker` passes the run it saw (CORPUS_REDIS_JOIN_RUN): if that run ended meanwhile, its crawl
    does nothing rather than start a run of its own (a reviewer saw standing workers start full runs)."""
    store = tmp_path / "store"
    res = subprocess.run([os.fspath(EXE), "crawl", "--redis", redis_url, "--replay", replay.url, "--store",
                          os.fspath(store), *FAST, "-s", "CORPUS_REDIS_JOIN_RUN=20261128T000000Z-gone00", "rsis"],
                         env={k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "has ended: nothing to join" in res.stderr
    assert not replay.requests
    assert not redis.Redis.from_url(redis_url).exists(f"{store_prefix(os.fspath(store))}:run")


def test_a_joining_worker_crawls_the_runs_outlets(replay, redis_url, tmp_path):
    """The run is what its starter asked for: a worker joining with other outlets is told, and crawls the
    run's (a reviewer's run of one outlet had grown to five when a worker with all five joined)."""
    store = tmp_path / "store"
    slow = ["-s", "DOWNLOAD_DELAY=0.3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    base = [os.fspath(EXE), "crawl", "--redis", redis_url, "--replay", replay.url, "--store", os.fspath(store),
            *FAST, *slow, "-s", "CORPUS_EXTRACT_WORKERS=0"]
    starter = subprocess.Popen([*base, "rsis"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not client.exists(f"{store_prefix(os.fspath(store))}:run"):
        time.sleep(0.05)
    joiner = subprocess.Popen([*base, "rsis", "intellinews"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    (code1, _, err1), (code2, _, err2) = finish([starter, joiner])
    assert code1 == 0 and code2 == 0, (err1[-1500:], err2[-1500:])
    assert "crawls rsis, not intellinews, rsis" in err2 or "crawls rsis, not rsis, intellinews" in err2, err2[-1500:]
    outlets = {r["outlet"] for r in records(store).values()}
    assert outlets == {"rsis"}
    assert not [h for h in replay.requests if "intellinews" in h.host]


def test_worker_arguments_are_checked_at_start_and_the_password_never_shown(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    store = os.fspath(tmp_path / "s")
    typo = subprocess.run([os.fspath(EXE), "worker", "--redis", "redis://127.0.0.1:1/0", "--", "--store", store,
                           "nosuchoutlet"], env=env, capture_output=True, text=True, timeout=60)
    assert typo.returncode == 2 and "nosuchoutlet" in typo.stderr
    unknown = subprocess.run([os.fspath(EXE), "worker", "--redis", "redis://127.0.0.1:1/0", "--", "--store", store,
                              "-s", "CORPUS_NOPE=1"], env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "CORPUS_NOPE" in unknown.stderr
    for command in (["worker", "--redis", "redis://127.0.0.1:notaport/0", "--", "--store", store],
                    ["crawl", "--redis", "redis://127.0.0.1:notaport/0", "--store", store, "rsis"]):
        bad = subprocess.run([os.fspath(EXE), *command], env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr[-1500:]
    from s3server import closed_port

    secret = subprocess.run([os.fspath(EXE), "worker", "--redis", f"redis://:sekrit@127.0.0.1:{closed_port()}/0",
                             "--poll", "0.2", "--redis-timeout", "1", "--", "--store", store],
                            env=env, capture_output=True, text=True, timeout=60)
    assert secret.returncode == 3 and "sekrit" not in secret.stderr + secret.stdout


DROPPED_STOP = r'''
import signal, sys
import redis
from crawler import distributed
from crawler.cli import main

real = distributed.redis_client

class Dropped:
    def __del__(self):  # where Python drops what a signal handler raises ("Exception ignored in ...")
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)

class Client(redis.Redis):
    def get(self, name):
        Dropped()  # the SIGTERM lands here, as in an import's module-lock callback on the first command
        return super().get(name)

distributed.redis_client = lambda url, **kw: Client.from_url(url, **kw)
sys.exit(main(sys.argv[1:]))
'''


def test_a_stop_signal_landing_where_python_drops_exceptions_still_stops_the_worker(replay, redis_url, tmp_path):
    """A CI run saw a standing worker poll on for 30 s after SIGTERM: the signal had landed while redis-py
    imported on its first command, and the exception the handler raised there was dropped. The handler
    now only notes the signal, and the loop reads the note."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    res = subprocess.run([sys.executable, "-c", DROPPED_STOP, "worker", "--redis", redis_url, "--poll", "0.2",
                          "--", "--replay", replay.url, "--store", os.fspath(tmp_path / "store"), *FAST, "rsis"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 5, res.stderr[-2000:]
    assert "stopped by SIGTERM" in res.stderr
    assert not replay.requests


class _SlowGets:
    """A TCP proxy on 127.0.0.1 in front of Redis that holds every command with a GET for ``delay`` seconds."""

    def __init__(self, target_port: int, delay: float):
        import socket
        import threading

        self.delay, self.target = delay, target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _pump(self, src, dst, delay):
        try:
            while data := src.recv(65536):
                if delay and b"GET" in data:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass

    def _serve(self):
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, 0), daemon=True).start()

    def close(self):
        self.listener.close()


def test_a_stop_during_a_slow_redis_answer_starts_no_crawl(replay, redis_url, tmp_path):
    """A reviewer's case: SIGTERM while the GET of the run key is slow, and a run is in progress: the worker
    must leave with exit 5 without starting a crawl only to stop it."""
    from urllib.parse import urlsplit

    store = tmp_path / "store"
    redis.Redis.from_url(redis_url).set(f"{store_prefix(os.fspath(store))}:run", "20261128T000000Z-run001")
    proxy = _SlowGets(urlsplit(redis_url).port, 2.0)
    try:
        worker = standing_worker(replay, store, f"redis://127.0.0.1:{proxy.port}/0", tmp_path)
        assert "waiting for runs" in worker.stderr.readline()
        time.sleep(0.5)  # inside the slow GET
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        proxy.close()
    assert worker.returncode == 5, err
    assert "joining run" not in err and "stopped by SIGTERM" in err
    assert not replay.requests


def test_ctrl_c_in_a_terminal_reaches_the_joined_crawl_once(replay, redis_url, tmp_path):
    """Ctrl-C signals a terminal's whole foreground process group. The crawl the worker joined used to get
    SIGINT from the terminal and again from the worker, which Scrapy reads as a forced, unclean shutdown."""
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    slow = ["-s", "DOWNLOAD_DELAY=0.5", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
    worker = subprocess.Popen([os.fspath(EXE), "worker", "--redis", redis_url, "--poll", "0.2", "--",
                               "--replay", replay.url, "--store", os.fspath(store), *FAST, *slow,
                               "-s", "CORPUS_EXTRACT_WORKERS=0", "rsis"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # a terminal's foreground group, not pytest's
    starter = start_worker(replay, store, redis_url, tmp_path, *slow)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("joining run" in s for s in seen):
        seen.append(worker.stderr.readline())
    assert any("joining run" in s for s in seen), seen
    time.sleep(2)  # its crawl under way
    os.killpg(worker.pid, signal.SIGINT)
    _, err = worker.communicate(timeout=120)
    finish([starter])
    err = "".join(seen) + err
    assert worker.returncode == 5, err[-2000:]
    assert "a second signal" not in err and "without closing" not in err, err[-2000:]
    assert "stopped by SIGINT" in err
