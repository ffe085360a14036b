"""Export a corpus as one file: JSON Lines or Parquet, one row per document, streamed.

``export(source, out, format="jsonl"|"parquet", include_duplicates=False, one_per_story=False,
changed_since=None, ...)``:

* rows: the canonical documents (``duplicate_of`` unset) unless ``include_duplicates``; with
  ``one_per_story`` one document per same-story cluster (``same_story``) and every record alone in
  its story, as :meth:`CorpusReader.records` chooses it; with ``changed_since=RUN`` only the records
  whose stored version changed after that run; other filters as in :meth:`CorpusReader.records`
  (outlet, language, since, until, same_story);
* JSON Lines: one record per line in its JSON form (``schema.to_json``, as in ``corpus/docs/<id>.json``,
  on one line), which pandas, pyarrow, DuckDB and Hugging Face ``datasets`` read without options;
* Parquet: the record form typed by ``schema.arrow_schema()`` (lists, nested structs, nulls), written
  by pyarrow in row groups of ``row_group_size`` rows (fewer when the texts are long), so memory holds
  one row group, never the corpus; zstd-compressed; the schema version is in the file's metadata;
* a file is written beside its final name and renamed into place when complete: a failed or
  interrupted export leaves no partial file (and an earlier export at that path untouched).

Fields the schema does not know (kept in a record read from an odd store) are not exported.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipelines.corpus.reader import Changed, CorpusReader, open_corpus
from pipelines.corpus.schema import NAMES, arrow_schema, to_json

__all__ = ["export", "ExportResult", "FORMATS", "ROW_GROUP_ROWS", "ROW_GROUP_BYTES"]

FORMATS = ("jsonl", "parquet")
ROW_GROUP_ROWS = 5000
ROW_GROUP_BYTES = 64 * 1024 * 1024  # a row group is closed early when its texts reach this


@dataclass
class ExportResult:
    rows: int = 0
    path: str | None = None                              # None: written to a stream
    format: str = "jsonl"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason) of unreadable records
    changed: Changed | None = None

    def summary(self) -> str:
        where = self.path or "standard output"
        line = f"exported {self.rows} record{'s' if self.rows != 1 else ''} as {self.format} to {where}"
        if self.changed is not None:
            line += f" ({self.changed})"
        if self.skipped:
            line += f"; {len(self.skipped)} record{'s' if len(self.skipped) != 1 else ''} could not be read"
        return line


def _rows(reader: CorpusReader, include_duplicates: bool, one_per_story: bool, changed_since, filters: dict):
    for rec in reader.records(canonical_only=not include_duplicates, one_per_story=one_per_story,
                              changed_since=changed_since, **filters):
        yield {name: rec[name] for name in NAMES}


def _jsonl(rows, sink: IO[bytes]) -> int:
    n = 0
    for rec in rows:
        sink.write(json.dumps(to_json(rec), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
        n += 1
    return n


def _table(batch: list[dict], schema):
    """A row group's table, built column by column (much faster than ``Table.from_pylist``)."""
    import pyarrow as pa

    return pa.Table.from_arrays([pa.array([rec[f.name] for rec in batch], type=f.type) for f in schema],
                                schema=schema)


def _parquet(rows, sink, row_group_size: int) -> int:
    import pyarrow.parquet as pq

    schema = arrow_schema()
    n = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        batch, size = [], 0
        for rec in rows:
            batch.append(rec)
            size += len(rec.get("text") or "") + len(rec.get("description") or "")
            if len(batch) >= row_group_size or size >= ROW_GROUP_BYTES:
                writer.write_table(_table(batch, schema), row_group_size=len(batch))
                n += len(batch)
                batch, size = [], 0
        if batch or n == 0:
            writer.write_table(_table(batch, schema), row_group_size=max(1, len(batch)))
            n += len(batch)
    return n


def export(source, out: str | os.PathLike | IO[bytes] | None = None, *, format: str = "jsonl",
           include_duplicates: bool = False, one_per_story: bool = False, changed_since: str | None = None,
           row_group_size: int = ROW_GROUP_ROWS, **filters) -> ExportResult:
    """Write the corpus ``source`` (a reader, a store spec or path) to ``out`` (a path, a binary
    stream; None: standard output, JSON Lines only). Returns what was written."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if row_group_size < 1:
        raise ValueError("row_group_size must be at least 1")
    if one_per_story and include_duplicates:
        raise ValueError("one document per story leaves near-duplicate copies out: not with include_duplicates")
    reader = source if isinstance(source, CorpusReader) else open_corpus(source)
    errors_before = len(reader.errors)
    if changed_since:
        reader.changed_since(changed_since)  # an unknown run fails here, before any file is made
    result = ExportResult(format=format, changed=reader.last_changed if changed_since else None)
    rows = _rows(reader, include_duplicates, one_per_story, changed_since, filters)
    write = (lambda sink: _jsonl(rows, sink)) if format == "jsonl" else \
        (lambda sink: _parquet(rows, sink, row_group_size))
    if out is None or out == "-":
        if format == "parquet":
            raise ValueError("a Parquet export needs a file (--out PATH)")
        result.rows = write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    elif isinstance(out, (str, os.PathLike)):
        path = Path(out).expanduser()
        result.path = str(path)
        result.rows = _atomic(path, write)
    elif isinstance(out, io.TextIOBase):
        raise ValueError("export writes bytes: give a binary stream (or a path)")
    else:
        result.rows = write(out)
    result.skipped = reader.errors[errors_before:]
    return result


def _atomic(path: Path, write) -> int:
    """Write through a temp file in the same folder, renamed into place when complete. A path that is no
    regular file (``/dev/stdout``, a FIFO, ``/dev/full``) is written as it is: renaming over it would replace
    the device with a file. A symlink is followed, so the file it names is replaced, not the link."""
    if path.exists() and not path.is_file():
        with open(path, "wb") as sink:
            rows = write(sink)
            sink.flush()
        return rows
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as sink:
            rows = write(sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return rows
