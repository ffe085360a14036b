"""Dedup benchmark: precision/recall on tests/dedup_eval, parameter sweep, throughput and memory.

Usage: .venv/bin/python bench/dedup.py [--quick]   (prints markdown tables; --quick: 10^4 docs only, fewer seeds)
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.dedup import DedupConfig, NearDupIndex, cluster, overlap, shingle_hashes, signature_matrix  # noqa: E402
from pipelines.dedup.shingles import to_minhash  # noqa: E402

EVAL = ROOT / "tests" / "dedup_eval"


def load_eval() -> tuple[list[tuple[str, str]], dict[str, str]]:
    labels = json.loads((EVAL / "labels.json").read_text(encoding="utf-8"))
    items, truth = [], {}
    for cid, names in labels["clusters"].items():
        for name in names:
            items.append((name, (EVAL / "docs" / name).read_text(encoding="utf-8")))
            truth[name] = cid
    return items, truth


def pairs_of(clusters: list[list[str]]) -> set[tuple[str, str]]:
    return {p for c in clusters for p in itertools.combinations(sorted(c), 2)}


def score(items, truth, cfg: DedupConfig) -> tuple[float, float]:
    """Pairwise precision and recall of cluster() against the labelled clusters."""
    groups: dict[str, list[str]] = {}
    for name, cid in truth.items():
        groups.setdefault(cid, []).append(name)
    gold, pred = pairs_of(list(groups.values())), pairs_of(cluster(items, cfg))
    tp = len(gold & pred)
    return (tp / len(pred) if pred else 1.0), tp / len(gold)


def direct_recall(items, truth, cfg: DedupConfig) -> dict[str, float]:
    """Per variant kind: share of (original, variant) pairs found directly by find() (no transitivity)."""
    index = NearDupIndex(cfg)
    index.add_many([(n, t) for n, t in items if n.endswith("_orig.txt")])
    found: dict[str, list[int]] = {}
    for name, text in items:
        if "_" not in name or name.endswith("_orig.txt") or name.startswith(".."):
            continue
        kind = name.split("_", 1)[1][:-4]
        hit = any(m.doc_id == name.split("_")[0] + "_orig.txt" for m in index.find(text))
        found.setdefault(kind, []).append(int(hit))
    return {k: sum(v) / len(v) for k, v in sorted(found.items())}


def margins(items, truth) -> None:
    """Exact similarity margins between same-article and different-article pairs, per shingle size."""
    print("\n## Separation on the eval set (exact shingle-set overlap, all pairs)")
    print("| shingle | min J same article (excl. truncated) | min C truncated | max J different | max C different (>=100 shingles) |")
    print("|---|---|---|---|---|")
    for k in (3, 4, 5):
        sets = {n: shingle_hashes(t, k) for n, t in items}
        same_j, trunc_c, diff_j, diff_c = [], [], [], []
        for a, b in itertools.combinations(sorted(sets), 2):
            j, c = overlap(sets[a], sets[b])
            if truth[a] == truth[b]:
                (trunc_c if "trunc" in a + b else same_j).append(c if "trunc" in a + b else j)
            else:
                diff_j.append(j)
                if min(len(sets[a]), len(sets[b])) >= 100:
                    diff_c.append(c)
        print(f"| {k} | {min(same_j):.3f} | {min(trunc_c):.3f} | {max(diff_j):.3f} | {max(diff_c):.3f} |")


FUNDUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fundus-pages" / "manifest.jsonl"
if not FUNDUS.exists():
    FUNDUS = Path("/work/shared/data/fundus-pages/manifest.jsonl")


def background(cfg: DedupConfig) -> None:
    """Unrelated real articles (fundus manifest bodies, skipped if absent): overlap and LSH false candidates."""
    if not FUNDUS.exists():
        print("\n(real-text background skipped: fundus manifest absent)")
        return
    rows = [json.loads(line) for line in FUNDUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    bodies = [r["body"] for r in rows if r.get("body") and len(r["body"].split()) >= 100]
    print(f"\n## Real-text background: {len(bodies)} fundus article bodies, all pairs with J < 0.3 (unrelated)")
    print(f"| shingle | mean J | p99.9 J | max C | LSH false candidates per query per 10^6 docs ({cfg.bands}x{cfg.rows}) |")
    print("|---|---|---|---|---|")
    for k in (3, 4, 5):
        sets = [shingle_hashes(b, k) for b in bodies]
        sims = np.array([overlap(a, b) for a, b in itertools.combinations(sets, 2)])
        sims = sims[sims[:, 0] < 0.3]
        jac = sims[:, 0]
        cand = (1 - (1 - jac**cfg.rows) ** cfg.bands).mean() * 1e6
        print(f"| {k} | {jac.mean():.5f} | {np.quantile(jac, 0.999):.4f} | {sims[:, 1].max():.3f} | {cand:.1f} |")


def sweep(items, truth, seeds: int) -> None:
    margins(items, truth)
    background(DedupConfig())
    print("\n## Sweep on tests/dedup_eval (pairwise P/R of cluster(), mean over LSH seeds; verification J>=0.5 or C>=0.8)")
    print("| shingle | num_perm | bands x rows | P(cand) J=0.3 | precision | recall | min recall |")
    print("|---|---|---|---|---|---|---|")
    for k, n in itertools.product((3, 4, 5), (64, 128, 256)):
        for r in (2, 4):
            cfg = DedupConfig(shingle_size=k, num_perm=n, bands=n // r, rows=r)
            res = [score(items, truth, replace(cfg, seed=s)) for s in range(1, seeds + 1)]
            p, rc = np.mean([x[0] for x in res]), np.mean([x[1] for x in res])
            print(f"| {k} | {n} | {cfg.bands}x{r} | {cfg.candidate_probability(0.3):.3f} | {p:.3f} | {rc:.3f} | {min(x[1] for x in res):.3f} |")
    print("\n## Threshold sweep (shingle 4, 128 perms, 64x2): verification rule")
    print("| jaccard >= | containment >= | precision | recall |")
    print("|---|---|---|---|")
    for j, c in itertools.product((0.2, 0.3, 0.5, 0.7, 0.9), (0.3, 0.5, 0.8, 1.0)):
        p, rc = score(items, truth, DedupConfig(threshold=j, containment=c))
        print(f"| {j} | {c if c < 1 else 'off'} | {p:.3f} | {rc:.3f} |")


# ---- synthetic corpus ---------------------------------------------------------------------------------
def synthetic(n: int, seed: int = 7, dup_rate: float = 0.05):
    """n documents of ~600 Zipf-distributed words; dup_rate of them are planted near-duplicates.

    Returns (items, planted) with planted = [(dup_id, source_id, kind)].
    """
    rng = np.random.default_rng(seed)
    vocab = np.array(["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(2, 10))) for _ in range(30000)])
    probs = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    probs /= probs.sum()
    items, planted = [], []
    for i in range(n):
        if i > 10 and rng.random() < dup_rate:
            src_id, src = items[int(rng.integers(0, len(items)))]
            words = src.split()
            kind = ("edits", "trunc", "boiler")[int(rng.integers(0, 3))]
            if kind == "edits":  # ~3% of words replaced
                for t in rng.choice(len(words), max(1, len(words) // 33), replace=False):
                    words[t] = vocab[rng.integers(0, 5000)]
            elif kind == "trunc":  # paywall: first 30-50%
                words = words[: int(len(words) * rng.uniform(0.3, 0.5))]
            else:  # boilerplate header and footer
                words = list(vocab[rng.integers(0, 3000, 80)]) + words + list(vocab[rng.integers(0, 3000, 60)])
            items.append((f"d{i}", " ".join(words)))
            planted.append((f"d{i}", src_id, kind))
        else:
            length = int(np.clip(rng.lognormal(np.log(600), 0.4), 150, 3000))
            items.append((f"d{i}", " ".join(vocab[rng.choice(len(vocab), length, p=probs)])))
    return items, planted


def memory_per_doc(items, cfg: DedupConfig) -> float:
    """Bytes per indexed document (tracemalloc over building the index)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    index = NearDupIndex(cfg)
    index.add_many(items)
    mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del index
    return mem / len(items)


