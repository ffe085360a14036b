"""Benchmark article extraction on the fundus pages: ours (pipelines.extract.extractor) vs plain trafilatura.

Body score as in the Zyte article-extraction benchmark: precision/recall of word 4-gram shingles of the
output vs the expected body (lowercased, words = \\w+ tokens, shingles counted as a MULTISET so a body
output twice loses precision). Title: equal after lowercasing and keeping \\w+ tokens. Date: same calendar
day as written (local date of each ISO string). Authors: equal sets of normalized names (empty = empty).

    .venv/bin/python bench/extraction.py [--limit N] [--json OUT] [--audit]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "fundus-pages"
if not DATA.exists():
    DATA = Path("/work/shared/data/fundus-pages")
_WORD = re.compile(r"\w+")


def shingles(text: str | None, n: int = 4) -> Counter:
    words = _WORD.findall((text or "").lower())
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def body_prf(output: str | None, expected: str | None) -> tuple[float, float, float]:
    """Precision, recall, F1 of multiset word-4-gram shingles."""
    got, want = shingles(output), shingles(expected)
    if not got and not want:
        return 1.0, 1.0, 1.0
    if not got or not want:
        return 0.0, 0.0, 0.0
    common = sum((got & want).values())
    p, r = common / sum(got.values()), common / sum(want.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _key(s: str | None) -> str:
    return " ".join(_WORD.findall((s or "").lower()))


def title_ok(got, want) -> bool:
    return _key(got) == _key(want)


def date_ok(got, want) -> bool:
    return (str(got or "")[:10]) == (str(want or "")[:10])


def authors_ok(got, want) -> bool:
    return {_key(a) for a in got or []} - {""} == {_key(a) for a in want or []} - {""}


def load_pages(limit: int | None = None) -> list[dict]:
    pages = []
    with open(DATA / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(pages) >= limit:
                break
            rec = json.loads(line)
            rec["html"] = gzip.decompress((DATA / rec["file"]).read_bytes())
            pages.append(rec)
    return pages


def _summary(rows: list[dict], seconds: float) -> dict:
    out = {k: statistics.mean(r[k] for r in rows) for k in ("precision", "recall", "f1")}
    out["median_f1"] = statistics.median(r["f1"] for r in rows)
    for k in ("title", "date", "authors"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = statistics.mean(vals) if vals else None
    out["pages_per_s"] = len(rows) / seconds if seconds else 0.0
    return out


def run(pages: list[dict]) -> dict:
    import trafilatura

    from pipelines.extract.extractor import EXTRACTOR_VERSION, extract

    rows: dict[str, list] = {"ours": [], "plain": [], "plain_meta": []}
    secs = Counter()
    for page in pages:
        html, url = page["html"], page["url"]
        t = time.perf_counter()
        doc = extract(html, url)
        secs["ours"] += time.perf_counter() - t
        t = time.perf_counter()
        plain = trafilatura.extract(html, url=url)
        secs["plain"] += time.perf_counter() - t
        t = time.perf_counter()
        meta = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        secs["plain_meta"] += time.perf_counter() - t
        p, r, f = body_prf(doc.text if doc else None, page["body"])
        rows["ours"].append(dict(precision=p, recall=r, f1=f, file=page["file"],
                                 title=title_ok(doc and doc.title, page["title"]),
                                 date=date_ok(doc and doc.published, page["published"]),
                                 authors=authors_ok(doc.authors if doc else [], page["authors"])))
        p, r, f = body_prf(plain, page["body"])
        rows["plain"].append(dict(precision=p, recall=r, f1=f, file=page["file"]))
        p, r, f = body_prf(meta.text if meta else None, page["body"])
        m_authors = [a.strip() for a in (meta.author or "").split(";")] if meta else []
        rows["plain_meta"].append(dict(precision=p, recall=r, f1=f, file=page["file"],
                                       title=title_ok(meta and meta.title, page["title"]),
                                       date=date_ok(meta and meta.date, page["published"]),
                                       authors=authors_ok(m_authors, page["authors"])))
    return {"pages": len(pages), "extractor": EXTRACTOR_VERSION,
            "summary": {k: _summary(v, secs[k]) for k, v in rows.items()}, "rows": rows}


def audit(pages: list[dict]) -> list[tuple[str, str, str]]:
    """Expected body paragraphs that a `default` drop_text rule would remove (false cuts)."""
    from pipelines.extract.profiles import get_profile

    cuts = []
    for page in pages:
        for par in page["body"].split("\n\n"):
            par = " ".join(par.split())
            for pat in get_profile("default").patterns:
                if pat.fullmatch(par):
                    cuts.append((page["file"], pat.pattern[:40], par[:100]))
    return cuts


def table(result: dict) -> str:
    names = {"ours": "corpus-extract (`extract()`)", "plain": "trafilatura.extract() default",
             "plain_meta": "trafilatura.bare_extraction(with_metadata)"}
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [f"Fundus pages: {result['pages']} · {result['extractor']} · body = word-4-gram multiset shingles",
             "", "| extractor | precision | recall | F1 | median F1 | title | date | authors | pages/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, s in result["summary"].items():
        lines.append(f"| {names[key]} | {fmt(s['precision'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | "
                     f"{fmt(s['median_f1'])} | {fmt(s['title'])} | {fmt(s['date'])} | {fmt(s['authors'])} | "
                     f"{s['pages_per_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--audit", action="store_true", help="list expected paragraphs cut by default rules")
    args = ap.parse_args(argv)
    if not (DATA / "manifest.jsonl").exists():
        print(f"fundus pages not found at {DATA}; skipping benchmark")
        return 0
    sys.path.insert(0, str(ROOT))
    pages = load_pages(args.limit)
    if args.audit:
        cuts = audit(pages)
        print(f"default rules cut {len(cuts)} expected paragraphs")
        for cut in cuts:
            print(" ", *cut)
    result = run(pages)
    print(table(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
