"""NearDupIndex: exact-hash short-circuit, LSH candidates, a cheap pre-filter, exact verification on texts.

Compact: about 1.3 KiB per document in memory at 10^6 documents (``bench/dedup_scale.py``), no shingle set kept. Per
document (a row): the 16-byte hash of its normalised words, its shingle count, one byte of each MinHash
value (``bbit``: a b-bit MinHash, enough to estimate Jaccard to +-0.05) and its tag; the id in a dict.
Band keys (one uint32 per LSH band: the band's MinHash values hashed), the exact hash and the story
anchors live in ``Postings`` (sorted uint64 runs ``key << 32 | row``), not in Python dicts.

A query's LSH candidates are pre-filtered on the b-bit estimate (Jaccard, or containment from Jaccard and
the two shingle counts, with margins of about three standard deviations); only those left are verified
on their text, read through ``texts(doc_id) -> str | None`` (the deduplicator reads the record from the
store, ``cluster()`` passes ``dict.get``). ``NearDupIndex(cfg)`` without ``texts`` keeps the texts it is
given itself (small indexes, tests). The decision rule is the package's (exact hash; Jaccard >=
threshold; containment >= containment with >= min_contained shingles).

A document may carry a ``tag`` (the deduplicator gives the record's ``text_sha256``): the version of the
text it was indexed from, persisted, so a loader can tell which entries are stale.
Persistence (append-only segments): ``pipelines.dedup.persist``.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from pipelines.dedup.features import MAX_ANCHORS, Features, featurize
from pipelines.dedup.postings import Postings
from pipelines.dedup.shingles import normalize_words, DedupConfig, _fmix64, overlap

FORMAT_VERSION = 2
ANCHOR_POSTINGS_MAX = 2000  # story_candidates ignores an anchor shared by more documents (a common phrase)
J_MARGIN = 0.15  # pre-filter: estimated Jaccard >= threshold - J_MARGIN ...
C_MARGIN = 0.3  # ... or estimated containment >= containment - C_MARGIN (b-bit estimate, 128 values)
_BB = 1.0 / 256


class ParamsMismatch(ValueError):
    """Persisted index was built with other parameters (or format): rebuild it from the corpus."""


class Match(NamedTuple):
    doc_id: str
    jaccard: float
    containment: float
    exact: bool


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint32: each LSH band's MinHash values (and the band number) hashed to 32 bits."""
    n = len(sig)
    m = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = m[:, :, 0].copy()
        for j in range(1, rows):
            h = h * np.uint64(0x100000001B3) + m[:, :, j]
        h = h + np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (_fmix64(h) >> np.uint64(32)).astype(np.uint32)


class _Tags(MutableMapping):
    """doc_id -> tag. A 64-hex tag (a sha256) is kept as 32 bytes in the index's row array."""

    def __init__(self, index: "NearDupIndex") -> None:
        self._ix = index

    def __getitem__(self, doc_id: str) -> str:
        ix = self._ix
        row = ix._rows.get(doc_id)
        if row is None:
            raise KeyError(doc_id)
        if ix._tagged[row]:
            return ix._tag[row].tobytes().hex()
        if row in ix._tag_other:
            return ix._tag_other[row]
        raise KeyError(doc_id)

    def __setitem__(self, doc_id: str, tag: str) -> None:
        ix = self._ix
        row = ix._rows[doc_id]
        ix._set_tag(row, tag)
        if row < ix._saved_rows:
            ix._retagged.add(doc_id)

    def __delitem__(self, doc_id: str) -> None:
        ix = self._ix
        row = ix._rows.get(doc_id)
        if row is None or not (ix._tagged[row] or row in ix._tag_other):
            raise KeyError(doc_id)
        ix._tagged[row] = False
        ix._tag_other.pop(row, None)
        if row < ix._saved_rows:
            ix._retagged.add(doc_id)

    def __iter__(self) -> Iterator[str]:
        ix = self._ix
        return (i for i, r in ix._rows.items() if ix._tagged[r] or r in ix._tag_other)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _hex32(tag: str) -> bytes | None:
    if len(tag) != 64:
        return None
    try:
        raw = bytes.fromhex(tag)
    except ValueError:
        return None
    return raw if raw.hex() == tag else None  # lower-case only: the tag reads back as it was given


