"""Pages fetched while the store was down: kept locally, stored at the start of the next run.

When the store still fails after its retries (``pipelines/store/retry.py``), the crawl's Store stage
puts the page here instead of losing it: one gzipped JSON file per page with the response as
fetched (headers' facts and body, base64), the extracted document and the stage's extras (topic
score, WARC location). The folder is per store (a hash of where the store is), so a run on another
store never picks it up::

    $XDG_STATE_HOME/asean-russia-corpus/pending/<sha256(store, endpoint)[:16]>/<sha256(url)[:24]>.json.gz

(or ``CORPUS_STORE_SPOOL``). The next run on the store ingests each file before it crawls
(``replay``: build the record, deduplicate, ``Corpus.put``) and deletes it once stored. The ingest
is idempotent: a page stored already (by an earlier try whose answer was lost) is ``unchanged`` and
writes nothing, so nothing is written twice. The same URL spooled twice keeps the newest fetch.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["PendingSpool", "Replayed", "default_pending_dir"]

log = logging.getLogger(__name__)
SUFFIX = ".json.gz"
VERSION = 1


def store_name(store) -> str:
    """What tells stores apart: where the store is and, for S3, at which endpoint (the same bucket name
    on MinIO and on AWS is not the same store)."""
    try:
        endpoint = getattr(store, "endpoint_url", "") or ""
    except Exception:  # noqa: BLE001 - no client can be made: the name alone
        endpoint = ""
    return f"{store.describe()} {endpoint}".strip()


def default_pending_dir(store) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    tag = hashlib.sha256(store_name(store).encode("utf-8")).hexdigest()[:16]
    return Path(base) / "asean-russia-corpus" / "pending" / tag


@dataclass
class Replayed:
    outcomes: dict[str, int] = field(default_factory=dict)   # ingest outcome -> pages
    left: int = 0                                           # still spooled (the store failed again)
    broken: list[str] = field(default_factory=list)         # unreadable files, moved aside (``.broken``)
    error: Exception | None = None                          # the store error that stopped the replay

    @property
    def stored(self) -> int:
        return sum(self.outcomes.values())


class PendingSpool:
    def __init__(self, folder: str | os.PathLike, store_name: str = ""):
        self.folder = Path(folder)
        self.store_name = store_name

    @classmethod
    def for_store(cls, store, folder: str | os.PathLike | None = None) -> "PendingSpool":
        return cls(folder or default_pending_dir(store), store_name(store))

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file())

    def __len__(self) -> int:
        return len(self.files())

    def put(self, page: dict, document: dict, extra: dict | None, extractor: dict) -> Path:
        """Keep one page (atomically: a kill leaves the old file or the new one). Returns its path."""
        url = page.get("requested_url") or page["url"]
        body = page.get("body") or b""
        raw = {k: v for k, v in page.items() if k != "body"}
        entry = {"version": VERSION, "store": self.store_name, "page": raw,
                 "body_base64": base64.b64encode(bytes(body)).decode("ascii"),
                 "document": document, "extra": extra or {}, "extractor": extractor}
        data = gzip.compress(json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{hashlib.sha256(url.encode('utf-8')).hexdigest()[:24]}{SUFFIX}"
        fd, tmp = tempfile.mkstemp(prefix=".~tmp-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    @staticmethod
    def load(path: Path) -> dict:
        entry = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        entry["page"]["body"] = base64.b64decode(entry.pop("body_base64", "") or "")
        return entry

    def replay(self, store_one: Callable[[dict], str]) -> Replayed:
        """Store every spooled page with ``store_one(entry) -> outcome``; a file goes once stored. A
        StoreError stops the replay: the rest stays for the next run (``left``, ``error``)."""
        from pipelines.store import StoreError

        done = Replayed()
        files = self.files()
        for n, path in enumerate(files):
            try:
                entry = self.load(path)
            except (OSError, ValueError, KeyError) as exc:
                log.error("pending page %s is unreadable (%s): moved aside", path, exc)
                try:
                    os.replace(path, path.with_name(path.name + ".broken"))
                except OSError:
                    pass
                done.broken.append(str(path))
                continue
            try:
                outcome = store_one(entry)
            except StoreError as exc:
                done.left, done.error = len(files) - n, exc
                break
            except Exception as exc:  # noqa: BLE001 - a page this version cannot ingest: kept aside, said
                log.exception("pending page %s could not be stored: moved aside", path)
                try:
                    os.replace(path, path.with_name(path.name + ".broken"))
                except OSError:
                    pass
                done.broken.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            done.outcomes[outcome] = done.outcomes.get(outcome, 0) + 1
            path.unlink(missing_ok=True)
        return done
