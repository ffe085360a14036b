"""Real syndication: precision and recall of the near-duplicate and same-story relations on
``../shared/data/syndication-dev`` (126 real texts: 30 groups of copies of one story, 46 distractors).

Every text goes through the real :class:`~pipelines.dedup.deduplicator.Deduplicator` on a local corpus,
one record at a time as a crawl would store them (in file order and in shuffled orders: clusters must
not depend on the order). Pairs are all pairs of the 126 texts, distractors included. A pair of one
group has the kind of its less faithful member (verbatim < edited < translated): a verbatim copy and an
edited copy make an edited pair.

Usage: .venv/bin/python bench/dedup_syndication.py [--orders N] [--data PATH]
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.corpus.layout import Corpus  # noqa: E402
from pipelines.corpus.record import text_sha256  # noqa: E402
from pipelines.crawl.urls import doc_id  # noqa: E402
from pipelines.dedup.deduplicator import Deduplicator  # noqa: E402
from pipelines.dedup.story import StoryConfig, evidence, same_story  # noqa: E402
from pipelines.store import LocalStore  # noqa: E402

SHARED = ROOT.parent / "shared" if (ROOT.parent / "shared").is_dir() else Path("/work/shared")
DATA = SHARED / "data" / "syndication-dev" / "texts.jsonl"
ORDER = {"verbatim": 0, "edited": 1, "translated": 2}
KINDS = ("verbatim", "edited", "translated")


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def detect(text: str) -> str | None:
    try:
        from pipelines.extract.language import detect_language
    except ImportError:  # before the language detector: no language, so no translation veto
        return None
    return detect_language(text)[0]


def as_record(row: dict, lang: str | None) -> dict:
    return {
        "id": doc_id(row["url"]), "url": row["url"], "canonical_url": row["url"], "declared_canonical": None,
        "outlet": row["outlet"], "title": row.get("title") or "", "authors": [], "published": None,
        "language": lang, "text": row["text"], "text_sha256": text_sha256(row["text"]),
        "word_count": len(row["text"].split()), "fetched_at": "2026-01-01T00:00:00+00:00", "http_status": 200,
        "etag": None, "last_modified": None, "extractor": {"name": "bench", "version": "1"},
        "duplicate_of": None, "also_at": [], "same_story": None, "story_original": None,
    }


def pair_kind(a: dict, b: dict) -> str | None:
    if a["group"] is None or a["group"] != b["group"]:
        return None
    return max(a["kind"], b["kind"], key=ORDER.get)


def score(rows: list[dict], linked) -> dict:
    """Pairwise precision over all pairs and recall by kind of a relation given as linked(i, j) -> bool."""
    tp, fp, total = Counter(), 0, Counter()
    for i, j in itertools.combinations(range(len(rows)), 2):
        kind, hit = pair_kind(rows[i], rows[j]), linked(i, j)
        if kind is None:
            fp += hit
            continue
        total[kind] += 1
        tp[kind] += hit
    found = sum(tp.values())
    out = {"precision": found / (found + fp) if found + fp else 1.0, "false_pairs": fp, "pairs": found + fp}
    for k in KINDS:
        out[k] = tp[k] / total[k] if total[k] else float("nan")
        out[f"{k}_n"] = f"{tp[k]}/{total[k]}"
    return out


def run_corpus(rows: list[dict], langs: list[str | None], order: list[int]) -> tuple[dict, dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(LocalStore(tmp))
        dedup = Deduplicator(corpus).load()
        t0 = time.perf_counter()
        for i in order:
            records = dedup.resolve(as_record(rows[i], langs[i]))
            for rec in records:
                corpus.put(rec)
        elapsed = time.perf_counter() - t0
        recs = [corpus.get(doc_id(r["url"]), with_text=False) for r in rows]
    head = [r.get("duplicate_of") or r["id"] for r in recs]
    story = [r.get("same_story") for r in recs]
    near = score(rows, lambda i, j: head[i] == head[j])
    same = score(rows, lambda i, j: head[i] == head[j] or (story[i] is not None and story[i] == story[j]))
    same["originals"] = originals(rows, recs)
    return near, same, elapsed


def originals(rows: list[dict], recs: list[dict]) -> str:
    """Of the stories with both verbatim copies and edited versions, how many name a verbatim copy as their
    ``story_original`` (the wire's wording, not one site's rewrite)."""
    kind = {r["id"]: row["kind"] for row, r in zip(rows, recs)}
    members: dict[str, set] = {}
    for r in recs:
        if r.get("same_story"):
            members.setdefault(r["same_story"], set()).add(r["id"])
    mixed = [(sid, ids) for sid, ids in members.items() if {"verbatim", "edited"} <= {kind[i] for i in ids}]
    right = sum(kind[next(r["story_original"] for r in recs if r["id"] in ids)] == "verbatim" for _, ids in mixed)
    return f"{right}/{len(mixed)}"


def direct(rows: list[dict], langs: list[str | None]) -> dict:
    """The verifier alone on every pair (no index, no clusters): what each link rests on."""
    recs = [as_record(r, lang) for r, lang in zip(rows, langs)]
    ok = {(i, j) for i, j in itertools.combinations(range(len(rows)), 2) if same_story(recs[i], recs[j])}
    return score(rows, lambda i, j: (i, j) in ok)


def margins(rows: list[dict]) -> str:
    """Largest score of a pair that is not a copy, smallest of a verbatim and of an edited pair; and the
    threshold rule held out: for each group, the margin over the other groups' negatives, applied to its own."""
    margin = StoryConfig().threshold - 1.8
    scores = []
    for a, b in itertools.combinations(rows, 2):
        kind = pair_kind(a, b)
        if kind != "translated":
            scores.append((kind, a["group"] or b["group"], a["group"], b["group"], evidence(a["text"], b["text"]).score))
    neg = [(g1, g2, sc) for kind, _, g1, g2, sc in scores if kind is None]
    worst = max(sc for _, _, sc in neg)
    low = {k: min(sc for kind, _, _, _, sc in scores if kind == k) for k in ("verbatim", "edited")}
    crossed = 0
    for group in {r["group"] for r in rows if r["group"]}:
        limit = max(sc for g1, g2, sc in neg if group not in (g1, g2)) + margin
        crossed += sum(1 for g1, g2, sc in neg if group in (g1, g2) and sc >= limit)
    return (f"score (0-4) of the closest pair that is not a copy: {worst:.3f}; threshold {StoryConfig().threshold}; "
            f"lowest verbatim pair {low['verbatim']:.3f}, lowest edited pair {low['edited']:.3f}; "
            f"groups held out in turn (threshold = other groups' closest negative + {margin:.2f}): "
            f"{crossed} held-out negative pairs over it")