class NearDupIndex:
    """Incremental near-duplicate index; see the module docstring."""

    def __init__(self, cfg: DedupConfig = DedupConfig(), texts: Callable[[str], str | None] | None = None) -> None:
        self.cfg = cfg
        self._own: dict[str, str] | None = None
        if texts is None:
            self._own = {}
            texts = self._own.get
        self.texts = texts
        self._rows: dict[str, int] = {}
        self._row_id: list[str | None] = []
        self._n = 0  # rows used
        cap = 0
        self._thash = np.zeros((cap, 2), dtype=np.uint64)
        self._nsh = np.zeros(cap, dtype=np.uint32)
        self._bbit = np.zeros((cap, cfg.num_perm), dtype=np.uint8)
        self._tag = np.zeros((cap, 32), dtype=np.uint8)
        self._tagged = np.zeros(cap, dtype=bool)
        self._signed = np.zeros(cap, dtype=bool)
        self._alive = np.zeros(cap, dtype=bool)
        self._tag_other: dict[int, str] = {}
        self._exact = Postings()
        self._lsh = Postings()
        self._anchors = Postings()
        self.tags = _Tags(self)
        # persistence state (pipelines.dedup.persist): rows >= _saved_rows and these ids changed since the save
        self._saved_rows = 0
        self._removed: set[str] = set()
        self._retagged: set[str] = set()
        self._persisted: dict | None = None
        self.texts_read = 0  # candidate texts read for verification (the pre-filter keeps this small)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._rows

    def ids(self) -> Iterator[str]:
        return iter(list(self._rows))

    @property
    def dirty(self) -> bool:
        """Whether anything changed since the last save or load."""
        return self._n > self._saved_rows or bool(self._removed) or bool(self._retagged)

    def memory_bytes(self) -> int:
        """Bytes held in numpy arrays (the dict of ids and the id strings come on top)."""
        arrays = (self._thash, self._nsh, self._bbit, self._tag, self._tagged, self._signed, self._alive)
        return sum(a.nbytes for a in arrays) + self._exact.nbytes + self._lsh.nbytes + self._anchors.nbytes

    # -- rows ------------------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = len(self._nsh)
        if need <= cap:
            return
        new = max(need, cap + cap // 4, 1024)
        for name in ("_thash", "_nsh", "_bbit", "_tag", "_tagged", "_signed", "_alive"):
            old = getattr(self, name)
            arr = np.zeros((new,) + old.shape[1:], dtype=old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)

    def _set_tag(self, row: int, tag: str | None) -> None:
        self._tag_other.pop(row, None)
        self._tagged[row] = False
        if not tag:
            return
        raw = _hex32(tag)
        if raw is None:
            self._tag_other[row] = tag
        else:
            self._tag[row] = np.frombuffer(raw, dtype=np.uint8)
            self._tagged[row] = True

    def _append_raw(self, ids: list[str], thash: np.ndarray, nsh: np.ndarray, signed: np.ndarray,
                    bbit: np.ndarray, lsh_keys: np.ndarray, lsh_counts: np.ndarray, anc_keys: np.ndarray,
                    anc_counts: np.ndarray, tags: list[str | None]) -> None:
        """Add rows for ids not in the index; lsh_keys/anc_keys: each row's keys concatenated (counts per row)."""
        n = len(ids)
        first = self._n
        self._grow(first + n)
        rows = np.arange(first, first + n, dtype=np.uint32)
        self._thash[first : first + n] = thash
        self._nsh[first : first + n] = nsh
        self._signed[first : first + n] = signed
        self._bbit[first : first + n] = bbit
        self._alive[first : first + n] = True
        self._n += n
        self._rows.update(zip(ids, range(first, first + n)))
        self._row_id.extend(ids)
        joined = "".join(t or "" for t in tags)
        if n and len(joined) == 64 * n and all(t and len(t) == 64 for t in tags) and joined == joined.lower():
            try:  # every tag a sha256 in hex: all at once
                self._tag[first : first + n] = np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(n, 32)
                self._tagged[first : first + n] = True
                tags = []
            except ValueError:
                pass
        for i, tag in enumerate(tags):
            self._set_tag(first + i, tag)
        self._exact.add((thash[:, 0] & np.uint64(0xFFFFFFFF)).astype(np.uint32), rows)
        self._lsh.add(lsh_keys, np.repeat(rows, lsh_counts))
        self._anchors.add(anc_keys, np.repeat(rows, anc_counts))

    def _kill(self, doc_id: str) -> bool:
        row = self._rows.pop(doc_id, None)
        if row is None:
            return False
        self._alive[row] = False
        self._tagged[row] = False
        self._tag_other.pop(row, None)
        self._row_id[row] = None
        if row < self._saved_rows:
            self._removed.add(doc_id)
        self._retagged.discard(doc_id)
        return True

    # -- building --------------------------------------------------------------------------------
    def add(self, doc_id: str, text: str, tag: str | None = None) -> None:
        """Index (or re-index, replacing the old version of) one document."""
        self.add_many([(doc_id, text)], tags={doc_id: tag} if tag else None)

    def add_many(self, items: Iterable[tuple[str, str]], batch: int = 512,
                 tags: dict[str, str] | None = None) -> None:
        """Index many (doc_id, text) pairs, a batch at a time; ``tags``: doc_id -> tag."""
        buf: list[tuple[str, str]] = []
        for item in items:
            buf.append(item)
            if len(buf) >= batch:
                self._add_batch(buf, tags)
                buf = []
        if buf:
            self._add_batch(buf, tags)

    def _add_batch(self, buf: list[tuple[str, str]], tags: dict[str, str] | None) -> None:
        last = {doc_id: i for i, (doc_id, _) in enumerate(buf)}  # an id twice in a batch: the last text wins
        if len(last) != len(buf):
            buf = [buf[i] for i in sorted(last.values())]
        for doc_id, _ in buf:
            self._kill(doc_id)
        cfg = self.cfg
        f = featurize([t for _, t in buf], cfg, sets=False)
        ids = [doc_id for doc_id, _ in buf]
        bkeys = band_keys(f.sig, cfg.bands, cfg.rows)
        nsh = np.diff(f.set_off).astype(np.uint32)  # shingle windows (an upper bound of the set size)
        self._append_raw(ids, f.thash, nsh, f.signed, (f.sig & np.uint32(0xFF)).astype(np.uint8),
                         bkeys[f.signed].ravel(), f.signed * cfg.bands, f.anc, np.diff(f.anc_off),
                         [tags.get(i) if tags else None for i in ids])
        if self._own is not None:
            for doc_id, text in buf:
                self._own[doc_id] = text

    def remove(self, doc_id: str) -> None:
        """Forget a document (no error if unknown)."""
        if self._kill(doc_id):
            if self._own is not None:
                self._own.pop(doc_id, None)
            dead = self._n - len(self._rows)
            if dead > 4096 and dead > self._n // 4:
                self.compact()

    def compact(self) -> None:
        """Drop removed rows from memory and renumber the others."""
        n = self._n
        alive = self._alive[:n]
        remap = np.cumsum(alive) - 1
        for name in ("_thash", "_nsh", "_bbit", "_tag", "_tagged", "_signed", "_alive"):
            setattr(self, name, getattr(self, name)[:n][alive].copy())
        for p in (self._exact, self._lsh, self._anchors):
            p.compact(alive, remap)
        self._tag_other = {int(remap[r]): t for r, t in self._tag_other.items()}
        self._saved_rows = int(alive[: self._saved_rows].sum())
        self._row_id = [i for i in self._row_id if i is not None]
        self._rows = {doc_id: r for r, doc_id in enumerate(self._row_id)}
        self._n = len(self._row_id)

    # -- querying --------------------------------------------------------------------------------
    def find(self, text: str, *, exclude: str | None = None) -> list[Match]:
        """Verified duplicates of `text` among indexed documents, best first (exact copies first)."""
        return self._find(featurize([text], self.cfg, with_anchors=False), exclude)

    def find_id(self, doc_id: str) -> list[Match]:
        """Verified duplicates of an indexed document (itself excluded); its text is read through ``texts``."""
        if doc_id not in self._rows:
            raise KeyError(doc_id)
        text = self.texts(doc_id)
        if text is None:
            return []
        return self.find(text, exclude=doc_id)

    def _find(self, f: Features, exclude: str | None) -> list[Match]:
        cfg = self.cfg
        out: dict[str, Match] = {}
        _, rows = self._exact.lookup((f.thash[:, 0] & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        for r in rows:
            if self._alive[r] and np.array_equal(self._thash[r], f.thash[0]):
                doc_id = self._row_id[r]
                if doc_id != exclude:
                    out[doc_id] = Match(doc_id, 1.0, 1.0, True)
        if f.signed[0]:
            _, rows = self._lsh.lookup(np.unique(band_keys(f.sig, cfg.bands, cfg.rows)[0]))
            rows = np.unique(rows)
            rows = rows[self._alive[rows]]
            cand = self._prefilter(rows, f)
            names = [self._row_id[r] for r in cand]
            names = [n for n in names if n != exclude and n not in out]
            self._verify(f.shingles(0), names, out)
        return sorted(out.values(), key=lambda m: (not m.exact, -m.jaccard, -m.containment, m.doc_id))

    def candidates(self, text: str) -> tuple[int, int]:
        """(LSH candidates, candidates left after the pre-filter) for `text`: what a query would verify."""
        f = featurize([text], self.cfg, with_anchors=False)
        if not f.signed[0]:
            return 0, 0
        _, rows = self._lsh.lookup(np.unique(band_keys(f.sig, self.cfg.bands, self.cfg.rows)[0]))
        rows = np.unique(rows)
        rows = rows[self._alive[rows]]
        return len(rows), len(self._prefilter(rows, f))

    def text_hash(self, doc_id: str) -> bytes:
        """The 16-byte hash of the normalised words the document was indexed from (KeyError if unknown)."""
        return self._thash[self._rows[doc_id]].astype("<u8").tobytes()

    def _prefilter(self, rows: np.ndarray, f: Features) -> np.ndarray:
        """Candidates whose b-bit MinHash estimate leaves a chance of passing the rule, most similar first."""
        cfg = self.cfg
        if len(rows) == 0:
            return rows
        q = (f.sig[0] & np.uint32(0xFF)).astype(np.uint8)
        agree = (self._bbit[rows] == q).mean(axis=1)
        jac = np.clip((agree - _BB) / (1 - _BB), 0.0, 1.0)
        a = float(len(f.shingles(0)))
        b = self._nsh[rows].astype(np.float64)
        inter = jac * (a + b) / (1 + jac)
        small = np.minimum(a, b)
        cont = inter / np.maximum(small, 1)
        keep = (jac >= cfg.threshold - J_MARGIN) | ((cont >= cfg.containment - C_MARGIN) & (small >= cfg.min_contained))
        order = np.argsort(-jac[keep], kind="stable")
        return rows[keep][order]

    def _verify(self, probe: np.ndarray, names: list[str], out: dict[str, Match]) -> None:
        cfg = self.cfg
        texts = []
        for doc_id in names:
            text = self.texts(doc_id)
            if text is not None:
                texts.append((doc_id, text))
        self.texts_read += len(texts)
        if not texts:
            return
        g = featurize([t for _, t in texts], cfg, with_anchors=False)
        for i, (doc_id, _) in enumerate(texts):
            other = g.shingles(i)
            jac, cont = overlap(probe, other)
            if jac >= cfg.threshold or (cont >= cfg.containment and min(len(probe), len(other)) >= cfg.min_contained):
                out[doc_id] = Match(doc_id, round(jac, 4), round(cont, 4), False)

    def story_candidates(self, text: str, exclude: str | None = None, limit: int = 50,
                         max_postings: int = ANCHOR_POSTINGS_MAX, min_share: float = 0.0) -> list[tuple[str, int]]:
        """Documents sharing >= 2 story anchors with `text`: [(doc_id, shared anchors)], most shared first.

        An anchor indexed for more than ``max_postings`` documents (a common phrase) is ignored. With
        ``min_share``, a document must also share that part of the smaller of the two anchor sets (the
        other's size estimated from its shingle count at this text's anchors per shingle): two long
        unrelated texts share a few common phrases, copies of one report share a part of their anchors."""
        f = featurize([text], self.cfg, sets=False, sign=False)
        anc = f.anchors(0)
        if len(anc) < 2:
            return []
        n_query = len(anc)
        anc = anc[self._anchors.counts(anc) <= max_postings]
        _, rows = self._anchors.lookup(anc)
        if len(rows) == 0:
            return []
        rows, counts = np.unique(rows, return_counts=True)
        keep = (counts >= 2) & self._alive[rows]
        if min_share > 0:
            per_shingle = n_query / max(1, len(normalize_words(text)))
            other = np.minimum(self._nsh[rows].astype(np.float64) * per_shingle, MAX_ANCHORS)
            keep &= counts >= min_share * np.minimum(n_query, np.maximum(other, 2))
        rows, counts = rows[keep], counts[keep]
        found = [(self._row_id[r], int(c)) for r, c in zip(rows, counts)]
        found = [x for x in found if x[0] != exclude]
        found.sort(key=lambda x: (-x[1], x[0]))
        return found[:limit]

    # -- one-blob persistence (kept for callers of the old API; the store uses persist.save_index) ------
    def to_bytes(self) -> bytes:
        """The whole index as one checksummed blob (a snapshot segment)."""
        from pipelines.dedup.persist import encode_snapshot

        return encode_snapshot(self)

    @classmethod
    def from_bytes(cls, data: bytes, cfg: DedupConfig | None = None,
                   texts: Callable[[str], str | None] | None = None) -> "NearDupIndex":
        """Load a ``to_bytes`` blob. Other parameters or format -> ParamsMismatch; corrupt -> ValueError."""
        from pipelines.dedup.persist import decode_snapshot

        return decode_snapshot(data, cfg, texts)
