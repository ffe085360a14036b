"""Benchmark `corpus reextract`: pages per second on both cores against one, and WARC bytes per page.

Builds a raw archive the way a crawl writes it (pipelines/archive/writer.py: WARC/1.1, a gzip member
per record, response + request per page) from the real news pages of ../shared/data/fundus-pages/
(255 pages from about 170 publishers; the bundled replay web's pages when that folder is absent),
each page archived ``--copies`` times at distinct URLs (default 2: a few hundred pages), then times
``reextract`` (extraction, topic scoring, near-duplicates, store writes) into a store that has the
WARCs and no records, with 1 worker and with N workers, and once more with N workers on the full
store (every record unchanged).  Every page is stored, off-topic or not (the captures are marked like
``corpus fetch``'s), so the whole path is measured, store writes included.

    .venv/bin/python bench/reextract.py [--copies N] [--workers N] [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "fundus-pages"
if not DATA.exists():
    DATA = Path("/work/shared/data/fundus-pages")
REPLAY = ROOT / "crawler" / "replay" / "web"


def pages() -> tuple[str, list[tuple[str, bytes]]]:
    """(source, [(url, html bytes)])."""
    if (DATA / "manifest.jsonl").is_file():
        out = []
        for line in (DATA / "manifest.jsonl").read_text("utf-8").splitlines():
            entry = json.loads(line)
            out.append((entry["url"], gzip.decompress((DATA / entry["file"]).read_bytes())))
        return f"fundus-pages ({len(out)} real news pages)", out
    out = []
    for path in sorted(REPLAY.rglob("*")):
        if path.is_file() and path.suffix in ("", ".html") and not path.name.startswith((".", "robots")):
            body = path.read_bytes()
            if b"<html" in body[:2000].lower() or b"<!doctype" in body[:200].lower():
                rel = path.relative_to(REPLAY).as_posix()
                url = "https://" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)
                out.append((url, body))
    print("note: ../shared/data/fundus-pages/ is absent: using the bundled replay web's pages", file=sys.stderr)
    return f"replay web ({len(out)} pages)", out


def build_archive(store, sample, copies: int) -> dict:
    """Archive every page ``copies`` times (distinct URLs), as a crawl would; byte counts."""
    from pipelines.archive.writer import WarcArchive

    archive = WarcArchive(store, run_id="bench", info={"software": "bench/reextract.py"})
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    n = 0
    for copy in range(copies):
        for url, body in sample:
            n += 1
            target = url if copy == 0 else f"{url}{'&' if '?' in url else '?'}copy={copy}"
            capture = {"url": target, "method": "GET", "protocol": "HTTP/1.1", "status": 200, "reason": None,
                       "request_headers": [("User-Agent", "asean-russia-corpus/bench"), ("Accept-Encoding", "gzip")],
                       "response_headers": [("Content-Type", "text/html; charset=utf-8"),
                                            ("Content-Length", str(len(body)))],
                       "body": body, "ip": None, "replayed": False}
            archive.append(capture, fetched_at=(when + timedelta(seconds=n)).isoformat(),
                           meta={"keep_off_topic": True})
    keys = archive.close()
    compressed = raw = 0
    for key in keys:
        data = store.read(key)
        compressed += len(data)
        while data:  # the uncompressed size of every member
            d = zlib.decompressobj(zlib.MAX_WBITS + 16)
            raw += len(d.decompress(data))
            data = d.unused_data
    return {"pages": n, "files": len(keys), "compressed": compressed, "raw": raw,
            "html": sum(len(b) for _, b in sample) * copies, "responses": archive.counts["responses"]}


def fresh_store(template: Path, where: Path):
    from pipelines.store import open_store

    if where.exists():
        shutil.rmtree(where)
    shutil.copytree(template, where)
    return open_store(where)


def timed(store, workers: int):
    from pipelines.archive.reextract import reextract

    started = time.perf_counter()
    report = reextract(store, workers=workers)
    return time.perf_counter() - started, report


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def cpu_control(workers: int, n: int = 4_000_000) -> float:
    """Speed-up of ``workers`` processes over one on pure Python arithmetic: what the machine gives
    right now (other work on a shared machine takes cores away)."""
    import multiprocessing

    started = time.perf_counter()
    for _ in range(2 * workers):
        _burn(n)
    one = time.perf_counter() - started
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        pool.map(_burn, [n])  # start-up out of the timing
        started = time.perf_counter()
        pool.map(_burn, [n] * (2 * workers))
        many = time.perf_counter() - started
    return one / many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, help="times each page is archived (default 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers of the pool run")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per configuration (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from pipelines.store import open_store

    control_before = cpu_control(args.workers)
    source, sample = pages()
    with tempfile.TemporaryDirectory(prefix="bench-reextract-") as tmp:
        template = Path(tmp) / "template"
        sizes = build_archive(open_store(template), sample, args.copies)
        results = {}
        for workers in (1, args.workers):
            runs = []
            for _ in range(args.rounds):
                store = fresh_store(template, Path(tmp) / "run")
                seconds, report = timed(store, workers)
                runs.append((seconds, report))
            seconds = statistics.median(s for s, _ in runs)
            report = runs[0][1]
            results[workers] = {"seconds": round(seconds, 2), "pages": report.selected,
                                "pages_per_second": round(report.selected / seconds, 1),
                                "stored": report.outcomes["new"], "changed": report.changed,
                                "store_seconds": round(statistics.median(r.store_seconds for _, r in runs), 2)}
        again_s, again = timed(store, args.workers)  # the store is full now: nothing changes
        results["second run"] = {"seconds": round(again_s, 2), "pages": again.selected,
                                 "pages_per_second": round(again.selected / again_s, 1), "changed": again.changed,
                                 "store_seconds": round(again.store_seconds, 2)}

    pages_n = sizes["pages"]
    out = {
        "source": source, "copies": args.copies, "pages": pages_n, "cores": os.cpu_count(),
        "warc_files": sizes["files"],
        "warc_bytes_per_page_compressed": round(sizes["compressed"] / pages_n),
        "warc_bytes_per_page_raw": round(sizes["raw"] / pages_n),
        "html_bytes_per_page": round(sizes["html"] / pages_n),
        "runs": results,
        "speedup": round(results[args.workers]["pages_per_second"] / results[1]["pages_per_second"], 2),
        "load_average": round(os.getloadavg()[0], 2),  # other work on the machine skews the numbers
        "cpu_control_speedup": [round(control_before, 2), round(cpu_control(args.workers), 2)],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"source: {source}, each archived {args.copies}x: {pages_n} pages in {sizes['files']} WARC file(s), "
          f"{os.cpu_count()} cores, load average {out['load_average']:.1f} at the end")
    print(f"WARC bytes per page: {out['warc_bytes_per_page_compressed']:,} compressed (gzip member per record), "
          f"{out['warc_bytes_per_page_raw']:,} raw (HTML payload {out['html_bytes_per_page']:,}; "
          f"ratio {sizes['raw'] / sizes['compressed']:.2f}x)")
    print(f"{'run':<32} {'workers':>7} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'changed':>8} {'storing s':>9}")
    for name, workers in (("into an empty store", 1), ("into an empty store", args.workers),
                          ("second run (all unchanged)", "second run")):
        r = results[workers]
        shown = args.workers if workers == "second run" else workers
        print(f"{name:<32} {shown:>7} {r['pages']:>6} {r['seconds']:>8.2f} {r['pages_per_second']:>8.1f} "
              f"{r['changed']:>8} {r['store_seconds']:>9.2f}")
    print(f"speed-up of {args.workers} workers over 1: {out['speedup']:.2f}x "
          f"(a pure-CPU control gets {out['cpu_control_speedup'][0]:.2f}x before, "
          f"{out['cpu_control_speedup'][1]:.2f}x after: what the machine's cores gave at the time)")


if __name__ == "__main__":
    main()
