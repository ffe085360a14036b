"""Train and cross-validate the learned block selector (pipelines/extract/selector.py) on the development pages.

Every page of ../shared/data/wcxb-dev and fundus-pages goes through extract()'s own steps (decode, parse,
metadata, outlet profiles, trafilatura); its text blocks (pipelines/extract/blocks.py) are labelled from the
expected text (a block of 5+ words is article when half its word trigrams are in the expected text; a shorter
one when it equals an expected line, or has 3+ words and occurs in it). Cross-validation holds out whole SITES
(5 folds by registered domain), so a site's layout is never both learned and scored; it prints word F1 (WCXB)
and 4-gram F1 (Zyte) per set for: trafilatura's own blocks, the selector alone, and extract()'s rule (the
selector's text replaces the body only when trafilatura kept under `select_below` of its words, checked
only where it kept under `select_gate` of the page's visible words and did not keep `select_kept_p` of a
page whose <p> elements hold the prose; see ExtractConfig). Then it trains on
every page and writes pipelines/extract/selector.json (with --write).

    .venv/bin/python -m pip show scikit-learn  # training only: uv pip install scikit-learn
    .venv/bin/python bench/selector.py [--write] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import extraction as B  # noqa: E402

from pipelines.extract import extractor as X  # noqa: E402
from pipelines.extract.blocks import FEATURES, blocks, features  # noqa: E402
from pipelines.extract.selector import kept_text  # noqa: E402
from pipelines.extract.words import word_key  # noqa: E402

PARAMS = dict(max_iter=150, max_leaf_nodes=15, learning_rate=0.1, random_state=0)
RESCUE_SHARE = X.ExtractConfig().select_below
GATE = X.ExtractConfig().select_gate
CONFIG = X.ExtractConfig()


def label(norms: list[str], body: str) -> np.ndarray:
    lines = [word_key(line) for line in body.split("\n") if line.strip()]
    lineset = set(lines)
    flat = " " + " ".join(lines) + " "
    w = flat.split()
    tri = set(zip(w, w[1:], w[2:]))
    y = []
    for k in norms:
        ws = k.split()
        if len(ws) >= 5:
            grams = list(zip(ws, ws[1:], ws[2:]))
            y.append(sum(t in tri for t in grams) / len(grams) >= 0.5)
        else:
            y.append(k in lineset or (len(ws) >= 3 and f" {k} " in flat))
    return np.array(y, dtype=bool)


def page_rows(limit: int | None) -> list[dict]:
    out = []
    for name, (marker, loader) in B.SETS.items():
        if name == "seeds" or not marker.exists():
            continue
        for p in loader(limit):
            state = X.prepare(p["html"], p["url"], select=False, config=CONFIG)
            if isinstance(state, X.ExtractionResult):
                continue
            items = blocks(state.tree)
            body = state.tree.find(".//body")
            # the selector's job is the page where trafilatura kept only part of the article: teach it that
            # case too, with trafilatura's text cut to its first part (training rows only, never scored)
            lines = [line for line in state.traf.split("\n") if line.strip()]
            part = "\n".join(lines[:max(1, len(lines) // 3)])
            labels = label([word_key(b.text) for b in items], p["body"])
            out.append({"set": name, "url": p["url"], "body": p["body"], "title": state.meta.get("title"),
                        "x_cut": features(items, part, state.meta.get("title")).astype(np.float64),
                        "x": features(items, state.traf, state.meta.get("title")).astype(np.float64),
                        "y": labels,
                        "blocks": [(b.tag, b.text) for b in items],
                        "ours": state.final_text, "patterns": state.patterns,
                        "visible": len(body.xpath("string()").split()) if body is not None else 0,
                        "p_words": X._p_words(state.tree)})
    return out


def _text(p: dict, keep) -> str:
    """What extract() makes of the kept blocks: selector.kept_text, then boilerplate and repeats removed."""
    return "\n\n".join(X.clean_paragraphs(kept_text(p["blocks"], keep), p["patterns"], p["title"]))


def _site(url: str) -> str:
    host = re.sub(r"^https?://", "", url).split("/")[0].lower()
    return ".".join(host.split(".")[-2:])


def fit(rows: list[dict]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([r[k] for r in rows if len(r["x"]) for k in ("x", "x_cut")])
    y = np.concatenate([r["y"] for r in rows if len(r["x"]) for _ in (0, 1)])
    weight = np.expm1(x[:, FEATURES.index("log_words")]) + 1  # long paragraphs weigh more, as in the metric
    return HistGradientBoostingClassifier(**PARAMS).fit(x, y, sample_weight=weight)


def export(model) -> dict:
    trees = []
    for (pred,) in model._predictors:
        n = pred.nodes
        trees.append({"feature": n["feature_idx"].tolist(), "threshold": n["num_threshold"].tolist(),
                      "left": n["left"].tolist(), "right": n["right"].tolist(),
                      "leaf": n["is_leaf"].astype(bool).tolist(), "value": n["value"].tolist()})
    return {"version": "1", "features": list(FEATURES), "baseline": float(model._baseline_prediction.ravel()[0]),
            "threshold": 0.5, "trees": trees, "params": PARAMS}


def report(rows: list[dict], probs: list[np.ndarray]) -> None:
    cover = FEATURES.index("in_traf")
    for name in ("wcxb", "fundus"):
        idx = [i for i, r in enumerate(rows) if r["set"] == name]
        if not idx:
            continue
        texts = {
            "extract() without the selector": [rows[i]["ours"] for i in idx],
            "trafilatura's blocks (half their trigrams kept)": [_text(rows[i], rows[i]["x"][:, cover] >= 0.5)
                                                              if len(rows[i]["x"]) else "" for i in idx],
            "selector alone": [_text(rows[i], probs[i] > 0.5) for i in idx],
        }
        for gate, share in sorted({(GATE, RESCUE_SHARE), *((g, b) for g in (0.3, 0.4) for b in (0.3, 0.4, 0.5))}):
            rule, used = [], 0
            for i in idx:
                alt = texts["selector alone"][idx.index(i)]
                ours = rows[i]["ours"]
                got = len(ours.split())
                prose_kept = (got >= CONFIG.select_kept_p * rows[i]["p_words"]
                              and rows[i]["p_words"] >= CONFIG.select_p_share * rows[i]["visible"])
                if got < gate * rows[i]["visible"] and not prose_kept and got < share * len(alt.split()):
                    rule.append(alt)
                    used += 1
                else:
                    rule.append(ours)
            mark = " (extract()'s settings)" if (gate, share) == (GATE, RESCUE_SHARE) else ""
            texts[f"with the selector, gate {gate}, share {share}{mark}: used on {used} pages"] = rule
        print(f"\n{name}: {len(idx)} pages, held out by site (5 folds)\n")
        print("| body | word F1 (WCXB) | 4-gram F1 (Zyte) |\n|---|---|---|")
        for key, outs in texts.items():
            w = statistics.mean(B.word_prf(t, rows[i]["body"])[2] for t, i in zip(outs, idx))
            g = statistics.mean(B.body_prf(t, rows[i]["body"])[2] for t, i in zip(outs, idx))
            print(f"| {key} | {w:.4f} | {g:.4f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="train on every page and write selector.json")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--full", action="store_true",
                    help="trafilatura's full cascade on every page (extract() runs it only where fast mode kept no article)")
    args = ap.parse_args(argv)
    if args.full:
        CONFIG.fast = False
    rows = page_rows(args.limit)
    if not rows:
        print("no development pages under ../shared/data; skipped")
        return 0
    sites = sorted({_site(r["url"]) for r in rows})
    rng = np.random.RandomState(0)
    rng.shuffle(sites)
    fold = {s: i % 5 for i, s in enumerate(sites)}
    probs: list = [np.zeros(0)] * len(rows)
    for f in range(5):
        model = fit([r for r in rows if fold[_site(r["url"])] != f])
        for i, r in enumerate(rows):
            if fold[_site(r["url"])] == f and len(r["x"]):
                probs[i] = model.predict_proba(r["x"])[:, 1]
    report(rows, probs)
    if args.write:
        from pipelines.extract.selector import MODEL_PATH

        MODEL_PATH.write_text(json.dumps(export(fit(rows)), separators=(",", ":")))
        print(f"\nwrote {MODEL_PATH.relative_to(ROOT)} ({MODEL_PATH.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
