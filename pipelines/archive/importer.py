"""Bring a WARC file from another crawler into the corpus (``corpus import-warc``).

``wget --warc-file``, Heritrix, Common Crawl segments, warcio, ...: any WARC warcio reads.  The file
is checked, copied into the raw archive as ``corpus/raw/YYYY/MM/DD/import-<sha256:16>.warc.gz``
(``.warc`` for an uncompressed file; a file gzipped as a whole rather than record by record is
recompressed first, so each record can be read by its offset), once: importing the same file
again finds the copy.  Its HTML responses then go through ``reextract`` (extraction, topic,
near-duplicates, store) like the corpus's own archive.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipelines.archive import spool
from pipelines.archive.reader import NotAWarc, index_warc
from pipelines.archive.reextract import ReextractReport, reextract
from pipelines.archive.writer import RAW_PREFIX

__all__ = ["import_warcs", "copy_in", "check_warc", "Copied", "NotAWarc"]

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Copied:
    source: str
    key: str
    copied: bool              # False: the same file was imported before
    recompressed: bool


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _record_gzipped(path: Path) -> bool:
    """Whether every record is its own gzip member (what random access by offset needs)."""
    good = spool.complete_length(path)
    return good == path.stat().st_size and _members_hold_one_record(path)


def _members_hold_one_record(path: Path) -> bool:
    with open(path, "rb") as fh:
        index = index_warc(fh, path.name)
    return "unreadable rest of file" not in index.skipped


def _recompress(path: Path, out: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    with tempfile.TemporaryFile() as plain:
        with gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, plain, 1 << 20)
        plain.seek(0)
        with open(out, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for record in ArchiveIterator(plain, arc2warc=True):
                writer.write_record(record)


def check_warc(path: str | os.PathLike) -> None:
    """Raise NotAWarc (or OSError) with a clear message unless ``path`` is a WARC file."""
    path = Path(path)
    if not path.is_file():
        raise NotAWarc(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        try:
            from warcio.archiveiterator import ArchiveIterator

            first = next(iter(ArchiveIterator(fh)), None)
            kind = (first.format, first.rec_headers.protocol) if first is not None else None
        except Exception as exc:  # noqa: BLE001 - anything warcio cannot parse
            raise NotAWarc(f"{path}: not a WARC file ({type(exc).__name__}: {str(exc).strip()[:160]})") from None
    if first is None:
        raise NotAWarc(f"{path}: not a WARC file (no record)" + (" (an empty gzip file)" if head == _GZIP_MAGIC else ""))
    if kind[0] != "warc" or not str(kind[1]).startswith("WARC/"):
        raise NotAWarc(f"{path}: not a WARC file (it does not start with a WARC/1.x record)")


def copy_in(store, path: str | os.PathLike) -> Copied:
    """Copy the WARC file at ``path`` into the raw archive (once); where it is."""
    path = Path(path)
    check_warc(path)
    with tempfile.TemporaryDirectory(prefix="corpus-import-") as tmp:
        source, recompressed = path, False
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == _GZIP_MAGIC
        if gzipped and not _record_gzipped(path):
            source, recompressed = Path(tmp) / "recompressed.warc.gz", True
            try:
                _recompress(path, source)
            except Exception as exc:  # noqa: BLE001 - a damaged file: said, nothing imported
                raise NotAWarc(f"{path}: a gzipped WARC that cannot be read whole "
                               f"({type(exc).__name__}: {str(exc)[:160]})") from None
        digest = _sha256(source)[:16]
        name = f"import-{digest}{'.warc.gz' if gzipped else '.warc'}"
        known = [k for k in store.list(RAW_PREFIX) if k.rsplit("/", 1)[-1] == name]
        if known:
            return Copied(os.fspath(path), known[0], False, recompressed)
        key = f"{RAW_PREFIX}{datetime.now(timezone.utc):%Y/%m/%d}/{name}"
        spool.publish(store, key, source, keep=True)
        return Copied(os.fspath(path), key, True, recompressed)


def import_warcs(store, paths, *, outlet: str | None = None, **reextract_args) -> tuple[list[Copied], ReextractReport]:
    """Check every file first (a bad one imports nothing), copy each into the raw archive, then
    store the newest response of each URL across them (``reextract`` on these files)."""
    for path in paths:
        check_warc(path)
    copies = [copy_in(store, path) for path in paths]
    report = reextract(store, keys=[c.key for c in copies], assign_outlet=outlet, **reextract_args)
    return copies, report
