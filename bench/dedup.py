"""Dedup benchmark: near-duplicates on tests/dedup_eval (precision/recall, parameter sweep); near-duplicate
and same-story precision/recall by kind on real syndication (bench/dedup_syndication.py); the index's
throughput, memory and persistence at 10^4, 10^5, 10^6 documents (bench/dedup_scale.py).

Usage: .venv/bin/python bench/dedup.py [--quick] [--sizes N ...]   (prints markdown tables)
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.dedup import DedupConfig, NearDupIndex, cluster, overlap, shingle_hashes  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import dedup_scale  # noqa: E402
import dedup_syndication  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer LSH seeds, one ingest order, 10^4 documents only")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="index sizes for the scale table")
    args = ap.parse_args()
    cfg = DedupConfig()
    items, truth = load_eval()
    print(f"# Dedup benchmark\n\nChosen: {cfg}\n\n## Synthetic eval set (tests/dedup_eval): {len(items)} docs, "
          f"{len(set(truth.values()))} articles")
    p, r = score(items, truth, cfg)
    print(f"near-duplicate precision {p:.3f}  recall {r:.3f}")
    print("\nDirect recall per variant kind (find() of variant against originals):")
    for kind, rec in direct_recall(items, truth, cfg).items():
        print(f"  {kind:9s} {rec:.2f}")
    if not args.quick:
        sweep(items, truth, seeds=10)
    dedup_syndication.main(["--orders", "1" if args.quick else "5"])
    sizes = args.sizes or ((10**4,) if args.quick else (10**4, 10**5, 10**6))
    print("\n## The index at scale (bench/dedup_scale.py)")
    dedup_scale.scale_table(tuple(sizes))


if __name__ == "__main__":
    main()
