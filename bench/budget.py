"""Time and peak memory of extraction on large and pathological pages: plain trafilatura vs ours, bounded.

For each shape and size (0.5 to 15 MB):
(a) plain ``trafilatura.extract`` in a subprocess under RLIMIT_AS (4 GiB) and 60 s (CPU and wall clock);
    "over budget" where it dies (larger sizes of that shape are then not tried);
(b) our bounded extraction: ``ExtractPool`` (pipelines/extract/workers.py) with its default budget
    (20 s CPU, 1.5 GiB) on capped markup (pipelines/extract/markup.py), one fresh worker per page.
Peak memory: the child's ru_maxrss (os.wait4) for (a), the worker's own for (b).

``--real`` instead checks that the cap does not hurt real pages: the 966 pages of
../shared/data/fundus-pages and wcxb-dev, extracted as is and through the pool (body F1 of each, pages
whose text differs), and with the cap's stripping forced on every page.

    .venv/bin/python bench/budget.py [--sizes 0.5,1,2] [--shapes nested,table] [--real]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
GiB = 2**30
PLAIN_MEMORY = 4 * GiB
PLAIN_CPU = 60
SIZES = (0.5, 1, 2, 4, 8, 15)
WORDS = ("Russia ASEAN trade summit Jakarta Hanoi energy ministers talks grain ports delegation Moscow "
         "cooperation partnership investment security dialogue").split()


def _words(n: int, seed: int = 0) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(n))


def _fill(head: str, unit: str, tail: str, mb: float) -> bytes:
    n = max(1, int((mb * 1e6 - len(head) - len(tail)) / len(unit)))
    return (head + unit * n + tail).encode()


def _article(script_mb: float = 0.0) -> bytes:
    pars = "".join(f"<p>{_words(60, i)}.</p>" for i in range(12))
    code = "x" * int(script_mb * 1e6 / 2)
    return (f"<html><head><title>Russia and ASEAN</title><script>var a='{code}';</script></head><body>"
            f"<article><h1>Russia and ASEAN</h1>{pars}</article><script>var b='{code}';</script>"
            "</body></html>").encode()


SHAPES = {
    "nested div/span/a": lambda mb: _fill("<html><body>", "<div><span>a</span><a href='/x'>b</a></div>",
                                          "</body></html>", mb),
    "deep nesting": lambda mb: _fill("<html><body>", "<div>x", "</body></html>", mb),
    "giant table": lambda mb: _fill("<html><body><table>", "<tr><td>12</td><td>ab</td><td>cd</td></tr>",
                                    "</table></body></html>", mb),
    "short paragraphs": lambda mb: _fill("<html><body>", "<p>Short line of text here.</p>", "</body></html>", mb),
    "one text node": lambda mb: _fill("<html><body><p>", "word ", "</p></body></html>", mb),
    "article + inline script": lambda mb: _article(max(0.0, mb - 0.01)),
}

_PLAIN = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({mem}, {mem}))
resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))
import trafilatura
html = open(sys.argv[1], "rb").read()
t = time.perf_counter()
try:
    trafilatura.extract(html)
except MemoryError:
    sys.exit(3)
print(time.perf_counter() - t)
"""


def plain(path: str) -> tuple[str, float | None, int]:
    """(status, seconds, peak bytes) of trafilatura.extract on the page, in a limited subprocess."""
    code = _PLAIN.format(mem=PLAIN_MEMORY, cpu=PLAIN_CPU)
    proc = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    timer = threading.Timer(PLAIN_CPU, proc.kill)  # the same limit in wall-clock time (a loaded machine)
    timer.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss * 1024
    if proc.returncode == 0:
        return "ok", float(out), peak
    if proc.returncode == -signal.SIGXCPU or proc.returncode == -signal.SIGKILL:
        return f"over budget (time {PLAIN_CPU} s)", None, peak
    return f"over budget (memory {PLAIN_MEMORY // GiB} GiB)", None, peak


def bounded(html: bytes) -> tuple[str, float, int]:
    from pipelines.extract.workers import ExtractPool

    with ExtractPool(1) as pool:  # the crawl's defaults; one fresh worker for this page
        t = time.perf_counter()
        result = pool.submit(html, "https://bench.example/page").result()
        seconds = time.perf_counter() - t
    if result.budget:
        return result.error.replace("extraction budget exceeded", "over budget"), seconds, result.peak_rss
    what = "article" if result.document is not None else result.reason
    return f"{what}{' (cut)' if result.cut else ''}", result.seconds, result.peak_rss


