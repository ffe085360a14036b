"""A budget of time and memory per page for extraction (issue 9): pipelines/extract/workers.py, markup.py.

The pathological pages run in worker processes under small budgets; the crawl runs in a subprocess
under an address-space limit (inherited by its children), so a regression fails the test, not the
machine. Pages are served on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.extract.extractor import try_extract
from pipelines.extract.markup import cap_markup
from pipelines.extract.workers import BUDGET, ExtractPool
from pipelines.store import open_store
from tests.trapsite import article_text

GiB = 2**30
UNIT = "<div><span>a</span><a href='/x'>b</a></div>"


def nested(mb: float) -> bytes:
    """The page of the issue: nested div/span/a, ``mb`` megabytes."""
    return ("<html><body>" + UNIT * int(mb * 1e6 / len(UNIT)) + "</body></html>").encode()


def article(key: str, script: int = 0) -> bytes:
    pars = "".join(f"<p>{p}</p>" for p in article_text(key, 6))
    code = f"<script>var state = '{'x' * script}';</script>" if script else ""
    return (f"<html><head><title>Article {key}</title>{code}</head><body><article><h1>Article {key} on ASEAN and"
            f" Russia</h1>{pars}</article>{code}</body></html>").encode()


def test_a_page_over_its_time_budget_is_an_error_and_the_worker_is_replaced():
    with ExtractPool(1, timeout=1, max_memory=GiB, max_elements=0) as pool:
        slow = pool.submit(nested(2), "http://127.0.0.1/slow").result(timeout=60)
        good = pool.submit(article("a"), "http://127.0.0.1/a").result(timeout=60)
        assert pool.started == 2  # the worker killed over budget was replaced
    assert slow.budget and slow.error == f"{BUDGET} (time 1 s)"
    assert good.document is not None and "ASEAN" in good.document.text


def test_pages_are_extracted_while_another_spends_its_budget():
    """Two workers: a page spending its whole time budget holds up only its own worker. The pages after it
    come out while it is still being extracted (checked at that moment, not by wall-clock bounds), and it
    ends as a budget error."""
    with ExtractPool(2, timeout=3, max_memory=GiB, max_elements=0) as pool:
        warm = [pool.submit(article(f"w{i}"), f"http://127.0.0.1/w{i}") for i in range(2)]
        assert all(f.result(timeout=120).document is not None for f in warm)
        assert pool.started == 2  # both workers up before the test proper
        slow = pool.submit(nested(2), "http://127.0.0.1/slow")
        goods = [pool.submit(article(k), f"http://127.0.0.1/{k}") for k in "cde"]
        results = [g.result(timeout=60) for g in goods]
        still_running = not slow.done()
        over = slow.result(timeout=60)
    assert all(r.document is not None and "ASEAN" in r.document.text for r in results)
    assert still_running  # the three pages were extracted while the slow one spent its budget
    assert over.budget and over.error == f"{BUDGET} (time 3 s)"


def test_a_page_over_its_memory_budget_is_an_error():
    # 2 MB of nested elements need far more than 512 MiB of address space to parse and extract (a worker
    # starts at about 440 MiB, the language model included)
    with ExtractPool(1, timeout=60, max_memory=512 * 2**20, max_elements=0) as pool:
        big = pool.submit(nested(2), "http://127.0.0.1/big").result(timeout=120)
        good = pool.submit(article("b"), "http://127.0.0.1/b").result(timeout=60)
    assert big.budget and big.error == f"{BUDGET} (memory 512 MiB)"
    assert good.document is not None


def test_markup_cap_keeps_real_articles_whole_and_bounds_pathological_ones():
    plain = article("c")
    padded = article("c", script=3 * 2**20)  # a news page with 6 MB of inline script
    capped = cap_markup(padded)
    assert capped.stripped > 6 * 2**20 and not capped.cut
    assert try_extract(capped.html, "http://127.0.0.1/c").document.text == try_extract(plain).document.text
    assert cap_markup(plain).html is plain  # small pages pass byte for byte
    many = cap_markup(nested(4), max_elements=5000)
    assert many.cut and many.html.count(b"<div") + many.html.count(b"<span") + many.html.count(b"<a ") <= 5000
    text = cap_markup(b"<html><body><p>" + "слово ".encode() * 2_000_000 + b"</p></body></html>")
    assert len(text.html) <= 2 * 2**20 and text.html.decode("utf-8")  # cut on a character boundary


def test_closed_pool_leaves_no_process():
    pool = ExtractPool(2, timeout=10, max_memory=GiB)
    futures = [pool.submit(article(k), f"http://127.0.0.1/{k}") for k in "de"]
    assert all(f.result(timeout=60).document for f in futures)
    workers = [w.process for w in pool._live]
    assert workers
    pool.close()
    assert not any(p.is_alive() for p in workers)


# --- end to end: `corpus fetch` against a local site ----------------------------------------------
class Site:
    """Normal articles at /news/N, the pathological page at /slow; when each was served."""

    def __init__(self):
        self.served: dict[str, float] = {}
        self.slow = nested(2)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/slow":
                    body = site.slow
                elif self.path.startswith("/news/"):
                    body = article(self.path)
                else:
                    self.send_error(404)
                    return
                site.served[self.path] = time.time()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def _limited(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()
    return apply


def _fetch(tmp_path, urls, *settings, **kw):
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    args = [os.fspath(exe), "fetch", "--allow-private", "--store", os.fspath(tmp_path / "store"),
            "-s", "DOWNLOAD_DELAY=0", "-s", "CORPUS_OUTLET_POLITENESS=False", "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "CORPUS_EXTRACT_WORKERS=2",
            *(x for s in settings for x in ("-s", s)), *urls]
    return subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_limited(3 * GiB), **kw)


def test_fetch_pathological_page_is_an_error_others_stored_meanwhile(site, tmp_path):
    news = [f"{site.url}/news/{n}" for n in range(1, 5)]
    timeout = 3  # the 2 MB page takes about 5 s in trafilatura's fast mode on this machine (over 10 s before it)
    proc = _fetch(tmp_path, [f"{site.url}/slow", *news], f"CORPUS_EXTRACT_TIMEOUT={timeout}",
                  "CORPUS_EXTRACT_MAX_ELEMENTS=0", f"CORPUS_EXTRACT_MAX_MEMORY={GiB}")
    out, err = proc.communicate(timeout=180)
    lines = [line.split() for line in out.strip().splitlines() if line.strip()]
    slow = [line for line in lines if line[-1] == f"{site.url}/slow"]
    assert slow and " ".join(slow[0][1:-1]) == f"error: {BUDGET} (time {timeout} s)", out + err[-3000:]
    titles = sorted(next(t for t in line if t.startswith("/news/")) for line in lines if line[1] == "new")
    assert titles == ["/news/1", "/news/2", "/news/3", "/news/4"]  # the headline is "Article /news/N on ..."
    assert proc.returncode == 1  # one page error in five is over the default max error rate
    # the normal pages were extracted and stored while the slow one was still being extracted
    slow_served = site.served["/slow"]
    records = list(Corpus(open_store(tmp_path / "store")).iter_records())
    assert len(records) == 4
    stored = [datetime.fromisoformat(r["stored_at"].replace("Z", "+00:00")).timestamp() for r in records]
    # stored well before the slow page was given up (the run ends right after that: it is the last page, and at
    # least `timeout` CPU seconds after its extraction began). stored_at is whole seconds (the time truncated, so
    # + 1), the run's end is exact (start + elapsed). The bound used before, served + timeout in wall time, failed
    # on a loaded machine where the workers took seconds to start (stored 3.8 s after it was served); and it did
    # not show concurrency either: the small pages usually arrive first, and it passed with one worker too. What
    # this test shows is that they are not held back until the slow page is given up.
    (report,) = (tmp_path / "store" / "corpus" / "runs").glob("*.json")
    run = json.loads(report.read_text("utf-8"))
    ended = datetime.fromisoformat(run["started_at"]).timestamp() + run["elapsed_seconds"]
    assert ended >= slow_served + timeout
    assert max(stored) + 1 < ended - 1, (ended, stored)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 < 3 * GiB


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_do_not_outlive_a_killed_crawl(site, tmp_path):
    proc = _fetch(tmp_path, [f"{site.url}/slow"], "CORPUS_EXTRACT_TIMEOUT=60", "CORPUS_EXTRACT_MAX_ELEMENTS=0")
    tree: set[int] = set()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(tree) < 2:  # the forkserver and one worker, extracting
            time.sleep(0.2)
            tree = _descendants(proc.pid) if "/slow" in site.served else set()
        assert len(tree) >= 2, "no extraction worker started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(_running(p) for p in tree):
            time.sleep(0.1)
        assert not [p for p in tree if _running(p)]
    finally:
        for pid in tree | {proc.pid}:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()


def test_a_worker_whose_crawl_died_before_its_answer_exits_without_a_traceback(tmp_path):
    """A review killed the crawl (SIGKILL, as the OOM killer does): the worker finished its page, found the pipe
    broken and printed a BrokenPipeError traceback into the crawl's log. It now just exits."""
    code = (
        "import multiprocessing as mp, os\n"
        "from pipelines.extract.workers import _worker_main\n"
        "mine, theirs = mp.Pipe()\n"
        "mine.send(('<html><body><h1>Grain deal</h1><p>' + 'Hanoi and Moscow sign a grain deal. ' * 30 +"
        " '</p></body></html>', 'https://example.org/a'))\n"
        "mine.close()  # the crawl is gone before the answer\n"
        "_worker_main(theirs, os.getpid(), 0, 0, None)\n"
        "print('worker returned')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent, preexec_fn=_limited(3 * GiB))
    assert res.returncode == 0 and res.stdout.strip() == "worker returned", res.stderr[-3000:]
    assert "Traceback" not in res.stderr


def test_no_workers_extracts_in_the_calling_process():
    with ExtractPool(0) as pool:
        result = pool.submit(article("f"), "http://127.0.0.1/f").result(timeout=60)
        assert result.document is not None and not pool._live and pool.started == 0
