"""One run per store: a lock object in the store, leased, renewed while the run lasts.

The lock is ``state/lock.json``: who holds it (host, pid, the process's start time, boot id), the
run and command, when it was taken and last renewed, and the lease (seconds). It is created only if
absent (local: exclusive create under a folder ``flock``; S3: ``PUT`` with ``If-None-Match: *``),
renewed every quarter lease by a heartbeat thread, and deleted when the run ends, whatever the end.

A holder that died leaves its lock behind; the next run takes it over:

- same host (and same boot): at once when the holder's pid is gone, a zombie, or now another
  process (its start time differs);
- another host (or an unknown start time): when the lease has passed since the last renewal
  (clocks of the hosts are taken to agree within a fraction of the lease).

Every change of the lock object is a compare-and-swap, so of two runs racing to take a stale lock
exactly one wins: local, the read-compare-write runs under an exclusive ``flock`` of the lock's
folder; S3, a conditional ``PUT`` (``If-Match`` on the ETag read; ``If-None-Match: *`` to create)
and a conditional ``DELETE``. On S3 the winner reads the lock back after a short pause, so a server
that checks a condition and writes in two steps (moto does) still gives one winner.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable

from pipelines.store.base import BlobStore, StoreError

__all__ = ["LOCK_KEY", "DEFAULT_LEASE", "LockHeld", "StoreLock", "holder_gone", "process_identity"]

log = logging.getLogger(__name__)

LOCK_KEY = "state/lock.json"
DEFAULT_LEASE = 180.0       # seconds after the last renewal when a holder on another host is taken to be gone
S3_CONFIRM_SECONDS = 1.0    # pause before an S3 winner reads the lock back (a server whose conditional
                            # PUT is not atomic, as moto under load, can land a losing write 0.3 s late)


class LockHeld(Exception):
    """Another live run holds the store's lock. ``holder``: the lock object (dict)."""

    def __init__(self, holder: dict, where: str = ""):
        self.holder = holder
        super().__init__(describe_holder(holder, where))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).replace(microsecond=0).isoformat()


def describe_holder(holder: dict, where: str = "", now: float | None = None) -> str:
    now = time.time() if now is None else now
    renewed = holder.get("renewed")
    ago = f", renewed {max(0.0, now - float(renewed)):.0f} s ago" if isinstance(renewed, (int, float)) else ""
    store = f" of {where}" if where else ""
    who, free = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}", ""
    if holder.get("pid") is None and holder.get("redis_run"):
        # a crawl shared through Redis holds it in the run's name (no pid: every live worker renews it)
        who = (f"a crawl shared through Redis, last renewed by worker {holder.get('worker', '?')} "
               f"on {holder.get('host', '?')}")
        lease = holder.get("lease_seconds")
        free = f"; free once no worker renews it for {float(lease):.0f} s" if isinstance(lease, (int, float)) else ""
    return (f"the store{store} is locked by another run: run {holder.get('run_id', '?')} "
            f"({holder.get('command') or '?'}, {who}) since {holder.get('acquired_at', '?')}{ago}{free}")


# --- who runs ---------------------------------------------------------------------------------
def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None (no /proc, no such pid)."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), as text; None when unknown."""
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def boot_id() -> str | None:
    text = _read_text("/proc/sys/kernel/random/boot_id")
    return text.strip() if text else None


def process_identity(pid: int | None = None) -> dict:
    """host, pid, pid_start, boot_id of a process of this host (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return {"host": socket.gethostname(), "pid": pid, "pid_start": process_start(pid), "boot_id": boot_id()}


def pid_state(pid: int, start: str | None) -> str | None:
    """Why a process of this host named by pid and start time is gone, or None while it runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"its process {pid} is gone"
    except PermissionError:
        pass  # it runs, as another user
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return f"its process {pid} is gone"
    fields = _proc_stat(pid)
    if fields and fields[0] == "Z":
        return f"its process {pid} is gone (a zombie)"
    if start and fields and len(fields) > 19 and fields[19] != start:
        return f"its pid {pid} is now another process"
    return None


def holder_gone(holder: dict, now: float | None = None, me: dict | None = None) -> str | None:
    """Why the holder of a lock object is gone (a reason to take the lock over), or None if it may live."""
    now = time.time() if now is None else now
    me = me or process_identity()
    if not isinstance(holder, dict) or "host" not in holder or "pid" not in holder:
        return "the lock object is unreadable"
    same_host = holder.get("host") == me["host"]
    if same_host and holder.get("boot_id") and me.get("boot_id") and holder["boot_id"] != me["boot_id"]:
        return "its host has restarted since"
    if same_host and isinstance(holder.get("pid"), int):
        return pid_state(holder["pid"], holder.get("pid_start"))
    try:
        renewed, lease = float(holder["renewed"]), float(holder.get("lease_seconds") or DEFAULT_LEASE)
    except (KeyError, TypeError, ValueError):
        return "the lock object names no renewal time"
    if now - renewed > lease:
        return f"its lease expired (renewed {now - renewed:.0f} s ago, lease {lease:g} s)"
    return None


