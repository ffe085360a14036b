"""How long `corpus dedup --rebuild` takes (the offline rebuild of every near-duplicate cluster and same-story
cluster, pipelines/dedup/deduplicator.py ``Deduplicator.rebuild``), on a local folder and on moto's S3 server
on 127.0.0.1, at N documents, and what that gives at 10^7 documents (an extrapolation).

The store is built the way a crawl writes it (``record.build_record`` + ``Corpus.put``, then INDEX.md and the
manifest), with near-duplicate resolution off while building (so every record starts unlinked and building is
fast); the rebuild then finds every cluster and story. Texts are real articles, read where they are (never
copied): ../shared/data/wcxb-dev (expected main content), ../shared/data/fundus-pages (expected bodies) and
../shared/data/syndication-dev (real copies of one story on several sites, and distractors): about 1,090 texts.
Beyond those, documents are made of real paragraphs: each has as many paragraphs as a real English text drawn
at random, drawn at random from all the English paragraphs (so two documents share at most a paragraph or so,
as real articles quoting one source do); 3% of them are republished verbatim at another outlet and 1% as a
cut copy (the first 60% of the paragraphs), so clusters grow with the corpus as syndication does.

The command runs as a user runs it (``.venv/bin/corpus dedup --rebuild --store S`` as a subprocess); peak RSS
is that process's own (``os.wait4``). moto's server runs in this process (its CPU is taken from the same
cores, and its latency is a loopback's, not a real S3's).

Usage: .venv/bin/python bench/rebuild.py [--sizes 2000 10000] [--no-s3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
# bench/requests.py would shadow the requests package (moto imports it): bench/ off the path
sys.path = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

SHARED = REPO.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")
CORPUS = REPO / ".venv" / "bin" / "corpus"
TARGET = 10_000_000
SUMMARY = re.compile(r"(\d+) records: (\d+) clusters?, (\d+) duplicates; (\d+) same-story clusters? of (\d+) records; "
                     r"(\d+) records relinked")


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def real_texts() -> list[dict]:
    """Every real text: {url, outlet, title, text, published, group}."""
    out = []
    gt = SHARED / "wcxb-dev" / "ground-truth"
    if gt.is_dir():
        for path in sorted(gt.glob("*.json")):
            row = json.loads(path.read_text("utf-8"))
            g = row.get("ground_truth") or {}
            if (g.get("main_content") or "").strip():
                out.append({"url": row["url"], "title": g.get("title") or "", "text": g["main_content"],
                            "published": g.get("publish_date"), "group": None})
    manifest = SHARED / "fundus-pages" / "manifest.jsonl"
    if manifest.is_file():
        for line in manifest.read_text("utf-8").splitlines():
            row = json.loads(line)
            if (row.get("body") or "").strip():
                out.append({"url": row["url"], "title": row.get("title") or "", "text": row["body"],
                            "published": row.get("published"), "group": None})
    synd = SHARED / "syndication-dev" / "texts.jsonl"
    if synd.is_file():
        for line in synd.read_text("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append({"url": row["url"], "title": row.get("title") or "", "text": row["text"],
                            "published": None, "group": row.get("group"), "syndication": True})
    if not out:
        sys.exit(f"bench/rebuild.py: no real texts under {SHARED} (wcxb-dev, fundus-pages, syndication-dev)")
    from pipelines.extract.language import detect_language

    seen = set()
    for row in out:
        row["language"] = detect_language(row["text"])[0]
        host = row["url"].split("/")[2] if "://" in row["url"] else "example.org"
        row["outlet"] = host[4:] if host.startswith("www.") else host
        n = 1
        while row["url"] in seen:  # the same address twice in the sets: a distinct one
            row["url"] = f"{row['url'].split('#')[0]}#copy{n}"
            n += 1
        seen.add(row["url"])
    return out


def documents(n: int, real: list[dict], seed: int = 11) -> list[dict]:
    """n documents: the real texts (all of them when n allows; the syndication set always), then documents
    of real English paragraphs, with verbatim and cut copies among them."""
    rng = random.Random(seed)
    synd = [r for r in real if r.get("syndication")]
    others = [r for r in real if not r.get("syndication")]
    if n <= len(real):
        docs = synd[:n] + rng.sample(others, max(0, n - len(synd)))
        return [dict(d) for d in docs[:n]]
    docs = [dict(d) for d in real]
    english = [r for r in real if r["language"] == "en"]
    pool = sorted({p for r in english for p in paragraphs(r["text"]) if len(p.split()) >= 12})
    shapes = [len(paragraphs(r["text"])) for r in english]
    hosts = [f"outlet{i:02d}.example" for i in range(60)]
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made: list[dict] = []
    while len(docs) < n:
        i = len(docs)
        roll = rng.random()
        if made and roll < 0.04:  # a copy of an earlier made document, at another outlet
            src = rng.choice(made)
            text = src["text"]
            if roll >= 0.03:
                paras = paragraphs(text)
                text = "\n\n".join(paras[:max(1, int(0.6 * len(paras)))])
            host = rng.choice([h for h in hosts if h != src["outlet"]])
            docs.append({"url": f"https://{host}/news/{i}", "outlet": host, "title": src["title"], "text": text,
                         "published": src["published"], "language": "en", "group": None})
            continue
        k = min(max(3, rng.choice(shapes)), 30)
        paras = rng.sample(pool, k)
        host = rng.choice(hosts)
        title = " ".join(paras[0].split()[:10])
        day = (base + timedelta(days=rng.randrange(700))).date().isoformat()
        doc = {"url": f"https://{host}/news/{i}", "outlet": host, "title": title, "text": "\n\n".join(paras),
               "published": day, "language": "en", "group": None}
        docs.append(doc)
        made.append(doc)
    return docs


def build(root: Path, docs: list[dict]) -> float:
    """A local store of ``docs`` as a crawl writes them (dedup off); seconds taken."""
    from pipelines.corpus.layout import Corpus
    from pipelines.corpus.record import build_record
    from pipelines.store import open_store

    started = time.perf_counter()
    corpus = Corpus(open_store(root))
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i, d in enumerate(docs):
        page = {"url": d["url"], "outlet": d["outlet"], "status": 200, "content_type": "text/html; charset=utf-8",
                "fetched_at": (when + timedelta(seconds=i)).isoformat()}
        document = SimpleNamespace(canonical_url=None, title=d["title"], authors=[], published=d["published"],
                                   language=d["language"], language_declared=None, description=None,
                                   sitename=None, credit=None, text=d["text"])
        corpus.put(build_record(page, document, extractor={"name": "bench-rebuild", "version": "1"}))
    corpus.write_index()
    return time.perf_counter() - started


def upload(root: Path, bucket: str, prefix: str, endpoint: str) -> float:
    """Every file of the local store ``root`` to s3://bucket/prefix/ (its keys); seconds taken."""
    import boto3

    client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                            aws_access_key_id="testing", aws_secret_access_key="testing")
    files = [p for p in root.rglob("*") if p.is_file()]

    def put(path: Path) -> None:
        key = f"{prefix}/{path.relative_to(root).as_posix()}"
        ctype = "application/json" if path.suffix == ".json" else "text/plain; charset=utf-8"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=ctype)

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
    return time.perf_counter() - started


