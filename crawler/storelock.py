"""The store's lock around the commands that write its shared state (``pipelines/store/lock.py``).

``crawl``, ``demo``, ``fetch``, ``reextract``, ``import-warc`` and ``dedup --rebuild`` run inside
``held(args, command)``; a run that finds the lock held raises ``LockHeld``, which ``corpus``
turns into exit 75 (``crawler/exitcodes.py``, LOCKED) before anything is requested. Read-only
commands (export, check, diff, manifest) never take it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager

log = logging.getLogger(__name__)


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    from crawler.commands.common import positive_seconds

    parser.add_argument("--wait-lock", type=positive_seconds, metavar="SECONDS",
                        help="when another run holds the store, wait up to SECONDS for it (default: exit 75 at once)")


def lease_seconds(args) -> float:
    """CORPUS_STORE_LOCK_LEASE from the settings (settings.py, environment, ``-s``)."""
    from crawler.commands.common import scrapy_overrides, seconds_setting
    from crawler.runner import project_settings

    return seconds_setting(project_settings(scrapy_overrides(getattr(args, "set", None))), "CORPUS_STORE_LOCK_LEASE")


def _stop_this_run(holder: dict) -> None:
    """The lock went to another run (this one was taken for dead): stop, as on SIGTERM (exit 5)."""
    print("corpus: the store's lock was taken over by another run: stopping this one", file=sys.stderr)
    os.kill(os.getpid(), signal.SIGTERM)


class RunLock:
    """The store's lock held in the name of a crawl shared through Redis (``corpus crawl --redis``):
    ``run_id`` is the shared run's, so its workers join the lock instead of being locked out, while any
    other run is kept out. The lock object names no pid (``pid`` null): every live worker renews it, and
    another run takes it over only when nobody renewed it for a lease (a worker's death on the same host
    does not free it). The last worker to leave the run deletes it; the others only stop renewing."""

    @staticmethod
    def make(store, *, command: str, lease: float, shared, on_lost):
        from pipelines.store.lock import StoreLock

        class _RunLock(StoreLock):
            def _body(self, now: float) -> bytes:
                self.me = {**self.me, "pid": None, "pid_start": None}
                body = json.loads(super()._body(now))
                body.update(redis_run=shared.run_id, redis_prefix=shared.prefix, worker=shared.worker_id)
                return json.dumps(body, sort_keys=True).encode() + b"\n"

            def leave(self) -> None:
                self._stop.set()
                if self._thread is not None and self._thread is not threading.current_thread():
                    self._thread.join(timeout=10)
                self.held = False

        return _RunLock(store, command=f"{command} --redis", run_id=f"redis-{shared.run_id}", lease=lease,
                        on_lost=on_lost)


@contextmanager
def held(args, command: str, *, shared=None):
    """Hold the lock of ``args.store`` while the block runs (renewed by a heartbeat, deleted at the end).
    ``shared`` (a ``pipelines.crawl.shared_run.SharedRun``): held in the name of the shared run, deleted
    by its last worker."""
    from pipelines.store import open_store
    from pipelines.store.lock import StoreLock

    store = open_store(args.store, retries=3, retry_seconds=10.0)
    if shared is None:
        lock = StoreLock(store, command=command, lease=lease_seconds(args), on_lost=_stop_this_run)
    else:
        lock = RunLock.make(store, command=command, lease=lease_seconds(args), shared=shared, on_lost=_stop_this_run)
    lock.acquire(wait=getattr(args, "wait_lock", None) or 0.0)
    if shared is not None and lock.held:
        lock.renew()  # this worker's host and renewal time in the lock object
    try:
        if lock.taken_over:
            old, why = lock.taken_over
            print(f"corpus: took over the store's lock from run {old.get('run_id', '?')} "
                  f"(pid {old.get('pid', '?')} on {old.get('host', '?')}): {why}", file=sys.stderr)
        lock.start_heartbeat()
        yield lock
    finally:
        if shared is not None and _others_stay(shared):
            lock.leave()  # other workers of the run go on: they renew it, the last one deletes it
        else:
            lock.release()


def _others_stay(shared) -> bool:
    """Whether other workers are still in the shared run once this one left (Redis away: taken to be so,
    and the lock, no longer renewed by this worker, is freed a lease after the last renewal)."""
    try:
        return shared.leave(requeue=True) > 0
    except Exception as exc:  # noqa: BLE001
        log.error("redis: could not leave the shared run: %s", exc)
        return True
