"""Topic relevance on the labelled set (tests/topic_eval): P/R/F1 per source, errors, threshold sweep.

Usage: .venv/bin/python bench/topic.py [--terms PATH] [--threshold T] [--min-side S] [--all]
(--all lists every item with its score, not just the errors).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from pipelines.extract.topic import load_config, score  # noqa: E402
from topic_eval.dataset import SOURCES, load, metrics  # noqa: E402


def _row(name: str, m: dict) -> str:
    return (f"{name:<12} n={m['n']:>4} pos={m['pos']:>3} tp={m['tp']:>3} fp={m['fp']:>3} fn={m['fn']:>3}"
            f"  P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f}")


def _keep(s, threshold: float, min_side: float) -> bool:
    return s.asean >= min_side and s.russia >= min_side and s.score >= threshold


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terms", default=None, help="terms TOML (default pipelines/extract/topic_terms.toml)")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--min-side", type=float, default=None)
    ap.add_argument("--all", action="store_true", help="list every item, not only the errors")
    args = ap.parse_args(argv)
    over = {k: v for k, v in (("threshold", args.threshold), ("min_side", args.min_side)) if v is not None}
    cfg = load_config(args.terms, over)

    t0 = time.perf_counter()
    items = load()
    t1 = time.perf_counter()
    scored = [(it, score(it.title, it.text, cfg)) for it in items]
    t2 = time.perf_counter()
    words = sum(len(it.text.split()) for it in items)
    print(f"items={len(items)} load={t1 - t0:.2f}s score={t2 - t1:.3f}s "
          f"({words / max(t2 - t1, 1e-9) / 1e6:.2f} M words/s)")
    print(f"config: threshold={cfg.threshold} min_side={cfg.min_side} title_weight={cfg.title_weight} "
          f"link_weight={cfg.link_weight} side_scale={cfg.side_scale}")

    print("\n== precision / recall ==")
    for src in SOURCES:
        sub = [(it.label, s.relevant) for it, s in scored if it.source == src]
        if sub:
            print(_row(src, metrics(sub)))
    print(_row("overall", metrics([(it.label, s.relevant) for it, s in scored])))

    print("\n== errors ==" if not args.all else "\n== all items ==")
    for it, s in sorted(scored, key=lambda p: (p[0].source, -p[1].score)):
        wrong = bool(it.label) != s.relevant
        if not (wrong or args.all or (s.score >= cfg.threshold * 0.6 and not it.label)):
            continue
        tag = ("FN" if it.label else "FP") if wrong else ("ok")
        terms = ", ".join(f"{k}:{v}" for k, v in list(s.matched.items())[:6])
        print(f"{tag:<3} {it.source:<11} {it.file[:44]:<44} label={it.label} score={s.score:.3f} "
              f"a={s.asean:.2f} r={s.russia:.2f} link={s.link:.2f} reason={s.reason} [{terms}]")
        if wrong:
            print(f"      note: {it.note}")

    print("\n== reasons of rejected items ==")
    reasons: dict[str, int] = {}
    for _, s in scored:
        if not s.relevant:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
    print("  ".join(f"{k}={v}" for k, v in sorted(reasons.items())))

    print("\n== threshold sweep (min_side fixed at %.2f) ==" % cfg.min_side)
    for i in range(0, 17):
        t = round(0.05 * i, 2)
        m = metrics([(it.label, _keep(s, t, cfg.min_side)) for it, s in scored])
        mark = " <- configured" if abs(t - cfg.threshold) < 1e-9 else ""
        print(_row(f"t={t:.2f}", m) + mark)
    print("\n== min_side sweep (threshold fixed at %.2f) ==" % cfg.threshold)
    for i in range(0, 10):
        ms = round(0.1 * i, 2)
        m = metrics([(it.label, _keep(s, cfg.threshold, ms)) for it, s in scored])
        print(_row(f"side={ms:.2f}", m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
