"""A leased lock on one Redis key, for one near-duplicate decision at a time across processes and machines.

``SET key token NX PX lease`` takes it (``token`` random per holder); a Lua compare-and-delete releases it
and a Lua compare-and-expire renews it, so a holder never releases or extends a lock that is no longer its
own. While it is held a daemon thread renews it every third of the lease: a live holder keeps it however
long its store writes take, a holder killed with SIGKILL (or frozen) stops renewing and the lease expires,
so nobody waits for it longer than the lease. One Redis server (the scripts name one key each).

API::

    RedisLock(client, key, lease=10.0, wait=120.0)
    acquire() -> float (seconds waited; DedupLockTimeout after ``wait``); release() -> bool (still ours)
    renew() -> bool; held (bool: taken and not known lost); token (bytes)
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid

from pipelines.store.base import StoreError

__all__ = ["RedisLock", "DedupLockTimeout", "LockLost"]

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class DedupLockTimeout(StoreError):
    """The shared near-duplicate lock stayed held by a live worker past the wait: the page is spooled."""

    transient = True


class LockLost(StoreError):
    """The lease ran out while this worker held the lock (it froze longer than the lease): another worker
    may have taken it, so this page's decision is not written (the page is spooled)."""

    transient = True


class RedisLock:
    def __init__(self, client, key: str, lease: float = 10.0, wait: float = 120.0) -> None:
        if lease <= 0:
            raise ValueError("lease must be > 0 seconds")
        self.client, self.key, self.lease, self.wait = client, key, float(lease), float(wait)
        self.token = b""
        self.held = False
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._cond = threading.Condition()
        self._beat: threading.Thread | None = None
        self._closed = False

    @property
    def lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))

    def acquire(self) -> float:
        """Take the lock, waiting while another holder has it; returns the seconds waited."""
        token = uuid.uuid4().hex.encode("ascii")
        start = time.monotonic()
        pause = 0.0005
        while not self.client.set(self.key, token, nx=True, px=self.lease_ms):
            waited = time.monotonic() - start
            if waited > self.wait:
                raise DedupLockTimeout(f"the near-duplicate lock {self.key} stayed held for {waited:.0f} s")
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.01)
        with self._cond:
            self.token, self.held = token, True
            self._start_beat()
            self._cond.notify_all()
        return time.monotonic() - start

    def renew(self) -> bool:
        """Extend the lease if the lock is still ours; False (and ``held`` False) when it is not."""
        if not self.held:
            return False
        ok = bool(self._renew(keys=[self.key], args=[self.token, self.lease_ms]))
        if not ok:
            self.held = False
            log.error("the near-duplicate lock %s was lost (its lease of %.1f s ran out)", self.key, self.lease)
        return ok

    def release(self) -> bool:
        """Give the lock back; False when it was no longer ours (the lease had run out)."""
        with self._cond:
            was, token = self.held, self.token
            self.held, self.token = False, b""
            self._cond.notify_all()
        if not token:
            return False
        ours = bool(self._release(keys=[self.key], args=[token]))
        if was and not ours:
            log.error("the near-duplicate lock %s had expired before it was released", self.key)
        return ours

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _start_beat(self) -> None:
        if self._beat is None or not self._beat.is_alive():
            self._beat = threading.Thread(target=self._heartbeat, name="dedup-lock-heartbeat", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        """Renew every third of the lease while held; idle (no Redis traffic) while not."""
        with self._cond:
            while not self._closed:
                if not self.held:
                    self._cond.wait()
                    continue
                token = self.token
                self._cond.wait(self.lease / 3)
                if self._closed or not self.held or self.token != token:
                    continue
                try:
                    self.renew()
                except Exception as exc:  # noqa: BLE001 - Redis unreachable: the next append finds out
                    log.warning("renewing the near-duplicate lock failed: %s", exc)