def rebuild(store: str, env: dict) -> dict:
    """Run ``corpus dedup --rebuild --store S`` as a user would: seconds, peak RSS (MiB), its summary."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(CORPUS), "dedup", "--rebuild", "--store", store], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    # the child is reaped by communicate(): its own peak RSS from the rusage of children (the largest so far)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"corpus dedup --rebuild --store {store} exited {proc.returncode}:\n{out}\n{err[-3000:]}")
    m = SUMMARY.search(out)
    if not m:
        raise SystemExit(f"unexpected output of corpus dedup --rebuild: {out!r}")
    records, clusters, dups, stories, in_stories, relinked = map(int, m.groups())
    return {"seconds": seconds, "rss_mib": rss, "records": records, "clusters": clusters, "duplicates": dups,
            "stories": stories, "in_stories": in_stories, "relinked": relinked}


def measure_rss(store: str, env: dict) -> dict:
    """``rebuild`` in a fresh helper process, so RUSAGE_CHILDREN is this run's alone (not the largest earlier
    child's)."""
    code = ("import json,sys; sys.path[:0]=[%r,%r]; import importlib.util as u; "
            "s=u.spec_from_file_location('rb',%r); m=u.module_from_spec(s); s.loader.exec_module(m); "
            "print(json.dumps(m.rebuild(%r, dict(__import__('os').environ))))"
            % (str(REPO), str(REPO / "tests"), __file__, store))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:] or proc.stdout[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def s3_env(endpoint: str, tmp: Path) -> dict:
    from s3server import CLEARED_ENV, DUMMY_ENV

    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(DUMMY_ENV, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"))
    return env


def marginal(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(fixed, per document) of y = fixed + per_document * n through the smallest and the largest point (one
    point: no fixed part). Start-up (interpreter, imports, word-frequency tables: tens of MiB and seconds) is
    the fixed part, so the per-document part is what grows with the corpus."""
    points = sorted(points)
    (n1, y1), (n2, y2) = points[0], points[-1]
    if n2 == n1:
        return 0.0, y2 / n2
    per = (y2 - y1) / (n2 - n1)
    return y2 - per * n2, per


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000], help="documents per store")
    parser.add_argument("--no-s3", action="store_true", help="the local folder only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    real = real_texts()
    server = None
    if not args.no_s3:
        from s3server import S3Server

        server = S3Server().start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
            tmp = Path(tmp)
            for n in args.sizes:
                docs = documents(n, real)
                template = tmp / f"template-{n}"
                build_s = build(template, docs)
                words = sum(len(d["text"].split()) for d in docs) / len(docs)
                size = sum(p.stat().st_size for p in template.rglob("*") if p.is_file())
                local = tmp / f"local-{n}"
                shutil.copytree(template, local)
                env = {k: v for k, v in os.environ.items()}
                env["XDG_STATE_HOME"] = str(tmp / "xdg-state")
                r = measure_rss(str(local), env)
                rows.append(dict(r, store="local folder", documents=n, build_s=build_s, words=words, bytes=size))
                shutil.rmtree(local)
                if server is not None:
                    bucket = server.make_bucket()
                    up_s = upload(template, bucket, "corpus-store", server.url)
                    env3 = s3_env(server.url, tmp)
                    env3["XDG_STATE_HOME"] = str(tmp / "xdg-state")
                    r = measure_rss(f"s3://{bucket}/corpus-store", env3)
                    rows.append(dict(r, store="S3 (moto, 127.0.0.1)", documents=n, build_s=up_s, words=words,
                                     bytes=size))
                shutil.rmtree(template)
    finally:
        if server is not None:
            server.stop()
    load_after = os.getloadavg()
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    extrapolated = {}
    for store in dict.fromkeys(r["store"] for r in rows):
        mine = [r for r in rows if r["store"] == store]
        big = max(mine, key=lambda r: r["documents"])
        t0, t_per = marginal([(r["documents"], r["seconds"]) for r in mine])
        m0, m_per = marginal([(r["documents"], r["rss_mib"]) for r in mine])
        extrapolated[store] = {"linear_s": big["seconds"] / big["documents"] * TARGET,
                               "marginal_s": t0 + t_per * TARGET, "seconds_per_1000": t_per * 1000,
                               "rss_kib_per_doc": m_per * 1024, "rss_gib": (m0 + m_per * TARGET) / 1024}
    out = {"cores": os.cpu_count(), "uptime_before": uptime_before, "uptime_after": uptime_after,
           "load_before": load_before, "load_after": load_after, "rows": rows, "extrapolation_to": TARGET,
           "extrapolated": extrapolated}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"machine: {os.cpu_count()} cores; uptime before: {uptime_before}")
    print(f"                        after:  {uptime_after}")
    print(f"texts: {len(real)} real (wcxb-dev, fundus-pages, syndication-dev) + documents of real paragraphs "
          f"beyond that; mean {rows[0]['words']:.0f} words/document at {rows[0]['documents']:,}")
    print()
    print(f"{'store':<22} {'documents':>9} {'seconds':>8} {'docs/s':>7} {'peak RSS MiB':>12} {'clusters':>8} "
          f"{'duplicates':>10} {'stories':>7} {'in stories':>10} {'relinked':>8} {'store MB':>8}")
    for r in rows:
        print(f"{r['store']:<22} {r['documents']:>9,} {r['seconds']:>8.1f} {r['documents'] / r['seconds']:>7.0f} "
              f"{r['rss_mib']:>12.0f} {r['clusters']:>8} {r['duplicates']:>10} {r['stories']:>7} "
              f"{r['in_stories']:>10} {r['relinked']:>8} {r['bytes'] / 1e6:>8.1f}")
    print()
    print(f"EXTRAPOLATION to {TARGET:,} documents (not measured; assumes the per-document cost stays what it "
          f"was between the sizes measured):")
    for store, e in extrapolated.items():
        print(f"  {store}: {human(e['marginal_s'])} at the marginal rate ({e['seconds_per_1000']:.1f} s per 1,000 "
              f"documents between the sizes); {human(e['linear_s'])} at the largest size's average rate; "
              f"peak RSS ~{e['rss_gib']:.0f} GiB ({e['rss_kib_per_doc']:.1f} KiB more per document: the rebuild "
              f"holds every record, text included, in memory)")
    print("  one process, one core: the rebuild is a single sequential replay in fetch order.")
    for store in extrapolated:
        mine = sorted((r for r in rows if r["store"] == store), key=lambda r: r["documents"])
        lo, hi = mine[0], mine[-1]
        slow = (hi["seconds"] / hi["documents"]) / (lo["seconds"] / lo["documents"])
        if len(mine) > 1 and slow > 1.5:
            print(f"  WARNING ({store}): seconds per document grew {slow:.1f}x from {lo['documents']:,} to "
                  f"{hi['documents']:,} documents: the rebuild is superlinear here, so these figures are a lower "
                  f"bound (part of it is this workload: documents of real paragraphs share more of them as n grows)")

if __name__ == "__main__":
    main()
