"""Hostile input, SIGKILL at random moments, and a failing store: what really happens, measured.

Three parts, all on 127.0.0.1 (no other traffic):

1. Hostile kinds (tests/hostile_site.py, through ``--replay``): one ``corpus fetch`` per URL kind, one
   ``corpus crawl --site`` per discovery kind; per kind the outcome line, the exit status, wall seconds
   and the peak RSS of the command's process tree (``os.wait4`` rusage of the child: the maximum over
   it and every descendant it reaped, as RUSAGE_CHILDREN), each run under RLIMIT_AS (6 GiB) so a
   regression fails instead of taking the machine.  Every kind is checked against what a correct
   crawler does (``WRONG: ...`` says what is not).
2. SIGKILL trials: ``corpus crawl --replay`` of the replay web (3 outlets, 21 articles) killed with
   SIGKILL at random moments (seeded, printed), local folder and S3 (moto's server on 127.0.0.1), then
   re-run to completion.  Counted: articles lost (in a clean crawl, missing after the re-run),
   duplicated (an extra id, or two records for one URL), leftover temporary files, and whether the
   near-duplicate index agrees with ``corpus dedup --rebuild`` run on a copy.
3. Store fault windows (tests/faultproxy.py between the crawl and moto, when it exists): the store
   refuses, resets or hangs for 3 s or 10 s mid-run and over the end of a run; then a second run.

Usage: .venv/bin/python bench/faults.py [--quick] [--seed N] [--parts hostile,kill,windows]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/ itself must not be on the path: bench/requests.py would shadow the requests package (moto needs it)
sys.path = [str(REPO), str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

EXE = str(Path(sys.executable).with_name("corpus"))
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
AS_LIMIT = 6 * 1024 ** 3
KILL_OUTLETS = ["intellinews", "russia-briefing", "rsis"]
KILL_ARGS = [*FAST, "-s", "DOWNLOAD_DELAY=0.15", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
             "-s", "CORPUS_STATE_FLUSH_SECONDS=0", *KILL_OUTLETS]
LINE_RE = re.compile(r"^([0-9a-f]{16}|-{16})  (.*?)(?:\s{2,}(\S.*))?$")


# --- running a command, measured ---------------------------------------------------------------
@dataclass
class Run:
    rc: int | None            # exit status; -N: killed by signal N; None: timed out (then killed)
    out: str
    err: str
    seconds: float
    peak_mb: float


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    os.setsid()


def clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env.update(extra or {})
    return env


def start(args: list, env: dict, cwd: Path, exe: str = EXE) -> tuple[subprocess.Popen, Path, Path]:
    cwd.mkdir(parents=True, exist_ok=True)
    out, err = cwd / f"out-{time.monotonic_ns()}", cwd / f"err-{time.monotonic_ns()}"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([exe, *map(str, args)], env=env, cwd=cwd, stdout=o, stderr=e,
                                stdin=subprocess.DEVNULL, preexec_fn=_limits)
    return proc, out, err


def reaped(proc: subprocess.Popen) -> bool:
    """Whether the child has ended; reaps it with wait4 (never Popen.poll, which would lose the rusage)."""
    if not hasattr(proc, "rusage4"):
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if not pid:
            return False
        proc.rusage4 = (status, usage)
    return True


def finish(proc: subprocess.Popen, out: Path, err: Path, started: float, timeout: float) -> Run:
    """Reap the child with wait4 (its rusage: peak RSS of it and the descendants it reaped)."""
    deadline = started + timeout
    timed_out = False
    while True:
        if reaped(proc):
            status, usage = proc.rusage4
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)
    seconds = time.monotonic() - started
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    try:  # whatever the command left running in its session (extraction workers) goes too
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return Run(None if timed_out else rc, out.read_text(errors="replace"), err.read_text(errors="replace"),
               seconds, usage.ru_maxrss / 1024)


def run(args: list, env: dict, cwd: Path, timeout: float = 600, exe: str = EXE) -> Run:
    """Run ``corpus ARGS`` (or ``exe ARGS``) under RLIMIT_AS in its own session, measured."""
    started = time.monotonic()
    proc, out, err = start(args, env, cwd, exe)
    return finish(proc, out, err, started, timeout)


def outcome_lines(out: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in out.splitlines():
        m = LINE_RE.match(line)
        if m:
            rows.append((m.group(1), m.group(2).strip(), m.group(3) or ""))
    return rows


def crashed(r: Run) -> list[str]:
    problems = []
    if r.rc is None:
        problems.append("did not finish (killed at the bench's timeout)")
    elif r.rc < 0:
        problems.append(f"killed by signal {-r.rc}")
    elif r.rc == 70:
        problems.append("exit 70 (internal error)")
    if "Traceback (most recent call last)" in r.err:
        problems.append("traceback in the log")
    if "MemoryError" in r.err:
        problems.append("MemoryError")
    return problems


def records(store) -> list[dict]:
    from pipelines.corpus.layout import Corpus
    from pipelines.store import open_store

    try:
        return list(Corpus(open_store(str(store))).iter_records())
    except Exception as exc:  # noqa: BLE001 - a store the crawl left unreadable is a finding
        return [{"id": "?", "url": "?", "text": "", "_unreadable": repr(exc)}]


# --- part 1: hostile kinds ---------------------------------------------------------------------
@dataclass
class KindResult:
    name: str
    outcome: str
    rc: int | None
    seconds: float
    peak_mb: float
    problems: list[str] = field(default_factory=list)


def _leaks(recs: list[dict], store: Path) -> list[str]:
    from hostile_site import LEAK_MARKERS

    found = []
    blobs = [json.dumps(r, ensure_ascii=False) for r in recs]
    index = store / "corpus" / "INDEX.md"
    if index.is_file():
        blobs.append(index.read_text(errors="replace"))
    for marker in LEAK_MARKERS:
        if any(marker in b for b in blobs):
            found.append(f"stored content it must never read ({marker})")
    for r in recs:
        if not str(r.get("url", "")).startswith(("http://", "https://")) and r.get("url") != "?":
            found.append(f"a record with a non-http URL: {str(r.get('url'))[:60]}")
    return found


def check_fetch(kind, r: Run, recs: list[dict], store: Path, site) -> tuple[str, list[str]]:
    from hostile_site import HOST as HOST_NAME, LATIN1_WORDS

    rows = outcome_lines(r.out)
    mine = [row for row in rows if row[2] == kind.url]   # an error line names its URL, a new one its title
    outcome = (mine or rows)[-1][1] if rows else "(no outcome line)"
    p = crashed(r) + _leaks(recs, store)
    is_err, is_skip, is_new = (outcome.startswith("error"), outcome.startswith("skipped"),
                               outcome.startswith(("new", "updated")))
    if r.rc is not None and r.rc >= 0 and not crashed(r):
        if is_err and r.rc != 1:
            p.append(f"outcome error but exit {r.rc}")
        if (is_new or is_skip) and r.rc != 0:
            p.append(f"outcome {outcome.split(':')[0]} but exit {r.rc}")
    n = kind.name

    def want(cond, why):
        if not cond:
            p.append(why)

    code = re.search(r"(\d{3})", n)
    if n in ("http-404", "http-410", "http-500", "http-503"):
        want(is_err and code.group(1) in outcome, f"expected error: HTTP {code.group(1)}")
    elif n.startswith("http-429"):
        want((is_err or outcome.startswith("skipped")) and "429" in outcome, "expected error naming 429")
        want(sum(1 for row in rows if row[1].startswith("new")) == 3, "the other outlet's 3 pages not all stored")
        log = list(site.log)
        t429 = [t for t, h, p_ in log if p_ == "/status/429"]
        tcalm = [t for t, h, p_ in log if h == "calm.example.org"]
        if t429 and tcalm:
            lag = max(tcalm) - min(t429)
            outcome += f" ({len(t429)} tries over {max(t429) - min(t429):.0f} s; the other outlet done {lag:.1f} s after the first 429)"
            want(lag < 10, f"the other outlet waited for the 429's Retry-After ({lag:.0f} s)")
    elif n in ("stall", "drip-1-byte-per-s"):
        want(is_err, "expected error (timeout)")
        tries = len(site.hits_for(HOST_NAME, "/stall" if n == "stall" else "/drip"))
        outcome += f" ({tries} tries)"
        want(tries <= 2, f"{tries} tries of {r.seconds:.0f} s in all")
    elif n == "reset-mid-body":
        want(is_err, "expected error")
    elif n in ("redirect-loop", "redirect-chain-25"):
        want(is_err and "redirect" in outcome, "expected error naming redirects (exit 1)")
    elif n in ("redirect-to-file", "redirect-to-local-html"):
        want(is_err or is_skip, "expected error: scheme refused")
        want(not recs, "a record was stored")
    elif n == "redirect-to-metadata":
        want(is_err and "refused" in outcome, "expected error: refused non-public address")
        want(not site.hits_for("169.254.169.254"), "169.254.169.254 was requested")
    elif n.startswith(("page-50mb", "gzip-bomb")):
        reason = re.sub(r"\S+://\S+", "", outcome)   # the reason, not the URL in it
        want(is_err and re.search(r"size|large|maxsize|limit|bomb|decompress", reason),
             "expected error naming the size limit (a skip would hide it from the exit status)")
        want(r.peak_mb < 1024, f"peak memory {r.peak_mb:.0f} MB")
    elif n in ("pdf-as-html", "empty-200"):
        want(is_err or is_skip, "expected error/skipped")
        want(not recs, "a record was stored")
    elif n in ("broken-html", "nul-byte", "control-char-ref", "article", "article-2", "article-3"):
        want(is_new, "expected new (an article stored)")
        want(any(len(rec.get("text") or "") > 200 for rec in recs), "no record with the article's text")
    elif n == "latin1-no-charset":
        want(is_new, "expected new")
        text = " ".join(rec.get("text") or "" for rec in recs)
        missing = [w for w in LATIN1_WORDS if w not in text]
        want(not missing, f"mis-decoded: {', '.join(missing)} not in the text")
    elif n in ("nested-2mb", "flat-2mb"):  # no article in it: skipped is right too; the bound is the point
        want(is_new or is_skip or (is_err and "budget" in outcome),
             "expected new, skipped, or error: extraction budget exceeded")
        want(r.seconds < 30 and r.peak_mb < 1024, f"unbounded: {r.seconds:.0f} s, {r.peak_mb:.0f} MB")
    elif n == "xss-title":
        want(is_new, "expected new")
        index = (store / "corpus" / "INDEX.md")
        raw = index.read_text(errors="replace") if index.is_file() else ""
        want("<img src=x onerror" not in raw, "INDEX.md carries the raw <img ... onerror> markup")
    elif n == "url-over-2083":
        want(is_err and "no response" not in outcome, "expected an error naming the length")
    return outcome, p


def check_takeover(recs: list[dict]) -> list[str]:
    from pipelines.crawl.urls import canonicalize

    victim = canonicalize("https://victim.github.io/story/")
    bad = [r for r in recs if "ATTACKER" in (r.get("text") or "") + (r.get("title") or "")
           and (canonicalize(r.get("canonical_url") or r["url"]) == victim or "victim" in r["url"])]
    live_victim = [r for r in recs if "victim.github.io" in r["url"] and not r.get("duplicate_of")]
    p = ["the attacker's page took over victim.github.io's record"] if bad else []
    if not live_victim:
        p.append("victim.github.io has no live record left")
    return p


def crawl_kind(kind, site, r: Run, store: Path) -> tuple[str, list[str]]:
    recs = records(store)
    p = crashed(r) + _leaks(recs, store)
    if r.rc not in (0, 1, 4):
        p.append(f"exit {r.rc}")
    stored = len(recs)
    note = f"exit {r.rc}; {stored} stored"
    if kind.name == "sitemap-schemes":
        tried = sorted({m.group(1) for m in re.finditer(r"<GET (file|ftp|data|s3):", r.err)})
        errors = re.findall(r"downloader/exception_type_count/builtins\.(\w+)", r.err)
        if tried:
            p.append(f"requested {', '.join(s + ':' for s in tried)} URLs")
        note += f"; non-http requests: {', '.join(tried) or 'none'}"
        if errors:
            note += f" ({', '.join(errors)})"
        if stored != 1:
            p.append(f"{stored} records, expected the 1 http(s) article")
    elif kind.name == "sitemap-xml-bomb":
        if r.peak_mb > 1024 or r.seconds > 60:
            p.append(f"unbounded: {r.seconds:.0f} s, {r.peak_mb:.0f} MB")
        if any("lollol" in rec["url"] for rec in recs):
            p.append("entities expanded into a URL")
    elif kind.name == "sitemap-xxe":
        cb = site.hits_for("127.0.0.1", "/xxe-callback") + [h for _, h in site.hits if "xxe-callback" in h]
        leaked = [h for _, h in site.hits if "root:" in h or "XXE-LEAK" in h]
        if cb:
            p.append("the external entity was fetched")
        if leaked:
            p.append("/etc/passwd content sent in a URL")
    elif kind.name == "whole-site-crawl":
        try:
            report = json.loads((store.parent / "report.json").read_text())
        except (OSError, ValueError):
            report = {}
        stats = report.get("stats", {})
        reasons = {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("corpus/reason/")}
        row = summary_row(r.out)
        note += (f"; fetched {row.get('fetched', '?')}, errors {row.get('errors', '?')}, "
                 f"skipped {row.get('skipped', '?')}; reasons: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])))
        note += f"; error rate {report.get('error_rate', '?')} of {report.get('pages_attempted', '?')} attempted"
        if r.rc != 1:
            p.append(f"exit {r.rc}, expected 1: {row.get('errors', '?')} of {row.get('fetched', 0) + row.get('errors', 0)} "
                     "fetched pages ended in error")
        stored_urls = {rec["url"] for rec in recs}
        missing = [n for n in (1, 2, 3) if f"https://hostile.example.net/articles/{n}/" not in stored_urls]
        if missing:
            p.append(f"articles {missing} not stored")
    elif kind.name == "calendar-trap":
        cal = len(site.hits_for("trap.example.net", "/calendar/"))
        note += f"; {cal} calendar pages requested"
        if cal > 60:
            p.append(f"{cal} calendar pages requested")
        if stored != 30:
            p.append(f"{stored} articles stored, expected 30")
    return note, p


def hostile(args, work: Path) -> list[KindResult]:
    from hostile_site import KINDS, HostileSite, gzip_bomb_path

    print("\n## Hostile kinds (corpus fetch / corpus crawl --site, via --replay of tests/hostile_site.py)")
    gzip_bomb_path()
    kinds = [k for k in KINDS if not args.kinds or k.name in args.kinds]
    timeout_opt = ["--timeout", "5"] if args.quick else []
    results: list[KindResult] = []
    lock = threading.Lock()

    with HostileSite() as site:
        def one(kind) -> KindResult:
            cwd = work / "hostile" / kind.name
            store = cwd / "store"
            env = clean_env({"XDG_STATE_HOME": str(cwd / "xdg")})
            if kind.name == "canonical-takeover":
                run(["fetch", "--replay", site.url, "--store", store, "https://victim.github.io/story/"], env, cwd)
            if kind.how == "fetch":
                extra = ([f"https://calm.example.org/articles/{n}/" for n in (1, 2, 3)]
                         if kind.name.startswith("http-429") else [])
                r = run(["fetch", "--replay", site.url, "--store", store, *timeout_opt, kind.url, *extra], env, cwd,
                        timeout=900)
                recs = records(store)
                outcome, p = check_fetch(kind, r, recs, store, site)
                if kind.name == "canonical-takeover":
                    p += check_takeover(recs)
            else:
                r = run(["crawl", "--replay", site.url, "--site", kind.url, "--any-topic", "--store", store,
                         "--report", cwd / "report.json", *FAST, *timeout_opt,
                         *(["-vv"] if kind.name == "sitemap-schemes" else [])], env, cwd, timeout=900)
                outcome, p = crawl_kind(kind, site, r, store)
            res = KindResult(kind.name, outcome, r.rc, r.seconds, r.peak_mb, p)
            with lock:
                print(f"  {kind.name:24} {r.seconds:6.1f} s {r.peak_mb:6.0f} MB  exit {r.rc}  {outcome}"
                      + (f"  WRONG: {'; '.join(p)}" if p else ""), flush=True)
            return res

        # the slow kinds first, so the pool's other workers take the fast ones meanwhile
        slow = ("whole-site-crawl", "stall", "drip-1-byte-per-s", "http-429-retry-after-30", "redirect-loop")
        kinds.sort(key=lambda k: k.name not in slow)
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(one, kinds))
    return results


# --- part 2: SIGKILL trials --------------------------------------------------------------------
@dataclass
class Trial:
    backend: str
    n: int
    kill_at: float
    killed_rc: int | None
    docs_at_kill: int
    rerun_rc: int | None
    lost: int
    duplicated: int
    tmp_left: int
    index_ok: bool
    note: str = ""
    incremental: bool = False


def s3_env(server_url: str, cwd: Path) -> dict:
    from s3server import DUMMY_ENV

    return clean_env({**DUMMY_ENV, "AWS_ENDPOINT_URL": server_url, "AWS_CONFIG_FILE": str(cwd / "none"),
                      "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "none"), "XDG_STATE_HOME": str(cwd / "xdg")})


class Backend:
    """A fresh store per trial: a local folder, or a new bucket on moto (optionally through a proxy)."""

    def __init__(self, kind: str, work: Path, s3=None, endpoint: str | None = None):
        self.kind, self.work, self.s3 = kind, work, s3
        self.endpoint = endpoint or (s3.url if s3 else None)

    def new(self, name: str) -> tuple[str, dict, Path]:
        cwd = self.work / name
        if cwd.exists():
            shutil.rmtree(cwd)
        cwd.mkdir(parents=True)
        if self.kind == "local":
            return str(cwd / "store"), clean_env({"XDG_STATE_HOME": str(cwd / "xdg")}), cwd
        bucket = self.s3.make_bucket()
        return f"s3://{bucket}/corpus", s3_env(self.endpoint, cwd), cwd

    def client(self):
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.s3.url, region_name="us-east-1",
                                              aws_access_key_id="testing", aws_secret_access_key="testing")

    def keys(self, store: str) -> list[str]:
        if self.kind == "local":
            root = Path(store)
            return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        bucket, prefix = store[5:].split("/", 1)
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        return [o["Key"][len(prefix) + 1:] for page in pages for o in page.get("Contents", [])]

    def pending_uploads(self, store: str) -> int:
        if self.kind == "local":
            return 0
        bucket = store[5:].split("/", 1)[0]
        return len(self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    def copy_local(self, store: str, dest: Path) -> Path:
        if self.kind == "local":
            shutil.copytree(store, dest)
            return dest
        bucket, prefix = store[5:].split("/", 1)
        client = self.client()
        for key in self.keys(store):
            path = dest / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(client.get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"].read())
        return dest

    def read_records(self, store: str, env: dict) -> list[dict]:
        saved = {k: os.environ.get(k) for k in env if k.startswith("AWS_")}
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        try:
            return records(store)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def index_agrees(copy: Path, env: dict) -> tuple[bool, str]:
    """Does the store's near-duplicate index equal what ``corpus dedup --rebuild`` makes of its records?"""
    from pipelines.dedup import DedupConfig
    from pipelines.dedup.index import NearDupIndex
    from pipelines.dedup.persist import load_index
    from pipelines.store.local import LocalStore

    def stored():  # the segments of dedup/index/, or the single blob of earlier versions
        index = load_index(LocalStore(copy), DedupConfig(), None)
        if index is None and (copy / "dedup" / "index.bin").is_file():
            index = NearDupIndex.from_bytes((copy / "dedup" / "index.bin").read_bytes())
        return index

    before = stored()
    if before is None:
        return False, "no dedup index"
    r = run(["dedup", "--rebuild", "--store", copy], clean_env({"XDG_STATE_HOME": str(copy.parent / "xdg")}),
            copy.parent, timeout=300)
    if r.rc != 0:
        return False, f"dedup --rebuild exit {r.rc}"
    after = stored()
    if after is None:
        return False, "no dedup index after the rebuild"
    a = {i: before.text_hash(i) for i in before.ids()}
    b = {i: after.text_hash(i) for i in after.ids()}
    relinked = re.search(r"(\d+) records relinked", r.out)
    diffs = len(set(a) ^ set(b)) + sum(1 for i in set(a) & set(b) if a[i] != b[i])
    ok = diffs == 0 and relinked is not None and relinked.group(1) == "0"
    return ok, "" if ok else f"{diffs} index entries differ, {relinked.group(1) if relinked else '?'} relinked"


