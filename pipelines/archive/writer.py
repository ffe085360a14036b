"""Append fetches to WARC files ``corpus/raw/YYYY/MM/DD/<run>-<n>.warc.gz``, rotated by size.

One :class:`WarcArchive` per run.  The first record of each file is a ``warcinfo``; each fetch
adds a ``response`` (or, for ``304 Not Modified``, a ``revisit``) and its ``request``, each record
its own gzip member.  ``append`` returns where the response record is (``file``: the store key,
known before the file is published; ``offset``, ``length``: its gzip member), so the corpus record
can say where its raw page is.  A file is published whole (see ``spool.py``) when it passes
``max_bytes`` and when the run closes the archive.

Not thread-safe by design: the crawler calls it from one worker thread.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipelines.archive import spool
from pipelines.archive.records import CORPUS_HEADERS, RecordMaker, warc_date
from pipelines.store import StoreError

__all__ = ["WarcArchive", "RAW_PREFIX", "DEFAULT_MAX_BYTES", "warc_key"]

log = logging.getLogger(__name__)

RAW_PREFIX = "corpus/raw/"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024


def warc_key(run_id: str, n: int, when: datetime | None = None) -> str:
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{RAW_PREFIX}{when:%Y/%m/%d}/{run_id}-{n:05d}.warc.gz"


def _warcio_version() -> str:
    try:
        return version("warcio")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


def _headers(meta: dict | None) -> dict:
    """Our WARC-Corpus-* headers from page facts (``outlet``, ``requested_url``, ``replayed``, ...)."""
    out = {}
    for field, header in CORPUS_HEADERS.items():
        value = (meta or {}).get(field)
        if value is True:
            out[header] = "true"
        elif value:
            out[header] = str(value)
    return out


class WarcArchive:
    def __init__(self, store, *, spool_dir: str | Path | None = None, run_id: str | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, info: dict | None = None):
        self.store = store
        self.spool_dir = Path(spool_dir) if spool_dir else spool.default_spool_dir(store)
        self.run_id = run_id
        self.max_bytes = max(int(max_bytes), 1)
        self.info = dict(info or {})
        self.maker = RecordMaker()
        self.current: spool.SpoolFile | None = None
        self.n = 0
        self.published: list[str] = []
        self.failed: list[tuple[str, Path]] = []  # closed but not yet published (store down)
        self.counts = {"responses": 0, "revisits": 0, "bytes": 0, "payload_bytes": 0}
        self._lock = threading.Lock()

    # -- files -----------------------------------------------------------------------------
    def _open(self) -> spool.SpoolFile:
        if self.run_id is None:
            self.run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.n += 1
        key = warc_key(self.run_id, self.n)
        current = spool.SpoolFile(self.spool_dir, key)
        info = {
            "software": self.info.pop("software", None) or f"warcio/{_warcio_version()}",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.run_id,
            **self.info,
        }
        self.info["software"] = info["software"]
        member = self.maker.warcinfo(key.rsplit("/", 1)[1], info)
        current.append(member)
        self.counts["bytes"] += len(member)
        self.current = current
        return current

    def _rotate_if_full(self) -> None:
        if self.current is not None and self.current.size >= self.max_bytes:
            try:
                self._finish()
            except StoreError:
                pass  # kept in self.failed: retried at close, else recovered by the next run

    def _finish(self) -> str | None:
        current, self.current = self.current, None
        if current is None:
            return None
        current.close()
        try:
            spool.publish(self.store, current.key, current.path)
        except StoreError as exc:
            self.failed.append((current.key, current.path))
            log.error("WARC %s not published (kept in %s for the next run): %s", current.key, current.path, exc)
            raise
        self.published.append(current.key)
        return current.key

    # -- records ------------------------------------------------------------------------------
    def append(self, capture: dict, *, fetched_at: str | None = None, meta: dict | None = None) -> dict:
        """Archive one fetch (response + request); where its response record is."""
        date = warc_date(fetched_at)
        response, request = self.maker.response(capture, date, _headers(meta))
        with self._lock:
            loc = self._write(response, request)
            self.counts["responses"] += 1
            self.counts["payload_bytes"] += len(capture.get("body") or b"")
            self._rotate_if_full()
        return loc

    def revisit(self, capture: dict, *, refers_to_uri: str, refers_to_date: str | None = None,
                fetched_at: str | None = None, meta: dict | None = None) -> dict:
        """Archive a fetch answered ``304 Not Modified`` as a ``revisit`` record (server-not-modified)."""
        date = warc_date(fetched_at)
        refers = warc_date(refers_to_date) if refers_to_date else None
        record, request = self.maker.revisit(capture, date, refers_to_uri, refers, _headers(meta))
        with self._lock:
            loc = self._write(record, request)
            self.counts["revisits"] += 1
            self._rotate_if_full()
        return loc

    def _write(self, first: bytes, second: bytes) -> dict:
        current = self.current or self._open()
        offset = current.append(first + second)
        self.counts["bytes"] += len(first) + len(second)
        return {"file": current.key, "offset": offset, "length": len(first)}

    def close(self) -> list[str]:
        """Publish the open file and retry any that failed; the keys published by this run."""
        with self._lock:
            error, earlier = None, list(self.failed)
            try:
                self._finish()
            except StoreError as exc:
                error = exc
            for key, path in earlier:
                if not path.exists():
                    self.failed.remove((key, path))
                    continue
                try:
                    spool.publish(self.store, key, path)
                    self.failed.remove((key, path))
                    self.published.append(key)
                except StoreError as exc:
                    error = exc
            if error is not None:
                raise error
            return list(self.published)
