"""Near-duplicates across the corpus: one canonical copy per cluster, the others linked to it.

Pure Python on a :class:`~pipelines.corpus.Corpus` (no Scrapy).  The MinHash
index (``pipelines.dedup``) persists in the store as ``dedup/index.bin``,
versioned with its parameters: loaded at start, reconciled with the records
(a crash between a record write and the index save loses nothing: each entry
carries the ``text_sha256`` of the text it was signed from, and an entry whose
record now has another text is signed again), saved atomically at the end, so each crawl and ``corpus fetch`` deduplicates
against everything already in the corpus.

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

from pipelines.dedup.canonical import choose_canonical, credited_outlet
from pipelines.dedup import DedupConfig, NearDupIndex, ParamsMismatch, cluster, shingle_hashes

__all__ = ["Deduplicator", "INDEX_KEY", "COVERED"]

log = logging.getLogger(__name__)
INDEX_KEY = "dedup/index.bin"
COVERED = 0.8  # a duplicate whose shingles are this much inside the canonical's keeps no text


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
        self.index = NearDupIndex(self.cfg)
        self.dirty = False

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> "Deduplicator":
        """Load the persisted index (or rebuild it) and reconcile it with the records."""
        data = self.corpus.store.read(INDEX_KEY)
        if data:
            try:
                self.index = NearDupIndex.from_bytes(data, self.cfg)
            except (ParamsMismatch, ValueError) as exc:
                log.warning("dedup index not usable (%s): rebuilding from the records", exc)
                self.index = NearDupIndex(self.cfg)
        # the run's manifest names every live document and whether it keeps a text: only those with a
        # text that the index lacks are read (a store without a manifest: list the records)
        documents = self.corpus.documents() if hasattr(self.corpus, "documents") else None
        if documents is None:
            documents = {key[len("corpus/docs/"):-5]: True for key in self.corpus.store.list("corpus/docs/")
                         if key.endswith(".json")}
        known = set(documents)
        for stale in [i for i in self.index.ids() if i not in known]:
            self.index.remove(stale)
            self.dirty = True
        missing = [i for i in sorted(known) if documents[i] and i not in self.index]
        for doc_id in self._changed_texts():  # a run stopped between its record writes and this save
            self.index.remove(doc_id)
            self.dirty = True
            if documents.get(doc_id):
                missing.append(doc_id)
        items, tags = [], {}
        for doc_id in sorted(set(missing)):
            rec = self.corpus.get(doc_id)
            if rec and rec.get("text"):
                items.append((doc_id, rec["text"]))
                tags[doc_id] = rec.get("text_sha256")
        if items:
            self.index.add_many(items, tags=tags)
            self.dirty = True
        return self

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
        if not self.dirty:
            return False
        self.corpus.store.write(INDEX_KEY, self.index.to_bytes(), content_type="application/octet-stream")
        self.dirty = False
        return True

    # -- clusters --------------------------------------------------------------------------
    def _member(self, rec: dict) -> dict:
        m = dict(rec)
        m["priority"] = self.priority(rec.get("outlet"))
        m["canonical_url"] = rec.get("declared_canonical") or rec.get("canonical_url")
        return m

    def _cluster_ids(self, doc_id: str) -> set[str]:
        rec = self.corpus.get(doc_id, with_text=False)
        if rec is None:
            return {doc_id}
        root = rec.get("duplicate_of") or doc_id
        head = self.corpus.get(root, with_text=False) if root != doc_id else rec
        ids = {root, doc_id}
        for other in (head or {}).get("also_at") or []:
            ids.add(other["id"])
        return ids

    def resolve(self, record: dict) -> list[dict]:
        """Place ``record`` (with its text) in its cluster.

        Returns the records to write: ``record`` first (with ``duplicate_of``,
        ``also_at`` and, for a duplicate, its text dropped when covered), then
        every other member whose links changed.
        """
        text = record.get("text") or ""
        record["credit"] = record.get("credit") or credited_outlet(text)
        matches = self.index.find(text, exclude=record["id"]) if text else []
        self.index.add(record["id"], text, tag=record.get("text_sha256"))
        self.dirty = True
        ids = {record["id"]}
        for match in matches:
            ids |= self._cluster_ids(match.doc_id)
        old = self.corpus.get(record["id"], with_text=False)
        if old and old.get("duplicate_of") and old["duplicate_of"] in ids:
            ids |= self._cluster_ids(record["id"])
        if len(ids) == 1:
            record["duplicate_of"], record["also_at"] = None, []
            if old and old.get("also_at"):  # it was the canonical of copies: they still point here
                record["also_at"] = old["also_at"]
            return [record] + self._detach(old, record)
        members = {record["id"]: record}
        for doc_id in sorted(ids - {record["id"]}):
            rec = self.corpus.get(doc_id)
            if rec is not None:
                members[doc_id] = rec
        canonical = choose_canonical([self._member(m) for m in members.values()])
        out = [record]
        for doc_id, rec in members.items():
            before = (rec.get("duplicate_of"), rec.get("also_at"), bool(rec.get("text")))
            self._link(rec, canonical, members)
            if doc_id != record["id"] and before != (rec.get("duplicate_of"), rec.get("also_at"), bool(rec.get("text"))):
                out.append(rec)
        return out + self._detach(old, record)

    def _link(self, rec: dict, canonical: str, members: dict[str, dict]) -> None:
        if rec["id"] == canonical:
            rec["duplicate_of"] = None
            rec["also_at"] = [{"id": m["id"], "url": m["url"], "outlet": m.get("outlet")}
                              for m in sorted(members.values(), key=lambda m: m["id"]) if m["id"] != canonical]
            rec.pop("text_kept", None)
            return
        rec["duplicate_of"], rec["also_at"] = canonical, []
        head_text = members[canonical].get("text") or ""
        if rec.get("text") and head_text:
            if _coverage(rec["text"], head_text, self.cfg.shingle_size) >= COVERED:
                rec["text"] = ""
                rec.pop("text_kept", None)
            else:
                rec["text_kept"] = "adds content beyond the canonical copy"

    def _detach(self, old: dict | None, record: dict) -> list[dict]:
        """A record that left its cluster (its text changed) is removed from the old canonical."""
        if not old or not old.get("duplicate_of") or record.get("duplicate_of") == old["duplicate_of"]:
            return []
        head = self.corpus.get(old["duplicate_of"])
        if head is None or record["id"] == head["id"]:
            return []
        remaining = [a for a in head.get("also_at") or [] if a["id"] != record["id"]]
        if remaining == head.get("also_at"):
            return []
        head["also_at"] = remaining
        return [head]

    # -- batch -------------------------------------------------------------------------------
    def rebuild(self) -> list[dict]:
        """Recompute every cluster from the records; returns the records that changed.

        Records that keep their text are clustered afresh; a duplicate whose text
        was not kept stays with the cluster its ``duplicate_of`` names.
        """
        records = {r["id"]: r for r in self.corpus.iter_records()}
        with_text = [(i, r["text"]) for i, r in records.items() if r.get("text")]
        self.index = NearDupIndex(self.cfg)
        self.index.add_many(with_text, tags={i: r.get("text_sha256") for i, r in records.items()})
        self.dirty = True
        groups = {i: set(group) for group in cluster(with_text, self.cfg) for i in group}
        for doc_id, rec in records.items():
            if not rec.get("text") and rec.get("duplicate_of") in groups:
                group = groups[rec["duplicate_of"]]
                group.add(doc_id)
                groups[doc_id] = group
        changed, done = [], set()
        for doc_id, group in groups.items():
            if doc_id in done:
                continue
            done |= group
            members = {i: records[i] for i in sorted(group)}
            canonical = choose_canonical([self._member(m) for m in members.values()])
            for rec in members.values():
                before = (rec.get("duplicate_of"), rec.get("also_at") or [], bool(rec.get("text")))
                if len(members) == 1:
                    rec["duplicate_of"], rec["also_at"] = None, []
                else:
                    self._link(rec, canonical, members)
                if before != (rec.get("duplicate_of"), rec.get("also_at") or [], bool(rec.get("text"))):
                    changed.append(rec)
        return changed
