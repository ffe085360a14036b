"""Corpus layout on a BlobStore: records, clean texts, history, INDEX.md, seeds, run stats.

Layout (keys relative to the store root):
  seeds/INDEX.md, seeds/*.txt               mirrored from the repo's seeds/ on first use
  corpus/docs/<id>.json                     the record (its text included), sorted keys, indent 2
  corpus/text/<id>.txt                      title, blank line, clean body text
  corpus/history/<id>/<fetched_at>.json     previous versions (with their text); <time>.broken: the bytes
                                            of a record file that could not be read, replaced by put()
  corpus/runs/<run_id>.json                 per-run statistics
  corpus/INDEX.md                           one table row per document
"""
from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from pipelines.corpus.markdown import md_code, md_link, md_plain, md_text
from pipelines.corpus.record import VOLATILE_FIELDS, text_sha256, utc_now
from pipelines.corpus.schema import SchemaError, from_json, published_key, to_json, unknown_fields
from pipelines.store import BlobStore

log = logging.getLogger(__name__)

DOCS, TEXTS, HISTORY, RUNS = "corpus/docs/", "corpus/text/", "corpus/history/", "corpus/runs/"
INDEX_KEY = "corpus/INDEX.md"
REQUIRED = ("id", "url", "canonical_url", "outlet", "title", "authors", "published", "language", "text",
            "text_sha256", "fetched_at", "http_status", "etag", "last_modified", "extractor",
            "duplicate_of", "also_at")
# Fields whose change alone is not a new version (record.py owns the list; these four at least).
VOLATILE = frozenset({"fetched_at", "http_status", "etag", "last_modified"}) | VOLATILE_FIELDS
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def dumps_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, indent 2, UTF-8, trailing newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")




def compact_time(value: Any) -> str:
    """ISO timestamp -> "20240728T101500Z" (UTC); other strings sanitised; None -> "unknown"."""
    if not value:
        return "unknown"
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if dt.tzinfo is not None:
            dt = dt.astimezone(timezone.utc)
        return dt.strftime("%Y%m%dT%H%M%S") + ("Z" if dt.tzinfo else "")
    except ValueError:
        return re.sub(r"[^0-9A-Za-z]", "", str(value))[:40] or "unknown"


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe {what} {name!r}: use letters, digits, '.', '_', '-'")
    return name


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())


