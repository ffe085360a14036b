"""Config, word normalisation, shingle hashing and batched MinHash signatures (numpy, no per-shingle loop).

Signatures follow datasketch's "affine32" scheme exactly (MurmurHash3 fmix32 pre-mix, then
``a*h + b mod 2**32`` per permutation), so they are plain :class:`datasketch.LeanMinHash` objects.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash

SCHEME = "affine32"


@dataclass(frozen=True)
class DedupConfig:
    """Parameters of near-duplicate detection (chosen by ``bench/dedup.py``, see its table).

    shingle_size: words per shingle. num_perm: MinHash permutations. bands * rows <= num_perm:
    explicit LSH banding (candidate probability 1-(1-J**rows)**bands). threshold: verified exact
    Jaccard on shingle sets at or above which two texts are duplicates. containment / min_contained:
    a text whose shingles are >= containment inside the other's (truncated copy) is a duplicate when
    it has at least min_contained shingles. min_words: shorter texts only match by exact text hash.
    """

    shingle_size: int = 4
    num_perm: int = 128
    threshold: float = 0.5
    bands: int = 64
    rows: int = 2
    seed: int = 1
    min_words: int = 30
    containment: float = 0.8
    min_contained: int = 100

    def __post_init__(self) -> None:
        if self.shingle_size < 1 or self.num_perm < 2:
            raise ValueError("shingle_size >= 1 and num_perm >= 2 required")
        if self.bands < 2 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(f"need bands >= 2 and bands*rows <= num_perm, got {self.bands}x{self.rows} > {self.num_perm}")
        if not (0.0 < self.threshold <= 1.0 and 0.0 < self.containment <= 1.0):
            raise ValueError("threshold and containment must be in (0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    def candidate_probability(self, jaccard: float) -> float:
        """Probability that LSH proposes a pair with this Jaccard similarity."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


_APOSTROPHES = re.compile(r"(?<=\w)['’ʼ`](?=\w)")
_WORD = re.compile(r"[^\W_]+")


def normalize_words(text: str) -> list[str]:
    """NFKC, case-folded word tokens; in-word apostrophes dropped (Russia’s -> russias), punctuation ignored."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return _WORD.findall(_APOSTROPHES.sub("", text))


def text_hash(words: Sequence[str]) -> bytes:
    """16-byte hash of the normalised word sequence (exact-copy short-circuit)."""
    return xxhash.xxh3_128_digest(" ".join(words).encode("utf-8"))


_h64 = xxhash.xxh3_64_intdigest


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@lru_cache(maxsize=16)
def _position_multipliers(k: int) -> np.ndarray:
    rng = np.random.RandomState(0x5EED + k)
    return rng.randint(0, 1 << 62, size=k, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def word_shingles(words: Sequence[str], k: int) -> np.ndarray:
    """Sorted unique uint32 hashes of the k-word shingles (a text shorter than k is one shingle)."""
    if not words:
        return np.zeros(0, dtype=np.uint32)
    w = np.fromiter((_h64(t.encode("utf-8")) for t in words), dtype=np.uint64, count=len(words))
    k = min(k, len(w))
    n = len(w) - k + 1
    mult = _position_multipliers(k)
    with np.errstate(over="ignore"):
        acc = w[:n] * mult[0]
        for j in range(1, k):
            acc = acc + w[j : j + n] * mult[j]
        acc = _fmix64(acc)
    return np.unique((acc >> np.uint64(32)).astype(np.uint32))


def shingle_hashes(text: str, k: int) -> np.ndarray:
    """Sorted unique uint32 shingle hashes of a text (32 bits: compact, and the affine32 MinHash input)."""
    return word_shingles(normalize_words(text), k)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature_matrix(shingle_sets: Sequence[np.ndarray], num_perm: int, seed: int, block: int = 32768) -> np.ndarray:
    """MinHash hash values, one uint32 row per shingle set, computed over whole batches.

    Rows of empty sets are all 0xFFFFFFFF. Equal to datasketch MinHash(scheme="affine32").update_batch.
    """
    a, b = _permutations(num_perm, seed)
    out = np.full((len(shingle_sets), num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    # Documents are grouped so that one (shingles x num_perm) uint32 block holds ~`block` shingles.
    i = 0
    while i < len(shingle_sets):
        j, total = i, 0
        while j < len(shingle_sets) and (j == i or total + len(shingle_sets[j]) <= block):
            total += len(shingle_sets[j])
            j += 1
        group = shingle_sets[i:j]
        lengths = np.fromiter((len(s) for s in group), dtype=np.int64, count=len(group))
        nonempty = np.nonzero(lengths)[0]
        if len(nonempty):
            flat = _fmix32(np.concatenate([group[t] for t in nonempty]).astype(np.uint32))
            with np.errstate(over="ignore"):
                phv = flat[:, None] * a[None, :] + b[None, :]
            starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
            out[i + nonempty] = np.minimum.reduceat(phv, starts, axis=0)
        i = j
    return out


def to_minhash(row: np.ndarray, seed: int) -> LeanMinHash:
    return LeanMinHash(seed=seed, hashvalues=row, scheme=SCHEME)


def signatures(texts: Sequence[str], cfg: DedupConfig = DedupConfig()) -> list[LeanMinHash]:
    """Batched MinHash signatures of texts (shingles of normalised words)."""
    sets = [shingle_hashes(t, cfg.shingle_size) for t in texts]
    mat = signature_matrix(sets, cfg.num_perm, cfg.seed)
    return [to_minhash(row, cfg.seed) for row in mat]


def overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(exact Jaccard, containment of the smaller set in the larger) of two sorted unique hash arrays."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    if len(a) > len(b):
        a, b = b, a
    pos = np.searchsorted(b, a)
    pos[pos == len(b)] = len(b) - 1
    inter = int(np.count_nonzero(b[pos] == a))
    return inter / (len(a) + len(b) - inter), inter / len(a)
