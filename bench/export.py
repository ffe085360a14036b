"""Benchmark `corpus export`: rows/s and peak memory for JSON Lines and Parquet, and the reader alone.

    .venv/bin/python bench/export.py                 # 10^5 synthetic documents (~1 GB of files in a
                                                     # temp folder, removed after)
    .venv/bin/python bench/export.py --docs 10000 --keep /tmp/bench-corpus

Synthetic records (~640-word texts, 5% near-duplicates without their own text, 3% without a date,
30% in same-story clusters of three, every field of the schema set as a crawl sets it) are written straight to a local store folder in
their JSON form, as ``Corpus.put`` writes them (without its per-file fsync, to make 10^5 quickly).
Each measurement runs in a fresh Python process, so its peak RSS (``ru_maxrss``) is the export's own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
from pipelines.corpus.reader import open_corpus
from pipelines.corpus.export import export
kind, store, out = sys.argv[1], sys.argv[2], sys.argv[3]
reader = open_corpus(store)
start = time.perf_counter()
if kind == "reader":
    rows = sum(1 for _ in reader.records())
elif kind == "story":
    rows = sum(1 for _ in reader.records(one_per_story=True))
else:
    rows = export(reader, out, format=kind, include_duplicates=True).rows
seconds = time.perf_counter() - start
print(json.dumps({"rows": rows, "seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def synthetic(n: int, folder: Path, seed: int = 7) -> int:
    """Write n records (JSON form) and their text files under folder; returns the bytes written."""
    from pipelines.corpus.layout import dumps_json
    from pipelines.corpus.record import text_sha256
    from pipelines.corpus.schema import to_json

    rng = random.Random(seed)
    vocab = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))))
             for _ in range(6000)] + ["ASEAN", "Russia", "Vietnam", "Moscow", "Lavrov", "Jakarta"]
    outlets = ["intellinews", "rsis", "russia-briefing", "scmp", "yahoo-finance", "asiaone", "russia-direct"]
    docs, texts = folder / "corpus" / "docs", folder / "corpus" / "text"
    docs.mkdir(parents=True, exist_ok=True)
    texts.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        doc_id = f"{rng.getrandbits(64):016x}"
        if i % 10 == 0:
            story_head = doc_id  # stories of three: records i, i+1, i+2 of every ten, the first original
        paras = [" ".join(rng.choices(vocab, k=rng.randint(40, 120))) for _ in range(rng.randint(5, 9))]
        text = "\n\n".join(paras)
        dup = rng.random() < 0.05
        day = f"20{rng.randint(16, 26):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        published = None if rng.random() < 0.03 else f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+07:00"
        outlet = rng.choice(outlets)
        url = f"https://{outlet}.example/news/{doc_id}"
        rec = {
            "id": doc_id, "url": url, "requested_url": url + "?utm_source=rss", "canonical_url": url,
            "declared_canonical": url, "outlet": outlet, "sitename": outlet.title(), "title": " ".join(paras[0].split()[:12]),
            "authors": rng.sample(["Ben Aris", "Jane Roe", "Ian Storey", "Nguyen Van A"], rng.randint(0, 2)),
            "published": published, "language": "en", "description": paras[0][:200], "credit": None,
            "text": None if dup else text, "text_sha256": text_sha256(text), "word_count": len(text.split()),
            "topic": {"score": 0.8, "asean": 0.9, "russia": 0.7, "link": 1.0, "relevant": True, "reason": None,
                      "matched": [{"term": "ASEAN", "side": "asean", "count": rng.randint(1, 9)},
                                  {"term": "Russia", "side": "russia", "count": rng.randint(1, 9)}]},
            "duplicate_of": f"{rng.getrandbits(64):016x}" if dup else None, "also_at": [],
            "same_story": f"st-{i // 10:016x}" if i % 10 < 3 else None,
            "story_original": story_head if i % 10 < 3 else None,
            "fetched_at": f"2026-11-{rng.randint(1, 27):02d}T10:00:00+00:00", "http_status": 200,
            "content_type": "text/html", "etag": f'"{doc_id}"', "last_modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "extractor": {"name": "corpus-extract", "version": "1.0"}, "replayed": False,
            "warc": {"file": "corpus/raw/2026/11/27/run-00001.warc.gz", "offset": i * 9000, "length": 9000},
        }
        data = dumps_json(to_json(rec))
        (docs / f"{doc_id}.json").write_bytes(data)
        total += len(data)
        if not dup:
            body = f"{rec['title']}\n\n{text}\n".encode()
            (texts / f"{doc_id}.txt").write_bytes(body)
            total += len(body)
    return total


def measure(kind: str, store: Path, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(store), str(out)], cwd=ROOT,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR (reused when it has records) and keep it")
    args = ap.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    store = base / "store"
    try:
        have = len(os.listdir(store / "corpus" / "docs")) if (store / "corpus" / "docs").is_dir() else 0
        if have != args.docs:
            shutil.rmtree(store, ignore_errors=True)
            start = time.perf_counter()
            size = synthetic(args.docs, store)
            print(f"wrote {args.docs} synthetic records ({size / 1e6:.0f} MB of record and text files) "
                  f"in {time.perf_counter() - start:.0f} s")
        print(f"\n| what | rows | seconds | rows/s | peak RSS | output |")
        print("|---|---|---|---|---|---|")
        for kind in ("reader", "story", "jsonl", "parquet"):
            out = base / f"out.{kind}"
            m = measure(kind, store, out)
            size = f"{out.stat().st_size / 1e6:.0f} MB" if out.exists() else "-"
            label = {"reader": "reader only (`records()`)", "story": "reader, `records(one_per_story=True)`",
                     "jsonl": "`corpus export --format jsonl`",
                     "parquet": "`corpus export --format parquet`"}[kind]
            print(f"| {label} | {m['rows']} | {m['seconds']:.1f} | {m['rows'] / m['seconds']:,.0f} | "
                  f"{m['peak_rss_mb']:.0f} MB | {size} |")
            if out.exists():
                out.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
