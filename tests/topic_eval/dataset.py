"""The labelled topic-relevance set: items of four sources, with text loaded from where it lives.

``labels.jsonl`` holds one label per line: ``{"file", "source", "label" (1 on-topic / 0 off), "note"}``.
``file`` is relative to the source's folder:

- ``seeds``: ``seeds/`` of the project (raw page text, boilerplate kept; title from ``seeds/INDEX.md``);
- ``handwritten``: ``tests/topic_eval/handwritten/`` (title line, blank line, body);
- ``fundus``: ``../shared/data/fundus-pages/`` (title + body of ``manifest.jsonl``; never copied here);
- ``replay``: ``crawler/replay/web/`` (article pages, HTML extracted with ``pipelines.extract.extractor``).

Items whose source folder is absent are skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LABELS = HERE / "labels.jsonl"
FUNDUS = REPO.parent / "shared" / "data" / "fundus-pages"
if not FUNDUS.exists():
    FUNDUS = Path("/work/shared/data/fundus-pages")
REPLAY = REPO / "crawler" / "replay" / "web"
SOURCES = ("seeds", "fundus", "handwritten", "replay")


@dataclass
class Item:
    source: str
    file: str
    label: int
    note: str
    title: str | None
    text: str


def read_labels() -> list[dict]:
    with open(LABELS, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _seed_titles() -> dict[str, str]:
    from pipelines.corpus.seeds import read_index

    return {r["file"]: r["title"].split(" (from")[0] for r in read_index(REPO / "seeds" / "INDEX.md")}


def _split_title(raw: str) -> tuple[str, str]:
    title, _, body = raw.partition("\n\n")
    return title.strip(), body


def _fundus() -> dict[str, dict]:
    path = FUNDUS / "manifest.jsonl"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        return {r["file"]: r for r in map(json.loads, fh)}


def _replay(file: str) -> tuple[str | None, str] | None:
    path = REPLAY / file
    if not path.exists():
        return None
    from pipelines.extract.extractor import extract

    url = "https://" + (file[: -len("index.html")] if file.endswith("/index.html") else file)
    doc = extract(path.read_bytes(), url)
    return (doc.title, doc.text) if doc else (None, "")


def load(sources: tuple[str, ...] = SOURCES) -> list[Item]:
    """All labelled items of ``sources`` whose text is available."""
    items, seeds, fundus = [], None, None
    for row in read_labels():
        src, file = row["source"], row["file"]
        if src not in sources:
            continue
        if src == "seeds":
            seeds = seeds if seeds is not None else _seed_titles()
            title, text = seeds.get(file), (REPO / "seeds" / file).read_text(encoding="utf-8")
        elif src == "handwritten":
            title, text = _split_title((HERE / "handwritten" / file).read_text(encoding="utf-8"))
        elif src == "fundus":
            fundus = fundus if fundus is not None else _fundus()
            if file not in fundus:
                continue
            title, text = fundus[file]["title"], fundus[file]["body"]
        elif src == "replay":
            got = _replay(file)
            if got is None:
                continue
            title, text = got
        else:
            raise ValueError(f"unknown source {src!r}")
        items.append(Item(src, file, int(row["label"]), row.get("note", ""), title, text))
    return items


def metrics(pairs: list[tuple[int, bool]]) -> dict:
    """Precision, recall and F1 of (label, predicted) pairs; 1.0 where undefined (nothing to find/flag)."""
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": len(pairs), "pos": tp + fn, "tp": tp, "fp": fp, "fn": fn,
            "precision": precision, "recall": recall, "f1": f1}
