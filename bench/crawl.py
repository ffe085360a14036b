"""End-to-end crawl throughput against the one-core extraction rate, into a local folder and S3 (moto).

Default (``--pages N``, 2,000): a site on 127.0.0.1 of N distinct article pages built from the real
news pages of ../shared/data/fundus-pages and ../shared/data/wcxb-dev (read from there, or from
/work/shared/data; the bundled replay web's pages when both are absent): page i is real page
(i mod K) with its markup kept and its words made its own (each copy swaps the page's content words
among themselves, the 40 commonest words kept, so copies share no run of words and are not
near-duplicates); the home page links listing pages of 50 articles each, and robots.txt names a
sitemap of all N. It then

1. times ``extract()`` (pipelines/extract/extractor.py) on one core over the same N pages, in this
   process (pages/s);
2. runs ``corpus crawl --site URL --any-topic --allow-private`` (a subprocess, as a user would, politeness
   off: ``-s DOWNLOAD_DELAY=0 -s AUTOTHROTTLE_ENABLED=False -s CONCURRENT_REQUESTS_PER_DOMAIN=32``) into a
   fresh local store and into a fresh bucket of moto's S3 server on 127.0.0.1;

and prints pages stored per second (over the crawl's own elapsed time, and over the command's wall
time), their ratio to the one-core ``extract()`` rate, and peak memory: the largest single process of
the crawl's process tree (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, over the runs so far), and sampled
from /proc every 0.2 s: the crawl process, its largest worker, and the largest sum of RSS over the tree
(a worker's pages shared with the forkserver count in each).

``--replay`` instead: the old table, the bundled replay web's seven outlets, first and incremental run.

Usage: .venv/bin/python bench/crawl.py [--pages N] [--workers N] [--stores local,s3] [--replay [--rounds N]]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parents[1]
# not bench/ itself: bench/requests.py would stand in for the requests package (moto imports it)
sys.path[:] = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
SITE_FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32"]
OUTLETS = ["intellinews", "russia-briefing", "rsis", "yahoo-finance", "russia-direct", "scmp", "asiaone"]
PER_LISTING = 50
KEEP_COMMON = 40  # the commonest words of a page stay (function words: the language stays the page's)


def shared_data(name: str) -> Path | None:
    for base in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if (base / name).is_dir():
            return base / name
    return None


def real_pages() -> tuple[str, list[tuple[str, bytes]]]:
    """(source, [(original url, html bytes)]) of the real pages."""
    out, names = [], []
    fundus = shared_data("fundus-pages")
    if fundus and (fundus / "manifest.jsonl").is_file():
        for line in (fundus / "manifest.jsonl").read_text("utf-8").splitlines():
            entry = json.loads(line)
            out.append((entry["url"], gzip.decompress((fundus / entry["file"]).read_bytes())))
        names.append(f"fundus-pages {len(out)}")
    wcxb = shared_data("wcxb-dev")
    if wcxb and (wcxb / "html").is_dir():
        n = len(out)
        for path in sorted((wcxb / "html").glob("*.html.gz")):
            truth = wcxb / "ground-truth" / path.name.replace(".html.gz", ".json")
            url = json.loads(truth.read_text("utf-8")).get("url") if truth.is_file() else None
            out.append((url or f"https://wcxb.example/{path.name[:-8]}", gzip.decompress(path.read_bytes())))
        names.append(f"wcxb-dev {len(out) - n}")
    if out:
        return " + ".join(names) + " real pages", out
    replay = REPO / "crawler" / "replay" / "web"
    for path in sorted(replay.rglob("*")):
        if path.is_file() and path.suffix in ("", ".html") and not path.name.startswith((".", "robots")):
            body = path.read_bytes()
            if b"<html" in body[:2000].lower() or b"<!doctype" in body[:200].lower():
                rel = path.relative_to(replay).as_posix()
                out.append(("https://" + rel.removesuffix("index.html"), body))
    print("note: ../shared/data is absent: using the bundled replay web's pages", file=sys.stderr)
    return f"replay web ({len(out)} pages)", out


# -- making copy i of a real page its own ---------------------------------------------------------
_PARTS = re.compile(r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)", re.S | re.I)
_WORD = re.compile(r"(?<![&#\w])[^\W\d_]{2,}(?![\w;])")
_META = re.compile(r"<meta\b[^>]*>", re.I)
_CONTENT = re.compile(r'(\bcontent\s*=\s*)(["\'])(.*?)\2', re.S | re.I)
_HREF = re.compile(r'(\bhref\s*=\s*)(["\'])(.*?)\2', re.S | re.I)
_CANONICAL = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?canonical[^>]*>", re.I)
_LDJSON = re.compile(r"(<script\b[^>]*application/ld\+json[^>]*>)(.*?)(</script\s*>)", re.S | re.I)


class Page:
    """One real page, split once into markup and text, ready to be copied with its own words."""

    def __init__(self, url: str, html: bytes):
        self.url = url
        text = html.decode("utf-8", "replace")
        text = _CANONICAL.sub("", text)  # copy i is its own page: no canonical pointing at the original
        text = _HREF.sub(self._absolute, text)  # links lead off this site, as they led off the original's
        self.parts = _PARTS.split(text)
        counts = Counter(w for i, part in enumerate(self.parts) if i % 2 == 0 for w in _WORD.findall(part))
        common = [w for w, _ in counts.most_common(KEEP_COMMON)]
        self.fixed = set(common)
        self.movable = sorted(w for w in counts if w not in self.fixed)

    def _absolute(self, m) -> str:
        ref = m.group(3)
        if ref.startswith(("#", "mailto:", "javascript:", "data:")):
            return m.group(0)
        try:
            return f"{m.group(1)}{m.group(2)}{urljoin(self.url, ref)}{m.group(2)}"
        except ValueError:
            return m.group(0)

    def copy(self, seed: int, url: str) -> bytes:
        rng = random.Random(seed)
        shuffled = self.movable[:]
        rng.shuffle(shuffled)
        swap = dict(zip(self.movable, shuffled))

        def words(s: str) -> str:
            return _WORD.sub(lambda m: swap.get(m.group(0), m.group(0)), s)

        def meta(m) -> str:
            tag = m.group(0)
            low = tag.lower()
            if "og:url" in low:
                return _CONTENT.sub(lambda c: f"{c.group(1)}{c.group(2)}{url}{c.group(2)}", tag)
            if any(k in low for k in ("title", "description", "keywords")):
                return _CONTENT.sub(lambda c: f"{c.group(1)}{c.group(2)}{words(c.group(3))}{c.group(2)}", tag)
            return tag

        def ldjson(m) -> str:
            try:
                data = json.loads(m.group(2))
            except ValueError:
                return m.group(0)

            def walk(o, key=None):
                if isinstance(o, dict):
                    return {k: walk(v, k) for k, v in o.items()}
                if isinstance(o, list):
                    return [walk(v, key) for v in o]
                if isinstance(o, str) and key in ("headline", "alternativeHeadline", "description", "articleBody",
                                                  "name", "keywords", "abstract"):
                    return words(o)
                if isinstance(o, str) and key in ("url", "@id", "mainEntityOfPage") and o.startswith("http"):
                    return url
                return o

            return m.group(1) + json.dumps(walk(data), ensure_ascii=False) + m.group(3)

        out = []
        for i, part in enumerate(self.parts):
            if i % 2 == 0:
                out.append(words(part))
            elif part[:7].lower() == "<script":
                out.append(_LDJSON.sub(ldjson, part))
            elif part[:5].lower() == "<meta":
                out.append(_META.sub(meta, part))
            else:
                out.append(part)
        return "".join(out).encode("utf-8")


def build_site(n: int) -> tuple[str, dict[str, bytes], list[tuple[str, bytes]]]:
    """(source, {path: body} of the site, [(path, body)] of its N articles)."""
    source, real = real_pages()
    pages = [Page(url, html) for url, html in real]
    site: dict[str, bytes] = {}
    articles = []
    for i in range(n):
        path = f"/news/2026/{1 + i % 12:02d}/article-{i:05d}.html"
        body = pages[i % len(pages)].copy(i, path)
        site[path] = body
        articles.append((path, body))
    listings = []
    for j in range(0, n, PER_LISTING):
        lpath = f"/section/page/{j // PER_LISTING + 1}/"
        links = "\n".join(f'<li><a href="{p}">Article {k}</a></li>'
                          for k, (p, _) in enumerate(articles[j:j + PER_LISTING], j))
        site[lpath] = f"<html><head><title>News, page {j // PER_LISTING + 1}</title></head><body><ul>{links}</ul></body></html>".encode()
        listings.append(lpath)
    home = "\n".join(f'<li><a href="{p}">Section page {k + 1}</a></li>' for k, p in enumerate(listings))
    site["/"] = f"<html><head><title>News</title></head><body><ul>{home}</ul></body></html>".encode()
    return source, site, articles


class Site:
    """The generated site on 127.0.0.1 (robots.txt, sitemap.xml, home, listings, articles)."""

    def __init__(self, pages: dict[str, bytes]):
        self.pages = dict(pages)
        self.hits: Counter = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                body = site.pages.get(path)
                site.hits[path] += 1
                if body is None:
                    self.send_response(404)
                    body, ctype = b"not found", "text/plain"
                else:
                    self.send_response(200)
                    ctype = ("text/plain" if path.endswith(".txt") else "application/xml" if path.endswith(".xml")
                             else "text/html; charset=utf-8")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        articles = [p for p in self.pages if p.startswith("/news/")]
        urls = "".join(f"<url><loc>{self.url.rstrip('/')}{p}</loc><lastmod>2026-11-01</lastmod></url>" for p in articles)
        self.pages["/sitemap.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns='
                                      f'"http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
        self.pages["/robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {self.url}sitemap.xml\n".encode()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# -- memory of the crawl's process tree -----------------------------------------------------------
def _tree_rss(root: int) -> tuple[int, int, int]:
    """Sum of RSS (bytes) of ``root`` and its descendants (/proc); the largest RSS of the crawl process
    itself, and of any one of its descendants (the extraction workers)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * page
    total, todo, largest = 0, [root], 0
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        if pid != root:
            largest = max(largest, rss.get(pid, 0))
        todo.extend(children.get(pid, ()))
    return total, rss.get(root, 0), largest


class TreeSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.main, self.child = pid, every, 0, 0, 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            total, main, child = _tree_rss(self.pid)
            self.peak, self.main, self.child = max(self.peak, total), max(self.main, main), max(self.child, child)
            self.stop.wait(self.every)


def _aws(env: dict):
    class Ctx:
        def __enter__(self):
            self.saved = {k: os.environ.get(k) for k in env if k.startswith("AWS_")}
            os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})

        def __exit__(self, *exc):
            for k, v in self.saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return Ctx()


def run_report(stdout: str, store: str, env: dict) -> dict:
    from pipelines.store import open_store

    where = [line.split(":", 1)[1].strip() for line in stdout.splitlines()
             if line.startswith(("report:", "stats:"))][0]
    key = where[where.index("corpus/runs/"):]
    with _aws(env):
        return json.loads(open_store(store).read(key))


def crawl_site(site_url: str, store: str, env: dict, n: int, extra: list[str]) -> dict:
    exe = Path(sys.executable).with_name("corpus")
    cmd = [str(exe), "crawl", "--site", site_url, "--allow-private", "--any-topic", "--max-pages", str(n + 100),
           "--store", store, *SITE_FAST, *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode:
        print(err[-3000:], file=sys.stderr)
        raise SystemExit(f"corpus crawl exited {proc.returncode}")
    report = run_report(out, store, env)
    rows = report["summary"].values()
    stats = report.get("stats", {})
    return {"wall": wall, "elapsed": report["elapsed_seconds"],
            "stored": sum(r["new"] + r["updated"] + r["duplicate"] for r in rows),
            "fetched": sum(r["fetched"] for r in rows),
            "duplicates": sum(r["duplicate"] for r in rows),
            "errors": sum(r.get("error", 0) for r in rows),
            "why": {k: v for k, v in stats.items() if k.startswith(("corpus/extract/budget", "corpus/extract/exception",
                                                                    "corpus/store/exception", "corpus/store/error"))},
            "tree_peak": sampler.peak, "main_peak": sampler.main, "worker_peak": sampler.child,
            "largest": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def one_core_extract(articles: list[tuple[str, bytes]], base: str) -> tuple[float, int]:
    """pages/s of ``extract()`` on one core over the articles, and how many gave a document."""
    from pipelines.extract.extractor import extract

    extract(articles[0][1], base + articles[0][0])  # imports and first-call set-up out of the timing
    started = time.perf_counter()
    docs = sum(extract(body, base.rstrip("/") + path) is not None for path, body in articles)
    return len(articles) / (time.perf_counter() - started), docs


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def site_main(args) -> int:
    from s3server import DUMMY_ENV, S3Server

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    started = time.perf_counter()
    source, pages, articles = build_site(args.pages)
    print(f"site: {args.pages} article pages from {source}, {len(pages) - args.pages} listing/home pages "
          f"({sum(len(b) for _, b in articles) / len(articles) / 1024:.0f} KiB per article; built in "
          f"{time.perf_counter() - started:.1f} s)")
    rate, docs = one_core_extract(articles, "http://127.0.0.1/")
    print(f"extract() on one core, in this process: {rate:.1f} pages/s ({docs} of {len(articles)} give a document)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    extra = ["-s", f"CORPUS_EXTRACT_WORKERS={args.workers}"] if args.workers is not None else []
    extra += [x for s in args.set for x in ("-s", s)]
    rows = []
    s3 = S3Server().start() if "s3" in args.stores else None
    with Site(pages) as site, tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        for backend in args.stores:
            if backend == "s3":
                store, run_env = f"s3://{s3.make_bucket()}/corpus", dict(env, **DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
            else:
                store, run_env = f"{tmp}/local", env
            r = crawl_site(site.url, store, run_env, args.pages, extra)
            r["backend"] = backend
            rows.append(r)
    if s3:
        s3.stop()
    print(f"\ncommand: corpus crawl --site URL --allow-private --any-topic --max-pages {args.pages + 100} "
          f"{' '.join(SITE_FAST)} {' '.join(extra)}")
    print("| store | stored | crawl s | pages stored/s | x one-core extract() | command wall s | stored/s (wall) "
          "| largest process (ru_maxrss) | crawl process / largest worker (sampled) | tree peak (sum RSS) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_s, per_wall = r["stored"] / r["elapsed"], r["stored"] / r["wall"]
        print(f"| {r['backend']} | {r['stored']} | {r['elapsed']:.1f} | {per_s:.1f} | {per_s / rate:.2f}x | "
              f"{r['wall']:.1f} | {per_wall:.1f} ({per_wall / rate:.2f}x) | {mib(r['largest'])} | {mib(r['main_peak'])} / {mib(r['worker_peak'])} | {mib(r['tree_peak'])} |")
        if r["errors"] or r["stored"] < docs * 0.95:
            print(f"  note: {r['backend']}: {r['errors']} page error(s) {r['why']}, {r['stored']} stored of {docs} "
                  "extractable")
    again, _ = one_core_extract(articles, "http://127.0.0.1/")
    ratios = ", ".join(f"{r['stored'] / r['elapsed'] / again:.2f}x" for r in rows)
    print(f"extract() on one core again, after the crawls: {again:.1f} pages/s (the ratios above are to the "
          f"first, {rate:.1f}; to this one: {ratios})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps({"pages": args.pages, "extract_one_core": [rate, again], "runs": rows}, indent=2))
    return 0


# -- the old table: the bundled replay web -----------------------------------------------------------
def run(replay_url: str, store: str, env: dict) -> tuple[float, dict]:
    """Wall seconds of the command, and the run's stats report read back from the store."""
    exe = Path(sys.executable).with_name("corpus")
    started = time.perf_counter()
    res = subprocess.run([str(exe), "crawl", "--replay", replay_url, "--store", store, *FAST, *OUTLETS],
                         env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    return seconds, run_report(res.stdout, store, env)


def replay_main(args) -> int:
    from crawler.replay.server import ReplayServer
    from s3server import DUMMY_ENV, S3Server

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    s3 = S3Server().start()
    s3_env = dict(env, **DUMMY_ENV, AWS_ENDPOINT_URL=s3.url)
    print("| store | run | command wall s | crawl s (Scrapy stats) | article pages fetched | stored | pages/s (crawl) |")
    print("|---|---|---|---|---|---|---|")
    with ReplayServer() as replay, tempfile.TemporaryDirectory() as tmp:
        for backend in ("local", "s3"):
            for r in range(args.rounds):
                store = f"{tmp}/{backend}{r}" if backend == "local" else f"s3://{s3.make_bucket()}/corpus"
                run_env = env if backend == "local" else s3_env
                for label in ("first", "incremental"):
                    seconds, report = run(replay.url, store, run_env)
                    rows = report["summary"].values()
                    fetched = sum(r["fetched"] for r in rows)
                    stored = sum(r["new"] + r["updated"] + r["duplicate"] for r in rows)
                    crawl_s = report["elapsed_seconds"]
                    rate = f"{fetched / crawl_s:.1f}" if fetched else "-"
                    print(f"| {backend} | {label} | {seconds:.2f} | {crawl_s:.2f} | {fetched} | {stored} | {rate} |")
    s3.stop()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000, help="article pages of the generated site (default 2000)")
    ap.add_argument("--workers", type=int, help="CORPUS_EXTRACT_WORKERS of the crawl (default: the setting's)")
    ap.add_argument("--stores", default="local,s3", help="which stores, of local,s3 (default both)")
    ap.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="another crawl setting")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    ap.add_argument("--replay", action="store_true", help="the bundled replay web's outlets instead (old table)")
    ap.add_argument("--rounds", type=int, default=3, help="--replay: fresh-store repetitions per backend")
    args = ap.parse_args(argv)
    args.stores = [s for s in args.stores.split(",") if s]
    return replay_main(args) if args.replay else site_main(args)


if __name__ == "__main__":
    sys.exit(main())
