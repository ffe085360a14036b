"""The crawl state at scale: bytes per URL in the snapshot, memory per URL loaded, load and compaction time.

Every crawl (and every Redis worker) loads the whole crawl state (``pipelines/crawl/state.py``: the snapshot
``state/urls.json`` plus journals) at its start and writes it again at its end. This measures what that costs
per URL with entries shaped like a crawl's (an article URL, status, id, ETag, Last-Modified, dates, text hash),
into a local store, so deploy/README.md can say what 10^7 URLs need.

    .venv/bin/python bench/state_scale.py [--sizes 10000,100000,300000]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def entry(i: int) -> dict:
    h = hashlib.sha256(str(i).encode()).hexdigest()
    return {"url": f"https://www.example-outlet-{i % 113}.com/news/2025/{i % 12 + 1:02d}/some-article-slug-about-asean-and-russia-{i}",
            "status": "stored", "id": h[:16], "etag": f'"{h[16:56]}"', "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "fetched_at": "2026-11-28T02:43:38+00:00", "checked_at": "2026-11-28T02:43:38+00:00",
            "published": "2025-03-09T07:15:00+00:00", "lastmod": "2025-03-09T07:15:00+00:00", "failures": 0,
            "text_sha256": h, "duplicate_of": None}


def main(argv=None) -> int:
    from pipelines.crawl.state import SNAPSHOT, CrawlState
    from pipelines.store import open_store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,300000")
    args = ap.parse_args(argv)
    print("| URLs | snapshot bytes/URL | memory bytes/URL (loaded) | load s | compact s |")
    print("|---|---|---|---|---|")
    for n in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(tmp)
            state = CrawlState(store, run_id="bench")
            for i in range(n):
                e = entry(i)
                state.urls[e["url"]] = e
            started = time.perf_counter()
            state.compact()
            compact_s = time.perf_counter() - started
            size = (Path(tmp) / SNAPSHOT).stat().st_size
            del state
            gc.collect()
            before = rss()
            started = time.perf_counter()
            loaded = CrawlState.load(store, run_id="bench2")
            load_s = time.perf_counter() - started
            gc.collect()
            grown = rss() - before
            assert len(loaded.urls) == n
            del loaded
            gc.collect()
            print(f"| {n:,} | {size / n:.0f} | {grown / n:.0f} | {load_s:.2f} | {compact_s:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
