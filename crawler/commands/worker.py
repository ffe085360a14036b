"""``corpus worker``: a standing worker that joins every crawl a scheduler starts on Redis.

A crawl shared through Redis (``corpus crawl --redis URL``, ``crawler/distributed.py``) is started by
whoever runs that command first: a CronJob, a systemd timer, the compose scheduler.  ``corpus worker``
is the other side, for a worker Deployment or a compose service with N replicas: it waits until the
store has a run in progress on Redis, joins it as ``corpus crawl [CRAWL ARGS]`` with the URL in its
environment (a child process: a Scrapy crawl runs once per process), and when that crawl exits waits for
the next run (a worker never joins the run it has just left: it could only seed it again). The child
joins that run or none (``CORPUS_REDIS_JOIN_RUN``): a standing worker never starts a run itself; it
crawls the run's outlets (its starter's).

    corpus worker [--redis URL] [--poll SECONDS] [--once] [-- CRAWL ARGS ...]

The store and everything else come from the crawl arguments and the environment, as for ``corpus
crawl``.  Exit status: ``--once`` returns the crawl's; otherwise the worker runs until stopped
(SIGTERM/SIGINT: the crawl in progress is stopped the same way, its requests go back to the queue,
exit 5), or until Redis has not answered for ``--redis-timeout`` seconds (exit 3, store).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from crawler import exitcodes


def register(sub) -> None:
    parser = sub.add_parser("worker", help="wait for crawls started on Redis and join each (a standing worker)")
    parser.add_argument("--redis", metavar="URL", default=os.environ.get("CORPUS_REDIS_URL", ""),
                        help="Redis of the shared crawl (default: $CORPUS_REDIS_URL)")
    parser.add_argument("--poll", type=float, default=5.0, metavar="SECONDS",
                        help="how often to look for a run in progress (default 5)")
    parser.add_argument("--once", action="store_true", help="join one run, then exit with its status")
    parser.add_argument("--redis-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="exit 3 when Redis has not answered for this long (default 300)")
    parser.add_argument("crawl_args", nargs=argparse.REMAINDER, metavar="-- CRAWL ARGS",
                        help="arguments of `corpus crawl` (outlets, --store, -s ...)")
    parser.set_defaults(func=run, check_store=False)


def crawl_args_of(args) -> list[str]:
    extra = list(args.crawl_args or [])
    return extra[1:] if extra[:1] == ["--"] else extra


def store_of(crawl_args: list[str]) -> str:
    """The store the crawl would use (its own parser: --store, -s CORPUS_STORE, $CORPUS_STORE), after
    checking the arguments as the crawl will (outlet names, settings): a typo is exit 2 now, not at
    every run."""
    from crawler.commands import crawl
    from crawler.commands.common import check_settings, scrapy_overrides
    from crawler.runner import project_settings
    from pipelines.crawl.registry import load_registry

    parser = argparse.ArgumentParser(prog="corpus worker --")
    crawl.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["crawl", *crawl_args])
    overrides = scrapy_overrides(parsed.set)
    check_settings(project_settings(overrides), overrides)
    registry = load_registry(parsed.registry or overrides.get("CORPUS_REGISTRY") or os.environ.get("CORPUS_REGISTRY"))
    for name in parsed.outlets:
        registry.get(name)  # RegistryError: exit 2
    return overrides.get("CORPUS_STORE") or parsed.store


def _nap(seconds: float, stopped) -> None:
    """Sleep up to ``seconds``, waking within a tenth of a second once ``stopped()`` is true."""
    end = time.monotonic() + seconds
    while not stopped() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


def _wait_child(proc: subprocess.Popen, stopped, grace: float = 120.0) -> int:
    """The crawl's exit status; once stopped, it has ``grace`` seconds to put its requests back, then is killed."""
    deadline = None
    while True:
        try:
            return proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if not stopped():
                continue
            deadline = deadline or time.monotonic() + grace
            if time.monotonic() > deadline:
                proc.kill()
                return proc.wait()


def run(args) -> int:
    import redis

    from crawler.commands.common import UsageError
    from crawler.distributed import redis_client, shown_url
    from pipelines.crawl.shared_run import store_prefix

    if not args.redis:
        raise UsageError("corpus worker needs --redis URL (or CORPUS_REDIS_URL)")
    if not args.poll > 0 or not args.redis_timeout > 0:
        raise UsageError("--poll and --redis-timeout take a number of seconds over 0")
    crawl_args = crawl_args_of(args)
    store = store_of(crawl_args)
    run_key = f"{store_prefix(store)}:run"
    client = redis_client(args.redis, socket_timeout=10, socket_connect_timeout=10)
    shown = shown_url(args.redis)
    exe = [sys.executable, "-m", "crawler.cli"]
    # the URL (a password, maybe) goes to the crawl in its environment, never on a command line
    child_env = dict(os.environ, CORPUS_REDIS_URL=args.redis)
    child: list[subprocess.Popen] = []

    stopped: list[str] = []  # the stop signals received, if any
    is_stopped = lambda: bool(stopped)  # noqa: E731

    def stop(signum, frame):
        # Only noted, never raised: an exception raised here is dropped when the signal lands in an import's
        # module-lock callback or a __del__ (redis-py imports idna, hmac, secrets on its first command), and
        # the worker then polled on for ever (a CI run saw it). The loop below looks at the note instead.
        stopped.append(signal.Signals(signum).name)
        for proc in child:
            if proc.poll() is None:
                proc.send_signal(signum)

    left: str | None = None      # the run this worker last crawled in: not joined again
    failing_since: float | None = None
    say = lambda msg: print(f"corpus worker: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    old = {}
    try:
        for s in (signal.SIGTERM, signal.SIGINT):
            old[s] = signal.signal(s, stop)
        say(f"waiting for runs of {store} on Redis ({run_key})")
        while not stopped:
            try:
                current = client.get(run_key)
                failing_since = None
            except redis.RedisError as exc:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > args.redis_timeout:
                    say(f"exit {exitcodes.STORE} (store): Redis at {shown} has not answered for "
                        f"{args.redis_timeout:g} s: {exc}")
                    return exitcodes.STORE
                _nap(args.poll, is_stopped)
                continue
            current = current.decode() if isinstance(current, bytes) else current
            if current is None or current == left:
                if left is not None and current is None:
                    left = None  # that run ended: the next one is new whatever its id
                _nap(args.poll, is_stopped)
                continue
            if stopped:  # the stop came while Redis answered (a slow GET): start no crawl
                break
            say(f"joining run {current}")
            # its own process group: a Ctrl-C in a terminal signals the whole foreground group, and the crawl
            # would get it twice (from the terminal, then forwarded), which Scrapy reads as "stop now, uncleanly"
            proc = subprocess.Popen([*exe, "crawl", *crawl_args, "-s", f"CORPUS_REDIS_JOIN_RUN={current}"],
                                    env=child_env, process_group=0)
            child[:] = [proc]
            if stopped and proc.poll() is None:  # stopped between the check above and the child's start
                proc.send_signal(signal.Signals[stopped[0]])
            code = _wait_child(proc, is_stopped)
            child.clear()
            say(f"run {current}: corpus crawl exited {code}")
            if stopped:
                break
            if args.once:
                return code
            left = current
        say(f"exit {exitcodes.INTERRUPTED} (interrupted): stopped by {stopped[0]}")
        return exitcodes.INTERRUPTED
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        client.close()