def planted_recall(index: NearDupIndex, planted) -> dict[str, float]:
    hits: dict[str, list[int]] = {}
    for dup, src, kind in planted:
        hits.setdefault(kind, []).append(int(any(m.doc_id == src for m in index.find_id(dup))))
    out = {k: sum(v) / len(v) for k, v in sorted(hits.items())}
    out["all"] = sum(map(sum, hits.values())) / len(planted)
    return out


def bands_table(n: int, mem_n: int) -> None:
    items, planted = synthetic(n, seed=11)
    print(f"\n## LSH banding on {n:,} synthetic docs ({len(planted)} planted near-dups; shingle 4, J>=0.5 or C>=0.8)")
    print("| num_perm | bands x rows | P(cand) J=0.3 / 0.5 | planted recall edits / trunc / boiler | LSH cands/query | find() q/s | mem/doc |")
    print("|---|---|---|---|---|---|---|")
    for num_perm, b, r in ((256, 128, 2), (128, 64, 2), (96, 48, 2), (64, 32, 2), (48, 24, 2), (128, 32, 4), (64, 16, 4), (128, 16, 8)):
        cfg = DedupConfig(num_perm=num_perm, bands=b, rows=r)
        index = NearDupIndex(cfg)
        index.add_many(items)
        rec = planted_recall(index, planted)
        probes = [index._docs[f"d{i}"] for i in range(0, n, max(1, n // 500))]
        cands = np.mean([len(index._lsh.query(to_minhash(np.frombuffer(d.sig, dtype=np.uint32), cfg.seed))) for d in probes])
        t0 = time.perf_counter()
        for i in range(0, n, max(1, n // 1000)):
            index.find_id(f"d{i}")
        qps = len(range(0, n, max(1, n // 1000))) / (time.perf_counter() - t0)
        del index
        mem = memory_per_doc(items[:mem_n], cfg)
        print(f"| {num_perm} | {b}x{r} | {cfg.candidate_probability(0.3):.3f} / {cfg.candidate_probability(0.5):.3f} | "
              f"{rec['edits']:.3f} / {rec['trunc']:.3f} / {rec['boiler']:.3f} | {cands:.1f} | {qps:,.0f} | {mem / 1024:.1f} KiB |")


def throughput(n: int, cfg: DedupConfig, mem_n: int) -> tuple[float, float]:
    items, planted = synthetic(n)
    texts = [t for _, t in items]
    t0 = time.perf_counter()
    sets = [shingle_hashes(t, cfg.shingle_size) for t in texts]
    t1 = time.perf_counter()
    signature_matrix(sets, cfg.num_perm, cfg.seed)
    t2 = time.perf_counter()
    del sets
    index = NearDupIndex(cfg)
    t3 = time.perf_counter()
    index.add_many(items)
    t4 = time.perf_counter()
    queries = texts[:2000]
    t5 = time.perf_counter()
    assert all(index.find(q) for q in queries)  # every document finds at least itself (exact)
    t6 = time.perf_counter()
    rec = planted_recall(index, planted)
    blob = index.to_bytes()
    t7 = time.perf_counter()
    NearDupIndex.from_bytes(blob, cfg)
    t8 = time.perf_counter()
    del index
    mem = memory_per_doc(items[:mem_n], cfg)
    words = np.mean([len(t.split()) for t in texts])
    print(f"| {n:,} | {words:.0f} | {n / (t1 - t0):,.0f} | {n / (t2 - t1):,.0f} | {n / (t4 - t3):,.0f} | "
          f"{len(queries) / (t6 - t5):,.0f} | {rec['all']:.3f} | {mem / 1024:.1f} KiB | {len(blob) / n / 1024:.2f} KiB | {t8 - t7:.1f} s |")
    return mem, len(blob) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    cfg = DedupConfig()
    items, truth = load_eval()
    print(f"# Dedup benchmark\n\nChosen: {cfg}\n\n## Eval set: {len(items)} docs, {len(set(truth.values()))} articles")
    p, r = score(items, truth, cfg)
    print(f"precision {p:.3f}  recall {r:.3f}")
    print("\nDirect recall per variant kind (find() of variant against originals):")
    for kind, rec in direct_recall(items, truth, cfg).items():
        print(f"  {kind:9s} {rec:.2f}")
    sweep(items, truth, seeds=3 if args.quick else 10)
    bands_table(10_000, 2_000 if args.quick else 5_000)
    print("\n## Throughput with the chosen config (synthetic ~600-word docs, 5% planted near-dups; 1 core)")
    print("| docs | words/doc | shingling docs/s | signatures docs/s | index add docs/s (all steps) | find() q/s | planted recall | mem/doc (tracemalloc) | persisted/doc | from_bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sizes = (10_000,) if args.quick else (10_000, 100_000)
    for n in sizes:
        mem, disk = throughput(n, cfg, 2_000 if args.quick else 10_000)
    print(f"\nProjection to 10^7 docs: memory ~{mem * 1e7 / 2**30:.0f} GiB, persisted ~{disk * 1e7 / 2**30:.0f} GiB "
          f"(linear: per-doc costs above times 10^7)")


if __name__ == "__main__":
    main()
