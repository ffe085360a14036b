"""What the index keeps of a text, computed for a whole batch of texts in a few numpy passes.

Per text: the 16-byte exact hash of its normalised words, its k-word shingle set (sorted unique uint32),
the MinHash signature (datasketch "affine32", equal to ``signature_matrix``) and its story anchors.
One pass over the concatenated code points of the batch replaces a Python call per word: the index adds
thousands of documents a second on one core.

Story anchors (``anchors(text)``): the content words (``normalize_words`` minus ``stopwords.STOPWORDS``),
their 2-word shingles hashed to uint32 with ``word_shingles``, kept when ``hash % 4 == 0`` (a sample that
is the same in every copy of a text: two copies share anchors wherever they share two consecutive
content words). At most ``MAX_ANCHORS`` per text, the smallest hashes (a bottom-k sample: the same in
every copy): about 1,900 words of content are sampled whole, a longer text keeps a part.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np
import xxhash

from pipelines.dedup.shingles import (
    _char_classes,
    _fmix32,
    _hash_runs,
    _permutations,
    _position_multipliers,
    _fmix64,
    _word_runs,
    normalize_words,
    shingles_of_hashes,
    word_hashes,
)
from pipelines.dedup.stopwords import STOPWORDS

ANCHOR_SHINGLE = 2
ANCHOR_MOD = 4
MAX_ANCHORS = 256  # anchors kept per text (bottom-k)

__all__ = ["Features", "featurize", "anchors", "content_anchors", "sign_flat", "ANCHOR_MOD", "ANCHOR_SHINGLE",
           "MAX_ANCHORS"]


class Features(NamedTuple):
    """Columns for n texts. ``sets[set_off[i]:set_off[i+1]]`` is text i's shingle set;
    ``anc[anc_off[i]:anc_off[i+1]]`` its anchors; ``sig`` has a row per text, valid where ``signed``."""

    thash: np.ndarray  # (n, 2) uint64
    nwords: np.ndarray  # (n,) int64
    sets: np.ndarray  # uint32, per-text sorted unique
    set_off: np.ndarray  # (n+1,) int64
    sig: np.ndarray  # (n, num_perm) uint32
    signed: np.ndarray  # (n,) bool: at least min_words words
    anc: np.ndarray  # uint32
    anc_off: np.ndarray  # (n+1,) int64

    def shingles(self, i: int) -> np.ndarray:
        return self.sets[self.set_off[i] : self.set_off[i + 1]]

    def anchors(self, i: int) -> np.ndarray:
        return self.anc[self.anc_off[i] : self.anc_off[i + 1]]


@lru_cache(maxsize=1)
def _stop_hashes() -> np.ndarray:
    return np.unique(word_hashes(sorted(STOPWORDS)))


def _batch_words(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(word hashes of all texts concatenated, words per text); the same tokens as normalize_words."""
    parts = [(t if t.isascii() else unicodedata.normalize("NFKC", t)).casefold() for t in texts]
    cp = np.frombuffer("\n".join(parts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _char_classes()[cp]
    if len(parts) > 1:
        seps = np.cumsum(np.fromiter((len(p) + 1 for p in parts[:-1]), dtype=np.int64, count=len(parts) - 1)) - 1
        cls[seps] = 8  # the separator between two texts
    cp, cls, isword, starts, ends = _word_runs(cp, cls)
    bounds = np.concatenate(([0], np.searchsorted(starts, np.flatnonzero(cls == 8)), [len(starts)]))
    return _hash_runs(cp[isword], ends - starts), np.diff(bounds)


def _batch_shingles(w: np.ndarray, counts: np.ndarray, k: int, keep_mod: int = 1,
                    unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-text k-shingle hashes (as ``shingles_of_hashes``) of a concatenated batch (``counts`` words per
    text): (hashes, offsets). ``unique=False``: in text order, repeats kept (enough for MinHash)."""
    n = len(counts)
    doc = np.repeat(np.arange(n, dtype=np.int64), counts)
    keys: list[np.ndarray] = []
    if len(w) >= k:
        m = len(w) - k + 1
        mult = _position_multipliers(k)
        with np.errstate(over="ignore"):
            acc = w[:m] * mult[0]
            for j in range(1, k):
                acc = acc + w[j : j + m] * mult[j]
            h = _fmix64(acc) >> np.uint64(32)
        valid = doc[:m] == doc[k - 1 :]
        if keep_mod > 1:
            valid &= (h % np.uint64(keep_mod)) == 0
        keys.append((doc[:m][valid].astype(np.uint64) << np.uint64(32)) | h[valid])
    short = np.flatnonzero((counts > 0) & (counts < k))
    if len(short):  # a text shorter than k words is one shingle of all its words
        off = np.concatenate(([0], np.cumsum(counts)))
        for i in short:
            h = shingles_of_hashes(w[off[i] : off[i + 1]], k).astype(np.uint64)
            if keep_mod > 1:
                h = h[h % np.uint64(keep_mod) == 0]
            keys.append((np.uint64(i) << np.uint64(32)) | h)
    if not keys:
        return np.zeros(0, dtype=np.uint32), np.zeros(n + 1, dtype=np.int64)
    key = np.concatenate(keys) if len(keys) > 1 else keys[0]
    if unique or len(keys) > 1:
        key = np.sort(key)
    if unique and len(key) > 1:
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    d = (key >> np.uint64(32)).astype(np.int64)
    off = np.searchsorted(d, np.arange(n + 1))
    return key.astype(np.uint32), off


def sign_flat(flat: np.ndarray, off: np.ndarray, which: np.ndarray, num_perm: int, seed: int,
              block: int = 4096) -> np.ndarray:
    """MinHash rows (affine32, as ``signature_matrix``) of the sets ``flat[off[i]:off[i+1]]`` for i in
    ``which`` (ascending). Computed perm-major ((num_perm, shingles) blocks reduced along the contiguous
    axis): 3x faster than shingle-major. Empty sets give all-0xFFFFFFFF rows."""
    a, b = _permutations(num_perm, seed)
    out = np.full((len(which), num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    sel = np.flatnonzero(off[which + 1] > off[which])
    if len(sel) == 0:
        return out
    mixed = _fmix32(flat)
    ends = off[which[sel] + 1]
    i = 0
    while i < len(sel):
        lo = off[which[sel[i]]]
        j = max(int(np.searchsorted(ends, lo + block, side="right")), i + 1)  # the sets that fit in a block
        group = which[sel[i:j]]
        if group[-1] - group[0] == len(group) - 1:  # consecutive texts: one slice
            part = mixed[lo : off[group[-1] + 1]]
            starts = off[group] - lo
        else:
            part = np.concatenate([mixed[off[g] : off[g + 1]] for g in group])
            starts = np.concatenate(([0], np.cumsum(off[group + 1] - off[group])[:-1]))
        phv = np.empty((num_perm, len(part)), dtype=np.uint32)
        with np.errstate(over="ignore"):
            np.multiply(a[:, None], part[None, :], out=phv)
            phv += b[:, None]
        out[sel[i:j]] = np.minimum.reduceat(phv, starts, axis=1).T
        i = j
    return out


def featurize(texts: Sequence[str], cfg, with_anchors: bool = True, sets: bool = True, sign: bool = True) -> Features:
    """Features of a batch of texts (see the module docstring). ``sets=False``: the shingle columns hold
    every window in text order, repeats included (signatures are the same; an add needs no sorted set).
    ``sign=False``: no MinHash (``sig`` rows stay 0xFFFFFFFF), for anchors alone."""
    n = len(texts)
    w, nwords = _batch_words(texts)
    woff = np.concatenate(([0], np.cumsum(nwords)))
    thash = np.empty((n, 2), dtype=np.uint64)
    digest = xxhash.xxh3_128_digest
    for i in range(n):
        thash[i] = np.frombuffer(digest(w[woff[i] : woff[i + 1]].tobytes()), dtype=np.uint64)
    flat, set_off = _batch_shingles(w, nwords, cfg.shingle_size, unique=sets)
    signed = nwords >= cfg.min_words
    sig = np.full((n, cfg.num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    which = np.flatnonzero(signed) if sign else np.zeros(0, dtype=np.int64)
    if len(which):
        sig[which] = sign_flat(flat, set_off, which, cfg.num_perm, cfg.seed)
    if with_anchors:
        content = _content_mask(w)
        ccounts = np.diff(np.concatenate(([0], np.cumsum(content)))[woff])
        anc, anc_off = _cap(*_batch_shingles(w[content], ccounts, ANCHOR_SHINGLE, ANCHOR_MOD))
    else:
        anc, anc_off = np.zeros(0, dtype=np.uint32), np.zeros(n + 1, dtype=np.int64)
    return Features(thash, nwords, flat, set_off, sig, signed, anc, anc_off)


@lru_cache(maxsize=1)
def _stop_table() -> tuple[np.ndarray, int]:
    """A direct-mapped table of the stopword hashes: slot (hash >> shift) & 0xFFFF, a shift without collisions."""
    stop = _stop_hashes()
    for shift in range(0, 48):
        slots = (stop >> np.uint64(shift)) & np.uint64(0xFFFF)
        if len(np.unique(slots)) == len(stop):
            table = np.zeros(0x10000, dtype=np.uint64)
            table[slots] = stop
            return table, shift
    raise RuntimeError("no collision-free stopword table")  # pragma: no cover


def _content_mask(w: np.ndarray) -> np.ndarray:
    table, shift = _stop_table()
    return table[(w >> np.uint64(shift)) & np.uint64(0xFFFF)] != w


def content_anchors(words: Sequence[str]) -> np.ndarray:
    """Anchors of an already normalised word list (see ``anchors``)."""
    w = word_hashes(words)
    h = shingles_of_hashes(w[_content_mask(w)], ANCHOR_SHINGLE)
    return h[h % ANCHOR_MOD == 0][:MAX_ANCHORS]


def _cap(anc: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_ANCHORS anchors per text, the smallest hashes (each text's anchors are sorted): the same
    sample in every copy, so two copies still share anchors; a 14 MB page added 295 KB to the index."""
    lengths = np.diff(off)
    if not len(lengths) or lengths.max() <= MAX_ANCHORS:
        return anc, off
    parts = [anc[off[i] : off[i] + min(n, MAX_ANCHORS)] for i, n in enumerate(lengths)]
    kept = np.minimum(lengths, MAX_ANCHORS)
    return np.concatenate(parts).astype(anc.dtype), np.concatenate(([0], np.cumsum(kept))).astype(off.dtype)


def anchors(text: str) -> np.ndarray:
    """Story anchors of a text: sorted unique uint32 (see the module docstring)."""
    return content_anchors(normalize_words(text))