# --- compare-and-swap on one key, per backend ---------------------------------------------------
class _Cas:
    """read() -> (bytes | None, version); create/replace/delete -> whether this call did it."""

    confirm = 0.0

    def __init__(self, store: BlobStore, key: str):
        self.store, self.key = store, key

    def read(self):
        data = self.store.read(self.key)
        return data, data

    def create(self, data: bytes) -> bool:
        return self.store.write_if_absent(self.key, data)

    def replace(self, data: bytes, version) -> bool:  # not atomic: only for stores of another kind
        if self.store.read(self.key) != version:
            return False
        self.store.write(self.key, data)
        return True

    def delete(self, version) -> bool:
        if self.store.read(self.key) != version:
            return False
        self.store.delete(self.key)
        return True


class _LocalCas(_Cas):
    """A local folder: every change under an exclusive flock of the lock's folder."""

    def __init__(self, store, key):
        super().__init__(store, key)
        self.path = store.root.joinpath(*key.split("/"))

    @contextmanager
    def _guard(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StoreError(f"cannot open the lock's folder {self.path.parent}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _digest(self):
        data = self.store.read(self.key)
        return data, (hashlib.sha256(data).hexdigest() if data is not None else None)

    def read(self):
        return self._digest()

    def create(self, data):
        with self._guard():
            if self.store.read(self.key) is not None:
                return False
            self.store.write(self.key, data)
            return True

    def replace(self, data, version):
        with self._guard():
            if self._digest()[1] != version or version is None:
                return False
            self.store.write(self.key, data)
            return True

    def delete(self, version):
        with self._guard():
            if self._digest()[1] != version or version is None:
                return False
            self.store.delete(self.key)
            return True


class _S3Cas(_Cas):
    """S3: conditional PUT and DELETE on the ETag."""

    confirm = S3_CONFIRM_SECONDS
    TAKEN = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict", "404", "NoSuchKey", "NotFound"}

    def _call(self, action: str, **kw) -> bool:
        store = self.store
        try:
            getattr(store.client, action)(Bucket=store.bucket, Key=store._key(self.key), **kw)
            return True
        except Exception as exc:
            if store._code(exc) in self.TAKEN:
                return False
            raise store._fail(action.replace("_object", ""), self.key, exc) from exc

    def read(self):
        store = self.store
        try:
            got = store.client.get_object(Bucket=store.bucket, Key=store._key(self.key))
            return got["Body"].read(), got.get("ETag")
        except Exception as exc:
            if store._code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None, None
            raise store._fail("read", self.key, exc) from exc

    def create(self, data):
        return self._call("put_object", Body=data, ContentType="application/json", IfNoneMatch="*")

    def replace(self, data, version):
        return bool(version) and self._call("put_object", Body=data, ContentType="application/json",
                                            IfMatch=version)

    def delete(self, version):
        return bool(version) and self._call("delete_object", IfMatch=version)


def _cas_for(store: BlobStore, key: str) -> _Cas:
    from pipelines.store.local import LocalStore
    from pipelines.store.retry import RetryingStore
    from pipelines.store.s3 import S3Store

    inner = store.once if isinstance(store, RetryingStore) else store
    if isinstance(inner, LocalStore):
        return _LocalCas(inner, key)
    if isinstance(inner, S3Store):
        return _S3Cas(inner, key)
    return _Cas(inner, key)


# --- the lock -------------------------------------------------------------------------------------
class StoreLock:
    """The lock of one store for one run: ``acquire()`` (raises LockHeld), ``start_heartbeat()``,
    ``release()``; or ``with StoreLock(store, ...):``. ``taken_over``: (old holder, why) when the
    lock was taken from a holder that was gone. ``on_lost`` is called (once, from the heartbeat
    thread) if the lock is found in another run's hands while this one runs."""

    def __init__(self, store: BlobStore, *, command: str = "", run_id: str | None = None,
                 lease: float = DEFAULT_LEASE, key: str = LOCK_KEY, on_lost: Callable[[dict], None] | None = None,
                 clock: Callable[[], float] = time.time):
        if not lease > 0:
            raise ValueError(f"the lock's lease must be more than 0 seconds, not {lease!r}")
        self.store, self.key, self.command, self.lease = store, key, command, float(lease)
        self.run_id = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
        self.on_lost, self.clock = on_lost, clock
        self.cas = _cas_for(store, key)
        self.me = process_identity()
        self.acquired_at: float | None = None
        self.held = False
        self.lost = False
        self.taken_over: tuple[dict, str] | None = None
        self.holder: dict | None = None   # the other run's lock object, when acquire failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self, now: float) -> bytes:
        started = self.acquired_at or now
        return json.dumps({"version": 1, **self.me, "run_id": self.run_id, "command": self.command,
                           "acquired_at": _iso(started), "acquired": started, "renewed_at": _iso(now),
                           "renewed": now, "lease_seconds": self.lease}, sort_keys=True).encode() + b"\n"

    @staticmethod
    def _parse(data: bytes) -> dict:
        try:
            obj = json.loads(data)
        except ValueError:
            return {}
        return obj if isinstance(obj, dict) else {}

    def _ours(self, data: bytes | None) -> bool:
        return data is not None and self._parse(data).get("run_id") == self.run_id

    def _confirm(self) -> bool:
        if self.cas.confirm:
            time.sleep(self.cas.confirm)
            data, _ = self.cas.read()
            if not self._ours(data):
                self.holder = self._parse(data) if data else None
                return False
        self.held = True
        return True

    def try_acquire(self) -> bool:
        """Take the lock if it is free or its holder is gone; False (``holder`` set) if a live run holds it."""
        if self.held:
            return True
        for _ in range(5):
            data, version = self.cas.read()
            now = self.clock()
            self.acquired_at = now
            if data is None:
                if self.cas.create(self._body(now)):
                    return self._confirm()
                continue  # another run created it first: look at it
            holder = self._parse(data)
            if holder.get("run_id") == self.run_id:
                self.held = True
                return True
            why = holder_gone(holder, now, self.me)
            if why is None:
                self.holder = holder
                return False
            if self.cas.replace(self._body(now), version):
                if not self._confirm():
                    return False
                self.taken_over = (holder, why)
                log.warning("store lock: took over %s from run %s (pid %s on %s): %s", self.key,
                            holder.get("run_id", "?"), holder.get("pid", "?"), holder.get("host", "?"), why)
                return True
            # another run changed it first: look again
        data, _ = self.cas.read()
        self.holder = self._parse(data) if data else {}
        return False

    def acquire(self, wait: float = 0.0, poll: float | None = None) -> "StoreLock":
        """Take the lock, waiting up to ``wait`` seconds for it; raises LockHeld when it stays held."""
        deadline = time.monotonic() + max(0.0, wait)
        poll = poll or min(5.0, max(0.2, wait / 20))
        while not self.try_acquire():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockHeld(self.holder or {}, self.store.describe())
            time.sleep(min(poll, left))
        return self

    def renew(self) -> bool:
        """Push the lease on; False (and ``lost``) if another run holds the lock now."""
        for _ in range(3):
            data, version = self.cas.read()
            if not self._ours(data):
                self._lose(self._parse(data) if data else {})
                return False
            if self.cas.replace(self._body(self.clock()), version):
                return True
        return False  # changed between our read and write each time: looked at again at the next beat

    def _lose(self, holder: dict) -> None:
        if self.lost:
            return
        self.lost, self.held = True, False
        self._stop.set()
        log.error("store lock: %s is no longer this run's (%s)", self.key,
                  describe_holder(holder, self.store.describe()) if holder else "it was deleted")
        if self.on_lost:
            self.on_lost(holder)

    def _beat(self) -> None:
        interval = self.lease / 4
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
            except StoreError as exc:  # tried again at the next beat; the lease leaves room for three
                log.warning("store lock: could not renew %s: %s", self.key, exc)

    def start_heartbeat(self) -> None:
        if self._thread is None and self.held:
            self._thread = threading.Thread(target=self._beat, name="store-lock-heartbeat", daemon=True)
            self._thread.start()

    def release(self) -> bool:
        """Stop renewing and delete the lock if it is still this run's; True when it was deleted."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if not self.held:
            return False
        self.held = False
        try:
            data, version = self.cas.read()
            return self._ours(data) and self.cas.delete(version)
        except StoreError as exc:
            log.warning("store lock: could not delete %s (the next run takes it over): %s", self.key, exc)
            return False

    def __enter__(self) -> "StoreLock":
        self.acquire()
        self.start_heartbeat()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