WCXB = SHARED / "data" / "wcxb-dev" / "ground-truth"


def with_background(rows: list[dict]) -> str:
    """The cost of the story step among unrelated real articles: the 711 wcxb-dev bodies (1,600 sites'
    articles of every kind) then syndication-dev, through resolve() on a local store."""
    if not WCXB.is_dir():
        return "wcxb-dev absent: background cost not measured"
    texts = []
    for path in sorted(WCXB.glob("*.json")):
        truth = json.loads(path.read_text(encoding="utf-8")).get("ground_truth") or {}
        if len((truth.get("main_content") or "").split()) >= 100:
            texts.append({"url": json.loads(path.read_text(encoding="utf-8"))["url"], "outlet": "wcxb",
                          "text": truth["main_content"], "title": truth.get("title")})
    texts += rows
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(LocalStore(tmp))
        dedup = Deduplicator(corpus).load()
        reads, get = [0], corpus.get

        def counted(*a, **k):
            reads[0] += 1
            return get(*a, **k)

        corpus.get = counted
        t0 = time.perf_counter()
        for row in texts:
            for rec in dedup.resolve(as_record(row, None)):
                corpus.put(rec)
        elapsed = time.perf_counter() - t0
    st = dedup.stories.stats
    return (f"{len(texts)} records (wcxb-dev bodies, then syndication-dev): {len(texts) / elapsed:.0f} records/s "
            f"through resolve(), {reads[0] / len(texts):.1f} record reads and "
            f"{(st['verified'] + st['rejected']) / len(texts):.2f} story verifications per record")


def fmt(name: str, s: dict) -> str:
    return (f"| {name} | {s['precision']:.3f} ({s['false_pairs']} false of {s['pairs']}) | "
            + " | ".join(f"{s[k]:.3f} ({s[k + '_n']})" for k in KINDS) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3, help="file order plus N-1 shuffles (seeds 1..)")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"syndication-dev not found at {args.data}: skipped")
        return 0
    rows = load(args.data)
    langs = [detect(r["text"]) for r in rows]
    print(f"\n## Real syndication ({args.data.parent.name}: {len(rows)} texts, "
          f"{len({r['group'] for r in rows if r['group']})} groups, {sum(r['group'] is None for r in rows)} distractors)")
    print("\n| relation, order | precision (all pairs) | recall verbatim | recall edited | recall translated |")
    print("|---|---|---|---|---|")
    t0 = time.perf_counter()
    print(fmt("same story: verifier alone, every pair", direct(rows, langs)))
    per_pair = (time.perf_counter() - t0) / (len(rows) * (len(rows) - 1) / 2)
    rates, found = [], []
    for n in range(args.orders):
        order = list(range(len(rows)))
        if n:
            random.Random(n).shuffle(order)
        near, same, elapsed = run_corpus(rows, langs, order)
        label = "file order" if n == 0 else f"shuffled (seed {n})"
        print(fmt(f"near-duplicate, {label}", near))
        print(fmt(f"same story, {label}", same))
        found.append(same["originals"])
        rates.append(len(rows) / elapsed)
    print("\nstories with verbatim copies and edited versions whose original is a verbatim copy, per order: "
          + ", ".join(found))
    print(f"\n{margins(rows)}; verifier {per_pair * 1e3:.2f} ms per pair; "
          f"resolve() {min(rates):.0f}-{max(rates):.0f} records/s on a local store (index, verification, record reads)")
    print(f"\nAmong unrelated articles: {with_background(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
