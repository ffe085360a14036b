"""The shared near-duplicate resolution (pipelines/dedup/shared.py): what the lock costs and where it caps
throughput, and what the log costs in Redis.

0. Race: 8 processes ingest copies of 3 articles at once: canonical records kept, shared or not.
1. Throughput: 1, 2 and 4 processes ingest (``ingest()``: decide under the lock, write the records) a
   share of the same pages into one store, a local folder and moto's S3 server on 127.0.0.1, through one
   redis-server on 127.0.0.1; one process with the plain Deduplicator (no Redis) for reference. Pages:
   real article texts (../shared/data/syndication-dev, else tests/dedup_eval), each at several URLs
   (exact copies) so about half the pages are duplicates. Printed: pages/s over the whole run, the lock
   held per page (mean, p95) and waited per page, the time per page the lock allows at most.
2. Redis memory of the log per document: log entries as workers append them (one page adding one
   document: its index row), at 10^4 and 10^5 documents, INFO used_memory delta / documents. Synthetic
   texts (Zipf-distributed words, 250 words each: a log entry's size depends on the text's length and
   its distinct anchors, not its meaning), and the real texts for comparison.

Usage: .venv/bin/python bench/shared_dedup.py [--pages N] [--procs 1 2 4] [--sizes 10000 100000]
       [--skip-throughput] [--skip-memory]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# bench/requests.py would shadow the requests package (moto imports it): bench/ off the path
sys.path = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

PRELOAD = ["pytest", "redis", "boto3", "pipelines.extract.extractor", "pipelines.dedup.shared", "pipelines.corpus.ingest",
           "pipelines.store"]
EXTRACTOR = {"name": "bench", "version": "1"}


def real_texts() -> list[str]:
    for path in (REPO.parent / "shared" / "data" / "syndication-dev" / "texts.jsonl",
                 Path("/work/shared/data/syndication-dev/texts.jsonl")):
        if path.is_file():
            return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = REPO / "tests" / "dedup_eval" / "docs"
    return [p.read_text(encoding="utf-8").split("\n\n", 1)[-1] for p in sorted(docs.glob("*.txt"))]


def make_pages(n: int) -> list[dict]:
    texts = real_texts()
    return [{"page": {"url": f"https://outlet{i // len(texts)}.example.com/a/{i % len(texts)}",
                      "outlet": f"outlet{i // len(texts)}", "status": 200, "fetched_at": "2026-01-01T00:00:00+00:00"},
             "document": {"text": texts[i % len(texts)], "title": "t", "authors": [], "published": "2024-07-28",
                          "language": "en", "canonical_url": None}} for i in range(n)]


def worker(mode, redis_url, prefix, spec, env, pages, barrier, out):
    os.environ.update(env)
    from pipelines.corpus.ingest import ingest
    from pipelines.corpus.layout import Corpus
    from pipelines.dedup.deduplicator import Deduplicator
    from pipelines.dedup.shared import SharedDeduplicator
    from pipelines.extract.extractor import Document
    from pipelines.store import open_store

    corpus = Corpus(open_store(spec))
    dedup = (SharedDeduplicator(corpus, redis_url, prefix) if mode == "shared" else Deduplicator(corpus)).load()
    barrier.wait()
    t0, held, waited = time.perf_counter(), [], []
    for item in pages:
        ingest(corpus, dedup, item["page"], Document(**item["document"]), extractor=EXTRACTOR)
        if mode == "shared":
            held.append(dedup.last_held)
            waited.append(dedup.last_waited)
    t1 = time.perf_counter()
    dedup.save()
    out.put({"t0": t0, "t1": t1, "held": held, "waited": waited})


def run(mode: str, procs: int, redis_url: str, spec: str, env: dict, pages: list[dict], prefix: str) -> dict:
    ctx = mp.get_context("forkserver")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=worker, args=(mode, redis_url, prefix, spec, env, pages[i::procs], barrier, out))
          for i in range(procs)]
    for p in ps:
        p.start()
    res = [out.get(timeout=1800) for _ in ps]
    for p in ps:
        p.join()
    wall = max(r["t1"] for r in res) - min(r["t0"] for r in res)
    held = [h for r in res for h in r["held"]]
    waited = [w for r in res for w in r["waited"]]
    row = {"mode": mode, "procs": procs, "pages": len(pages), "wall_s": wall, "pages_per_s": len(pages) / wall}
    if held:
        held.sort()
        row.update(held_ms=1000 * statistics.mean(held), held_p95_ms=1000 * held[int(0.95 * (len(held) - 1))],
                   waited_ms=1000 * statistics.mean(waited), cap_per_s=1 / statistics.mean(held))
    return row


def throughput(args, redis) -> None:
    from s3server import CLEARED_ENV, DUMMY_ENV, S3Server

    pages = make_pages(args.pages)
    s3 = S3Server().start()
    env = dict(DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
    for name in CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(env)
    print(f"\n## Throughput: {len(pages)} pages ({len(real_texts())} distinct texts, the rest exact copies), "
          f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| store | mode | processes | pages/s | lock held per page (mean / p95) | waited per page | lock cap (1/held) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    n = 0
    try:
        for store in ("local", "s3"):
            for mode, procs in [("plain", 1)] + [("shared", p) for p in args.procs]:
                n += 1
                with tempfile.TemporaryDirectory() as tmp:
                    spec = os.path.join(tmp, "store") if store == "local" else f"s3://{s3.make_bucket()}/bench"
                    r = run(mode, procs, redis.url, spec, env, pages, f"bench{n}")
                if mode == "plain":
                    print(f"| {store} | one Deduplicator, no Redis | 1 | {r['pages_per_s']:.1f} | - | - | - |", flush=True)
                else:
                    print(f"| {store} | shared | {procs} | {r['pages_per_s']:.1f} | {r['held_ms']:.1f} / "
                          f"{r['held_p95_ms']:.1f} ms | {r['waited_ms']:.1f} ms | {r['cap_per_s']:.0f} pages/s |", flush=True)
    finally:
        s3.stop()


def race(redis) -> None:
    """8 processes ingest copies of the same 3 articles (tests/test_shared_dedup.py's pages): canonical
    records kept, with the shared deduplicator and with one Deduplicator per process."""
    from test_shared_dedup import eval_pages

    from pipelines.corpus.layout import Corpus
    from pipelines.store import open_store

    pages = [item for worker in eval_pages() for item in worker]
    print(f"\n## Race: 8 processes, {len(pages)} copies of 3 articles, one local store")
    print("| deduplicator | canonical records kept |")
    print("| --- | --- |")
    for mode in ("plain", "shared"):
        with tempfile.TemporaryDirectory() as tmp:
            run(mode, 8, redis.url, os.path.join(tmp, "store"), {}, pages, f"race-{mode}")
            kept = sum(1 for r in Corpus(open_store(os.path.join(tmp, "store"))).iter_records() if not r["duplicate_of"])
        print(f"| {'one per process' if mode == 'plain' else 'shared through Redis'} | {kept} of {len(pages)} |", flush=True)


def synthetic_texts(n: int, words: int = 250, vocab: int = 50000, seed: int = 7) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    names = np.array([f"w{i:05d}" for i in range(vocab)])
    ranks = np.minimum(rng.zipf(1.2, size=(n, words)) - 1, vocab - 1)
    return [" ".join(row) for row in names[ranks]]


def log_memory(redis_url: str, texts: list[str], key: str) -> float:
    """Append one log entry per document as SharedDeduplicator does (its index hooks record the rows,
    ``_encode_ops`` packs them); returns used_memory delta / documents."""
    import redis as redis_py

    from pipelines.dedup import DedupConfig, NearDupIndex
    from pipelines.dedup.shared import _encode_ops

    r = redis_py.Redis.from_url(redis_url)
    r.delete(key)
    before = r.info("memory")["used_memory"]
    cfg = DedupConfig()
    ops: list = []
    index = NearDupIndex(cfg, texts=lambda _id: None)
    append = index._append_raw

    def hook(ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags):
        ops.append(("+", list(ids), thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags))
        append(ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags)

    index._append_raw = hook
    import hashlib

    for lo in range(0, len(texts), 1000):
        chunk = texts[lo : lo + 1000]
        ops.clear()
        for i, text in enumerate(chunk):  # one page, one document: as resolve adds them
            doc = f"{lo + i:016x}"
            index.add(doc, text, tag=hashlib.sha256(text.encode()).hexdigest())
        pipe = r.pipeline(transaction=False)
        for op in ops:
            pipe.xadd(key, _encode_ops(op[1][0], [op], cfg.num_perm))
        pipe.execute()
    used = r.info("memory")["used_memory"] - before
    r.delete(key)
    return used / len(texts)


def memory(args, redis) -> None:
    print("\n## Redis memory of the log (INFO used_memory delta / documents; one entry per page)")
    print("| texts | documents | bytes per document | for 10^7 documents, never trimmed |")
    print("| --- | --- | --- | --- |")
    real = real_texts()
    per = log_memory(redis.url, (real * (2000 // len(real) + 1))[:2000], "bench:memory:log")
    print(f"| real ({len(real)} texts, repeated) | 2000 | {per:.0f} | {per * 1e7 / 2**30:.1f} GiB |", flush=True)
    for n in args.sizes:
        per = log_memory(redis.url, synthetic_texts(n), "bench:memory:log")
        print(f"| synthetic, 250 words | {n} | {per:.0f} | {per * 1e7 / 2**30:.1f} GiB |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=240)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5])
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    mp.get_context("forkserver").set_forkserver_preload(PRELOAD)
    from redisserver import RedisServer

    with RedisServer(maxmemory="4gb") as redis:
        race(redis)
        if not args.skip_throughput:
            throughput(args, redis)
        if not args.skip_memory:
            memory(args, redis)


if __name__ == "__main__":
    main()
