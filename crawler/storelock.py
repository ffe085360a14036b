"""The store's lock around the commands that write its shared state (``pipelines/store/lock.py``).

``crawl``, ``demo``, ``fetch``, ``reextract``, ``import-warc`` and ``dedup --rebuild`` run inside
``held(args, command)``; a run that finds the lock held raises ``LockHeld``, which ``corpus``
turns into exit 75 (``crawler/exitcodes.py``, LOCKED) before anything is requested. Read-only
commands (export, check, diff, manifest) never take it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from contextlib import contextmanager

log = logging.getLogger(__name__)


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    from crawler.commands.common import positive_seconds

    parser.add_argument("--wait-lock", type=positive_seconds, metavar="SECONDS",
                        help="when another run holds the store, wait up to SECONDS for it (default: exit 75 at once)")


def lease_seconds(args) -> float:
    """CORPUS_STORE_LOCK_LEASE from the settings (settings.py, environment, ``-s``)."""
    from crawler.commands.common import UsageError, scrapy_overrides
    from crawler.runner import project_settings

    value = project_settings(scrapy_overrides(getattr(args, "set", None))).get("CORPUS_STORE_LOCK_LEASE")
    try:
        lease = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"CORPUS_STORE_LOCK_LEASE takes a number of seconds, not {value!r}") from None
    if not lease > 0:
        raise UsageError(f"CORPUS_STORE_LOCK_LEASE must be more than 0 seconds, not {value!r}")
    return lease


def _stop_this_run(holder: dict) -> None:
    """The lock went to another run (this one was taken for dead): stop, as on SIGTERM (exit 5)."""
    print("corpus: the store's lock was taken over by another run: stopping this one", file=sys.stderr)
    os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def held(args, command: str):
    """Hold the lock of ``args.store`` while the block runs (renewed by a heartbeat, deleted at the end)."""
    from pipelines.store import open_store
    from pipelines.store.lock import StoreLock

    lock = StoreLock(open_store(args.store, retries=3, retry_seconds=10.0), command=command,
                     lease=lease_seconds(args), on_lost=_stop_this_run)
    lock.acquire(wait=getattr(args, "wait_lock", None) or 0.0)
    try:
        if lock.taken_over:
            old, why = lock.taken_over
            print(f"corpus: took over the store's lock from run {old.get('run_id', '?')} "
                  f"(pid {old.get('pid', '?')} on {old.get('host', '?')}): {why}", file=sys.stderr)
        lock.start_heartbeat()
        yield lock
    finally:
        lock.release()
