"""Where a WARC file lives while it is written, and how it reaches the store whole.

A WARC file being written is a *spool file*: for a local store in the store's own folder
(``<store>/.warc-spool/``), for S3 in a local folder (``$XDG_STATE_HOME/asean-russia-corpus/
warc-spool/<store>/``), or wherever ``CORPUS_WARC_SPOOL`` says.  Its name carries the store key it
will have (``.~tmp-warc-corpus%2Fraw%2F...warc.gz.open``; the ``.~tmp-`` prefix keeps it out of
``LocalStore.list``).  The writer holds an exclusive ``flock`` on it, so another run on the same
store leaves it alone.  When the file is closed it is *published*: renamed into place (local) or
uploaded as one object (S3, multipart for big files, visible only when complete).

A run killed halfway leaves its spool file behind.  ``recover`` (called when the next run starts,
before it writes anything) trims each unlocked leftover to its last complete gzip member (a
record cut off by the kill is dropped; every record a stored page points to was complete and
flushed before that page was stored) and publishes it under the key it was always going to have.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from urllib.parse import quote, unquote

from pipelines.store import LocalStore, S3Store, StoreError
from pipelines.store.local import TMP_PREFIX

__all__ = ["SpoolFile", "complete_length", "default_spool_dir", "publish", "recover", "local_copy",
           "WARC_CONTENT_TYPE"]

log = logging.getLogger(__name__)

WARC_CONTENT_TYPE = "application/warc"
_PREFIX = TMP_PREFIX + "warc-"
_OPEN, _NEW = ".open", ".new"
_CHUNK = 1 << 20


def default_spool_dir(store) -> Path:
    """The spool folder of ``store`` (see the module docstring)."""
    if isinstance(store, LocalStore):
        return store.root / ".warc-spool"
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    tag = hashlib.sha256(store.describe().encode("utf-8")).hexdigest()[:16]
    return Path(base) / "asean-russia-corpus" / "warc-spool" / tag


def spool_path(spool_dir: Path, key: str) -> Path:
    return Path(spool_dir) / f"{_PREFIX}{quote(key, safe='')}{_OPEN}"


def key_of(path: Path) -> str | None:
    name = path.name
    if not (name.startswith(_PREFIX) and name.endswith(_OPEN)):
        return None
    return unquote(name[len(_PREFIX):-len(_OPEN)])


class SpoolFile:
    """An open, locked spool file: append whole members, read its size."""

    def __init__(self, spool_dir: Path, key: str):
        self.key = key
        self.path = spool_path(spool_dir, key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_name(self.path.name[:-len(_OPEN)] + _NEW)
        fd = os.open(fresh, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(fresh, self.path)  # locked before it has the name recovery looks for
        except BaseException:
            os.close(fd)
            _unlink(fresh)
            raise
        self.fd = fd
        self.size = 0

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end (to the OS: a kill -9 afterwards loses nothing); its offset."""
        offset = self.size
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)
        return offset

    def close(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)  # releases the lock
            self.fd = None


def complete_length(path: str | os.PathLike) -> int:
    """Bytes of ``path`` that are whole gzip members each holding a WARC record."""
    good = pos = 0
    d, head = zlib.decompressobj(zlib.MAX_WBITS + 16), b""
    with open(path, "rb") as fh:
        while True:
            data = fh.read(_CHUNK)
            if not data:
                return good
            while data:
                try:
                    out = d.decompress(data)
                except zlib.error:
                    return good
                if len(head) < 5 and out:
                    head += out[: 5 - len(head)]
                    if not b"WARC/".startswith(head):
                        return good
                if d.eof:
                    used = len(data) - len(d.unused_data)
                    pos += used
                    if head != b"WARC/":
                        return good
                    good = pos
                    data = d.unused_data
                    d, head = zlib.decompressobj(zlib.MAX_WBITS + 16), b""
                else:
                    pos += len(data)
                    data = b""


def publish(store, key: str, path: str | os.PathLike, *, keep: bool = False) -> None:
    """Put the file at ``path`` into ``store`` under ``key``, whole or not at all; the local file
    is gone afterwards (unless ``keep``)."""
    path = Path(path)
    if isinstance(store, LocalStore):
        target = store.root.joinpath(*key.split("/"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not keep and os.stat(path).st_dev == os.stat(target.parent).st_dev:
                os.replace(path, target)
                return
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc}") from exc
    elif isinstance(store, S3Store):
        try:
            store.client.upload_file(os.fspath(path), store.bucket, store._key(key),
                                     ExtraArgs={"ContentType": WARC_CONTENT_TYPE})
        except StoreError:
            raise
        except Exception as exc:
            raise store._fail("write", key, exc) from exc
    else:  # any other BlobStore: one atomic write
        store.write(key, path.read_bytes(), content_type=WARC_CONTENT_TYPE)
    if not keep:
        _unlink(path)


def local_copy(store, key: str, folder: str | os.PathLike) -> Path:
    """A local file with the bytes of ``key``: the file itself for a local store, else a download
    into ``folder``."""
    if isinstance(store, LocalStore):
        path = store.root.joinpath(*key.split("/"))
        if not path.is_file():
            raise StoreError(f"{key} is not in the store {store.describe()}")
        return path
    target = Path(folder) / quote(key, safe="")
    if isinstance(store, S3Store):
        try:
            store.client.download_file(store.bucket, store._key(key), os.fspath(target))
        except Exception as exc:
            raise store._fail("read", key, exc) from exc
        return target
    data = store.read(key)
    if data is None:
        raise StoreError(f"{key} is not in the store {store.describe()}")
    target.write_bytes(data)
    return target


def recover(store, spool_dir: str | os.PathLike) -> list[dict]:
    """Finalise the spool files a killed run left behind: trim, publish. One dict per file
    (``key``, ``bytes``, ``trimmed``: bytes of a cut-off record dropped)."""
    folder = Path(spool_dir)
    if not folder.is_dir():
        return []
    done = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(_PREFIX) and path.name.endswith(_NEW):
            _drop_unlocked(path)  # created, never used: a kill between create and rename
            continue
        key = key_of(path)
        if key is None:
            continue
        try:
            fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another run is writing it
            size = os.fstat(fd).st_size
            good = complete_length(path)
            if good < size:
                os.ftruncate(fd, good)
                os.fsync(fd)
                log.warning("WARC spool %s: %d bytes of a cut-off record dropped", path.name, size - good)
            if good == 0:
                _unlink(path)
                continue
            publish(store, key, path)
            log.info("WARC %s recovered from a run that stopped halfway (%d bytes)", key, good)
            done.append({"key": key, "bytes": good, "trimmed": size - good})
        finally:
            os.close(fd)
    return done


def _drop_unlocked(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _unlink(path)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
