"""Extraction in worker processes, each page under a budget of time and memory.

``ExtractPool(workers, timeout, max_memory).submit(html, url, charset, min_words, topic_terms=..., fetched=...)``
returns a ``concurrent.futures.Future`` of a ``PageResult`` (picklable): the listing check
(``pipelines/extract/listing.py``), ``try_extract`` (its dates judged against ``fetched``, the capture's time)
and, given ``topic_terms`` (``""``: the bundled terms),
the topic score of the article (``pipelines/extract/topic.py``) run on the page's markup, capped first
(``pipelines/extract/markup.py``), in a worker process that

- runs under an address-space limit (``RLIMIT_AS = max_memory``): a page that needs more gets a
  ``MemoryError`` (or dies in C code), and its result says ``extraction budget exceeded (memory 1.5 GiB)``;
- has ``timeout`` seconds of CPU time per page (``RLIMIT_CPU`` moved on before each page; a wall-clock
  backstop of three times that plus 5 s in the parent): past it the worker is killed and the result says
  ``extraction budget exceeded (time 20 s)``.

A worker over budget is replaced by a fresh one at the next page. Workers start lazily (a one-off
``corpus fetch`` of one page starts one), from a ``forkserver`` that has the extraction modules
loaded, so a new worker costs a fork rather than an import of trafilatura. They exit when the pool is
closed, when their pipe to the parent closes and, on Linux, when their parent process dies
(``PR_SET_PDEATHSIG``; the forkserver itself exits when the crawl does), so a crawl killed with SIGKILL
leaves no worker behind.

``workers=0`` extracts in the calling process, on one thread, without a process budget (the markup cap
still applies). Pure: no scrapy, no twisted.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import resource
import signal
import sys
import threading
import time
import types
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

__all__ = ["PageResult", "ExtractPool", "extract_page", "budget_reason", "default_workers"]

logger = logging.getLogger(__name__)

PRELOAD = ["pipelines.extract.workers", "pipelines.extract.extractor", "pipelines.extract.listing",
           "pipelines.extract.markup", "pipelines.extract.topic", "pipelines.extract.language_model"]  # the last: the language model, shared
BUDGET = "extraction budget exceeded"


@dataclass
class PageResult:
    """What extraction made of one page.

    ``listing``: the listing check called it a listing page (not extracted); else ``document`` and
    ``reason`` as ``try_extract`` returns them; ``error``: a message when extraction failed
    (``budget`` True: the page went over its budget of time or memory). ``seconds``: wall time in the
    worker; ``stripped``/``cut``: bytes the markup cap removed; ``peak_rss``: the worker's peak memory;
    ``topic``: the article's topic score (``TopicScore.to_dict()``) when scoring was asked and succeeded.
    """

    listing: bool = False
    document: object | None = None
    reason: str | None = None
    error: str | None = None
    budget: bool = False
    seconds: float = 0.0
    stripped: int = 0
    cut: int = 0
    peak_rss: int = 0  # the worker's peak resident memory so far, bytes (0: in the calling process)
    topic: dict | None = None


def default_workers() -> int:
    """The machine's cores (those this process may run on)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _size(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def budget_reason(kind: str, limit: float) -> str:
    """``extraction budget exceeded (time 20 s)`` / ``(memory 1.5 GiB)``."""
    what = f"time {limit:g} s" if kind == "time" else f"memory {_size(int(limit))}"
    return f"{BUDGET} ({what})"


_TOPIC_CONFIGS: dict = {}


def _topic_config(terms: str):
    """The topic terms of ``terms`` (a file, ``""`` the bundled ones), loaded once per process."""
    from pipelines.extract.topic import load_config

    if terms not in _TOPIC_CONFIGS:
        _TOPIC_CONFIGS[terms] = load_config(terms or None)
    return _TOPIC_CONFIGS[terms]


