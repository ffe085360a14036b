"""S3 requests per run: `corpus fetch` of one page and `corpus crawl` runs into stores of 10^2..10^4 documents.

Each run is the real `corpus` command (a subprocess) against moto's S3 server on 127.0.0.1, wrapped in a
WSGI layer that counts every request it answers (GET object, PUT, LIST, other) and the bytes both ways.
Stores are pre-filled directly with N synthetic records, their dedup index and, for "after", their
manifest. "before" is today's path without manifests (`-s CORPUS_MANIFEST=False` on a store that has
none: INDEX.md from every record, the dedup load lists the records); "after" keeps the manifest.

Runs per store: `corpus fetch` of one page (tests/web), a crawl of russia-briefing (7 new documents)
and, at replay epoch 2, an incremental crawl of it (1 updated). A second table measures the shard
layout: the store stage of one fetch, in process, with 1, 16 and 256 manifest shards.

Usage: .venv/bin/python bench/requests.py [--sizes 100,1000,10000] [--skip-before-above N]
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# this file is named requests.py: keep it from shadowing the `requests` package (moto imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False",
        "-s", "CORPUS_STATE_FLUSH_SECONDS=3600"]
PAGE = "https://test.example.net/article/"


class CountingS3:
    """moto's S3 server on 127.0.0.1; counts requests by kind and bytes in/out."""

    def __init__(self):
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ, start_response):
            method = environ["REQUEST_METHOD"]
            query = parse_qs(environ.get("QUERY_STRING", ""))
            path = environ.get("PATH_INFO", "").strip("/")
            if method == "GET" and ("list-type" in query or "/" not in path):
                kind = "LIST"
            else:
                kind = method
            body_in = int(environ.get("CONTENT_LENGTH") or 0)
            chunks = list(app(environ, start_response))
            with self.lock:
                self.counts[kind] += 1
                self.counts["bytes_in"] += body_in
                self.counts["bytes_out"] += sum(len(c) for c in chunks)
            return chunks

        self.server = make_server("127.0.0.1", 0, counting, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def take(self) -> Counter:
        with self.lock:
            out, self.counts = self.counts, Counter()
        return out

    def bucket(self) -> str:
        import uuid

        import boto3

        name = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.session.Session().client("s3", endpoint_url=self.url, region_name="us-east-1",
                                       aws_access_key_id="testing", aws_secret_access_key="testing"
                                       ).create_bucket(Bucket=name)
        return name


def words(seed, n=300) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(50000)}" for _ in range(n)) + "."


def record(i: int) -> dict:
    from pipelines.corpus.layout import text_sha256

    doc = f"{random.Random(i).getrandbits(64):016x}"
    text = words(i)
    return {"id": doc, "url": f"https://synthetic.example.org/news/{i}", "canonical_url":
            f"https://synthetic.example.org/news/{i}", "outlet": "synthetic", "title": f"Synthetic story {i}",
            "authors": ["A. Writer"], "published": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "language": "en",
            "text": text, "text_sha256": text_sha256(text), "word_count": 300,
            "fetched_at": "2025-01-01T00:00:00+00:00", "http_status": 200, "etag": None, "last_modified": None,
            "extractor": {"name": "synthetic"}, "duplicate_of": None, "also_at": []}


def prefill(store, n: int, *, manifest: bool, digits: int | None = None) -> None:
    """n records (with their text inside, as put() writes them; no separate text files), the dedup
    index of them and, with ``manifest``, their manifest and INDEX.md: written directly."""
    from pipelines.corpus.layout import Corpus, dumps_json
    from pipelines.corpus.manifest import ManifestRun, entry_of
    from pipelines.dedup import DedupConfig, NearDupIndex
    from pipelines.dedup.persist import save_index

    recs = [record(i) for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: store.write(f"corpus/docs/{r['id']}.json", dumps_json(r)), recs))
    index = NearDupIndex(DedupConfig())
    index.add_many([(r["id"], r["text"]) for r in recs])
    save_index(store, index)
    corpus = Corpus(store)
    if manifest:
        run = ManifestRun(corpus, "prefill", shard_digits=digits)
        run.entries = {r["id"]: entry_of(r) for r in recs}
        run.finish("prefill")
    else:
        corpus.write_index_bytes(corpus.render_index(recs))


