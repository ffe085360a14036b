"""Blob store interface shared by the local-folder and S3 backends."""
from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from typing import Iterator

CONTENT_TYPES = {
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".gz": "application/gzip",
}


class StoreError(Exception):
    """A store operation failed (unreachable endpoint, denied access, bad key...).

    ``transient``: trying again may help (an unreachable endpoint, a timeout, a 5xx), as opposed to a
    missing bucket, denied access or a bad key (``pipelines/store/retry.py`` retries only the first)."""

    transient = False


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative "/"-separated path, else raise StoreError."""
    if not isinstance(key, str) or not key:
        raise StoreError(f"invalid store key {key!r}: must be a non-empty string")
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or "\x00" in key or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"invalid store key {key!r}: must be a relative path without '', '.', '..' parts")
    return key


def guess_content_type(key: str) -> str:
    """Content type for a key, from its extension."""
    return CONTENT_TYPES.get(posixpath.splitext(key)[1].lower(), "application/octet-stream")


class BlobStore(ABC):
    """Keys are "/"-separated relative paths such as "corpus/docs/abc.json"."""

    @abstractmethod
    def read(self, key: str) -> bytes | None:
        """Bytes stored under key, or None if missing."""

    @abstractmethod
    def write(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Store data atomically: readers see the old or the new bytes, never a part."""

    @abstractmethod
    def write_if_absent(self, key: str, data: bytes, *, content_type: str | None = None) -> bool:
        """Create key with data only if it does not exist; False if it already existed."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether key exists."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove key; no error if it is missing."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with prefix (plain string prefix, like S3), sorted."""

    def check(self) -> None:
        """Raise StoreError unless the store can be used now (the folder can be written, the bucket
        exists and answers). Run before a crawl so a missing store fails fast, not page by page."""
        self.exists("seeds/INDEX.md")

    def clean_temps(self) -> int:
        """Remove temporary files that a killed writer left behind; returns how many."""
        return 0

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for humans (never credentials)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"
