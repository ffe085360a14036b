"""Near-duplicates across the corpus: one canonical copy per cluster, the others linked to it.

Pure Python on a :class:`~pipelines.corpus.Corpus` (no Scrapy).  The MinHash
index (``pipelines.dedup``) keeps no texts: it reads a candidate's text from its record to verify it.
It persists in the store under ``dedup/index/`` as append-only segments (``pipelines/dedup/persist.py``),
versioned with its parameters: loaded at start, reconciled with the records
(a crash between a record write and the index save loses nothing: each entry
carries the ``text_sha256`` of the text it was signed from, and an entry whose
record now has another text is signed again), and each save writes only what changed, so each crawl and
``corpus fetch`` deduplicates against everything already in the corpus.

Each incoming record is matched against the index; its cluster is the union
of the clusters of the records it matches.  ``choose_canonical`` picks the
original publisher (rel=canonical, "originally appeared in" credit, earliest
date, outlet priority); every member is rewritten consistently: the canonical
lists ``also_at``, the others carry ``duplicate_of``.  A duplicate's text is
not stored twice: it is dropped when the canonical text covers it (kept, with
``text_kept``, when it adds content, such as a copy longer than a truncated
original).
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from pipelines.corpus.schema import SchemaError
from pipelines.dedup.canonical import credited_outlet, decide
from pipelines.dedup import DedupConfig, NearDupIndex, normalize_words, overlap, shingle_hashes
from pipelines.dedup.persist import MANIFEST, OLD_BLOB, load_index, save_index
from pipelines.dedup.stories import STORIES, Stories
from pipelines.dedup.story import wire_credit

__all__ = ["Deduplicator", "INDEX_KEY", "COVERED"]

log = logging.getLogger(__name__)
INDEX_KEY = MANIFEST  # dedup/index/manifest.json, beside its segments (pipelines/dedup/persist.py)
COVERED = 0.8  # a duplicate whose shingles are this much inside the canonical's keeps no text
STRONG = ("rel_canonical", "credit")  # rules that may strip the text of a canonical they set aside (so may a
# registry priority higher than the old canonical's outlet; a claimed earlier date alone may not)
CUT_START = 0.2  # a cut copy starts within the first fifth of the longer text ...
CUT_SHARE = 0.5  # ... or is at least half as long


def _cut_copy(a: str, b: str) -> bool:
    """Whether the shorter of two texts that one contains is a cut copy of the longer (its start, or half
    of it), not a passage the longer one quotes."""
    wa, wb = normalize_words(a), normalize_words(b)
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    if not short or len(short) >= CUT_SHARE * len(long_):
        return True
    probe = short[:8]
    limit = max(1, int(CUT_START * len(long_)))
    return any(long_[i:i + len(probe)] == probe for i in range(0, min(limit, len(long_) - len(probe) + 1)))


def _coverage(part: str, whole: str, k: int) -> float:
    a, b = shingle_hashes(part, k), shingle_hashes(whole, k)
    if len(a) == 0:
        return 1.0
    return float(np.isin(a, b, assume_unique=True).mean())


class Deduplicator:
    def __init__(self, corpus, cfg: DedupConfig | None = None,
                 priority: Callable[[str | None], int] | None = None):
        self.corpus = corpus
        self.cfg = cfg or DedupConfig()
        self.priority = priority or (lambda outlet: 50)
        self._cache: dict[str, dict | None] = {}
        self.index_rebuilt = False
        self.index = self._new_index(self._text_of)
        self.dirty = False
        self.stories = Stories(corpus, self.index, self._get, self.priority)

    def _new_index(self, texts) -> NearDupIndex:
        """An empty index that reads the texts it verifies against through ``texts`` (id -> text)."""
        return NearDupIndex(self.cfg, texts=texts)

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> "Deduplicator":
        """Load the persisted index (or rebuild it) and reconcile it with the records."""
        index = load_index(self.corpus.store, self.cfg, self._text_of)  # None: absent, unusable or other parameters
        if index is None and any(self.corpus.store.exists(k) for k in (MANIFEST, OLD_BLOB)):
            self.index_rebuilt = True  # a persisted index that could not be used: the run's stats say so
        self.index = index if index is not None else self._new_index(self._text_of)
        self._reconcile_index()
        self.stories.index = self.index
        return self

    def _reconcile_index(self) -> None:
        """Bring the index in line with the records: drop documents that are gone, sign those with a text
        it lacks, and again those whose text changed since the index was saved."""
        # the run's manifest names every live document and whether it keeps a text: only those with a
        # text that the index lacks are read (a store without a manifest: list the records)
        documents = self.corpus.documents() if hasattr(self.corpus, "documents") else None
        if documents is None:
            documents = {key[len("corpus/docs/"):-5]: True for key in self.corpus.store.list("corpus/docs/")
                         if key.endswith(".json")}
        for stale in [i for i in self.index.ids() if i not in documents]:
            if self._gone(stale):
                self.index.remove(stale)
                self.dirty = True
        missing = [i for i in sorted(documents) if documents[i] and i not in self.index]
        for doc_id in self._changed_texts():  # a run stopped between its record writes and this save
            self.index.remove(doc_id)
            self.dirty = True
            if documents.get(doc_id):
                missing.append(doc_id)
        items, tags = [], {}
        for doc_id in sorted(set(missing)):
            rec = self._record(doc_id)
            if rec and rec.get("text"):
                items.append((doc_id, rec["text"]))
                tags[doc_id] = rec.get("text_sha256")
        if items:
            self.index.add_many(items, tags=tags)
            self.dirty = True

    def _gone(self, doc_id: str) -> bool:
        """An indexed document the manifest does not list is gone (the shared deduplicator asks the store)."""
        return True

    def _changed_texts(self) -> list[str]:
        """Indexed documents whose record (as the run's manifest knows it) has another text than the one
        they were signed from. An entry without a tag (an index from before tags) takes the record's."""
        run = getattr(self.corpus, "manifest_run", None)
        if run is None:
            return []
        changed = []
        for doc_id, entry in run.entries.items():
            sha = entry.get("sha")
            if not sha or doc_id not in self.index:
                continue
            tag = self.index.tags.get(doc_id)
            if tag is None:
                self.index.tags[doc_id] = sha
                self.dirty = True
            elif tag != sha:
                changed.append(doc_id)
        if changed:
            log.warning("dedup index: %d record(s) changed since the index was saved: signed again", len(changed))
        return changed

    def save(self) -> bool:
        """Write what changed in the index since the last load or save (one segment); False if nothing did."""
        wrote = save_index(self.corpus.store, self.index)
        self.dirty = False
        return wrote

    # -- clusters --------------------------------------------------------------------------
    def _member(self, rec: dict) -> dict:
        m = dict(rec)
        m["priority"] = self.priority(rec.get("outlet"))
        m["canonical_url"] = rec.get("declared_canonical") or rec.get("canonical_url")
        return m

    def _cluster_ids(self, doc_id: str) -> set[str]:
        rec = self._record(doc_id, with_text=False)
        if rec is None:
            return {doc_id}
        root = rec.get("duplicate_of") or doc_id
        head = self._record(root, with_text=False) if root != doc_id else rec
        ids = {root, doc_id}
        for other in (head or {}).get("also_at") or []:
            ids.add(other["id"])
        return ids

    def _near(self, record: dict, matches: list) -> list:
        """The matches that make ``record`` a near-duplicate. A match by containment alone counts only for a
        cut copy (the shorter text is the start of the longer, or at least half of it): a short flash that a
        longer article quotes is not that article (the story step may still link them). Containment-only
        matches never join two clusters: the best one is kept."""
        text = record.get("text") or ""
        strong = [m for m in matches if m.exact or m.jaccard >= self.cfg.threshold]
        weak = []
        for m in matches:
            if m in strong:
                continue
            other = self._get(m.doc_id)
            if other and other.get("text") and _cut_copy(text, other["text"]):
                weak.append(m)
        if strong:
            return self._same_part(text, strong)
        return weak[:1]

    def _same_part(self, text: str, matches: list) -> list:
        """Matches of one text to several clusters join them only when the clusters' canonical texts are
        near-duplicates of each other too: a digest of two reports (or of a report and another digest)
        matches each, and must not make them one cluster. The best-matched cluster is always kept."""
        heads: dict[str, list] = {}
        for m in matches:
            rec = self._get(m.doc_id)
            head = (rec or {}).get("duplicate_of") or m.doc_id
            heads.setdefault(head, []).append(m)
        if len(heads) <= 1:
            return matches
        ranked = sorted(heads.items(), key=lambda kv: (-max(m.jaccard for m in kv[1]), kv[0]))
        best_text = (self._get(ranked[0][0]) or {}).get("text") or ""
        kept = list(ranked[0][1])
        for head, group in ranked[1:]:
            other = (self._get(head) or {}).get("text") or ""
            if best_text and other and self._near_texts(best_text, other):
                kept += group
        return kept

    def _near_texts(self, a: str, b: str) -> bool:
        """The near-duplicate rule on two texts (exact, Jaccard, or a cut copy contained)."""
        sa, sb = shingle_hashes(a, self.cfg.shingle_size), shingle_hashes(b, self.cfg.shingle_size)
        jac, cont = overlap(sa, sb)
        if jac >= self.cfg.threshold or (len(sa) and np.array_equal(sa, sb)):
            return True
        return (cont >= self.cfg.containment and min(len(sa), len(sb)) >= self.cfg.min_contained
                and _cut_copy(a, b))

    def resolve(self, record: dict) -> list[dict]:
        """Place ``record`` (with its text) in its near-duplicate cluster and its story.

        Returns the records to write: ``record`` first (with ``duplicate_of``,
        ``also_at``, ``same_story``, ``story_original`` and, for a duplicate, its text dropped when covered),
        then every other record whose links changed.
        """
        self._cache = {}
        try:
            return self._resolve(record)
        finally:
            self._cache = {}

    def _resolve(self, record: dict) -> list[dict]:
        text = record.get("text") or ""
        record["credit"] = record.get("credit") or credited_outlet(text)
        self._cache[record["id"]] = record
        matches = self.index.find(text, exclude=record["id"]) if text else []
        matches = self._near(record, matches)
        self.index.add(record["id"], text, tag=record.get("text_sha256"))
        self.dirty = True
        ids = {record["id"]}
        for match in matches:
            ids |= self._cluster_ids(match.doc_id)
        old = self._record(record["id"], with_text=False)
        if old:
            for key in ("same_story", "story_original"):
                record.setdefault(key, old.get(key))
        if old and old.get("duplicate_of") and old["duplicate_of"] in ids:
            ids |= self._cluster_ids(record["id"])
        if len(ids) == 1:
            record["duplicate_of"], record["also_at"] = None, []
            if old and old.get("also_at"):  # it was the canonical of copies: they still point here
                record["also_at"] = old["also_at"]
            members = {record["id"]: record}
            for a in record["also_at"]:
                if (rec := self._get(a["id"])) is not None:
                    members[a["id"]] = rec
            out = [record] + self._detach(old, record)
            return self._with_story(record["id"], members, out)
        members = {record["id"]: record}
        for doc_id in sorted(ids - {record["id"]}):
            rec = self._get(doc_id)
            if rec is not None:
                members[doc_id] = rec
        head_before = {i for i, m in members.items() if i != record["id"] and not m.get("duplicate_of")}
        canonical, ousted = decide([dict(self._member(m), incumbent=m["id"] in head_before) for m in members.values()])
        before = {i: (m.get("duplicate_of"), m.get("also_at"), bool(m.get("text"))) for i, m in members.items()}
        strong = ousted in STRONG or any(self.priority(members[canonical].get("outlet")) > self.priority(members[i].get("outlet"))
                                         for i in head_before)
        for rec in members.values():
            self._link(rec, canonical, members, keep_text=rec["id"] in head_before and not strong)
        for i, m in members.items():  # a copy whose text is not kept is found through its canonical copy
            if not m.get("text") and i in self.index:
                self.index.remove(i)
        out = [record] + [m for i, m in members.items()
                          if i != record["id"] and before[i] != (m.get("duplicate_of"), m.get("also_at"), bool(m.get("text")))]
        return self._with_story(canonical, members, out + self._detach(old, record))

    def _with_story(self, canonical: str, members: dict[str, dict], out: list[dict]) -> list[dict]:
        """The story step (``pipelines/dedup/stories.py``) for the cluster; merges the records it changes."""
        head = members[canonical]
        if not head.get("text"):
            return out
        story_before = {i: (m.get("same_story"), m.get("story_original")) for i, m in members.items()}
        others = self.stories.place(head, members)
        seen = {r["id"] for r in out}
        for i, m in members.items():
            if i not in seen and story_before[i] != (m.get("same_story"), m.get("story_original")):
                out.append(m)
                seen.add(i)
        for rec in others:
            if rec["id"] not in seen:
                out.append(rec)
                seen.add(rec["id"])
        return out

    def _record(self, doc_id: str, with_text: bool = True) -> dict | None:
        """The stored record, or None; a record file that cannot be read counts as none (the store's reader
        says so once: ``Corpus.skipped``), so one broken file does not stop every later run's dedup."""
        try:
            return self.corpus.get(doc_id, with_text=with_text)
        except SchemaError as exc:
            skipped = getattr(self.corpus, "skipped", None)
            if skipped is not None:
                skipped(f"corpus/docs/{doc_id}.json", exc)
            return None

    def _get(self, doc_id: str) -> dict | None:
        """A record with its text, read once per ``resolve``."""
        if doc_id not in self._cache:
            self._cache[doc_id] = self._record(doc_id)
        return self._cache[doc_id]

    def _text_of(self, doc_id: str) -> str | None:
        rec = self._get(doc_id) if self._cache is not None else self._record(doc_id)
        return (rec or {}).get("text") or None

    def _link(self, rec: dict, canonical: str, members: dict[str, dict], keep_text: bool = False) -> None:
        if rec["id"] == canonical:
            rec["duplicate_of"] = None
            rec["also_at"] = [{"id": m["id"], "url": m["url"], "outlet": m.get("outlet")}
                              for m in sorted(members.values(), key=lambda m: m["id"]) if m["id"] != canonical]
            rec.pop("text_kept", None)
            return
        rec["duplicate_of"], rec["also_at"] = canonical, []
        head_text = members[canonical].get("text") or ""
        if rec.get("text") and keep_text:  # a canonical set aside by a claimed date or less: its text stays
            rec["text_kept"] = "was the canonical copy; the new one is not credited or declared as original"
        elif rec.get("text") and head_text and wire_credit(rec["text"]) and not wire_credit(head_text):
            rec["text_kept"] = "the wire's own version (its dateline), which the canonical copy restyled"
        elif rec.get("text") and head_text:
            if _coverage(rec["text"], head_text, self.cfg.shingle_size) >= COVERED:
                rec["text"] = ""
                rec.pop("text_kept", None)
            else:
                rec["text_kept"] = "adds content beyond the canonical copy"

    def _detach(self, old: dict | None, record: dict) -> list[dict]:
        """A record that left its cluster (its text changed) is removed from the old canonical."""
        if not old or not old.get("duplicate_of") or record.get("duplicate_of") == old["duplicate_of"]:
            return []
        head = self._record(old["duplicate_of"])
        if head is None or record["id"] == head["id"]:
            return []
        remaining = [a for a in head.get("also_at") or [] if a["id"] != record["id"]]
        if remaining == head.get("also_at"):
            return []
        head["also_at"] = remaining
        return [head]

    # -- batch -------------------------------------------------------------------------------
    def rebuild(self) -> list[dict]:
        """Recompute every cluster and story from the records; returns the records that changed.

        The records that keep a text are replayed through ``resolve`` in the order they were first
        fetched (``fetched_at``, then id) on an in-memory view, so a rebuild gives what incremental runs in
        that order gave, with today's rules. A duplicate whose text was not kept follows the cluster of
        the record its ``duplicate_of`` names.
        """
        records = {r["id"]: r for r in self.corpus.iter_records()}
        view = _MemoryView()
        replay = Deduplicator(view, self.cfg, self.priority)
        order = sorted((r for r in records.values() if r.get("text")),
                       key=lambda r: (str(r.get("fetched_at") or ""), r["id"]))
        for rec in order:
            fresh = dict(rec, duplicate_of=None, also_at=[], same_story=None, story_original=None)
            fresh.pop("text_kept", None)
            for out in replay.resolve(fresh):
                view.put(out)
        for doc_id, rec in sorted(records.items()):  # copies without a text of their own
            if rec.get("text") or doc_id in view.records:
                continue
            head = view.records.get(rec.get("duplicate_of") or "")
            if head is not None and head.get("duplicate_of"):
                head = view.records.get(head["duplicate_of"])
            if head is None:
                view.put(dict(rec, duplicate_of=None, also_at=[], same_story=None, story_original=None))
                continue
            view.put(dict(rec, duplicate_of=head["id"], also_at=[], same_story=head.get("same_story"),
                          story_original=head.get("story_original")))
            head["also_at"] = sorted(head.get("also_at", []) + [{"id": doc_id, "url": rec["url"], "outlet": rec.get("outlet")}],
                                     key=lambda a: a["id"])
            if head.get("same_story"):
                story = view.read_json(f"{STORIES}{head['same_story']}.json")
                story["members"] = sorted(set(story["members"]) | {doc_id})
        _keep_story_ids(records, view)
        self.stories.clear()
        for key, obj in sorted(view.json.items()):
            self.corpus.write_json(key, obj)
        self.index = replay.index
        self.index.texts = self._text_of
        self.stories.index = self.index
        self.dirty = True
        links = ("duplicate_of", "also_at", "same_story", "story_original", "text_kept")
        changed = []
        for doc_id, rec in records.items():
            new = view.records[doc_id]
            if any((rec.get(k) or None) != (new.get(k) or None) for k in links) or bool(rec.get("text")) != bool(new.get("text")):
                changed.append(new)
        return changed


def _keep_story_ids(before: dict[str, dict], view: "_MemoryView") -> None:
    """Give each story the replay formed the id its members had before, where most of them had one that no
    other story takes: a story is named after the first canonical text it had, and a copy that since lost
    its text to a better one is no longer there to name it (a reviewer: a rebuild renamed an unchanged story
    after a canonical switch)."""
    votes: list[tuple[int, str, str]] = []
    for key, story in view.json.items():
        if key.startswith(STORIES) and isinstance(story, dict):
            counts: dict[str, int] = {}
            for mid in story.get("members") or []:
                old = (before.get(mid) or {}).get("same_story")
                if old:
                    counts[old] = counts.get(old, 0) + 1
            votes += [(-n, old, story["id"]) for old, n in counts.items() if 2 * n > len(story["members"])]
    taken_old, renamed = set(), {}
    current = {story["id"] for key, story in view.json.items() if key.startswith(STORIES) and isinstance(story, dict)}
    for _, old, new in sorted(votes):  # most members first
        if new in renamed or old in taken_old or (old != new and old in current):  # (another story's own id)
            continue
        taken_old.add(old)
        renamed[new] = old
    for new, old in renamed.items():
        if new == old:
            continue
        story = view.json.pop(f"{STORIES}{new}.json")
        view.json[f"{STORIES}{old}.json"] = dict(story, id=old)
        for rec in view.records.values():
            if rec.get("same_story") == new:
                rec["same_story"] = old


class _MemoryView:
    """What ``Deduplicator`` and ``Stories`` use of a corpus, in memory (the rebuild's replay)."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.json: dict[str, object] = {}
        self.store = self

    def get(self, doc_id: str, *, with_text: bool = True) -> dict | None:
        rec = self.records.get(doc_id)
        return None if rec is None else dict(rec)

    def put(self, record: dict) -> None:
        self.records[record["id"]] = dict(record)

    def read_json(self, key: str):
        return self.json.get(key)

    def write_json(self, key: str, obj, *, if_changed: bool = False) -> bool:
        self.json[key] = obj
        return True

    def exists(self, key: str) -> bool:
        return key in self.json

    def delete(self, key: str) -> None:
        self.json.pop(key, None)

    def list(self, prefix: str):
        return sorted(k for k in self.json if k.startswith(prefix))

    def read(self, key: str):
        return None