def count_tmp(keys: list[str]) -> int:
    return sum(1 for k in keys if ".~tmp-" in k.rsplit("/", 1)[-1] or k.endswith((".part", ".tmp")))


def judge(recs: list[dict], clean: dict[str, str]) -> tuple[int, int]:
    """(lost, duplicated) against the clean crawl's {url: id}."""
    by_url = Counter(r["url"] for r in recs)
    ids = {r["id"] for r in recs}
    lost = sum(1 for url, doc_id in clean.items() if doc_id not in ids)
    extra_ids = len(ids - set(clean.values()))
    live_text = Counter(r.get("text_sha256") for r in recs if not r.get("duplicate_of") and r.get("text"))
    twice = sum(c - 1 for c in by_url.values() if c > 1) + sum(c - 1 for t, c in live_text.items() if t and c > 1)
    return lost, extra_ids + twice


def timed_crawl(backend: Backend, replay, store: str, env: dict, cwd: Path) -> tuple[Run, float]:
    """A crawl to completion; also when its first record appeared (seconds from the start)."""
    started = time.monotonic()
    proc, out, err = start(["crawl", "--replay", replay.url, "--store", store, *KILL_ARGS], env, cwd)
    first = None
    while not reaped(proc):
        if first is None and any(k.startswith("corpus/docs/") for k in backend.keys(store)):
            first = time.monotonic() - started
        time.sleep(0.1)
    r = finish(proc, out, err, started, 300)
    return r, first if first is not None else r.seconds / 2


