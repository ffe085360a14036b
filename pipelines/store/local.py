"""Blob store in a local folder: atomic writes via temp file + fsync + os.replace."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

from pipelines.store.base import BlobStore, StoreError, check_key

TMP_PREFIX = ".~tmp-"


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
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
        except OSError as exc:
            raise StoreError(f"cannot write under {path.parent}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
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
            raise StoreError(f"cannot read {self._path(key)}: {exc}") from exc

    def write(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        path = self._path(key)
        tmp = self._temp(path, bytes(data))
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink(tmp)
            raise StoreError(f"cannot write {path}: {exc}") from exc

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
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
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
            raise StoreError(f"cannot delete {self._path(key)}: {exc}") from exc

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

    def describe(self) -> str:
        return str(self.root)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
