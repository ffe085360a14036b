"""The crawl shared through Redis (``corpus crawl --redis URL``): Redis memory per queued request, per
in-flight request and per dupefilter fingerprint, and the crawl rate with 1, 2 and 3 workers.

1. Memory: on a fresh Debian redis-server on 127.0.0.1 (tests/redisserver.py), N article requests as the
   crawl queues them (``Request.to_dict()`` as JSON, crawler/distributed.py) are pushed into a run's
   queue, then popped into a worker's in-flight hash, and N canonical-URL fingerprints are added to the
   run's dupefilter; ``INFO memory`` ``used_memory`` before and after each step, divided by N.
2. Rate: the generated site of bench/crawl.py (``--pages`` distinct real-structured article pages,
   listings, robots.txt and a sitemap, on 127.0.0.1) crawled by K = 1, 2, 3 worker processes started
   together (``corpus crawl --site URL --allow-private --any-topic --redis URL``, politeness off), each
   into a fresh local store: pages stored per second of wall time (first start to last exit), and how
   many article pages were requested more than once.
The workers of this benchmark share one machine (its cores: printed), so K workers divide the same
CPUs: the figure says what the coordination costs and what one machine gains, not what K machines do.

Usage: .venv/bin/python bench/distributed.py [--pages N] [--requests N] [--workers 1,2,3] [--extract-workers N]
       [-s NAME=VALUE ...]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/requests.py would shadow the requests package: bench/ off the path
sys.path = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

SITE_FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32"]


def bench_crawl():
    spec = importlib.util.spec_from_file_location("bench_crawl", REPO / "bench" / "crawl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def used(client) -> int:
    return int(client.info("memory")["used_memory"])


def memory(url: str, n: int) -> dict:
    import redis
    from scrapy import Request

    from crawler.distributed import CanonicalDupeFilter, JsonSerializer
    from pipelines.crawl.shared_run import SharedRun

    client = redis.Redis.from_url(url)
    client.flushall()
    shared = SharedRun(client, "/bench/store", lease=600)
    shared.join()

    class Spider:  # what Request.to_dict needs: the callbacks are the spider's methods
        name = "outlet"

        def parse_article(self, response):
            pass

        def on_error(self, failure):
            pass

    spider = Spider()
    sizes = []
    base = used(client)
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        url = f"https://www.example-outlet.com/news/2026/{1 + i % 12:02d}/russia-asean-article-{i:07d}.html"
        request = Request(url, callback=spider.parse_article, errback=spider.on_error,
                          meta={"outlet": "example-outlet", "corpus_requested": url, "corpus_lastmod": "2026-11-01",
                                "follow": False})
        data = JsonSerializer.dumps(request.to_dict(spider=spider))
        sizes.append(len(data))
        pipe.zadd(shared.queue_key, {data: 0})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    queued = used(client)
    for _ in range(n):
        shared.pop()
    inflight = used(client)
    dupefilter = CanonicalDupeFilter(client, shared.dupefilter_key)
    before = used(client)
    for i in range(0, n, 1000):
        fps = [dupefilter.request_fingerprint(Request(
            f"https://www.example-outlet.com/news/2026/{1 + j % 12:02d}/russia-asean-article-{j:07d}.html"))
            for j in range(i, min(n, i + 1000))]
        client.sadd(dupefilter.key, *fps)
    after = used(client)
    client.flushall()
    return {"n": n, "request_bytes": sum(sizes) / n, "queued": (queued - base) / n,
            "inflight": (inflight - base) / n, "fingerprint": (after - before) / n}


def count_records(store: str) -> int:
    return sum(1 for _ in Path(store, "corpus", "docs").rglob("*.json"))


def crawl(site, url: str, k: int, pages: int, extra: list[str], tmp: str) -> dict:
    import redis

    redis.Redis.from_url(url).flushall()
    store = f"{tmp}/store-{k}"
    exe = Path(sys.executable).with_name("corpus")
    env = {k_: v for k_, v in os.environ.items() if not k_.startswith(("CORPUS_", "AWS_"))}
    cmd = [str(exe), "crawl", "--site", site.url, "--allow-private", "--any-topic", "--max-pages", str(pages + 100),
           "--store", store, "--redis", url, *SITE_FAST, *extra]
    site.hits.clear()
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(k)]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.perf_counter() - started
    for p, (out, err) in zip(procs, outs):
        if p.returncode:
            print(err[-3000:], file=sys.stderr)
            raise SystemExit(f"a worker exited {p.returncode}")
    articles = {p: n for p, n in site.hits.items() if p.startswith("/news/")}
    reports = [json.loads(p.read_text()) for p in Path(store, "corpus", "runs").glob("*.json")]
    per_worker = sorted(r["stats"].get("corpus/outcome/new", 0) for r in reports)
    return {"workers": k, "wall": wall, "stored": count_records(store), "fetched": sum(articles.values()),
            "twice": sum(1 for n in articles.values() if n > 1), "per_worker": per_worker}


def main(argv=None) -> int:
    from redisserver import RedisServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=600, help="article pages of the generated site (default 600)")
    ap.add_argument("--requests", type=int, default=100000, help="requests for the memory figures (default 100000)")
    ap.add_argument("--workers", default="1,2,3", help="worker counts to run (default 1,2,3)")
    ap.add_argument("--extract-workers", type=int, help="CORPUS_EXTRACT_WORKERS of each worker (default: the setting's)")
    ap.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="another crawl setting")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    out = {}
    with RedisServer(maxmemory="2gb") as server:
        mem = memory(server.url, args.requests)
        out["memory"] = mem
        print(f"\nRedis memory (INFO memory used_memory), {mem['n']} requests:")
        print("| what | bytes each |")
        print("|---|---|")
        print(f"| queued request (sorted set member, JSON of {mem['request_bytes']:.0f} bytes) | {mem['queued']:.0f} |")
        print(f"| in-flight request (hash field) | {mem['inflight']:.0f} |")
        print(f"| dupefilter fingerprint (set member, 40 hex) | {mem['fingerprint']:.0f} |")
        if not args.pages:
            return 0
        crawl_mod = bench_crawl()
        source, pages, _articles = crawl_mod.build_site(args.pages)
        extra = ["-s", f"CORPUS_EXTRACT_WORKERS={args.extract_workers}"] if args.extract_workers is not None else []
        extra += [x for s in args.set for x in ("-s", s)]
        rows = []
        with crawl_mod.Site(pages) as site, tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
            for k in [int(x) for x in args.workers.split(",") if x.strip()]:
                rows.append(crawl(site, server.url, k, args.pages, extra, tmp))
        out["crawls"] = rows
        print(f"\nsite: {args.pages} article pages from {source}; command (per worker): corpus crawl --site URL "
              f"--allow-private --any-topic --max-pages {args.pages + 100} --redis URL {' '.join(SITE_FAST)} "
              f"{' '.join(extra)}")
        print("| workers | stored | wall s | pages stored/s | article requests | requested twice | stored per worker |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['workers']} | {r['stored']} | {r['wall']:.1f} | {r['stored'] / r['wall']:.1f} | {r['fetched']} "
                  f"| {r['twice']} | {', '.join(map(str, r['per_worker']))} |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