def corpus_run(args, env) -> float:
    exe = Path(sys.executable).with_name("corpus")
    started = time.perf_counter()
    res = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode not in (0,):
        raise SystemExit(f"corpus {' '.join(args[:2])}: exit {res.returncode}\n{res.stderr[-3000:]}")
    return time.perf_counter() - started


def fmt_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def commands(sizes, skip_before_above, s3, replay, env):
    print("### Requests per run (`corpus` subprocess, S3 on moto)\n")
    print(fmt_row(["documents", "path", "run", "GET", "PUT", "LIST", "other", "KiB read / written", "seconds"]))
    print(fmt_row(["---"] * 9))
    from pipelines.store import open_store

    for n in sizes:
        for path in ("before", "after"):
            if path == "before" and n > skip_before_above:
                continue
            spec = f"s3://{s3.bucket()}/corpus"
            prefill(open_store(spec), n, manifest=path == "after")
            extra = ["-s", "CORPUS_MANIFEST=False"] if path == "before" else []
            common = ["--replay", replay.url, "--store", spec, *FAST, *extra]
            runs = [("fetch 1 page", 1, ["fetch", PAGE, *common]),
                    ("crawl: 7 new", 1, ["crawl", "russia-briefing", *common]),
                    ("crawl: 1 updated", 2, ["crawl", "russia-briefing", *common])]
            for label, epoch, args in runs:
                replay.epoch = epoch
                s3.take()
                seconds = corpus_run(args, env)
                c = s3.take()
                other = sum(v for k, v in c.items() if k not in ("GET", "PUT", "LIST", "bytes_in", "bytes_out"))
                print(fmt_row([f"{n:,}", path, label, c["GET"], c["PUT"], c["LIST"], other,
                               f"{c['bytes_out'] / 1024:,.0f} / {c['bytes_in'] / 1024:,.0f}", f"{seconds:.1f}"]),
                      flush=True)


def shards(sizes, s3):
    """The store stage of one fetch in process, for 1, 16 and 256 shards."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_manifest import article, store_stage_of_one_fetch

    from pipelines.store import open_store

    print("\n### Shard layout: the store stage of one fetch (in process)\n")
    print(fmt_row(["documents", "shards", "GET", "PUT", "KiB read", "KiB written", "seconds", "manifest KiB"]))
    print(fmt_row(["---"] * 8))
    for n in sizes:
        for digits in (0, 1, 2):
            store = open_store(f"s3://{s3.bucket()}/corpus")
            prefill(store, n, manifest=True, digits=digits)
            size = sum(len(store.read(k) or b"") for k in store.list("corpus/manifests/shards/"))
            s3.take()
            started = time.perf_counter()
            store_stage_of_one_fetch(store, article(f"One page {n} {digits}"), f"https://one.example.org/news/{n}/")
            seconds = time.perf_counter() - started
            c = s3.take()
            print(fmt_row([f"{n:,}", 16 ** digits, c["GET"], c["PUT"], f"{c['bytes_out'] / 1024:,.0f}",
                           f"{c['bytes_in'] / 1024:,.0f}", f"{seconds:.2f}", f"{size / 1024:,.0f}"]), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="store sizes (documents), comma-separated")
    ap.add_argument("--skip-before-above", type=int, default=10**9, metavar="N",
                    help="skip the (slow) before-manifests runs for stores larger than N")
    ap.add_argument("--no-shards", action="store_true", help="skip the shard layout table")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    from crawler.replay.server import DEFAULT_ROOT, ReplayServer
    from s3server import DUMMY_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    with CountingS3() as s3, ReplayServer([DEFAULT_ROOT, REPO / "tests" / "web"]) as replay:
        env.update(DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
        os.environ.update(DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
        commands(sizes, args.skip_before_above, s3, replay, env)
        if not args.no_shards:
            shards(sizes, s3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
