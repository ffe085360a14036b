"""Read a corpus store as a consumer: records with filters, streamed, never the whole corpus in memory.

    from asean_russia_corpus import open_corpus

    corpus = open_corpus("s3://bucket/prefix")          # or a local folder
    for rec in corpus.records(outlet="rsis", since="2024-01-01", language="en", canonical_only=True):
        print(rec["published"], rec["title"], len(rec["text"] or ""))

Records come in id order, in the record form of ``pipelines/corpus/schema.py`` (``None`` for what is
unknown, lists as lists), older schema versions upgraded on read. Records are read one at a time (on
S3 a few at a time, ahead, in order); a record that cannot be read is skipped, logged and listed in
``reader.errors``, never the end of the iteration.

``one_per_story=True`` gives one document per same-story cluster (``same_story``: copies of one report
edited, rewritten or cut, each text kept) and every record alone in its story; ``story(ID)`` gives a
story's members. Near-duplicates (``duplicate_of``) are the other relation: ``canonical_only``.

``changed_since=RUN`` keeps the records whose stored version changed after run ``RUN`` (``latest``,
``latest^`` as `corpus diff` reads them, or a run id as
in ``corpus/runs/<run>.json``): from the run manifests (``corpus/manifests/``) when they reach back to
that run, else by time (``stored_at`` after the run finished). ``reader.last_changed`` says which.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable, Iterator

from pipelines.corpus.layout import DOCS, RUNS, Corpus
from pipelines.corpus.schema import SchemaError, published_key
from pipelines.store import BlobStore, LocalStore, StoreError, open_store

__all__ = ["CorpusReader", "CorpusError", "Changed", "open_corpus"]

log = logging.getLogger(__name__)

MANIFESTS = "corpus/manifests/"          # pipelines/corpus/manifest.py (read loosely: run, previous, changes)
CHANGE_KINDS = ("new", "updated", "relinked", "gone")
READ_AHEAD = 32                          # records in flight on a remote store


class CorpusError(Exception):
    """Not a corpus, an unknown run, a bad filter value: a clear message, nothing half done."""


@dataclass
class Changed:
    """What ``changed_since`` resolved to: the ids from the manifests, or a time (by ``stored_at``)."""

    run: str
    how: str                      # "manifests" | "time"
    ids: set[str] | None = None
    after: datetime | None = None
    runs: list[str] = field(default_factory=list)  # the manifest runs after ``run``

    def __str__(self) -> str:
        if self.how == "manifests":
            return f"changed since run {self.run}: {len(self.ids or ())} records, from the manifests of " \
                   f"{len(self.runs)} later run{'s' if len(self.runs) != 1 else ''}"
        return f"changed since run {self.run}: stored after {self.after.isoformat()} (no manifests reach back)"


def open_corpus(spec: str | os.PathLike | BlobStore, *, read_ahead: int | None = None) -> "CorpusReader":
    """A reader on a corpus store: a local folder, ``file://...`` or ``s3://bucket/prefix`` (or a
    BlobStore). ``read_ahead``: records read ahead, in parallel, in order (default: 1 for a local
    folder, 32 otherwise); memory holds at most that many records."""
    store = spec if isinstance(spec, BlobStore) else open_store(spec)
    if isinstance(store, LocalStore) and not (store.root / "corpus").is_dir():
        raise CorpusError(f"no corpus at {store.describe()} (no corpus/ folder)")
    if not isinstance(store, LocalStore) and not isinstance(spec, BlobStore):
        store.check()  # the bucket exists and answers (StoreError otherwise)
    return CorpusReader(store, read_ahead=read_ahead)


def _as_set(value: str | Iterable[str] | None, what: str) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    values = set(value)
    if not all(isinstance(v, str) for v in values):
        raise CorpusError(f"{what}: give a name or a list of names, not {value!r}")
    return values


def _bound(value, what: str) -> date | datetime | None:
    """A date filter bound: a date (compared with the page's own publication day) or a datetime
    (compared in UTC; a naive one is UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CorpusError(f"{what}: not a date or time: {value!r} (use YYYY-MM-DD or ISO 8601)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _in_range(published: str | None, since, until) -> bool:
    if since is None and until is None:
        return True
    key = published_key(published)
    if key is None:
        return False  # no date: outside every date range
    day_as_written = published[:10]
    for bound, ok in ((since, lambda a, b: a >= b), (until, lambda a, b: a <= b)):
        if bound is None:
            continue
        if isinstance(bound, datetime):
            instant = datetime.fromisoformat(key[1] or key[0]).replace(tzinfo=timezone.utc)
            if not ok(instant, bound):
                return False
        elif not ok(day_as_written, bound.isoformat()):
            return False
    return True


def _parse_instant(value) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class CorpusReader:
    """Records of one corpus store, streamed with filters (see the module docstring)."""

    def __init__(self, store: BlobStore, *, read_ahead: int | None = None):
        self.store = store
        self.corpus = Corpus(store)
        self.errors: list[tuple[str, str]] = []  # (key, reason) of records that could not be read
        self.last_changed: Changed | None = None
        if read_ahead is None:
            read_ahead = 1 if isinstance(store, LocalStore) else READ_AHEAD
        self.read_ahead = max(1, int(read_ahead))

    def __repr__(self) -> str:
        return f"CorpusReader({self.store.describe()!r})"

    def __iter__(self) -> Iterator[dict]:
        return self.records()

    # -- one record, all records --------------------------------------------------------------
    def get(self, doc_id: str, *, with_text: bool = True) -> dict | None:
        return self.corpus.get(doc_id, with_text=with_text)

    def ids(self) -> Iterator[str]:
        for key in self.store.list(DOCS):
            name = key[len(DOCS):]
            if name.endswith(".json") and "/" not in name:
                yield name[:-5]

    def _read(self, doc_id: str, with_text: bool, say: bool = True) -> dict | None:
        key = f"{DOCS}{doc_id}.json"
        try:
            return self.corpus.get(doc_id, with_text=with_text)
        except (SchemaError, ValueError) as exc:  # a broken record: skipped, said, never the end of it
            if say:  # (not on the first of one_per_story's two passes: the second says it)
                self.errors.append((key, str(exc)))
                log.warning("skipped %s: %s", key, exc)
            return None

    def _stream(self, ids: Iterable[str], with_text: bool, say: bool = True) -> Iterator[dict]:
        if self.read_ahead == 1:
            for doc_id in ids:
                rec = self._read(doc_id, with_text, say)
                if rec is not None:
                    yield rec
            return
        workers = min(8, self.read_ahead)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="corpus-reader") as pool:
            window: deque = deque()
            for doc_id in ids:
                window.append(pool.submit(self._read, doc_id, with_text, say))
                if len(window) >= self.read_ahead:
                    rec = window.popleft().result()
                    if rec is not None:
                        yield rec
            while window:
                rec = window.popleft().result()
                if rec is not None:
                    yield rec

    def records(self, *, outlet: str | Iterable[str] | None = None, language: str | Iterable[str] | None = None,
                since=None, until=None, canonical_only: bool = False, one_per_story: bool = False,
                same_story: str | Iterable[str] | None = None, changed_since: str | None = None,
                with_text: bool = True) -> Iterator[dict]:
        """Records in id order, filtered:

        - ``outlet``, ``language``: a name or several;
        - ``since``, ``until``: ``published`` within [since, until]; a date compares with the page's own
          publication day, a datetime with the publication time in UTC; a record without a date is
          outside every range;
        - ``canonical_only``: leave out near-duplicates (``duplicate_of`` set);
        - ``one_per_story``: one document per same-story cluster, chosen within the selection (the
          other filters): the member believed original (``story_original``; when it is a
          near-duplicate, its canonical copy) if it is selected, else the first selected member by
          (``published``, ``id``), a member without a date last; plus every record alone in its
          story. Implies ``canonical_only``. Reads the selection twice (the first pass without text);
        - ``same_story``: a story id or several: that story's members;
        - ``changed_since``: a run id: records whose stored version changed after that run;
        - ``with_text=False`` leaves ``text`` out (less to read for records of schema version 1).
        """
        outlets, languages = _as_set(outlet, "outlet"), _as_set(language, "language")
        stories = _as_set(same_story, "same_story")
        since, until = _bound(since, "since"), _bound(until, "until")
        if since is not None and until is not None and type(since) is type(until) and since > until:
            raise CorpusError(f"since {since} is after until {until}")
        changed = self.changed_since(changed_since) if changed_since else None

        def selection(with_text: bool, say: bool = True) -> Iterator[dict]:
            ids = sorted(changed.ids) if changed is not None and changed.ids is not None else self.ids()
            for rec in self._stream(ids, with_text, say):
                if outlets is not None and rec.get("outlet") not in outlets:
                    continue
                if languages is not None and rec.get("language") not in languages:
                    continue
                if stories is not None and rec.get("same_story") not in stories:
                    continue
                if not _in_range(rec.get("published"), since, until):
                    continue
                if changed is not None and changed.after is not None:
                    stored = _parse_instant(rec.get("stored_at") or rec.get("fetched_at"))
                    if stored is None or stored <= changed.after:
                        continue
                yield rec

        left_out = _not_chosen(selection(False, say=False)) if one_per_story else set()
        for rec in selection(with_text):
            if (canonical_only or one_per_story) and rec.get("duplicate_of"):
                continue
            if rec["id"] in left_out:
                continue
            yield rec

    def story(self, story_id: str, *, with_text: bool = True) -> list[dict]:
        """The members of one same-story cluster (its near-duplicate copies included): the original
        first, then by (``published``, ``id``); ``[]`` for an unknown story. Reads every record (the
        store keeps no index of stories)."""
        if not isinstance(story_id, str) or not story_id:
            raise CorpusError(f"not a story id: {story_id!r}")
        members = list(self.records(same_story=story_id, with_text=with_text))
        original = next((m["story_original"] for m in members if m.get("story_original")), None)
        members.sort(key=lambda r: (r["id"] != original, _date_order(r.get("published")), r["id"]))
        return members

    # -- runs -------------------------------------------------------------------------------------
    def runs(self) -> list[str]:
        """Run ids of the store (run reports and manifests), oldest first."""
        found = set()
        for prefix in (RUNS, MANIFESTS):
            for key in self.store.list(prefix):
                name = key[len(prefix):]
                if "/" not in name and name.endswith(".json") and name != "latest.json":
                    found.add(name[:-5])
        return sorted(found)

    def _json(self, key: str):
        data = self.store.read(key)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            return None

    def changed_since(self, run: str) -> Changed:
        """Resolve ``changed_since=run``: manifest ids when the manifests reach back to ``run``, else
        the time the run finished (its report's ``finished_at``)."""
        if not isinstance(run, str) or not run or "/" in run:
            raise CorpusError(f"not a run id: {run!r}")
        if run.rstrip("^") in ("latest", ""):  # as `corpus diff` reads it: the newest manifest's run, ^ one back
            run = self._latest(run)
        report = self._json(f"{RUNS}{run}.json")
        if report is None and self.store.read(f"{MANIFESTS}{run}.json") is None:
            known = self.runs()
            hint = f" (the newest: {', '.join(known[-3:])})" if known else " (the store has no runs)"
            raise CorpusError(f"no run {run!r} in {self.store.describe()}{hint}")
        changed = self._from_manifests(run)
        if changed is None:
            after = _parse_instant((report or {}).get("finished_at"))
            if after is None:
                after = _parse_instant(_run_time(run))
            if after is None:
                raise CorpusError(f"run {run!r}: no finish time in its report and not a time-like run id")
            changed = Changed(run=run, how="time", after=after)
        self.last_changed = changed
        return changed

    def _latest(self, ref: str) -> str:
        """The run ``latest`` (``latest^``: the one before it...) names: by the manifests' chain, as `corpus
        diff` reads it; in a store without manifests, by the runs' order."""
        from pipelines.corpus.manifest import ManifestError, resolve

        try:
            return resolve(self.store, ref).run
        except ManifestError:
            back = len(ref) - len(ref.rstrip("^"))
            known = self.runs()
            if back >= len(known):
                raise CorpusError(f"no run {ref!r} in {self.store.describe()} (it has {len(known)} runs)") from None
            return known[-1 - back]

    def _from_manifests(self, run: str) -> Changed | None:
        """Ids changed by the manifest runs after ``run``, following ``previous`` back from the latest
        one; None when the chain ends before reaching ``run`` (or a root is not what we expect)."""
        root = self._json(f"{MANIFESTS}latest.json")
        ids: set[str] = set()
        later: list[str] = []
        seen = set()
        while isinstance(root, dict):
            this = root.get("run")
            if not isinstance(this, str) or this in seen:
                return None
            if this <= run:  # run ids sort by time (YYYYmmddTHHMMSSffffffZ)
                return Changed(run=run, how="manifests", ids=ids, runs=later)
            seen.add(this)
            changes = root.get("changes")
            if not isinstance(changes, dict):
                return None
            for kind in CHANGE_KINDS:
                ids.update(i for i in changes.get(kind) or () if isinstance(i, str))
            later.append(this)
            previous = root.get("previous")
            root = self._json(f"{MANIFESTS}{previous}.json") if isinstance(previous, str) and previous else None
        return None


def _date_order(published: str | None) -> tuple:
    """Sort key of ``published``: by UTC day, a day before a time on it, no date last."""
    key = published_key(published)
    return (0, *key) if key is not None else (1, "", "")


def _not_chosen(records: Iterable[dict]) -> set[str]:
    """Ids of the selected story members that ``one_per_story`` leaves out (all but one per story)."""
    members: dict[str, list[tuple]] = {}
    original: dict[str, str] = {}
    canonical_of: dict[str, str] = {}    # a near-duplicate copy -> its canonical copy
    for rec in records:
        story = rec.get("same_story")
        if not story:
            continue
        if rec.get("story_original"):
            original.setdefault(story, rec["story_original"])
        if rec.get("duplicate_of"):
            canonical_of[rec["id"]] = rec["duplicate_of"]
        else:
            members.setdefault(story, []).append((_date_order(rec.get("published")), rec["id"]))
    out: set[str] = set()
    for story, rows in members.items():
        ids = {doc_id for _, doc_id in rows}
        chosen = original.get(story)
        chosen = canonical_of.get(chosen, chosen)
        if chosen not in ids:
            chosen = min(rows)[1]
        out.update(ids - {chosen})
    return out


def _run_time(run: str) -> str | None:
    """The start time a run id encodes (``20241127T101500123456Z``), ISO 8601."""
    try:
        return datetime.strptime(run, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc).isoformat()
    except ValueError:
        return None