class Corpus:
    """Records and texts of the corpus, stored on any BlobStore."""

    def __init__(self, store: BlobStore):
        self.store = store
        self.unreadable: list[tuple[str, str]] = []  # (key, reason) of records a full read skipped

    def skipped(self, key: str, exc: Exception) -> None:
        """A record that cannot be read (cut off, not JSON, not a record): skipped by every read of all the
        records (a rebuild, the index, a re-extraction), said here and in the log, never the end of them."""
        if all(k != key for k, _ in self.unreadable):
            why = str(exc)
            why = why[len(key):].lstrip(": ") if why.startswith(key) else why  # "KEY is not JSON: ..."
            self.unreadable.append((key, why))
            log.warning("skipped %s: %s", key, why)

    # -- JSON helpers -------------------------------------------------------------------
    def read_json(self, key: str) -> Any:
        """Parsed JSON under key, or None if missing. A record (``corpus/docs/<id>.json``) comes back as
        a record of the current schema (``schema.from_json``: older versions upgraded, text attached)."""
        if _is_record_key(key):
            return self._read_record(key, with_text=True)
        data = self.store.read(key)
        return None if data is None else json.loads(data.decode("utf-8"))

    def write_json(self, key: str, obj: Any, *, if_changed: bool = False) -> bool:
        """Write obj as canonical JSON; with if_changed, skip (and return False) when identical.
        A record is written in its JSON form (``schema.to_json``), whatever form it is given in."""
        data = dumps_json(to_json(obj) if _is_record_key(key) else obj)
        if if_changed and self.store.read(key) == data:
            return False
        self.store.write(key, data, content_type="application/json")
        return True

    # -- records ------------------------------------------------------------------------
    def _read_text(self, doc_id: str) -> str | None:
        data = self.store.read(f"{TEXTS}{doc_id}.txt")
        if data is None:
            return None
        _, _, body = data.decode("utf-8").partition("\n\n")
        return body[:-1] if body.endswith("\n") else body

    def get(self, doc_id: str, *, with_text: bool = True) -> dict | None:
        """The record for doc_id (schema.py's record form, any stored version upgraded), or None."""
        return self._read_record(f"{DOCS}{_check_name(doc_id, 'doc id')}.json", with_text)

    def _read_raw(self, key: str) -> dict | None:
        data = self.store.read(key)
        if data is None:
            return None
        try:
            raw = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise SchemaError(f"{key} is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise SchemaError(f"{key} is not a JSON object")
        return raw

    def _read_record(self, key: str, with_text: bool, raw: dict | None = None) -> dict | None:
        raw = self._read_raw(key) if raw is None else raw
        if raw is None:
            return None
        if with_text and "text" not in raw:  # records written before the text went into the record
            raw["text"] = self._read_text(key[len(DOCS):-len(".json")])
        try:
            rec = from_json(raw)
        except SchemaError as exc:
            raise SchemaError(f"{key}: {exc}") from None
        own = key[len(DOCS):-len(".json")] if key.startswith(DOCS) and key.endswith(".json") else None
        if own is not None and rec.get("id") != own:  # {} or another record's JSON: not this record
            raise SchemaError(f"{key}: holds " + (f"record {rec['id']!r}" if rec.get("id") else "no record id"))
        if not isinstance(rec.get("url"), str) or not rec["url"]:
            raise SchemaError(f"{key}: the record has no url")
        if not with_text:
            rec.pop("text", None)
        return rec

    def _with_text(self, rec: dict, with_text: bool) -> dict:
        if not with_text:
            rec.pop("text", None)
        elif "text" not in rec:  # records written before the text went into the record
            rec["text"] = self._read_text(rec["id"])
        return rec

    def iter_records(self, *, with_text: bool = True) -> Iterator[dict]:
        """All records, in id order."""
        for key in self.store.list(DOCS):
            if key.endswith(".json") and "/" not in key[len(DOCS):]:
                try:
                    rec = self._read_record(key, with_text)
                except SchemaError as exc:
                    self.skipped(key, exc)
                    continue
                if rec is not None:
                    yield rec

    def put(self, record: dict) -> str:
        """Store a record -> "new" | "updated" | "unchanged" (unchanged writes nothing).

        The record is written in its JSON form (``schema.to_json``) with ``stored_at`` set. A stored
        record of an older schema version whose content is the same is rewritten in the current
        form, in place: ``unchanged``, no history version (a schema upgrade is not a new version of
        the article). A field the schema does not know is refused (``SchemaError``).
        """
        missing = [f for f in REQUIRED if f not in record]
        if missing:
            raise ValueError(f"record lacks fields: {', '.join(missing)}")
        unknown = unknown_fields(record)
        if unknown:
            raise SchemaError(f"record has fields the schema does not know: {', '.join(unknown)} "
                              "(add them to FIELDS in pipelines/corpus/schema.py)")
        doc_id = _check_name(record["id"], "doc id")
        key = f"{DOCS}{doc_id}.json"
        now = utc_now()
        stored = to_json(dict(record, stored_at=now))
        text = stored["text"]
        try:
            raw = self._read_raw(key)
            old = None if raw is None else to_json(self._read_record(key, True, raw=dict(raw)))
        except SchemaError as exc:  # the stored file is broken (cut off by a full disk...): kept, replaced
            raw = old = None
            kept = self._set_aside(doc_id, key)
            log.warning("%s could not be read (%s): replaced, the old bytes kept as %s", key, exc, kept)
            broken = True
        else:
            broken = False
        if old is not None:
            if _stable(old) == _stable(stored):
                if old != raw:  # an older schema version (or form): upgraded in place, not a new version
                    self.store.write(key, dumps_json(old), content_type="application/json")
                return "unchanged"
            if _content(old) != _content(stored) or bool(old.get("text")) != bool(text):
                self._archive(doc_id, old)  # links alone (a new copy, a story) are not a new version
        text_key = f"{TEXTS}{doc_id}.txt"
        if text or not stored["duplicate_of"]:
            self.store.write(text_key, f"{_one_line(stored['title'])}\n\n{text}\n".encode("utf-8"),
                             content_type="text/plain; charset=utf-8")
        elif raw is not None:
            self.store.delete(text_key)  # duplicates keep no text of their own
        self.store.write(key, dumps_json(stored), content_type="application/json")
        record["stored_at"] = now  # the caller's record says when it was written
        return "new" if raw is None and not broken else "updated"

    def _set_aside(self, doc_id: str, key: str) -> str:
        """Keep the bytes of a record file that cannot be read in its history, as ``<time>.broken``."""
        data = self.store.read(key) or b""
        base = f"{HISTORY}{doc_id}/{compact_time(utc_now())}"
        for n in range(1000):
            name = f"{base}.broken" if n == 0 else f"{base}-{n}.broken"
            if self.store.write_if_absent(name, data, content_type="application/octet-stream"):
                return name
        raise RuntimeError(f"too many broken versions under {base}")

    def _archive(self, doc_id: str, old: dict) -> str:
        old = to_json(old)  # history keeps versions in the JSON form of the current schema, text included
        base = f"{HISTORY}{doc_id}/{compact_time(old.get('fetched_at'))}"
        data = dumps_json(old)
        for n in range(1000):
            key = f"{base}.json" if n == 0 else f"{base}-{n}.json"
            if self.store.write_if_absent(key, data, content_type="application/json"):
                return key
            if self.store.read(key) == data:
                return key  # same version already archived (e.g. an interrupted earlier put)
        raise RuntimeError(f"too many history versions under {base}")

    def history(self, doc_id: str) -> list[str]:
        """Keys of archived versions of doc_id, oldest first."""
        return list(self.store.list(f"{HISTORY}{_check_name(doc_id, 'doc id')}/"))

    # -- index, seeds, runs ---------------------------------------------------------------
    def write_index(self) -> bool:
        """Regenerate corpus/INDEX.md from every record (the rebuild path: one read per record); returns
        False when it was already up to date. A manifest that disagrees with the records (they were
        written by a path that keeps none) is corrected from what was read. A run that keeps the
        manifest writes INDEX.md from it instead (``finish_run``)."""
        from pipelines.corpus import manifest

        pairs = list(manifest.records_with_text_flag(self))
        data = self.render_index(rec for rec, _ in pairs)
        changed = self.store.read(INDEX_KEY) != data
        if changed:
            self.write_index_bytes(data)
        if self.manifest_run is None:
            manifest.refresh(self, pairs)
        return changed

    def render_index(self, rows) -> bytes:
        """INDEX.md from records, or from manifest rows (``manifest.row_of``): same fields, same bytes."""
        recs = list(rows)
        recs.sort(key=lambda r: (str(r.get("published") or ""), str(r.get("id"))), reverse=True)
        n_dup = sum(1 for r in recs if r.get("duplicate_of"))
        lines = [
            "# Corpus index", "",
            f"{len(recs)} documents: {len(recs) - n_dup} canonical, {n_dup} duplicates. "
            f"Records in `{DOCS}<id>.json`, texts in `{TEXTS}<id>.txt`.", "",
            "| id | outlet | date | title | URL | status |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in recs:
            url = r.get("canonical_url") or r.get("url") or ""
            lines.append("| " + " | ".join([  # page-derived text escaped (pipelines/corpus/markdown.py)
                md_code(r.get("id")), md_text(r.get("outlet")), md_text(str(r.get("published") or "")[:10]),
                md_text(r.get("title")), md_link(url), md_plain(_status(r)),
            ]) + " |")
        lines += _cluster_lines(recs)
        lines += _story_lines(recs)
        return ("\n".join(lines) + "\n").encode("utf-8")

    def write_index_bytes(self, data: bytes) -> None:
        self.store.write(INDEX_KEY, data, content_type="text/markdown; charset=utf-8")

    # -- run manifests (pipelines/corpus/manifest.py) ----------------------------------------
    manifest_run = None  # the ManifestRun of the run in progress, if it keeps the manifest

    def begin_run(self, command: str, group: str | None = None):
        """Start a run that keeps the manifest: load the latest one (or build it from the records once).
        ``group``: the shared run this one is a worker of (``corpus crawl --redis``)."""
        from pipelines.corpus.manifest import ManifestRun

        self.manifest_run = ManifestRun(self, command, group=group).open()
        return self.manifest_run

    def noted(self, records: list[dict], outcome: str | None = None) -> None:
        """Records just written (the first with put()'s outcome, then relinked cluster members)."""
        if self.manifest_run is not None:
            self.manifest_run.note(records, outcome)

    def documents(self) -> dict[str, bool] | None:
        """id -> whether it keeps a text, for every live document, from the manifest of the run in
        progress (no record read); None when no run keeps the manifest."""
        return None if self.manifest_run is None else self.manifest_run.documents()

    def mark_gone(self, doc_id: str, http_status: int | None) -> bool:
        """The page of a live document answered 404/410: its record says so (``gone``) and keeps its
        text. ``http_status`` None: the page is there again unchanged (304), the mark goes (a changed
        page comes back through put(), which sees the change)."""
        key = f"{DOCS}{_check_name(doc_id, 'doc id')}.json"
        rec = self.read_json(key)
        gone = rec.get("gone") if rec is not None and isinstance(rec.get("gone"), dict) else None
        if rec is None or (gone or {}).get("http_status") == http_status or (http_status is None and not gone):
            return False
        if http_status is None:
            rec.pop("gone")
            rec["http_status"] = 200
        else:
            rec["gone"] = {"http_status": http_status,
                           "since": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
            rec["http_status"] = http_status
        self.write_json(key, rec)
        self.noted([rec])
        return True

    def remove(self, doc_id: str) -> bool:
        """Take a document out of the corpus: its last version goes to history, record and text go; a
        duplicate leaves its canonical's ``also_at``. The canonical copy of others is refused (their
        text may live only in it): remove the copies first, or re-cluster (``corpus dedup --rebuild``)."""
        key = f"{DOCS}{_check_name(doc_id, 'doc id')}.json"
        rec = self.read_json(key)
        if rec is not None and rec.get("also_at"):
            raise ValueError(f"{doc_id} is the canonical copy of {len(rec['also_at'])} other record(s) "
                             f"({', '.join(a.get('id', '?') for a in rec['also_at'][:3])}): remove those first")
        head = self.read_json(f"{DOCS}{rec['duplicate_of']}.json") if rec and rec.get("duplicate_of") else None
        if head is not None and any(a.get("id") == doc_id for a in head.get("also_at") or []):
            head["also_at"] = [a for a in head["also_at"] if a.get("id") != doc_id]
            self.write_json(f"{DOCS}{head['id']}.json", head)
            self.noted([head])
        if rec is not None:
            self._archive(doc_id, self._with_text(rec, True))
            self.store.delete(f"{TEXTS}{doc_id}.txt")
            self.store.delete(key)
        if self.manifest_run is not None:
            self.manifest_run.drop(doc_id)
        return rec is not None

    def finish_run(self, run_id: str | None = None, *, suspect: str | None = None) -> dict | None:
        """Write the run's manifest (changed shards, root, INDEX.md, latest.json last); returns
        {"manifest": key or None when nothing changed, "run", "changes": kind -> ids, "rebuilt", "base"}.
        ``suspect``: why the next run should rebuild the manifest from the records all the same."""
        run, self.manifest_run = self.manifest_run, None
        return None if run is None else run.finish(run_id, suspect=suspect)

    def mirror_seeds(self, seeds_dir: str | Path) -> int:
        """Copy seeds_dir/INDEX.md and *.txt to seeds/ in the store when missing; count copied."""
        folder = Path(seeds_dir)
        files = sorted(p for p in folder.glob("*.txt") if p.is_file())
        if (folder / "INDEX.md").is_file():
            files.insert(0, folder / "INDEX.md")
        return sum(bool(self.store.write_if_absent(f"seeds/{p.name}", p.read_bytes())) for p in files)

    def write_run_stats(self, run_id: str, stats: dict) -> str:
        """Save stats as corpus/runs/<run_id>.json; returns the key."""
        key = f"{RUNS}{_check_name(run_id, 'run id')}.json"
        self.write_json(key, stats)
        return key


def _stable(rec: dict) -> dict:
    """The part of a record (JSON form) whose change makes a new version: not the fetch's own facts
    (VOLATILE, with ``stored_at`` and ``schema_version``), not the text (``text_sha256`` stands for it)."""
    return {k: v for k, v in rec.items() if k not in VOLATILE and k != "text"}


LINKS = ("duplicate_of", "also_at", "same_story", "story_original", "text_kept")


def _content(rec: dict) -> dict:
    """The stable part without the links to other records."""
    return {k: v for k, v in _stable(rec).items() if k not in LINKS}


def _is_record_key(key: str) -> bool:
    return key.startswith(DOCS) and key.endswith(".json") and "/" not in key[len(DOCS):]


def _cluster_lines(recs: list[dict]) -> list[str]:
    """A section listing each near-duplicate cluster: the canonical copy, then where else it appeared."""
    by_id = {r.get("id"): r for r in recs}
    heads = [r for r in recs if r.get("also_at")]
    if not heads:
        return []
    out = ["", "## Near-duplicate clusters", "",
           "One canonical copy per text; the other copies keep their own records (`duplicate_of`).", ""]
    for head in sorted(heads, key=lambda r: str(r.get("id"))):
        out.append(f"- {md_code(head.get('id'))} {md_text(head.get('outlet'))}: {md_text(head.get('title'))}")
        for other in head["also_at"]:
            rec = by_id.get(other.get("id")) or {}
            out.append(f"  - also at {md_code(other.get('id'))} {md_text(other.get('outlet'))}: "
                       f"{md_text(rec.get('title') or '')} {md_link(other.get('url'))}".rstrip())
    return out


def _story_lines(recs: list[dict]) -> list[str]:
    """A section listing each same-story cluster: its members together, the original first, then by
    date; each member's near-duplicate copies are in the section above."""
    stories: dict[str, list[dict]] = {}
    for r in recs:
        if r.get("same_story") and not r.get("duplicate_of"):
            stories.setdefault(str(r["same_story"]), []).append(r)
    if not stories:
        return []
    out = ["", "## Same-story clusters", "",
           "Copies of one report, edited, rewritten or cut: each keeps its text (`same_story`); "
           "the one believed original is marked.", ""]
    for story in sorted(stories):
        members = stories[story]
        original = next((str(m["story_original"]) for m in members if m.get("story_original")), None)
        members.sort(key=lambda r: (str(r.get("id")) != original, published_key(r.get("published")) or ("~",),
                                    str(r.get("id"))))
        out.append(f"- story {md_code(story)}: {len(members)} document{'s' if len(members) != 1 else ''}")
        for m in members:
            mark = " (original)" if str(m.get("id")) == original else ""
            day = str(m.get("published") or "")[:10]
            out.append(f"  - {md_code(m.get('id'))}{mark} {md_text(m.get('outlet'))}"
                       f"{', ' + md_text(day) if day else ''}: {md_text(m.get('title'))} "
                       f"{md_link(m.get('canonical_url') or m.get('url') or '')}".rstrip())
    return out


def _status(rec: dict) -> str:
    gone = rec.get("gone") if isinstance(rec.get("gone"), dict) else {}
    code = gone.get("http_status") or rec.get("http_status")
    if isinstance(code, int) and code >= 400:
        return f"gone (HTTP {code})"
    if rec.get("duplicate_of"):
        return f"duplicate of {rec['duplicate_of']}"
    also = rec.get("also_at") or []
    return f"canonical, also at {len(also)} URL{'s' if len(also) != 1 else ''}" if also else "canonical"