def extract_page(html: bytes | str, url: str, charset: str | None = None, min_words: int | None = None,
                 listing: bool = True, topic_terms: str | None = None, fetched: str | None = None,
                 max_elements: int | None = None) -> PageResult:
    """Listing check, extraction and (``topic_terms`` not None) topic scoring of one page, on its capped
    markup (what a worker runs). A scoring failure leaves ``topic`` None: the caller scores then. ``fetched``:
    when the page was fetched (ISO), the day its dates are judged against (``try_extract``)."""
    from pipelines.extract.extractor import try_extract
    from pipelines.extract.listing import listing_verdict
    from pipelines.extract.markup import MAX_ELEMENTS, cap_markup

    start = time.perf_counter()
    capped = None
    if isinstance(html, bytes):
        capped = cap_markup(html, max_elements=MAX_ELEMENTS if max_elements is None else max_elements)
        html = capped.html
    out = PageResult(stripped=capped.stripped if capped else 0, cut=capped.cut if capped else 0)
    if listing:
        try:
            out.listing = listing_verdict(html, url).listing
        except MemoryError:
            raise
        except Exception:  # never let the check stop an article: extraction decides then
            logger.exception("listing check failed on %s", url)
    if not out.listing:
        try:
            result = try_extract(html, url, headers_charset=charset, min_words=min_words, fetched=fetched)
            out.document, out.reason = result.document, result.reason
        except MemoryError:
            raise
        except Exception as exc:  # a bug or a pathological page: an error with its reason
            logger.exception("extraction failed on %s", url)
            out.error = f"{type(exc).__name__}: {str(exc)[:120]}"
    if out.document is not None and topic_terms is not None:
        from pipelines.extract.topic import score

        try:
            out.topic = score(out.document.title, out.document.text, _topic_config(topic_terms)).to_dict()
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - the caller scores it again, and fails there with its reason
            logger.exception("topic scoring failed on %s", url)
    out.seconds = time.perf_counter() - start
    return out


# --- the worker process ------------------------------------------------------------------------
def _die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux); elsewhere the pipe's EOF ends it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_main(conn, crawl_pid: int, max_memory: int, timeout: float, max_elements: int | None) -> None:
    _die_with_parent()  # the parent: the forkserver, which exits when the crawl does
    if os.getppid() == 1 or not _alive(crawl_pid):  # it died before PR_SET_PDEATHSIG was set
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the crawl, which closes the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a worker killed over budget leaves no core file
    if max_memory:
        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        if timeout:  # SIGXCPU (terminates) after `timeout` more seconds of CPU
            soft = math.ceil(_cpu_seconds() + timeout)
            if cpu_hard == resource.RLIM_INFINITY or soft < cpu_hard:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
        try:
            result = extract_page(*task, max_elements=max_elements)
            result.peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except MemoryError:
            result = None
        try:
            try:
                conn.send(result)
            except MemoryError:
                conn.send(None)
        except OSError:  # the crawl is gone (killed: a broken pipe); nobody to answer, and no traceback to print
            return
        if result is None:  # over the memory budget: exit, a fresh worker takes the next page
            return


# --- the pool ----------------------------------------------------------------------------------
_CONTEXT = None
_START = threading.Lock()


