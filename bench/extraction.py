"""Benchmark article extraction on real pages: `extract()` against published extractors, same pages, same run.

Sets (read from ../shared/data, skipped where absent; never copied into the repository):
  wcxb    ../shared/data/wcxb-dev     711 WCXB article pages (expected text, title, author, date)
  fundus  ../shared/data/fundus-pages 255 news pages from fundus's parser fixtures
  seeds   the five seed articles as the replay web serves them, against their hand-cleaned text
          (tests/dedup_eval/docs/00N_orig.txt); one outlet each

Body, two published metrics on every set:
  word F1   WCXB's: lower-cased \\w+ tokens of output and expected text as multisets; precision, recall
            and F1 per page, then the mean over pages (an empty output scores 0)
  4-gram F1 the Zyte article-extraction benchmark's: the same with word 4-gram shingles (multiset)
Metadata, over the pages whose expected value is known:
  title   equal after lower-casing and keeping \\w+ tokens (the headline, no site name or kicker)
  date    same calendar day (first 10 characters of the ISO strings)
  author  at least one normalised name in common (names split on "and", commas, semicolons)
Speed: seconds per page of each extractor, measured interleaved page by page in the same run, and
`extract()`'s time as a multiple of plain `trafilatura.extract()`; then a speed pass of those two alone,
alternating which goes first, twice over the pages (the ratio the speed target is about); `--steps` adds
what each step costs.

    .venv/bin/python bench/extraction.py [--sets wcxb,fundus,seeds] [--limit N] [--json OUT] [--steps]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
DATA = SHARED / "data" / "fundus-pages"
WCXB = SHARED / "data" / "wcxb-dev"
_WORD = re.compile(r"\w+")
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b)\s*", re.I)


# --- metrics ---------------------------------------------------------------------------------------
def shingles(text: str | None, n: int = 4) -> Counter:
    words = _WORD.findall((text or "").lower())
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _prf(got: Counter, want: Counter) -> tuple[float, float, float]:
    if not got and not want:
        return 1.0, 1.0, 1.0
    if not got or not want:
        return 0.0, 0.0, 0.0
    common = sum((got & want).values())
    p, r = common / sum(got.values()), common / sum(want.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def body_prf(output: str | None, expected: str | None) -> tuple[float, float, float]:
    """Precision, recall, F1 of multiset word-4-gram shingles (the Zyte benchmark's body metric)."""
    return _prf(shingles(output), shingles(expected))


def word_prf(output: str | None, expected: str | None) -> tuple[float, float, float]:
    """Precision, recall, F1 of multiset lower-cased \\w+ tokens (WCXB's metric)."""
    return _prf(Counter(_WORD.findall((output or "").lower())), Counter(_WORD.findall((expected or "").lower())))


def _key(s: str | None) -> str:
    return " ".join(_WORD.findall((s or "").lower()))


def title_ok(got, want) -> bool:
    return _key(got) == _key(want)


def date_ok(got, want) -> bool:
    return (str(got or "")[:10]) == (str(want or "")[:10])


def _names(value) -> set[str]:
    items = value if isinstance(value, (list, tuple)) else [value or ""]
    return {_key(n) for item in items for n in _NAME_SPLIT.split(item or "")} - {""}


def authors_ok(got, want) -> bool:
    """A normalised name in common (both empty counts as right)."""
    g, w = _names(got), _names(want)
    return bool(g & w) if w else not g


# --- the sets --------------------------------------------------------------------------------------
def load_pages(limit: int | None = None) -> list[dict]:
    """fundus-pages: url, html, body, title, authors (list), published."""
    pages = []
    with open(DATA / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(pages) >= limit:
                break
            rec = json.loads(line)
            rec["html"] = gzip.decompress((DATA / rec["file"]).read_bytes())
            rec["id"] = rec["file"]
            pages.append(rec)
    return pages


def load_wcxb(limit: int | None = None) -> list[dict]:
    """wcxb-dev in the same shape (authors None, published None where WCXB does not know them)."""
    pages = []
    for truth in sorted((WCXB / "ground-truth").glob("*.json")):
        if limit is not None and len(pages) >= limit:
            break
        gt = json.loads(truth.read_text("utf-8"))
        want = gt["ground_truth"]
        pages.append({"id": truth.stem, "url": gt["url"],
                      "html": gzip.decompress((WCXB / "html" / f"{truth.stem}.html.gz").read_bytes()),
                      "body": want.get("main_content") or "", "title": want.get("title"),
                      "authors": [want["author"]] if want.get("author") else None,
                      "published": want.get("publish_date")})
    return pages


def load_seeds(limit: int | None = None) -> list[dict]:
    """The five seed pages from the replay web, expected body = tests/dedup_eval/docs/00N_orig.txt."""
    sys.path.insert(0, str(ROOT))
    from crawler.replay.server import resolve

    web = ROOT / "crawler" / "replay" / "web"
    rows = [line.split("|")[1:-1] for line in (ROOT / "seeds" / "INDEX.md").read_text("utf-8").splitlines()
            if line.startswith("| 00")]
    pages = []
    for cells in rows[:limit]:
        file, _id, outlet, url, title, author, date = (c.strip() for c in cells[:7])
        parts = urlsplit(url)
        host = parts.hostname or ""
        found = None
        for h in (host, host.removeprefix("www."), "www." + host):
            found = resolve([web], h, parts.path.lstrip("/"), parts.query, 1)
            if found is not None and found.body:
                break
        if found is None or not found.body:
            continue
        orig = ROOT / "tests" / "dedup_eval" / "docs" / f"{file[:3]}_orig.txt"
        pages.append({"id": file[:3], "url": url, "outlet": outlet, "html": found.body,
                      "body": orig.read_text("utf-8"), "title": None if "(" in title else title,
                      "authors": None if author.startswith("(") else [author], "published": date})
    return pages


SETS = {"wcxb": (WCXB / "ground-truth", load_wcxb), "fundus": (DATA / "manifest.jsonl", load_pages),
        "seeds": (ROOT / "seeds" / "INDEX.md", load_seeds)}


# --- the extractors --------------------------------------------------------------------------------
def _ours(html, url):
    from pipelines.extract.extractor import extract

    doc = extract(html, url)
    return (doc.text, doc.title, doc.authors, doc.published) if doc else (None, None, [], None)


def _trafilatura(html, url):
    import trafilatura

    return trafilatura.extract(html, url=url), None, None, None


def _trafilatura_meta(html, url):
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return None, None, [], None
    return doc.text, doc.title, [a.strip() for a in (doc.author or "").split(";") if a.strip()], doc.date


def _readability(html, url):
    from lxml import html as lxml_html
    from readability import Document as Readable

    try:
        frag = lxml_html.fromstring(Readable(html, url=url).summary(html_partial=True))
    except Exception:  # noqa: BLE001 - a page readability cannot parse scores 0
        return None, None, None, None
    blocks = frag.xpath(".//*[self::p or self::h1 or self::h2 or self::h3 or self::h4 or self::li or "
                        "self::blockquote or self::pre][not(ancestor::p or ancestor::li or ancestor::blockquote)]")
    return "\n\n".join(" ".join(b.text_content().split()) for b in blocks), None, None, None


EXTRACTORS = {
    "ours": ("`extract()` (this project)", _ours),
    "trafilatura": ("`trafilatura.extract()` 2.x default", _trafilatura),
    "trafilatura_meta": ("`trafilatura.bare_extraction(with_metadata=True)`", _trafilatura_meta),
    "readability": ("readability-lxml `Document.summary()`", _readability),
}


def run(pages: list[dict], extractors=tuple(EXTRACTORS)) -> dict:
    """Every extractor on every page, interleaved page by page (so load changes hit all alike), the order
    rotated every page: each runs after each of the others as often (a fixed order had `extract()` always
    after readability, whose garbage and evicted caches it paid for: 1.25x against 1.11x alone)."""
    rows: dict[str, list] = defaultdict(list)
    secs: Counter = Counter()
    extractors = tuple(extractors)
    for i, page in enumerate(pages):
        turn = i % len(extractors)
        for key in extractors[turn:] + extractors[:turn]:
            t = time.perf_counter()
            text, title, authors, published = EXTRACTORS[key][1](page["html"], page["url"])
            secs[key] += time.perf_counter() - t
            wp, wr, wf = word_prf(text, page["body"])
            _, _, nf = body_prf(text, page["body"])
            row = {"id": page["id"], "word_p": wp, "word_r": wr, "word_f1": wf, "ngram_f1": nf}
            if title is not None or authors is not None or published is not None or key == "ours":
                row["title"] = title_ok(title, page["title"]) if page.get("title") else None
                row["date"] = date_ok(published, page["published"]) if page.get("published") else None
                row["author"] = authors_ok(authors, page["authors"]) if page.get("authors") else None
            rows[key].append(row)
    summary = {}
    for key, rs in rows.items():
        s = {k: statistics.mean(r[k] for r in rs) for k in ("word_p", "word_r", "word_f1", "ngram_f1")}
        for k in ("title", "date", "author"):
            vals = [r[k] for r in rs if r.get(k) is not None]
            s[k] = statistics.mean(vals) if vals else None
            s[k + "_n"] = len(vals)
        s["ms_per_page"] = 1000 * secs[key] / max(len(rs), 1)
        summary[key] = s
    if "ours" in secs and "trafilatura" in secs:
        summary["ours"]["vs_trafilatura"] = secs["ours"] / secs["trafilatura"]
    return {"pages": len(pages), "summary": summary, "rows": dict(rows)}


def speed(pages: list[dict], rounds: int = 2) -> dict[str, float]:
    """`extract()` against plain `trafilatura.extract()` alone: both on each page in turn, the order swapped
    every page (ABBA, so neither always runs on a cache the other warmed), no other extractor in between
    (readability's and trafilatura's metadata runs in the main pass evict the caches of whatever follows)."""
    secs = Counter()
    pairs = (("ours", _ours), ("trafilatura", _trafilatura))
    for r in range(rounds):
        for i, page in enumerate(pages):
            for key, fn in (pairs if (i + r) % 2 == 0 else pairs[::-1]):
                t = time.perf_counter()
                fn(page["html"], page["url"])
                secs[key] += time.perf_counter() - t
    n = rounds * len(pages)
    return {"ours_ms": 1000 * secs["ours"] / n, "trafilatura_ms": 1000 * secs["trafilatura"] / n,
            "ratio": secs["ours"] / secs["trafilatura"]}


def steps(pages: list[dict]) -> dict[str, float]:
    """Milliseconds per page of each step of `extract()` (pipelines.extract.extractor.STEP_TIMES)."""
    from pipelines.extract import extractor

    extractor.STEP_TIMES.clear()
    for page in pages:
        extractor.extract(page["html"], page["url"])
    return {k: 1000 * v / len(pages) for k, v in extractor.STEP_TIMES.items()}


def table(name: str, result: dict) -> str:
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    s0 = result["summary"].get("ours", {})
    head = (f"**{name}**: {result['pages']} pages; metadata over pages with a known value "
            f"(title {s0.get('title_n', 0)}, date {s0.get('date_n', 0)}, author {s0.get('author_n', 0)})")
    lines = [head, "", "| extractor | word P | word R | word F1 (WCXB) | 4-gram F1 (Zyte) | title | date | author "
             "| ms/page |", "|---|---|---|---|---|---|---|---|---|"]
    for key, s in result["summary"].items():
        speed = f"{s['ms_per_page']:.1f}" + (f" ({s['vs_trafilatura']:.2f}x)" if "vs_trafilatura" in s else "")
        lines.append(f"| {EXTRACTORS[key][0]} | {fmt(s['word_p'])} | {fmt(s['word_r'])} | {fmt(s['word_f1'])} | "
                     f"{fmt(s['ngram_f1'])} | {fmt(s['title'])} | {fmt(s['date'])} | {fmt(s['author'])} | {speed} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="wcxb,fundus,seeds")
    ap.add_argument("--extractors", default=",".join(EXTRACTORS))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--steps", action="store_true", help="also time each step of extract()")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    out = {}
    for name in args.sets.split(","):
        marker, loader = SETS[name]
        if not marker.exists():
            print(f"{name}: {marker} not found; skipped")
            continue
        pages = loader(args.limit)
        result = run(pages, tuple(args.extractors.split(",")))
        print(table(name, result), end="\n\n", flush=True)
        if {"ours", "trafilatura"} <= set(args.extractors.split(",")):
            result["speed"] = speed(pages)
            print(f"{name} speed, `extract()` and `trafilatura.extract()` alone, alternating: "
                  f"{result['speed']['ours_ms']:.1f} vs {result['speed']['trafilatura_ms']:.1f} ms/page = "
                  f"{result['speed']['ratio']:.2f}x", end="\n\n", flush=True)
        if args.steps:
            result["steps"] = steps(pages)
            print(f"{name} steps (ms/page): " + ", ".join(f"{k} {v:.1f}" for k, v in result["steps"].items()),
                  end="\n\n", flush=True)
        out[name] = result
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
