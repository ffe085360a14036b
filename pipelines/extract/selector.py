"""The learned block selector: which text blocks of a page are the article.

A gradient-boosted tree ensemble (scikit-learn's HistGradientBoostingClassifier, trained by
`bench/selector.py` on the development pages and exported to `selector.json` beside this file) scores each
block of `pipelines.extract.blocks` from its features. Evaluating the trees needs only numpy, so scikit-learn
is a training-time tool, not a run-time dependency. Pure: no network.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipelines.extract.blocks import FEATURES, Block, blocks, features

__all__ = ["MODEL_PATH", "load_model", "predict", "select_text", "kept_text"]

MODEL_PATH = Path(__file__).with_name("selector.json")


class Model:
    BATCH = 2048  # rows walked at once: the node table is rows x trees

    def __init__(self, data: dict):
        if list(data["features"]) != list(FEATURES):
            raise ValueError("selector.json was trained on other features; retrain with bench/selector.py")
        self.baseline = float(data["baseline"])
        # all trees in one set of flat arrays (children renumbered), walked together, one level per step
        feat, thr, left, right, leaf, value, roots = [], [], [], [], [], [], []
        for tree in data["trees"]:
            base = len(feat)
            roots.append(base)
            feat += tree["feature"]
            thr += tree["threshold"]
            left += [base + i for i in tree["left"]]
            right += [base + i for i in tree["right"]]
            leaf += tree["leaf"]
            value += tree["value"]
        self.feat = np.asarray(feat, dtype=np.int64)
        self.thr = np.asarray(thr, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.leaf = np.asarray(leaf, dtype=bool)
        self.value = np.asarray(value, dtype=np.float64)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.feat[self.leaf] = 0
        self.threshold = float(data.get("threshold", 0.5))
        self.version = data.get("version", "")

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of ``x`` (scikit-learn's predict_proba[:, 1])."""
        if len(x) > self.BATCH:  # bounded memory on pages of many thousand blocks
            return np.concatenate([self.proba(x[i:i + self.BATCH]) for i in range(0, len(x), self.BATCH)])
        if not len(x):
            return np.zeros(0)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(64):  # deeper than any tree: 15 leaves at most
            active = ~self.leaf[node]
            if not active.any():
                break
            go_left = x[rows, self.feat[node]] <= self.thr[node]
            node = np.where(active, np.where(go_left, self.left[node], self.right[node]), node)
        raw = self.baseline + self.value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))


@lru_cache(maxsize=1)
def load_model(path: str | None = None) -> Model | None:
    """The shipped model, or None when the file is missing (the selector is then simply not used)."""
    p = Path(path) if path else MODEL_PATH
    if not p.exists():
        return None
    return Model(json.loads(p.read_text("utf-8")))


def predict(items: list[Block], traf_text: str, title: str | None = None) -> np.ndarray:
    """Probability that each block belongs to the article."""
    model = load_model()
    if model is None or not items:
        return np.zeros(len(items))
    return model.proba(features(items, traf_text, title).astype(np.float64))


def select_text(tree, traf_text: str, title: str | None = None) -> str:
    """The selected blocks' text, one block per line, each once, in page order ('' without a model)."""
    model = load_model()
    if model is None:
        return ""
    items = blocks(tree)
    return kept_text([(b.tag, b.text) for b in items], predict(items, traf_text, title) > model.threshold)


def kept_text(blocks_: list[tuple[str, str]], keep) -> str:
    """The kept blocks' text (``(tag, text)`` pairs), one per line, each once, in page order; list items
    as "- item", the way trafilatura writes them."""
    seen: set[str] = set()
    out = []
    for (tag, text), k in zip(blocks_, keep):
        if k and text not in seen:
            seen.add(text)
            out.append(("- " + text) if tag == "li" else text)
    return "\n".join(out)