def budget_table(shapes: list[str], sizes: list[float]) -> str:
    from pipelines.extract.workers import ExtractPool

    with ExtractPool(1) as warm:  # the forkserver is started once, outside the figures
        warm.submit(b"<html><body><p>warm</p></body></html>", "https://bench.example/").result()
    lines = ["| shape | MB | trafilatura.extract: s | peak MiB | ours, bounded: s | peak MiB | ours: outcome |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            plain_over = None
            for mb in sizes:
                html = SHAPES[shape](mb)
                path = os.path.join(tmp, "page.html")
                Path(path).write_bytes(html)
                if plain_over:
                    p_status, p_secs, p_peak = plain_over, None, 0
                else:
                    p_status, p_secs, p_peak = plain(path)
                    if p_status != "ok":
                        plain_over = p_status + " at a smaller size"
                b_status, b_secs, b_peak = bounded(html)
                p_time = f"{p_secs:.1f}" if p_secs is not None else p_status
                p_mem = f"{p_peak / 2**20:.0f}" if p_peak else "–"
                lines.append(f"| {shape} | {mb:g} | {p_time} | {p_mem} | {b_secs:.1f} | {b_peak / 2**20:.0f} | "
                             f"{b_status} |")
                print(lines[-1], flush=True)
    return "\n".join(lines)


# --- real pages: the cap must not hurt them ---------------------------------------------------
def real_pages():
    manifest = DATA / "fundus-pages" / "manifest.jsonl"
    for line in manifest.read_text("utf-8").splitlines():
        row = json.loads(line)
        yield ("fundus", row["url"], gzip.decompress((DATA / "fundus-pages" / row["file"]).read_bytes()), row["body"])
    for truth in sorted((DATA / "wcxb-dev" / "ground-truth").glob("*.json")):
        gt = json.loads(truth.read_text("utf-8"))
        html = gzip.decompress((DATA / "wcxb-dev" / "html" / f"{truth.stem}.html.gz").read_bytes())
        yield "wcxb", gt["url"], html, gt["ground_truth"].get("main_content") or ""


def real_check() -> str:
    sys.path.insert(0, str(ROOT / "bench"))
    from extraction import body_prf
    from pipelines.extract.extractor import try_extract
    from pipelines.extract.markup import cap_markup
    from pipelines.extract.workers import ExtractPool

    rows = {}
    with ExtractPool(1) as pool:
        for source, url, html, body in real_pages():
            bare = try_extract(html, url)
            futures = pool.submit(html, url, listing=False)
            forced = try_extract(cap_markup(html, small_bytes=0).html, url)
            got = futures.result()
            texts = {"as is": bare.document and bare.document.text, "pool (capped)": got.document and got.document.text,
                     "stripping forced": forced.document and forced.document.text}
            for name, text in texts.items():
                r = rows.setdefault((source, name), {"n": 0, "f1": 0.0, "diff": 0, "budget": 0, "capped": 0})
                r["n"] += 1
                r["f1"] += body_prf(text, body)[2]
                r["diff"] += text != texts["as is"]
            rows[(source, "pool (capped)")]["budget"] += got.budget
            rows[(source, "pool (capped)")]["capped"] += bool(got.stripped or got.cut)
    lines = ["| pages | extraction | mean body F1 | text differs from as is | markup capped | over budget |",
             "|---|---|---|---|---|---|"]
    for (source, name), r in rows.items():
        capped = r["capped"] if name == "pool (capped)" else ("all" if name == "stripping forced" else 0)
        lines.append(f"| {source} ({r['n']}) | {name} | {r['f1'] / r['n']:.4f} | {r['diff']} | {capped} | "
                     f"{r['budget'] if name == 'pool (capped)' else '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="page sizes in MB, comma-separated")
    ap.add_argument("--shapes", default="", help="shape names (prefixes), comma-separated; default all")
    ap.add_argument("--real", action="store_true", help="check the cap on the real pages instead")
    args = ap.parse_args(argv)
    if args.real:
        print(real_check())
        return 0
    sizes = [float(s) for s in args.sizes.split(",") if s]
    wanted = [w.strip() for w in args.shapes.split(",") if w.strip()]
    shapes = [s for s in SHAPES if not wanted or any(s.startswith(w) for w in wanted)]
    started = time.time()
    table = budget_table(shapes, sizes)
    print()
    print(table)
    print(f"\n{len(shapes)} shapes x {len(sizes)} sizes in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
