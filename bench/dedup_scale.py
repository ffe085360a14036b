"""The near-duplicate index at scale: adds/s, queries/s, memory and persisted bytes per document, load time,
and the cost of an incremental save, at 10^4, 10^5 and 10^6 documents.

Usage: .venv/bin/python bench/dedup_scale.py [--sizes 10000 100000 1000000]
       .venv/bin/python bench/dedup_scale.py --caps 100000   (story_candidates against the anchor-postings cap)

Each size runs in a fresh subprocess (memory is the process's resident set growth while the index is built,
texts excluded: they live in a dict standing for the store, created before the baseline is taken).
Documents are synthetic: 250-640 words (uniform), ~45% English stopwords, content words drawn from a
Zipf-like vocabulary of 50,000 made-up words; 5% are planted near-duplicates (2% of words replaced, or
cut to 60%) of earlier documents. ``scale_table()`` is what bench/dedup.py imports.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.dedup import DedupConfig  # noqa: E402
from pipelines.dedup.index import NearDupIndex  # noqa: E402
from pipelines.dedup.persist import PREFIX, load_index, save_index  # noqa: E402
from pipelines.dedup.stopwords import ENGLISH  # noqa: E402

NOTE = ("Synthetic documents (250-640 words, ~45% stopwords, 5% planted near-duplicates), one core. "
        "Memory: growth of the process's resident set while the index is built (ids, hashes, tables, "
        "everything the index holds); the texts used for verification live outside the index (a dict standing "
        "for the store) and are not counted. Persisted: bytes under dedup/index/ after a full save. "
        "Incremental save: after adding 1% more documents to the loaded index.")


def synthetic(n: int, seed: int = 7) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """n documents {id: text} and the planted (copy, original) pairs."""
    rng = np.random.default_rng(seed)
    vocab = np.array(["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(3, 10)))
                      for _ in range(50_000)])
    stop = np.array(sorted(ENGLISH))
    probs = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    probs /= probs.sum()
    texts: dict[str, str] = {}
    planted: list[tuple[str, str]] = []
    lengths = rng.integers(250, 641, n)
    chunk = 10_000
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        total = int(lengths[c0:c1].sum())
        words = vocab[rng.choice(len(vocab), total, p=probs)]
        is_stop = rng.random(total) < 0.45
        words[is_stop] = stop[rng.integers(0, len(stop), int(is_stop.sum()))]
        pos = 0
        for i in range(c0, c1):
            doc_id = f"d{i:07d}"
            if i > 100 and rng.random() < 0.05:
                src = f"d{int(rng.integers(0, i)):07d}"
                w = texts[src].split()
                if rng.random() < 0.5:
                    for j in rng.choice(len(w), max(1, len(w) // 50), replace=False):
                        w[j] = vocab[rng.integers(0, len(vocab))]
                else:
                    w = w[: int(len(w) * 0.6)]
                texts[doc_id] = " ".join(w)
                planted.append((doc_id, src))
            else:
                texts[doc_id] = " ".join(words[pos : pos + lengths[i]])
            pos += lengths[i]
    return texts, planted


def rss() -> int:
    """Resident bytes of this process, after handing freed heap pages back (glibc malloc_trim): memory held,
    not what the allocator keeps of freed temporaries."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(n: int) -> dict:
    from pipelines.store.local import LocalStore

    cfg = DedupConfig()
    extra = max(1, n // 100)
    texts, planted = synthetic(n + extra)
    ids = sorted(texts)
    base_ids, more_ids = ids[:n], ids[n:]
    gc.collect()
    before_warmup = rss()
    NearDupIndex(cfg, texts=texts.get).add_many((i, texts[i]) for i in base_ids[:512])  # lazy tables, imports
    gc.collect()
    base = rss()
    fixed = base - before_warmup
    index = NearDupIndex(cfg, texts=texts.get)
    t0, c0 = time.perf_counter(), time.process_time()
    index.add_many((i[:1] + i[1:], texts[i]) for i in base_ids)  # ids of its own (not the texts dict's keys)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.collect()
    mem = rss() - base
    arrays = index.memory_bytes()
    # queries: planted copies (found) and ordinary documents (usually nothing), by text
    probes = [c for c, _ in planted if c in index][:1000] + base_ids[:: max(1, n // 1000)][:1000]
    index.texts_read = 0
    t0 = time.perf_counter()
    found = sum(1 for p in probes if index.find(texts[p], exclude=p))
    q_wall = time.perf_counter() - t0
    reads = index.texts_read / len(probes)
    hits = [any(m.doc_id == src for m in index.find(texts[c], exclude=c)) for c, src in planted[:500] if c in index and src in index]
    t0 = time.perf_counter()
    for p in probes[:500]:
        index.story_candidates(texts[p], exclude=p)
    s_wall = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        save_index(store, index)
        disk = sum(f.stat().st_size for f in (Path(tmp) / PREFIX).iterdir())
        del index
        gc.collect()
        t0 = time.perf_counter()
        index = load_index(store, cfg, texts.get)
        load_s = time.perf_counter() - t0
        assert index is not None and len(index) == n
        index.add_many((i, texts[i]) for i in more_ids)
        before = {f.name: f.stat().st_size for f in (Path(tmp) / PREFIX).iterdir()}
        t0 = time.perf_counter()
        wrote = save_index(store, index)
        inc_s = time.perf_counter() - t0
        after = {f.name: f.stat().st_size for f in (Path(tmp) / PREFIX).iterdir()}
        inc_bytes = sum(size for name, size in after.items() if before.get(name) != size)
        assert wrote and load_index(store, cfg, texts.get) is not None
    return {"n": n, "fixed_mib": fixed / 2**20, "add_per_s": n / wall, "add_cpu_per_s": n / cpu, "mem_per_doc": mem / n, "arrays_per_doc": arrays / n,
            "q_per_s": len(probes) / q_wall, "found": found / len(probes), "reads_per_query": reads,
            "planted_recall": sum(hits) / max(1, len(hits)), "story_q_per_s": 500 / s_wall,
            "disk_per_doc": disk / n, "load_s": load_s, "inc_s": inc_s, "inc_bytes": inc_bytes, "inc_docs": len(more_ids)}


def scale_table(sizes=(10**4, 10**5, 10**6)) -> list[dict]:
    """Print the markdown table (one subprocess per size); returns the rows."""
    print("| docs | add docs/s (1 core) | find() q/s | texts read/query | planted recall | story_candidates q/s "
          "| memory/doc (RSS) | of which arrays | persisted/doc | load | incremental save (+1%) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"| {r['n']:,} | {r['add_per_s']:,.0f} | {r['q_per_s']:,.0f} | {r['reads_per_query']:.2f} | "
              f"{r['planted_recall']:.3f} | {r['story_q_per_s']:,.0f} | {r['mem_per_doc'] / 1024:.2f} KiB | "
              f"{r['arrays_per_doc'] / 1024:.2f} KiB | "
              f"{r['disk_per_doc'] / 1024:.2f} KiB | {r['load_s']:.1f} s | {r['inc_s']:.2f} s, "
              f"{r['inc_bytes'] / 2**20:.1f} MiB ({r['inc_docs']:,} docs) |", flush=True)
    print(f"\n{NOTE} Once per process, not per document: {max(r['fixed_mib'] for r in rows):.0f} MiB "
          "(tables and caches allocated by the first batch, before the baseline).")
    return rows


def cap_table(n: int = 10**5, caps=(200, 2000, 20000, None)) -> None:
    """story_candidates against the cap on an anchor's postings (ANCHOR_POSTINGS_MAX), on n documents."""
    texts, planted = synthetic(n)
    index = NearDupIndex(DedupConfig(), texts=texts.get)
    index.add_many(texts.items())
    probes = planted[:300]
    print(f"\n| cap ({n:,} docs) | story_candidates q/s | anchors over the cap | candidates/query | planted source found |")
    print("|---|---|---|---|---|")
    from pipelines.dedup.features import anchors

    postings = np.concatenate([index._anchors.counts(anchors(texts[c])) for c, _ in probes])
    for cap in caps:
        limit = cap or 2**62
        t0 = time.perf_counter()
        found = [index.story_candidates(texts[c], exclude=c, max_postings=limit) for c, _ in probes]
        qps = len(probes) / (time.perf_counter() - t0)
        hit = np.mean([any(d == src for d, _ in f) for f, (_, src) in zip(found, probes)])
        print(f"| {cap if cap else 'none'} | {qps:,.0f} | {np.mean(postings > limit):.3f} | "
              f"{np.mean([len(f) for f in found]):.1f} | {hit:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    ap.add_argument("--caps", type=int, metavar="DOCS", help="only the anchor-postings cap table, on DOCS documents")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    if args.caps:
        cap_table(args.caps)
        return
    scale_table(tuple(args.sizes))


if __name__ == "__main__":
    main()
