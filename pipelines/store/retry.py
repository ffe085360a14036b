"""A store that retries: each operation that fails with a transient ``StoreError`` (the endpoint
unreachable, a timeout, a cut connection, a 5xx) is tried again with exponential backoff, within a
number of tries and a time budget, so a store outage of a few seconds costs a crawl nothing.

When an operation still fails after its tries, the store is taken to be down for the next ``budget``
seconds: an operation then fails at once without trying (a crawl whose store went away, or hangs,
spools page after page at once instead of waiting the budget out for each). The first operation
after that period tries again, with retries; its success ends it.

Errors that another try cannot mend (a missing bucket, denied access, a bad key) go through at once.
Writes are idempotent (a PUT of the same bytes under the same key; ``write_if_absent`` answers
False when an earlier try did create the key, and the corpus treats that as done), so a try whose
answer was lost is safe to repeat.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from pipelines.store.base import BlobStore, StoreError

__all__ = ["RetryPolicy", "RetryingStore", "call_with_retries", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 8            # tries after the first
    budget: float = 30.0        # seconds from the first try after which no new try starts
    first_delay: float = 0.25   # doubles after each failed try ...
    max_delay: float = 5.0      # ... up to this

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        for _ in range(max(0, self.retries)):
            yield delay
            delay = min(self.max_delay, delay * 2)


class RetryingStore(BlobStore):
    """Wraps a BlobStore; ``once`` is the store without retries (for callers that must not wait)."""

    def __init__(self, inner: BlobStore, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.once = inner
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.retried = 0   # tries repeated, for the run's stats
        self.down_until = 0.0  # monotonic time until which the store is taken to be down
        self.last_error = ""

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        start = time.monotonic()
        if start < self.down_until:
            error = StoreError(f"{self.describe()} is taken to be down for {self.down_until - start:.0f} s more "
                               f"({what} not tried; last error: {self.last_error})")
            error.transient = True
            raise error
        delays = self.policy.delays()
        while True:
            try:
                result = fn()
                self.down_until = 0.0
                return result
            except StoreError as exc:
                if not getattr(exc, "transient", False):
                    raise
                delay = next(delays, None)
                spent = time.monotonic() - start
                if delay is None or spent + delay > self.policy.budget:
                    log.error("store: %s still fails after %.1f s: taken to be down for %.0f s",
                              what, spent, self.policy.budget)
                    self.down_until = time.monotonic() + self.policy.budget
                    self.last_error = str(exc)[:200]
                    raise
                self.retried += 1
                log.warning("store: %s failed (%s): trying again in %.2g s", what, str(exc)[:200], delay)
                self._sleep(delay)

    def read(self, key: str) -> bytes | None:
        return self._call(f"read {key}", lambda: self.once.read(key))

    def write(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self._call(f"write {key}", lambda: self.once.write(key, data, content_type=content_type))

    def write_if_absent(self, key: str, data: bytes, *, content_type: str | None = None) -> bool:
        return self._call(f"create {key}",
                          lambda: self.once.write_if_absent(key, data, content_type=content_type))

    def exists(self, key: str) -> bool:
        return self._call(f"check {key}", lambda: self.once.exists(key))

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", lambda: self.once.delete(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        return self._call(f"list {prefix}", lambda: list(self.once.list(prefix))).__iter__()

    def check(self) -> None:
        self._call("check the store", self.once.check)

    def clean_temps(self) -> int:
        return self.once.clean_temps()

    def describe(self) -> str:
        return self.once.describe()

    def __getattr__(self, name):  # backend specifics (root, bucket, prefix, client...)
        if name == "once":
            raise AttributeError(name)
        return getattr(self.once, name)


def with_retries(store: BlobStore, retries: int | None = None, seconds: float | None = None) -> BlobStore:
    """``store`` wrapped in a RetryingStore (``retries`` 0: the store as it is)."""
    policy = RetryPolicy(**{k: v for k, v in (("retries", retries), ("budget", seconds)) if v is not None})
    if policy.retries <= 0 or isinstance(store, RetryingStore):
        return store
    return RetryingStore(store, policy)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, what: str = "store operation",
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, tried again like a RetryingStore operation while it raises a transient StoreError (for
    callers that need the store's own type, such as publishing a WARC file)."""
    start, delays = time.monotonic(), policy.delays()
    while True:
        try:
            return fn()
        except StoreError as exc:
            delay = next(delays, None)
            if not getattr(exc, "transient", False) or delay is None or \
                    time.monotonic() - start + delay > policy.budget:
                raise
            log.warning("store: %s failed (%s): trying again in %.2g s", what, str(exc)[:200], delay)
            sleep(delay)
