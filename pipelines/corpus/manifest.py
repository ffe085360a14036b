"""Run manifests: every live document of the corpus as of a run, kept up to date incrementally.

Keys (relative to the store root)::

  corpus/manifests/<run>.json                   the root of a run's manifest (below)
  corpus/manifests/latest.json                  the newest root, written last (one PUT: atomic)
  corpus/manifests/shards/<prefix>/<hash>.json  the entries of the ids starting with <prefix>
                                                (content-addressed, shared by every run that did not
                                                change them)
  corpus/manifests/open/<token>.json            a run that maintains the manifest is in progress

A root names its ``run``, the ``previous`` run it was built on, the ``command``, document
``counts``, the run's ``changes`` (ids: new, updated, relinked, gone, removed), ``shard_digits``
and ``shards`` (prefix -> shard key), and the ``index_sha256`` of the ``INDEX.md`` written from
it. Each entry (``entry_of``) holds what INDEX.md and ``corpus diff`` need: ``sha`` (the text
hash), ``status`` (canonical / duplicate / gone), ``duplicate_of``, ``also_at``, ``outlet``,
``published``, ``title``, ``url`` (canonical), ``text`` (whether the record keeps a text of its
own), for a member of a same-story cluster ``same_story`` / ``story_original``, and for a gone
page ``gone`` / ``http_status``.

A run (``ManifestRun``) loads the latest root and its shards, takes the records the run wrote
(``note``), and at the end writes only the shards whose entries changed, its root, INDEX.md (from
the entries, not from the records) and ``latest.json``. It never lists or reads every record,
except once when there is no usable manifest: a store from before manifests, an unreadable
manifest, or an open-run marker left by a run that did not finish (killed, store failure): then
the entries are rebuilt from the records and the log says so.

One writer at a time (as for the crawl state and the dedup index); a run that finds another run
finished while it ran applies its own changes on top of that run's manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Iterable, Iterator

from pipelines.corpus.schema import SchemaError

__all__ = ["MANIFESTS", "LATEST", "SHARDS", "OPEN", "SHARD_DIGITS", "GONE_HTTP", "KINDS",
           "ManifestError", "ManifestDamaged", "Manifest", "ManifestRun", "entry_of", "has_text", "changes_between",
           "diff", "gone_pages", "list_runs", "new_run_id", "rebuild"]

log = logging.getLogger(__name__)

MANIFESTS = "corpus/manifests/"
LATEST = f"{MANIFESTS}latest.json"
SHARDS = f"{MANIFESTS}shards/"
OPEN = f"{MANIFESTS}open/"
DOCS = "corpus/docs/"
VERSION = 1
SHARD_DIGITS = 1       # 16 shards by the first hex digit of the id (README: "Manifests, diffs...")
GONE_HTTP = frozenset({404, 410})
KINDS = ("new", "updated", "relinked", "gone", "removed")
CONTENT = ("sha", "title", "published", "outlet", "url")  # a change of these is a changed document
_RUN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_READERS = 8           # shards are read in parallel


class ManifestError(Exception):
    """A manifest that cannot be used: missing run, unreadable JSON, unknown version."""


class ManifestDamaged(ManifestError):
    """A manifest the store holds but that cannot be read whole (not JSON, another version, a shard or a
    previous run's manifest missing): the store is damaged, not the command's arguments."""


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _compact(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _pretty(obj) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# -- entries ----------------------------------------------------------------------------------
def has_text(record: dict) -> bool:
    """Whether a record keeps a text of its own (a covered duplicate does not)."""
    if "text" in record:
        return bool(record["text"])
    # records written before the text went into the record: put() kept a text file unless a duplicate
    return not record.get("duplicate_of") or bool(record.get("text_kept"))


def _gone_status(record: dict) -> int | None:
    gone = record.get("gone")
    code = gone.get("http_status") if isinstance(gone, dict) else None
    code = code if isinstance(code, int) else record.get("http_status")
    if isinstance(code, int) and code >= 400:
        return code
    return 400 if gone else None


def entry_of(record: dict, text: bool | None = None) -> dict:
    """The manifest entry of a record (JSON-ready, without its id)."""
    code = _gone_status(record)
    entry = {
        "sha": record.get("text_sha256"),
        "status": "gone" if code else "duplicate" if record.get("duplicate_of") else "canonical",
        "duplicate_of": record.get("duplicate_of"),
        "also_at": [{"id": a.get("id"), "outlet": a.get("outlet"), "url": a.get("url")}
                    for a in record.get("also_at") or []],
        "outlet": record.get("outlet"),
        "published": record.get("published"),
        "title": record.get("title"),
        "url": record.get("canonical_url") or record.get("url") or "",
        "text": has_text(record) if text is None else bool(text),
    }
    if code:
        entry["http_status"] = code
        if record.get("gone"):
            entry["gone"] = record["gone"]
    if record.get("same_story"):  # only when set: entries of records alone in their story are unchanged
        entry["same_story"] = record["same_story"]
        entry["story_original"] = record.get("story_original")
    return json.loads(json.dumps(entry, default=str))  # stored form (tuples -> lists, dates -> str)


def row_of(doc_id: str, entry: dict) -> dict:
    """An entry as an INDEX.md row (the fields a record has under the same names)."""
    return dict(entry, id=doc_id, canonical_url=entry.get("url"))


def changes_between(base: dict, final: dict, outcomes: dict | None = None) -> dict[str, list[str]]:
    """Ids per kind of change from the entries ``base`` to ``final`` (``outcomes``: id -> what
    ``Corpus.put`` said; an ``updated`` there is a change even when no manifest field moved)."""
    outcomes = outcomes or {}
    out = {kind: [] for kind in KINDS}
    for doc_id in sorted(set(base) | set(final)):
        a, b = base.get(doc_id), final.get(doc_id)
        if a is None:
            out["new"].append(doc_id)
        elif b is None:
            out["removed"].append(doc_id)
        elif b["status"] == "gone" and a["status"] != "gone":
            out["gone"].append(doc_id)
        elif outcomes.get(doc_id) in ("new", "updated") or any(a.get(f) != b.get(f) for f in CONTENT) \
                or a["status"] == "gone" and b["status"] != "gone":
            out["updated"].append(doc_id)
        elif a != b:
            out["relinked"].append(doc_id)
    return out


def counts_of(entries: dict) -> dict:
    statuses = [e["status"] for e in entries.values()]
    return {"documents": len(statuses), "canonical": statuses.count("canonical"),
            "duplicate": statuses.count("duplicate"), "gone": statuses.count("gone")}


# -- shards -----------------------------------------------------------------------------------
def shard_of(doc_id: str, digits: int) -> str:
    return doc_id[:digits].lower() if digits else "all"


def shard_bytes(entries: dict) -> bytes:
    """One entry per line, ids sorted: readable, diffable, compact."""
    lines = [f"{json.dumps(i)}: {_compact(entries[i])}" for i in sorted(entries)]
    return ("{\"entries\": {\n" + ",\n".join(lines) + "\n}}\n").encode("utf-8")


def _group(entries: dict, digits: int, prefixes: set[str] | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {p: {} for p in prefixes or ()}
    for doc_id, entry in entries.items():
        p = shard_of(doc_id, digits)
        if prefixes is None or p in prefixes:
            out.setdefault(p, {})[doc_id] = entry
    return out


def _parse(data: bytes, key: str) -> dict:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestDamaged(f"{key} is not valid JSON ({exc})") from None


class Manifest:
    """A run's manifest: its root, and its entries once ``load``-ed."""

    def __init__(self, root: dict, entries: dict | None = None):
        self.root = root
        self.entries = entries

    @property
    def run(self) -> str:
        return self.root["run"]

    @property
    def digits(self) -> int:
        return int(self.root.get("shard_digits", SHARD_DIGITS))

    @property
    def shards(self) -> dict[str, str]:
        return dict(self.root.get("shards") or {})

    @staticmethod
    def key_for(run: str) -> str:
        if run == "latest":
            return LATEST
        if not isinstance(run, str) or not _RUN.match(run):
            raise ManifestError(f"not a run id: {run!r}")
        return f"{MANIFESTS}{run}.json"

    @classmethod
    def read(cls, store, run: str = "latest") -> "Manifest | None":
        """The root of ``run`` (or of the latest run), None when there is none."""
        key = cls.key_for(run)
        data = store.read(key)
        if data is None:
            return None
        root = _parse(data, key)
        if not isinstance(root, dict) or root.get("version") != VERSION or not root.get("run"):
            raise ManifestDamaged(f"{key} is not a version {VERSION} manifest")
        return cls(root)

    def read_shards(self, store, prefixes: Iterable[str] | None = None) -> dict[str, dict]:
        """prefix -> entries of the named shards (all by default), read in parallel."""
        shards = self.shards
        wanted = sorted(shards if prefixes is None else set(prefixes) & set(shards))

        def one(prefix: str) -> dict:
            data = store.read(shards[prefix])
            if data is None:
                raise ManifestDamaged(f"shard {shards[prefix]} of run {self.run} is missing")
            body = _parse(data, shards[prefix])
            return body.get("entries") if isinstance(body, dict) else None

        if len(wanted) > 1:
            with ThreadPoolExecutor(max_workers=min(_READERS, len(wanted))) as pool:
                parts = list(pool.map(one, wanted))
        else:
            parts = [one(p) for p in wanted]
        for prefix, part in zip(wanted, parts):
            if not isinstance(part, dict):
                raise ManifestDamaged(f"shard {shards[prefix]} of run {self.run} has no entries")
        return dict(zip(wanted, parts))

    def load(self, store) -> dict:
        if self.entries is None:
            self.entries = {}
            for part in self.read_shards(store).values():
                self.entries.update(part)
        return self.entries


def list_runs(store) -> list[str]:
    """Run ids that have a manifest, oldest first."""
    runs = []
    for key in store.list(MANIFESTS):
        name = key[len(MANIFESTS):]
        if "/" not in name and name.endswith(".json") and name != "latest.json":
            runs.append(name[:-5])
    return sorted(runs)


def resolve(store, ref: str) -> Manifest:
    """A manifest by reference: ``latest``, a run id, either followed by ``^`` (the run before)."""
    name, back = ref.rstrip("^"), len(ref) - len(ref.rstrip("^"))
    man = Manifest.read(store, name or "latest")
    if man is None:
        if name in ("latest", ""):
            raise ManifestError("the store has no manifest yet (a run that writes records makes one; "
                                "or `corpus manifest --rebuild`)")
        raise ManifestError(f"no manifest for run {name!r} (a run that changed nothing writes none; "
                            "`corpus manifest --list` lists the runs that have one)")
    for _ in range(back):
        previous = man.root.get("previous")
        if not previous:
            raise ManifestError(f"run {man.run} has no previous manifest")
        prev = Manifest.read(store, previous)
        if prev is None:
            raise ManifestDamaged(f"the manifest of run {previous} (before {man.run}) is missing")
        man = prev
    return man


# -- diff -------------------------------------------------------------------------------------
def _item(doc_id: str, entry: dict) -> dict:
    return {"id": doc_id, "title": entry.get("title"), "outlet": entry.get("outlet"), "url": entry.get("url"),
            "status": entry.get("status"), "duplicate_of": entry.get("duplicate_of")}


def _link(entry: dict) -> str:
    if entry["status"] == "duplicate":
        return f"duplicate of {entry.get('duplicate_of')}"
    if entry["status"] == "gone":
        return f"gone (HTTP {entry.get('http_status')})"
    n = len(entry.get("also_at") or [])
    link = f"canonical, also at {n}" if n else "canonical"
    return f"{link}, story {entry['same_story']}" if entry.get("same_story") else link


def diff(store, a: Manifest, b: Manifest) -> dict:
    """What changed from run ``a`` to run ``b``: added, changed (text hash or metadata), gone,
    removed, relinked (duplicate_of / canonical / also_at). Reads only the shards that differ."""
    if a.digits == b.digits:
        sa, sb = a.shards, b.shards
        prefixes = {p for p in set(sa) | set(sb) if sa.get(p) != sb.get(p)}
        ea = {}
        for part in a.read_shards(store, prefixes).values():
            ea.update(part)
        eb = {}
        for part in b.read_shards(store, prefixes).values():
            eb.update(part)
    else:
        ea, eb = a.load(store), b.load(store)
    out = {"from": a.run, "to": b.run, "added": [], "changed": [], "gone": [], "removed": [], "relinked": []}
    for doc_id in sorted(set(ea) | set(eb)):
        x, y = ea.get(doc_id), eb.get(doc_id)
        if x == y:
            continue
        if x is None:
            out["added"].append(_item(doc_id, y))
        elif y is None:
            out["removed"].append(_item(doc_id, x))
        elif y["status"] == "gone" and x["status"] != "gone":
            out["gone"].append(dict(_item(doc_id, y), http_status=y.get("http_status")))
        else:
            fields = [f for f in CONTENT if x.get(f) != y.get(f)]
            if x["status"] == "gone":
                fields.append("status")
            if fields:
                out["changed"].append(dict(_item(doc_id, y), fields=["text" if f == "sha" else f for f in fields]))
            else:
                out["relinked"].append(dict(_item(doc_id, y), before=_link(x), after=_link(y)))
    return out


# -- from the records (the rebuild path) ------------------------------------------------------
def records_with_text_flag(corpus) -> Iterator[tuple[dict, bool]]:
    """Every record (without its text) and whether it keeps a text: one read per record."""
    for key in corpus.store.list(DOCS):
        if key.endswith(".json") and "/" not in key[len(DOCS):]:
            try:
                rec = corpus.read_json(key)
            except SchemaError as exc:  # a broken record: skipped and said, not the end of the rebuild
                corpus.skipped(key, exc)
                continue
            if rec is not None:
                flag = has_text(rec)
                rec.pop("text", None)
                yield rec, flag


def rebuild(corpus, command: str = "rebuild", *, run_id: str | None = None, shard_digits: int | None = None) -> dict:
    """Build the manifest from every record, write it (and INDEX.md) and clear open-run markers."""
    return ManifestRun(corpus, command, rebuild=f"`corpus {command}`", shard_digits=shard_digits).open().finish(run_id)


def refresh(corpus, pairs: list[tuple[dict, bool]]) -> str | None:
    """After a full ``write_index`` (which read every record): if a manifest exists and differs from
    those records (records written by a path that keeps no manifest), write a corrected one."""
    base = Manifest.read(corpus.store)
    if base is None:
        return None
    entries = {rec["id"]: entry_of(rec, flag) for rec, flag in pairs}
    if base.load(corpus.store) == entries:
        return None
    run = ManifestRun(corpus, "write-index")
    run.base, run.entries, run.rebuilt = base, entries, "records written without the manifest"
    return run.finish()["manifest"]


def gone_pages(results: dict, known: dict) -> list[tuple[str, int | None]]:
    """(id, HTTP status) of documents in ``known`` (id -> entry) whose page answered 404 or 410 in this
    run, and (id, None) of gone documents whose page answered again unchanged (304). ``results``: the
    spider's url -> {"outcome": ...}."""
    from pipelines.crawl.urls import canonicalize, doc_id

    out = {}
    for url, res in (results or {}).items():
        outcome = str((res or {}).get("outcome") or "")
        m = re.search(r"\bHTTP (\d{3})\b", outcome) if outcome.startswith(("error", "skipped")) else None
        code = int(m.group(1)) if m else None
        if code not in GONE_HTTP and outcome != "unchanged":
            continue
        try:
            ident = doc_id(canonicalize(url))
        except Exception:  # noqa: BLE001 - not a URL we could have stored
            continue
        entry = known.get(ident)
        if entry is None:
            continue
        if code in GONE_HTTP and entry["status"] != "gone":
            out[ident] = code
        elif outcome == "unchanged" and entry["status"] == "gone":
            out[ident] = None
    return sorted(out.items())


# -- a run --------------------------------------------------------------------------------------
class ManifestRun:
    """The manifest of one run in progress: the latest entries plus what this run wrote."""

    def __init__(self, corpus, command: str, *, rebuild: str | None = None, shard_digits: int | None = None,
                 group: str | None = None):
        self.corpus = corpus
        self.store = corpus.store
        self.command = {"outlet": "crawl"}.get(command, command)  # spider name -> the command
        self.base: Manifest | None = None
        self.entries: dict[str, dict] = {}
        self.outcomes: dict[str, str] = {}
        self.rebuilt: str | None = None
        self.force_rebuild = rebuild
        self.stale_markers: list[str] = []
        self.suspect: str | None = None
        if shard_digits is not None and not 0 <= shard_digits <= 4:
            raise ValueError(f"shard digits: 0 to 4, not {shard_digits}")
        self.shard_digits = shard_digits  # for a new or rebuilt manifest (else the latest one's)
        # ``group``: the runs of the workers of one crawl shared through Redis; their markers are not stale
        # to each other (the marker of a worker that was killed stays: the next run rebuilds)
        self.group = f"{OPEN}group-{group}-" if group else None
        self.marker = f"{self.group or OPEN}{new_run_id()}-{uuid.uuid4().hex[:8]}.json"

    # opening ------------------------------------------------------------------------------
    def open(self) -> "ManifestRun":
        self.stale_markers = [k for k in self.store.list(OPEN)
                              if k != self.marker and not (self.group and k.startswith(self.group))]
        why = self.force_rebuild
        try:
            self.base = Manifest.read(self.store)
            if self.base is not None:
                self.base.load(self.store)
        except ManifestError as exc:
            log.warning("manifest: %s", exc)
            self.base, why = None, why or f"the manifest is not usable ({exc})"
        if self.stale_markers and not why:
            runs = ", ".join(k[len(OPEN):-5] for k in self.stale_markers[:3])
            why = f"a run that maintains the manifest did not finish ({runs})"
        self.store.write(self.marker, _pretty({"command": self.command, "started_at": _now(),
                                               "base": self.base.run if self.base else None}),
                         content_type="application/json")
        if self.base is None and not why and next(iter(self.store.list(DOCS)), None) is not None:
            why = "the store has records but no manifest (a store from before manifests)"
        if why:
            log.warning("manifest: %s: building it from the records (this run reads every record, once)", why)
            self.entries = {rec["id"]: entry_of(rec, flag) for rec, flag in records_with_text_flag(self.corpus)}
            self.rebuilt = why
            if self.base is not None:  # a record file that cannot be read is still there: not removed
                known = self.base.load(self.store)
                for key, _ in self.corpus.unreadable:
                    rid = key[len(DOCS):-len(".json")]
                    if rid in known and rid not in self.entries:
                        self.entries[rid] = known[rid]
        elif self.base is not None:
            self.entries = dict(self.base.entries)
        return self

    def documents(self) -> dict[str, bool]:
        """id -> whether it keeps a text of its own, for every live document."""
        return {doc_id: bool(e.get("text", True)) for doc_id, e in self.entries.items()}

    # what the run did ---------------------------------------------------------------------------
    def note(self, records: list[dict], outcome: str | None = None) -> None:
        """Records just written (the first with ``Corpus.put``'s ``outcome``; the others: members of
        its cluster whose links the near-duplicate stage changed)."""
        for n, rec in enumerate(records):
            doc_id = rec["id"]
            entry = entry_of(rec)
            if n == 0 and outcome in ("new", "updated"):
                if self.outcomes.get(doc_id) != "new":
                    self.outcomes[doc_id] = outcome
            elif n == 0 and outcome == "unchanged" and self.entries.get(doc_id) != entry:
                log.info("manifest: entry of %s brought up to date with its record", doc_id)
            self.entries[doc_id] = entry

    def drop(self, doc_id: str) -> None:
        self.entries.pop(doc_id, None)
        self.outcomes.pop(doc_id, None)

    # finishing ---------------------------------------------------------------------------------
    def finish(self, run_id: str | None = None, *, suspect: str | None = None) -> dict:
        """Write the changed shards, the run's root, INDEX.md and latest.json (last); drop the marker.
        A run that changed nothing writes nothing. Returns {"manifest", "run", "changes", "rebuilt"}.
        ``suspect``: why this run may have written records it could not note (a store error in the
        middle of a write): the marker stays, so the next run rebuilds the manifest from the records."""
        self.suspect = suspect
        run_id = run_id or new_run_id()
        Manifest.key_for(run_id)
        base = self.base
        base_entries = base.entries if base is not None else {}
        final = self.entries
        try:
            now_latest = Manifest.read(self.store)
        except ManifestError:  # unusable: this run rebuilt its entries from the records
            now_latest = None
        if now_latest is not None and (base is None or now_latest.run != base.run):
            # another run finished while this one ran: apply this run's changes on top of it
            log.warning("manifest: run %s finished during this run: applying this run's changes on top of it",
                        now_latest.run)
            mine = {i for i in set(base_entries) | set(final) if base_entries.get(i) != final.get(i)}
            mine |= set(self.outcomes)
            theirs = dict(now_latest.load(self.store))
            for doc_id in mine:
                if doc_id in final:
                    theirs[doc_id] = final[doc_id]
                else:
                    theirs.pop(doc_id, None)
            base, base_entries, final = now_latest, now_latest.entries, theirs
        changes = changes_between(base_entries, final, self.outcomes)
        result = {"manifest": None, "run": None, "changes": changes, "rebuilt": self.rebuilt,
                  "base": base.run if base is not None else None}
        if base is not None and not self.rebuilt and not any(changes.values()):
            self._drop_markers()
            return result
        digits = base.digits if base is not None else SHARD_DIGITS
        if self.shard_digits is not None and (base is None or self.rebuilt):
            digits = self.shard_digits
        shards = base.shards if base is not None and digits == base.digits else {}
        touched = {shard_of(i, digits) for i in set(base_entries) | set(final)
                   if base_entries.get(i) != final.get(i)}
        if base is None or self.rebuilt or digits != base.digits:
            touched |= set(shards) | {shard_of(i, digits) for i in final}
        for prefix, part in sorted(_group(final, digits, touched).items()):
            if not part:
                shards.pop(prefix, None)
                continue
            data = shard_bytes(part)
            key = f"{SHARDS}{prefix}/{hashlib.sha256(data).hexdigest()[:20]}.json"
            if shards.get(prefix) != key:
                self.store.write_if_absent(key, data, content_type="application/json")
                shards[prefix] = key
        index = self.corpus.render_index(row_of(i, e) for i, e in final.items())
        index_sha = hashlib.sha256(index).hexdigest()
        root = {"version": VERSION, "run": run_id, "previous": base.run if base is not None else None,
                "command": self.command, "created_at": _now(), "rebuilt": self.rebuilt,
                "counts": counts_of(final), "changes": changes, "shard_digits": digits,
                "shards": dict(sorted(shards.items())), "index_sha256": index_sha}
        key = Manifest.key_for(run_id)
        data = _pretty(root)
        self.store.write(key, data, content_type="application/json")
        if base is None or self.rebuilt or base.root.get("index_sha256") != index_sha:
            self.corpus.write_index_bytes(index)
        self.store.write(LATEST, data, content_type="application/json")
        self.base, self.entries, self.outcomes = Manifest(root, dict(final)), dict(final), {}
        self._drop_markers()
        result.update(manifest=key, run=run_id)
        return result

    def _drop_markers(self) -> None:
        if self.suspect:
            log.warning("manifest: %s: the next run rebuilds the manifest from the records", self.suspect)
        for key in [*([] if self.suspect else [self.marker]),
                    *(self.stale_markers if self.rebuilt else [])]:
            self.store.delete(key)
