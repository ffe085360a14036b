"""End-to-end crawl throughput on the bundled replay web: local folder vs S3 (moto on 127.0.0.1).

Runs `corpus crawl` (a subprocess, as a user would) over the seven replay outlets with politeness
delays off (our own server on loopback), then a second, incremental run, and prints wall time and
article pages per second for each store.

Usage: .venv/bin/python bench/crawl.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
OUTLETS = ["intellinews", "russia-briefing", "rsis", "yahoo-finance", "russia-direct", "scmp", "asiaone"]


def run(replay_url: str, store: str, env: dict) -> tuple[float, dict]:
    """Wall seconds of the command, and the run's stats report read back from the store."""
    from pipelines.store import open_store

    exe = Path(sys.executable).with_name("corpus")
    started = time.perf_counter()
    res = subprocess.run([str(exe), "crawl", "--replay", replay_url, "--store", store, *FAST, *OUTLETS],
                         env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    where = [line.split("stats:", 1)[1].strip() for line in res.stdout.splitlines() if line.startswith("stats:")][0]
    key = where[where.index("corpus/runs/"):]
    saved = {k: os.environ.get(k) for k in env if k.startswith("AWS_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        report = json.loads(open_store(store).read(key))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return seconds, report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh-store repetitions per backend")
    args = ap.parse_args(argv)
    from crawler.replay.server import ReplayServer
    from s3server import DUMMY_ENV, S3Server

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    s3 = S3Server().start()
    s3_env = dict(env, **DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
    print("| store | run | command wall s | crawl s (Scrapy stats) | article pages fetched | stored | pages/s (crawl) |")
    print("|---|---|---|---|---|---|---|")
    with ReplayServer() as replay, tempfile.TemporaryDirectory() as tmp:
        for backend in ("local", "s3"):
            for r in range(args.rounds):
                store = f"{tmp}/{backend}{r}" if backend == "local" else f"s3://{s3.make_bucket()}/corpus"
                run_env = env if backend == "local" else s3_env
                for label in ("first", "incremental"):
                    seconds, report = run(replay.url, store, run_env)
                    rows = report["summary"].values()
                    fetched = sum(r["fetched"] for r in rows)
                    stored = sum(r["new"] + r["updated"] + r["duplicate"] for r in rows)
                    crawl_s = report["elapsed_seconds"]
                    rate = f"{fetched / crawl_s:.1f}" if fetched else "-"
                    print(f"| {backend} | {label} | {seconds:.2f} | {crawl_s:.2f} | {fetched} | {stored} | {rate} |")
    s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
