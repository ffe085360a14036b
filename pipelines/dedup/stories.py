"""Same-story clusters on a corpus: which records are copies of one report, and which is the original.

Pure Python on a :class:`~pipelines.corpus.Corpus`.  The unit is a near-duplicate cluster (one text, its
canonical record and the copies linked to it): a story groups such clusters whose canonical texts are
verified copies of one report (:func:`pipelines.dedup.story.same_story`), candidates coming from the
index's anchors (``NearDupIndex.story_candidates``), never from comparing all pairs.

Every member record carries ``same_story`` (the story's id) and ``story_original`` (the member believed
original, chosen among the canonical copies with the rules of :mod:`pipelines.dedup.canonical`); the
story's member list lives in the dedup state, ``dedup/stories/<id>.json``, one small object per story,
written only when that story changes.

Chaining: a new text joins the stories it matches only where it matches them on the same part of its
own text.  A round-up that contains two reports (one in its first half, one in its second) matches both
on disjoint parts: it joins the better one and the two stay apart.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import xxhash

from pipelines.crawl.urls import site_name
from pipelines.dedup.canonical import decide
from pipelines.dedup.story import StoryConfig, same_story, shared_part

__all__ = ["Stories", "STORIES"]

log = logging.getLogger(__name__)
STORIES = "dedup/stories/"
SAME_PART = 0.5  # least overlap of the parts of a new text that two matched stories share, to merge them
CANDIDATES = 20  # candidates verified per text, most shared anchors first (true copies rank in the first 4 on syndication-dev)
MIN_SHARE = 0.1  # ... sharing at least this part of the smaller anchor set (48 of 49 edited pairs, 1.6% of the others)


def _other_sites(rec: dict) -> int:
    """How many other sites carry the text of ``rec`` (its near-duplicate copies, by site: Yahoo's regional
    editions or one site's m. and www. pages are one)."""
    own = site_name(rec.get("url") or "")
    return len({site_name(a.get("url") or "") for a in rec.get("also_at") or []} - {own, ""})


def _story_id(doc_id: str) -> str:
    return "st-" + xxhash.xxh3_64_hexdigest(doc_id.encode("utf-8"))


class Stories:
    """``place(head, cluster)`` after the near-duplicate step; ``forget``; ``clear`` for a rebuild."""

    def __init__(self, corpus, index, get: Callable[[str], dict | None],
                 priority: Callable[[str | None], int], cfg: StoryConfig | None = None) -> None:
        self.corpus, self.index, self.get, self.priority = corpus, index, get, priority
        self.cfg = cfg or StoryConfig()
        self.stats = {"verified": 0, "rejected": 0, "apart": 0}

    # -- the story files -------------------------------------------------------------------
    def read(self, sid: str) -> dict | None:
        obj = self.corpus.read_json(f"{STORIES}{sid}.json")
        return obj if isinstance(obj, dict) and obj.get("members") else None

    def _write(self, sid: str, members: list[str], original: str | None, partial: list[str] | None = None) -> None:
        obj = {"id": sid, "members": sorted(members), "original": original}
        if partial:
            obj["partial"] = sorted(partial)  # digests: members that matched another story on another part
        self.corpus.write_json(f"{STORIES}{sid}.json", obj, if_changed=True)

    def _delete(self, sid: str) -> None:
        key = f"{STORIES}{sid}.json"
        if self.corpus.store.exists(key):
            self.corpus.store.delete(key)

    def clear(self) -> None:
        for key in list(self.corpus.store.list(STORIES)):
            self.corpus.store.delete(key)

    # -- placing a cluster -------------------------------------------------------------------
    def _matches(self, head: dict, cluster: set[str]) -> list[tuple[float, dict]]:
        text = head.get("text") or ""
        if not text:
            return []
        out = []
        for cid, _shared in self.index.story_candidates(text, exclude=head["id"], limit=CANDIDATES,
                                                           min_share=MIN_SHARE):
            if cid in cluster:
                continue
            rec = self.get(cid)
            if not rec or not rec.get("text") or rec.get("duplicate_of") in cluster:
                continue  # (a copy that kept its text, such as a wire's own version, is matched too)
            ev = same_story(head, rec, self.cfg)
            if ev is None:
                self.stats["rejected"] += 1
                continue
            self.stats["verified"] += 1
            out.append((ev.score, rec))
        return sorted(out, key=lambda x: (-x[0], x[1]["id"]))

    def place(self, head: dict, cluster: dict[str, dict]) -> list[dict]:
        """Put the near-duplicate cluster ``cluster`` (id -> record, ``head`` its canonical, with text) in
        its story. Sets ``same_story``/``story_original`` on the records of ``cluster`` (in place) and
        returns the other records whose links changed (to be written)."""
        ids = set(cluster)
        old = {r.get("same_story") for r in cluster.values() if r.get("same_story")}
        groups: dict[str, list[tuple[float, dict]]] = {}
        for score, rec in self._matches(head, ids):  # a copy brings its canonical's cluster
            groups.setdefault(rec.get("same_story") or f"doc:{rec.get('duplicate_of') or rec['id']}", []).append((score, rec))
        for g in [g for g in groups if not g.startswith("doc:") and g not in old]:
            if not self._joins(head, g, groups[g]):
                del groups[g]
                self.stats["apart"] += 1
        chosen: list[str] = []
        partial = False
        if groups:
            ranked = sorted(groups, key=lambda g: (-groups[g][0][0], g))
            base = shared_part(head["text"], groups[ranked[0]][0][1]["text"])
            chosen.append(ranked[0])
            for g in ranked[1:]:
                part = shared_part(head["text"], groups[g][0][1]["text"])
                inter = len(np.intersect1d(base, part, assume_unique=True))
                if inter >= SAME_PART * max(1, min(len(base), len(part))):
                    chosen.append(g)
                else:
                    self.stats["apart"] += 1  # matched on another part of this text: a round-up, not a copy
                    partial = True
        members: set[str] = set(ids)
        stories: dict[str, dict] = {}
        for sid in sorted(old) + [g for g in chosen if not g.startswith("doc:")]:
            story = stories.get(sid) or self.read(sid)
            if story is not None:
                stories[sid] = story
                if sid in old or sid in chosen:
                    members |= set(story["members"])
        for g in chosen:
            if g.startswith("doc:"):  # a text in no story yet: it comes with its near-duplicate copies
                members.add(g[4:])
                members |= {a["id"] for a in (self.get(g[4:]) or {}).get("also_at") or []}
        changed: list[dict] = []
        if len(members) == len(ids) and not chosen:
            # alone (or only its own copies): leave any story it was in
            for rec in cluster.values():
                rec["same_story"], rec["story_original"] = None, None
            return changed + self._leave(old, ids)
        keep = sorted((s for s in stories if s in chosen or s in old),
                      key=lambda s: (-len(stories[s]["members"]), s))
        records = dict(cluster)
        for mid in sorted(members - ids):
            rec = self.get(mid)
            if rec is not None:
                records[mid] = rec
        members = set(records)
        # a new story is named after its first canonical texts (not their copies: a rebuild, which places
        # the copies without a text last, names it alike)
        sid = keep[0] if keep else _story_id(min(i for i, r in records.items() if not r.get("duplicate_of")) if
                                             any(not r.get("duplicate_of") for r in records.values()) else min(members))
        prior = stories.get(sid, {}).get("original")
        candidates = [dict(r, priority=self.priority(r.get("outlet")), incumbent=r["id"] == prior,
                           canonical_url=r.get("declared_canonical") or r.get("canonical_url"),
                           copies=_other_sites(r))
                      for r in records.values() if not r.get("duplicate_of")]
        original = decide(candidates)[0] if candidates else head["id"]
        for mid, rec in records.items():
            before = (rec.get("same_story"), rec.get("story_original"))
            rec["same_story"], rec["story_original"] = sid, original
            if mid not in ids and before != (sid, original):
                changed.append(rec)
        marked = set().union(*(stories[k].get("partial") or [] for k in keep)) if keep else set()
        if partial:
            marked.add(head["id"])
        self._write(sid, sorted(members), original, sorted(marked & members))
        for other in keep[1:]:
            self._delete(other)
        return changed + self._leave({s for s in old if s not in keep}, ids)

    def _joins(self, head: dict, sid: str, matched: list[tuple[float, dict]]) -> bool:
        """A text joins an existing story through the members it matched, unless all of them are partial
        (a digest that also matched another story on another part of itself): then only if it is a copy
        of the story's original too, or the digest would chain the two stories."""
        story = self.read(sid) or {}
        partial = set(story.get("partial") or [])
        if any(rec["id"] not in partial for _, rec in matched):
            return True
        originals = {rec.get("story_original") for _, rec in matched}
        original = next((o for o in originals if o), None)
        rec = self.get(original) if original else None
        if rec is None or not rec.get("text"):
            return True  # nothing to check against (an original removed, or kept without a text)
        return same_story(head, rec, self.cfg) is not None

    def _leave(self, sids: set[str], ids: set[str]) -> list[dict]:
        """Take ``ids`` out of the stories ``sids``; the rest of each story keeps its links (a story left with
        one near-duplicate cluster is no story)."""
        changed: list[dict] = []
        for sid in sorted(sids):
            story = self.read(sid)
            if story is None:
                continue
            rest = [m for m in story["members"] if m not in ids]
            records = {m: r for m in rest if (r := self.get(m)) is not None}
            heads = [r for r in records.values() if not r.get("duplicate_of")]
            if len(heads) <= 1:
                for rec in records.values():
                    if rec.get("same_story") or rec.get("story_original"):
                        rec["same_story"], rec["story_original"] = None, None
                        changed.append(rec)
                self._delete(sid)
                continue
            original = story.get("original")
            if original not in records:
                original = decide([dict(r, priority=self.priority(r.get("outlet"))) for r in heads])[0]
            for rec in records.values():
                if rec.get("story_original") != original:
                    rec["story_original"] = original
                    changed.append(rec)
            self._write(sid, rest, original, [p for p in story.get("partial") or [] if p in rest])
        return changed

    def forget(self, record: dict) -> list[dict]:
        """A record removed from the corpus (or from its cluster): out of its story."""
        sid = record.get("same_story")
        return self._leave({sid}, {record["id"]}) if sid else []