def _context():
    """A forkserver with the extraction modules loaded (spawn where there is no forkserver)."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
        else:
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _without_main(start) -> None:
    """``start()`` with a bare ``__main__``: the forkserver and the workers need only the extraction
    modules, not the CLI's (scrapy), which multiprocessing would import again in each of them."""
    with _START:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            start()
        finally:
            sys.modules["__main__"] = main


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, pool: "ExtractPool"):
        ctx = _context()
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, name="corpus-extract", daemon=True,
                                   args=(child, os.getpid(), pool.max_memory, pool.timeout, pool.max_elements))
        _without_main(self.process.start)
        child.close()

    def stop(self, wait: float = 2.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(wait)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class ExtractPool:
    """Worker processes that extract pages, each page under a budget (see the module)."""

    def __init__(self, workers: int | None = None, timeout: float = 20.0, max_memory: int = 3 * 2**29,
                 max_elements: int | None = None):
        self.workers = default_workers() if workers is None else max(0, int(workers))
        self.timeout = float(timeout or 0)
        self.max_memory = int(max_memory or 0)
        self.max_elements = max_elements
        self.wall = self.timeout * 3 + 5 if self.timeout else None
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._inline: ThreadPoolExecutor | None = None
        self.started = 0  # worker processes started (replacements included)

    # -- the API -------------------------------------------------------------------------------
    def submit(self, html: bytes | str, url: str, charset: str | None = None, min_words: int | None = None,
               listing: bool = True, topic_terms: str | None = None, fetched: str | None = None) -> Future:
        """A future of the page's ``PageResult`` (never an exception for a bad page); ``topic_terms``
        not None: the article's topic score too (``""``: the bundled terms)."""
        if self._closed:
            raise RuntimeError("extraction pool is closed")
        task = (html, url, charset, min_words, listing, topic_terms, fetched)
        if self.workers == 0:
            with self._lock:
                if self._inline is None:
                    self._inline = ThreadPoolExecutor(1, thread_name_prefix="corpus-extract")
            return self._inline.submit(self._run_inline, task)
        future: Future = Future()
        self._tasks.put((future, task))
        with self._lock:
            if len(self._threads) < self.workers and self._tasks.qsize() > self._idle():
                thread = threading.Thread(target=self._slot, name=f"corpus-extract-{len(self._threads)}",
                                          daemon=True)
                thread.idle = False
                self._threads.append(thread)
                thread.start()
        return future

    def warm(self) -> None:
        """Start the forkserver now (it loads the extraction modules while the crawl starts up);
        workers still start at the first page."""
        if self.workers and _context().get_start_method() == "forkserver":
            from multiprocessing import forkserver

            _without_main(forkserver.ensure_running)

    def close(self, wait: float = 5.0) -> None:
        """Stop the workers (pages still queued are cancelled; a page still extracted after ``wait``
        seconds ends as an error)."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                future, _ = self._tasks.get_nowait()
            except queue.Empty:
                break
            future.cancel()
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker in list(self._live):
            worker.kill()
        if self._inline is not None:
            self._inline.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- inside ---------------------------------------------------------------------------------
    def _idle(self) -> int:
        return sum(1 for t in self._threads if t.idle)

    def _run_inline(self, task) -> PageResult:
        try:
            return extract_page(*task, max_elements=self.max_elements)
        except MemoryError:
            return PageResult(error=f"{BUDGET} (memory)", budget=True)

    def _slot(self) -> None:
        me = threading.current_thread()
        worker: _Worker | None = None
        try:
            while True:
                me.idle = True
                item = self._tasks.get()
                me.idle = False
                if item is None:
                    return
                future, task = item
                if not future.set_running_or_notify_cancel():
                    continue
                if worker is None or not worker.process.is_alive():
                    worker = self._start()
                try:
                    result, worker = self._run(worker, task)
                except Exception as exc:  # noqa: BLE001 - the pool itself failed: this page's error
                    logger.exception("extraction worker failed on %s", task[1])
                    result = PageResult(error=f"worker failed ({type(exc).__name__}: {str(exc)[:120]})")
                    worker = self._drop(worker)
                future.set_result(result)
        finally:
            if worker is not None:
                self._live.discard(worker)
                worker.stop()

    def _start(self) -> _Worker:
        worker = _Worker(self)
        self._live.add(worker)
        self.started += 1
        return worker

    def _drop(self, worker: _Worker | None) -> None:
        if worker is not None:
            self._live.discard(worker)
            worker.kill()
        return None

    def _run(self, worker: _Worker, task) -> tuple[PageResult, _Worker | None]:
        worker.conn.send(task)
        try:
            ready = worker.conn.poll(self.wall)
            result = worker.conn.recv() if ready else "wall"
        except (EOFError, OSError):  # the worker died: killed by its limits (or from outside)
            result = "died"
        if isinstance(result, PageResult):
            return result, worker
        code = worker.process.exitcode
        if result == "wall":
            return PageResult(error=budget_reason("time", self.timeout), budget=True), self._drop(worker)
        self._drop(worker)
        code = worker.process.exitcode if code is None else code
        if code == -signal.SIGXCPU or (result == "died" and code == -signal.SIGKILL and not self.max_memory):
            return PageResult(error=budget_reason("time", self.timeout), budget=True), None
        if result is None or self.max_memory:  # MemoryError, or died in C code for want of memory
            why = budget_reason("memory", self.max_memory) if self.max_memory else f"{BUDGET} (memory)"
            if result == "died" and code not in (None, 0):
                logger.warning("extraction worker died (exit %s) on %s", code, task[1])
            return PageResult(error=why, budget=True), None
        return PageResult(error=f"extraction worker died (exit {code})"), None