def copy_store(backend: Backend, src: str, dest: str) -> None:
    if backend.kind == "local":
        shutil.copytree(src, dest)
        return
    client = backend.client()
    (sb, sp), (db, dp) = src[5:].split("/", 1), dest[5:].split("/", 1)
    for key in backend.keys(src):
        client.copy_object(Bucket=db, Key=f"{dp}/{key}", CopySource={"Bucket": sb, "Key": f"{sp}/{key}"})


def kill_trials(backend: Backend, n: int, seed: int) -> list[Trial]:
    """``n`` trials: a crawl SIGKILLed at a random moment, then re-run to completion; every 4th trial is an
    incremental crawl (replay epoch 2: one article changed) of a copy of a finished store."""
    from crawler.replay.server import DEFAULT_ROOT, ReplayServer

    rng = random.Random(f"{seed}-{backend.kind}")
    trials = []
    with ReplayServer([DEFAULT_ROOT, REPO / "tests" / "web"]) as replay:
        base, env, cwd = backend.new("clean")
        r, first = timed_crawl(backend, replay, base, env, cwd)
        clean = {rec["url"]: rec for rec in backend.read_records(base, env)}
        replay.epoch = 2
        inc, env_i, cwd_i = backend.new("clean-incremental")
        copy_store(backend, base, inc)
        ri, first_i = timed_crawl(backend, replay, inc, env_i, cwd_i)
        clean_inc = {rec["url"]: rec for rec in backend.read_records(inc, env_i)}
        replay.epoch = 1
        print(f"  {backend.kind}: clean crawl exit {r.rc}, {len(clean)} articles in {r.seconds:.1f} s (first at "
              f"{first:.1f} s); incremental (epoch 2) exit {ri.rc} in {ri.seconds:.1f} s", flush=True)
        if r.rc != 0 or not clean:
            print(f"  {backend.kind}: WRONG: the clean crawl failed (exit {r.rc}, {len(clean)} articles): no trials;"
                  f" its log ends: {r.err.strip().splitlines()[-1:] if r.err.strip() else ''}")
            return [Trial(backend.kind, -1, 0.0, r.rc, 0, r.rc, 0, 0, 0, False, "clean crawl failed")]
        for i in range(n):
            incremental = i % 4 == 3
            # the moment: fresh crawls are killed once a random number of records (0-20) is written, plus a
            # random 0-0.5 s (0: a random time before the first record); incremental ones at a random time
            u, extra = rng.random(), round(rng.random() * 0.5, 2)
            target = 0 if incremental else int(u * len(clean))
            limit = (0.5 + u * (ri.seconds - 0.5)) if incremental else (
                0.5 + u * len(clean) * max(first - 0.5, 0.1) if target == 0 else r.seconds * 3)
            store, env, cwd = backend.new(f"trial-{i}")
            if incremental:
                copy_store(backend, base, store)
                replay.epoch = 2
            started = time.monotonic()
            proc, out, err = start(["crawl", "--replay", replay.url, "--store", store, *KILL_ARGS], env, cwd)
            reached = None
            while not reached and time.monotonic() - started < limit and not reaped(proc):
                if target and sum(1 for k in backend.keys(store) if k.startswith("corpus/docs/")) >= target:
                    reached = time.monotonic()
                time.sleep(0.03)
            if reached:
                time.sleep(extra)
            kill_at = round(time.monotonic() - started, 2)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed = finish(proc, out, err, started, 60)
            docs_at_kill = sum(1 for k in backend.keys(store) if k.startswith("corpus/docs/"))
            rerun = run(["crawl", "--replay", replay.url, "--store", store, *KILL_ARGS], env, cwd, timeout=300)
            replay.epoch = 1
            recs = backend.read_records(store, env)
            ref = clean_inc if incremental else clean
            lost, dup = judge(recs, {u: rec["id"] for u, rec in ref.items()})
            have = {rec["id"]: rec.get("text_sha256") for rec in recs}
            stale = sum(1 for rec in ref.values() if rec["id"] in have and have[rec["id"]] != rec.get("text_sha256"))
            keys = backend.keys(store)
            tmp_left = count_tmp(keys) + backend.pending_uploads(store)
            ok, why = index_agrees(backend.copy_local(store, cwd / "copy"), env)
            note = "; ".join(x for x in (why, "; ".join(crashed(rerun)),
                                         f"{stale} with an old text" if stale else "") if x)
            t = Trial(backend.kind, i, kill_at, killed.rc, docs_at_kill, rerun.rc, lost + stale, dup, tmp_left, ok,
                      note, incremental)
            when = f"after {target} records + {extra:.2f} s" if target else "before the first record"
            when = "random time" if incremental else when
            print(f"  {backend.kind:5} #{i:02d} {'incr.' if incremental else 'fresh'} kill at {kill_at:5.2f} s "
                  f"({when}; "
                  f"exit {killed.rc}, {docs_at_kill:2d} docs)  re-run exit {rerun.rc}  lost {lost + stale}  "
                  f"duplicated {dup}  temp files {tmp_left}  index {'agrees' if ok else 'DIFFERS'}"
                  + (f"  ({note})" if note else ""), flush=True)
            trials.append(t)
            shutil.rmtree(cwd / "copy", ignore_errors=True)
    return trials


