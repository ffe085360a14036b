"""Blob store in a local folder: atomic writes via temp file + fsync + os.replace.

A temp file is named ``.~tmp-w-<host>-<pid>-<random>``: a writer killed halfway (SIGKILL, power
loss) leaves it behind, and ``clean_temps`` (run when a crawl starts) removes it once its writer is
gone (same host, pid no longer running) or it is older than a day (another host, or an older name);
a live writer's temp file is never touched. ``.~tmp-warc-*`` files are WARC spool files
(``pipelines/archive/spool.py`` recovers them) and are left alone.
"""
from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator

from pipelines.store.base import BlobStore, StoreError, check_key

TMP_PREFIX = ".~tmp-"
WRITER_PREFIX = TMP_PREFIX + "w-"
SPOOL_PREFIX = TMP_PREFIX + "warc-"     # WARC spool files: pipelines/archive/spool.py
STALE_SECONDS = 24 * 3600               # a temp file this old is stale whoever wrote it
TRANSIENT_ERRNOS = {errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ESTALE, errno.EINTR}
_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:60] or "host"


def _error(msg: str, exc: OSError) -> StoreError:
    error = StoreError(msg)
    error.transient = exc.errno in TRANSIENT_ERRNOS
    return error


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def stale_temp(name: str, age: float, host: str = _HOST) -> bool:
    """Whether a temp file of this name and age (seconds) was left by a writer that is gone."""
    if not name.startswith(TMP_PREFIX) or name.startswith(SPOOL_PREFIX):
        return False
    if age > STALE_SECONDS:
        return True
    if name.startswith(WRITER_PREFIX):
        parts = name[len(WRITER_PREFIX):].rsplit("-", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit():
            return not _pid_alive(int(parts[1]))
    return False


class LocalStore(BlobStore):
    """Keys map to files under `root`; parent folders are created on write."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store path {self.root} exists and is not a folder")

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _temp(self, path: Path, data: bytes) -> str:
        """Write data to a fsynced temp file beside path; return its name."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{WRITER_PREFIX}{_HOST}-{os.getpid()}-", dir=path.parent)
        except OSError as exc:
            raise _error(f"cannot write under {path.parent}: {exc}", exc) from exc
        try:
            _write_fd(fd, data)
            os.chmod(tmp, 0o644)
        except OSError as exc:  # a full disk (ENOSPC), a quota, a read-only remount: the store failed
            _unlink(tmp)
            raise _error(f"cannot write under {path.parent}: {exc}", exc) from exc
        except BaseException:
            _unlink(tmp)
            raise
        return tmp

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            return None
        except OSError as exc:
            raise _error(f"cannot read {self._path(key)}: {exc}", exc) from exc

    def write(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        path = self._path(key)
        tmp = self._temp(path, bytes(data))
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink(tmp)
            raise _error(f"cannot write {path}: {exc}", exc) from exc

    def write_if_absent(self, key: str, data: bytes, *, content_type: str | None = None) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        tmp = self._temp(path, bytes(data))
        try:
            os.link(tmp, path)  # atomic create-only: fails if path exists
            return True
        except FileExistsError:
            return False
        except OSError:  # filesystem without hard links: exclusive create
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            except OSError as exc:
                raise _error(f"cannot write {path}: {exc}", exc) from exc
            try:
                _write_fd(fd, data)
            except OSError as exc:
                _unlink(str(path))
                raise _error(f"cannot write {path}: {exc}", exc) from exc
            return True
        finally:
            _unlink(tmp)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            raise _error(f"cannot delete {self._path(key)}: {exc}", exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = self.root.joinpath(*base.split("/")) if base else self.root
        keys = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            rel = "" if rel == "." else rel + "/"
            for name in filenames:
                key = rel + name
                if not name.startswith(TMP_PREFIX) and key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.root}: {exc}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(f"the store folder {self.root} is not writable")

    def clean_temps(self) -> int:
        """Remove the temp files of writers that are gone (see the module docstring)."""
        removed, now = 0, time.time()
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d != ".warc-spool"]
            for name in filenames:
                if not name.startswith(TMP_PREFIX):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    age = now - os.lstat(path).st_mtime
                except OSError:
                    continue
                if stale_temp(name, age):
                    try:
                        os.unlink(path)
                        removed += 1
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        raise _error(f"cannot remove the stale temp file {path}: {exc}", exc) from exc
        return removed

    def describe(self) -> str:
        return str(self.root)


def _write_fd(fd: int, data: bytes) -> None:
    """Write data to an open file descriptor, flushed and fsynced, and close it."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
