"""The cost of the store lock (pipelines/store/lock.py): take + release, and one renewal, on a local
folder and on moto's S3 server on 127.0.0.1 (no other traffic); and how many of N rounds of 8 threads
racing for a stale lock ended with exactly one winner.

Usage: .venv/bin/python bench/store_lock.py [--rounds N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# bench/requests.py would shadow the requests package (moto imports it): bench/ off the path
sys.path = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from s3server import CLEARED_ENV, DUMMY_ENV, S3Server  # noqa: E402


def stale() -> bytes:
    return json.dumps({"host": "elsewhere.example", "pid": 1, "run_id": "old", "renewed": time.time() - 1000,
                       "lease_seconds": 180}).encode()


def race(store, rounds: int) -> int:
    from pipelines.store.lock import LOCK_KEY, StoreLock

    one = 0
    for _ in range(rounds):
        store.write(LOCK_KEY, stale())
        locks = [StoreLock(store) for _ in range(8)]
        barrier, won = threading.Barrier(8), {}

        def take(i):
            barrier.wait()
            won[i] = locks[i].try_acquire()

        threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        one += sum(won.values()) == 1
        for i, w in won.items():
            if w:
                locks[i].release()
    return one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    import logging

    logging.disable(logging.WARNING)  # one "took over" line per round otherwise
    for name in CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(DUMMY_ENV)
    from pipelines.store import open_store
    from pipelines.store.lock import StoreLock

    server = S3Server().start()
    os.environ["AWS_ENDPOINT_URL"] = server.url
    try:
        print("| store | take + release | renew | races with exactly one winner |\n|---|---|---|---|")
        for name, spec in (("local", tempfile.mkdtemp()), ("S3 (moto)", f"s3://{server.make_bucket()}/corpus")):
            store, n = open_store(spec), 20
            start = time.perf_counter()
            for _ in range(n):
                StoreLock(store).acquire().release()
            take = (time.perf_counter() - start) / n
            lock = StoreLock(store).acquire()
            start = time.perf_counter()
            for _ in range(n):
                lock.renew()
            renew = (time.perf_counter() - start) / n
            lock.release()
            print(f"| {name} | {take * 1000:.1f} ms | {renew * 1000:.1f} ms | {race(store, args.rounds)} of {args.rounds} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