# --- part 3: store fault windows ---------------------------------------------------------------
def load_faultproxy():
    path = REPO / "tests" / "faultproxy.py"
    if not path.is_file():
        return None
    import importlib

    return importlib.import_module("faultproxy")


def summary_row(out: str) -> dict[str, int]:
    """The TOTAL row of the crawl's table, by column name."""
    lines = out.splitlines()
    head = next((line for line in lines if line.startswith("outlet ")), None)
    total = next((line for line in lines if line.startswith("TOTAL")), None)
    if not head or not total:
        return {}
    names = re.split(r"\s{2,}", head.strip())[1:]
    values = total.split()[1:]
    return {k: int(v) for k, v in zip(names, values) if v.isdigit()}


def report_stats(path: Path) -> dict:
    try:
        return json.loads(path.read_text()).get("stats", {})
    except (OSError, ValueError):
        return {}


def windows(args, work: Path, replay, s3, rng: random.Random) -> list[dict]:
    fp = load_faultproxy()
    if fp is None or not hasattr(fp, "FaultProxy"):
        print("\n## Store fault windows: tests/faultproxy.py (FaultProxy) is not there yet; skipped")
        return []
    print("\n## Store fault windows (tests/faultproxy.py between the crawl and moto; the same crawl as the "
          "SIGKILL trials, then a second run with the store back)")
    results = []
    backend0 = Backend("s3", work / "windows", s3=s3)
    store, env, cwd = backend0.new("clean")
    r = run(["crawl", "--replay", replay.url, "--store", store, *KILL_ARGS], env, cwd, timeout=300)
    clean = {rec["url"]: rec["id"] for rec in backend0.read_records(store, env)}
    span = r.seconds
    print(f"  clean crawl through the proxy's upstream: exit {r.rc}, {len(clean)} articles in {span:.1f} s")
    if r.rc != 0 or not clean:
        print("  WRONG: the clean crawl failed: no fault windows")
        return []
    # each mode, each length and each place at least once: (mode, seconds, where)
    combos = [("refuse", 3, "mid-run")] if args.quick else [
        ("refuse", 3, "mid-run"), ("refuse", 10, "over the end"), ("reset", 3, "mid-run"),
        ("reset", 10, "over the end"), ("hang", 10, "mid-run"), ("hang", 3, "over the end"),
        ("refuse", 45, "mid-run")]   # longer than the store's retry budget: the store stays down
    plan = [(mode, length, where, max(1, len(clean) // 3) if where == "mid-run" else max(1, len(clean) - 2))
            for mode, length, where in combos]
    for mode, length, where, at in plan:
        proxy = fp.FaultProxy(s3.url).start()
        try:
            backend = Backend("s3", work / "windows", s3=s3, endpoint=proxy.url)
            store, env, cwd = backend.new(f"{mode}-{length}-{where.replace(' ', '-')}")
            # the window opens when `at` records are in the store (so it falls mid-run or over the end of the
            # run however loaded the machine is), seen directly on moto, not through the proxy
            started = time.monotonic()
            proc, out, err = start(["crawl", "--replay", replay.url, "--store", store, "--report", cwd / "r1.json",
                                    *KILL_ARGS], env, cwd)
            opened = None
            while not reaped(proc):
                if opened is None and sum(1 for k in backend.keys(store) if k.startswith("corpus/docs/")) >= at:
                    proxy.schedule(mode, start=0, duration=float(length))
                    opened = time.monotonic() - started
                time.sleep(0.05)
            first = finish(proc, out, err, started, 600)
            if opened is None:
                print(f"  {mode} {length} s: the run ended before {at} records were stored; window never opened")
            proxy.set_mode("pass")
            faulted = sum(v for k, v in proxy.counts.items() if k != "pass")
            after_1 = {rec["id"] for rec in backend.read_records(store, env)}
            unstored_1 = sum(1 for doc_id in clean.values() if doc_id not in after_1)
            second = run(["crawl", "--replay", replay.url, "--store", store, "--report", cwd / "r2.json",
                          *KILL_ARGS], env, cwd, timeout=600)
            row1, stats1 = summary_row(first.out), report_stats(cwd / "r1.json")
            stats2 = report_stats(cwd / "r2.json")
            recs = backend.read_records(store, env)
            lost, dup = judge(recs, clean)
            stored_1 = (row1.get("new", 0) + row1.get("updated", 0)) if row1 else "?"
            res = {"mode": mode, "seconds": length,
                   "where": f"{where} (after {at} records, at {opened:.1f} s)" if opened is not None else "never",
                   "fetched": row1.get("fetched", "?"), "stored_1": stored_1, "errors_1": row1.get("errors", "?"),
                   "spooled": stats1.get("corpus/pending/spooled", "-"),
                   "from_spool_2": sum(v for k, v in stats2.items() if k.startswith("corpus/pending/stored/")),
                   "exit_1": first.rc, "exit_2": second.rc, "stored_total": len({r["id"] for r in recs}),
                   "lost": lost, "duplicated": dup, "problems": crashed(first) + crashed(second),
                   "s1": first.seconds, "unstored_1": unstored_1, "faulted": faulted,
                   "why_1": next((line for line in first.err.splitlines() if line.startswith("corpus: exit")), "")}
            spooled = res["spooled"] if isinstance(res["spooled"], int) else 0
            if first.rc == 0 and (unstored_1 or spooled):
                res["problems"].append(f"exit 0 with {unstored_1} pages not in the store after the run")
            if first.rc not in (0, 3):
                res["problems"].append(f"exit {first.rc} (a store failure is 3)")
            if second.rc != 0:
                res["problems"].append(f"second run exit {second.rc}")
            if lost or dup:
                res["problems"].append(f"lost {lost}, duplicated {dup}")
            results.append(res)
            print(f"  {mode:6} {length:2d} s {res['where']:24} run 1: {first.seconds:5.1f} s fetched {res['fetched']} "
                  f"stored {stored_1} errors {res['errors_1']} spooled {res['spooled']} not in the store {unstored_1} "
                  f"exit {first.rc} ({faulted} connections faulted); run 2: "
                  f"exit {second.rc}, {res['from_spool_2']} from the spool; {res['stored_total']} stored; "
                  f"lost {lost} duplicated {dup}" + (f"  WRONG: {'; '.join(res['problems'])}"
                                                      if res["problems"] else "")
                  + (f"\n      run 1 said: {res['why_1'][:300]}" if res["why_1"] else ""), flush=True)
        finally:
            proxy.stop()
    return results


# --- main --------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short look: 2 kill trials per store, short timeouts")
    ap.add_argument("--seed", type=int, default=None, help="seed of the kill moments (default: random, printed)")
    ap.add_argument("--parts", default="hostile,kill,windows", help="which parts to run (comma-separated)")
    ap.add_argument("--trials", type=int, default=None, help="SIGKILL trials per store (default 20; --quick 2)")
    ap.add_argument("--kinds", nargs="*", help="only these hostile kinds (names as printed)")
    ap.add_argument("--workers", type=int, default=3, help="hostile kinds run this many at a time")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    trials_n = args.trials if args.trials is not None else (2 if args.quick else 20)
    parts = set(args.parts.split(","))
    rng = random.Random(seed)
    print(f"bench/faults.py  seed {seed}  {'quick' if args.quick else 'full'}  "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  RLIMIT_AS {AS_LIMIT // 1024 ** 3} GiB")
    work = Path(tempfile.mkdtemp(prefix="faults-bench-"))
    t0 = time.monotonic()
    kinds, trials, wins = [], [], []
    try:
        if "hostile" in parts:
            kinds = hostile(args, work)
        if parts & {"kill", "windows"}:
            from crawler.replay.server import DEFAULT_ROOT, ReplayServer
            from s3server import S3Server

            s3 = S3Server().start()
            try:
                # the local series, the S3 series and the fault windows run side by side (each its own
                # replay server and buckets), so the whole bench stays well under 20 minutes
                if "kill" in parts:
                    print(f"\n## SIGKILL trials (seed {seed}): corpus crawl --replay {' '.join(KILL_OUTLETS)}; "
                          "local and S3 series" + (" and the store fault windows" if "windows" in parts else "")
                          + " side by side")

                def windows_part():
                    with ReplayServer([DEFAULT_ROOT, REPO / "tests" / "web"]) as replay:
                        return windows(args, work, replay, s3, rng)

                with ThreadPoolExecutor(max_workers=3) as pool:
                    jobs = []
                    if "kill" in parts:
                        jobs += [pool.submit(kill_trials, Backend("local", work / "kill-local"), trials_n, seed),
                                 pool.submit(kill_trials, Backend("s3", work / "kill-s3", s3=s3), trials_n, seed)]
                    wjob = pool.submit(windows_part) if "windows" in parts else None
                    for job in jobs:
                        trials += job.result()
                    wins = wjob.result() if wjob else []
            finally:
                s3.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    print_summary(kinds, trials, wins, seed, time.monotonic() - t0)
    return 0


def print_summary(kinds, trials, wins, seed, elapsed) -> None:
    print(f"\n## Summary (seed {seed}, {elapsed / 60:.1f} min)")
    if kinds:
        print("\n| kind | outcome | exit | s | peak MB | verdict |\n|---|---|---|---|---|---|")
        for k in kinds:
            outcome = k.outcome.replace("|", "\\|")
            outcome = outcome if len(outcome) <= 200 else outcome[:197] + "..."
            verdict = "ok" if not k.problems else "WRONG: " + "; ".join(k.problems).replace("|", "\\|")
            print(f"| {k.name} | {outcome} | {k.rc} | {k.seconds:.1f} | {k.peak_mb:.0f} | {verdict} |")
    if trials:
        print("\n| store | trials | kill moments (s) | killed runs | re-run exits | lost | duplicated "
              "| temp files left | index agrees |\n|---|---|---|---|---|---|---|---|---|")
        for backend in ("local", "s3"):
            ts = [t for t in trials if t.backend == backend]
            if not ts:
                continue
            exits = Counter(t.rerun_rc for t in ts)
            print(f"| {backend} | {len(ts)} ({sum(t.incremental for t in ts)} incremental) | {min(t.kill_at for t in ts):.2f}-{max(t.kill_at for t in ts):.2f} "
                  f"| {sum(t.killed_rc == -9 for t in ts)} | "
                  + ", ".join(f"{c}x {rc}" for rc, c in sorted(exits.items(), key=str))
                  + f" | {sum(t.lost for t in ts)} | {sum(t.duplicated for t in ts)} | {sum(t.tmp_left for t in ts)} "
                  f"| {sum(t.index_ok for t in ts)}/{len(ts)} |")
    if wins:
        print("\n| fault | window | connections faulted | fetched | stored | errors | spooled | not in store after run 1 "
              "| exit | 2nd run: exit, from spool | lost | duplicated | verdict |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for w in wins:
            verdict = "ok" if not w["problems"] else "WRONG: " + "; ".join(w["problems"])
            print(f"| {w['mode']} {w['seconds']} s | {w['where']} | {w['faulted']} | {w['fetched']} | {w['stored_1']} "
                  f"| {w['errors_1']} | {w['spooled']} | {w['unstored_1']} | {w['exit_1']} | {w['exit_2']}, {w['from_spool_2']} | {w['lost']} "
                  f"| {w['duplicated']} | {verdict} |")


if __name__ == "__main__":
    sys.exit(main())
