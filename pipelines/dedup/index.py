"""NearDupIndex: exact-hash short-circuit, MinHashLSH candidates (explicit bands/rows), exact verification.

Per document the index keeps the 16-byte text hash, the sorted uint32 shingle hashes (verification)
and the uint32 signature (persistence), all as ``bytes``; the LSH band tables live in datasketch.
A document may carry a ``tag`` (the deduplicator gives the record's ``text_sha256``): what version of
the text it was indexed from, persisted, so a loader can tell which entries are stale.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

import numpy as np
import xxhash
from datasketch import MinHashLSH

from pipelines.dedup.shingles import (
    SCHEME,
    DedupConfig,
    normalize_words,
    overlap,
    signature_matrix,
    text_hash,
    to_minhash,
    word_shingles,
)

MAGIC = b"NDIX"
FORMAT_VERSION = 1


class ParamsMismatch(ValueError):
    """Persisted index was built with other parameters (or format): rebuild it from the corpus."""


class Match(NamedTuple):
    doc_id: str
    jaccard: float
    containment: float
    exact: bool


@dataclass(frozen=True)
class _Doc:
    thash: bytes
    shingles: bytes  # sorted unique uint32
    sig: bytes  # uint32 * num_perm, b"" when the text is too short for LSH


class _Probe(NamedTuple):
    thash: bytes
    shingles: np.ndarray
    sig: np.ndarray | None


class NearDupIndex:
    """Incremental near-duplicate index; see the package docstring for the decision rule."""

    def __init__(self, cfg: DedupConfig = DedupConfig()) -> None:
        self.cfg = cfg
        self._docs: dict[str, _Doc] = {}
        self._exact: dict[bytes, set[str]] = {}
        self.tags: dict[str, str] = {}  # doc_id -> the version of the text it was indexed from
        self._lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=(cfg.bands, cfg.rows))

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def ids(self) -> Iterator[str]:
        return iter(self._docs)

    # -- building -------------------------------------------------------------------------
    def _probes(self, texts: list[str]) -> list[_Probe]:
        cfg = self.cfg
        words = [normalize_words(t) for t in texts]
        sets = [word_shingles(w, cfg.shingle_size) for w in words]
        long_idx = [i for i, w in enumerate(words) if len(w) >= cfg.min_words]
        mat = signature_matrix([sets[i] for i in long_idx], cfg.num_perm, cfg.seed)
        sigs: list[np.ndarray | None] = [None] * len(texts)
        for row, i in zip(mat, long_idx):
            sigs[i] = row
        return [_Probe(text_hash(w), s, g) for w, s, g in zip(words, sets, sigs)]

    def _insert(self, doc_id: str, p: _Probe) -> None:
        if doc_id in self._docs:
            self.remove(doc_id)
        sig = b"" if p.sig is None else p.sig.tobytes()
        self._docs[doc_id] = _Doc(p.thash, p.shingles.astype(np.uint32).tobytes(), sig)
        self._exact.setdefault(p.thash, set()).add(doc_id)
        if p.sig is not None:
            self._lsh.insert(doc_id, to_minhash(p.sig, self.cfg.seed), check_duplication=False)

    def add(self, doc_id: str, text: str, tag: str | None = None) -> None:
        """Index (or re-index, replacing the old version of) one document."""
        self._insert(doc_id, self._probes([text])[0])
        if tag:
            self.tags[doc_id] = tag

    def add_many(self, items: Iterable[tuple[str, str]], batch: int = 512,
                 tags: dict[str, str] | None = None) -> None:
        """Index many (doc_id, text) pairs; signatures are computed per batch; ``tags``: doc_id -> tag."""
        buf: list[tuple[str, str]] = []
        for item in items:
            buf.append(item)
            if len(buf) >= batch:
                self._add_batch(buf, tags)
                buf = []
        if buf:
            self._add_batch(buf, tags)

    def _add_batch(self, buf: list[tuple[str, str]], tags: dict[str, str] | None = None) -> None:
        for (doc_id, _), p in zip(buf, self._probes([t for _, t in buf])):
            self._insert(doc_id, p)
            if tags and tags.get(doc_id):
                self.tags[doc_id] = tags[doc_id]

    def remove(self, doc_id: str) -> None:
        """Forget a document (no error if unknown)."""
        doc = self._docs.pop(doc_id, None)
        self.tags.pop(doc_id, None)
        if doc is None:
            return
        peers = self._exact.get(doc.thash)
        if peers is not None:
            peers.discard(doc_id)
            if not peers:
                del self._exact[doc.thash]
        if doc.sig:
            self._lsh.remove(doc_id)

    # -- querying -------------------------------------------------------------------------
    def find(self, text: str, *, exclude: str | None = None) -> list[Match]:
        """Verified duplicates of `text` among indexed documents, best first (exact copies first)."""
        return self._find(self._probes([text])[0], exclude)

    def find_id(self, doc_id: str) -> list[Match]:
        """Verified duplicates of an indexed document (itself excluded), from stored data only."""
        d = self._docs[doc_id]
        sig = np.frombuffer(d.sig, dtype=np.uint32) if d.sig else None
        return self._find(_Probe(d.thash, np.frombuffer(d.shingles, dtype=np.uint32), sig), doc_id)

    def _find(self, p: _Probe, exclude: str | None) -> list[Match]:
        out: dict[str, Match] = {}
        for doc_id in self._exact.get(p.thash, ()):
            if doc_id != exclude:
                out[doc_id] = Match(doc_id, 1.0, 1.0, True)
        if p.sig is not None:
            for doc_id in self._lsh.query(to_minhash(p.sig, self.cfg.seed)):
                if doc_id == exclude or doc_id in out:
                    continue
                other = np.frombuffer(self._docs[doc_id].shingles, dtype=np.uint32)
                m = self._verify(doc_id, p.shingles, other)
                if m is not None:
                    out[doc_id] = m
        return sorted(out.values(), key=lambda m: (not m.exact, -m.jaccard, -m.containment, m.doc_id))

    def _verify(self, doc_id: str, a: np.ndarray, b: np.ndarray) -> Match | None:
        cfg = self.cfg
        jac, cont = overlap(a, b)
        if jac >= cfg.threshold or (cont >= cfg.containment and min(len(a), len(b)) >= cfg.min_contained):
            return Match(doc_id, round(jac, 4), round(cont, 4), False)
        return None

    # -- persistence ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Versioned, self-describing serialisation (header JSON + packed arrays + xxh64 checksum)."""
        ids = list(self._docs)
        docs = [self._docs[i] for i in ids]
        header = {
            "format": FORMAT_VERSION,
            "scheme": SCHEME,
            "config": self.cfg.to_dict(),
            "count": len(ids),
            "tags": True,  # a 7th part: one tag per id ("" for none); readers that know 6 parts ignore it
        }
        parts = [
            "\n".join(ids).encode("utf-8"),
            b"".join(d.thash for d in docs),
            np.array([len(d.shingles) // 4 for d in docs], dtype="<u4").tobytes(),
            np.array([bool(d.sig) for d in docs], dtype=np.uint8).tobytes(),
            b"".join(d.shingles for d in docs),
            b"".join(d.sig for d in docs),
            "\n".join(self.tags.get(i, "") for i in ids).encode("utf-8"),
        ]
        head = json.dumps(header, sort_keys=True).encode("utf-8")
        body = struct.pack("<I", len(head)) + head + b"".join(struct.pack("<Q", len(x)) + x for x in parts)
        return MAGIC + struct.pack("<H", FORMAT_VERSION) + struct.pack("<Q", xxhash.xxh64_intdigest(body)) + body

    @classmethod
    def from_bytes(cls, data: bytes, cfg: DedupConfig | None = None) -> "NearDupIndex":
        """Load an index. If `cfg` is given and differs from the stored parameters -> ParamsMismatch."""
        if data[:4] != MAGIC or len(data) < 14:
            raise ParamsMismatch("not a NearDupIndex blob")
        (version,) = struct.unpack_from("<H", data, 4)
        if version != FORMAT_VERSION:
            raise ParamsMismatch(f"index format {version} != {FORMAT_VERSION}: rebuild")
        (checksum,) = struct.unpack_from("<Q", data, 6)
        body = memoryview(data)[14:]
        if xxhash.xxh64_intdigest(body) != checksum:
            raise ValueError("NearDupIndex blob is corrupt (checksum)")
        (hlen,) = struct.unpack_from("<I", body, 0)
        header = json.loads(bytes(body[4 : 4 + hlen]))
        stored = DedupConfig(**header["config"])
        if header.get("scheme") != SCHEME or (cfg is not None and cfg != stored):
            raise ParamsMismatch(f"index built with {stored}, asked for {cfg}: rebuild")
        pos, parts = 4 + hlen, []
        for _ in range(7 if header.get("tags") else 6):
            (n,) = struct.unpack_from("<Q", body, pos)
            parts.append(bytes(body[pos + 8 : pos + 8 + n]))
            pos += 8 + n
        count = header["count"]
        ids = parts[0].decode("utf-8").split("\n") if count else []
        lens = np.frombuffer(parts[2], dtype="<u4").astype(np.int64)
        has_sig = np.frombuffer(parts[3], dtype=np.uint8)
        offs = np.concatenate(([0], np.cumsum(lens) * 4))
        siglen = stored.num_perm * 4
        index = cls(stored)
        sig_pos = 0
        with index._lsh.insertion_session(buffer_size=100000) as session:
            for i, doc_id in enumerate(ids):
                sig = b""
                if has_sig[i]:
                    sig = parts[5][sig_pos : sig_pos + siglen]
                    sig_pos += siglen
                    session.insert(doc_id, to_minhash(np.frombuffer(sig, dtype=np.uint32), stored.seed), check_duplication=False)
                thash = parts[1][16 * i : 16 * i + 16]
                index._docs[doc_id] = _Doc(thash, parts[4][offs[i] : offs[i + 1]], sig)
                index._exact.setdefault(thash, set()).add(doc_id)
        if header.get("tags") and count:
            index.tags = {i: t for i, t in zip(ids, parts[6].decode("utf-8").split("\n")) if t}
        return index
