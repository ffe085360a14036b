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
    return shingles_of_hashes(word_hashes(words), k)


def shingles_of_hashes(w: np.ndarray, k: int) -> np.ndarray:
    """Sorted unique uint32 k-shingle hashes of a sequence of uint64 word hashes (see word_hashes)."""
    if len(w) == 0:
        return np.zeros(0, dtype=np.uint32)
    k = min(k, len(w))
    n = len(w) - k + 1
    mult = _position_multipliers(k)
    with np.errstate(over="ignore"):
        acc = w[:n] * mult[0]
        for j in range(1, k):
            acc = acc + w[j : j + n] * mult[j]
        acc = _fmix64(acc)
    return np.unique((acc >> np.uint64(32)).astype(np.uint32))


# -- word hashing in numpy (no per-word Python call: the index adds thousands of documents a second) ------
# A word's hash is a polynomial over its code points with random odd 64-bit multipliers per position, mixed
# with its length (fmix64). ``text_word_hashes(text)`` tokenises exactly like ``normalize_words`` (NFKC,
# casefold, in-word apostrophes dropped, runs of str.isalnum() characters) and equals
# ``word_hashes(normalize_words(text))``.
_APOSTROPHE_CHARS = "'\u2019\u02bc`"


@lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """uint8 per code point: 1 alphanumeric (a word character), 2 underscore, 4 apostrophe."""
    table = np.fromiter((c.isalnum() for c in map(chr, range(0x110000))), dtype=np.uint8, count=0x110000)
    table[ord("_")] = 2
    for c in _APOSTROPHE_CHARS:
        table[ord(c)] = 4
    return table


_CHAR_MULT = np.zeros(0, dtype=np.uint64)


def _char_multipliers(n: int) -> np.ndarray:
    global _CHAR_MULT
    if len(_CHAR_MULT) < n:
        rng = np.random.RandomState(0xC0DE)
        size = max(64, 1 << (n - 1).bit_length())
        _CHAR_MULT = rng.randint(0, 1 << 62, size=size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return _CHAR_MULT


def _hash_runs(cp: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """uint64 hash of each run of code points (``cp`` is the runs concatenated, ``lens`` their lengths)."""
    out = np.empty(len(lens), dtype=np.uint64)
    if len(lens) == 0:
        return out
    lens = lens.astype(np.int64)
    ends = np.cumsum(lens)
    starts = ends - lens
    nonempty = lens > 0
    with np.errstate(over="ignore"):
        if len(cp):
            pos = np.arange(len(cp), dtype=np.int64) - np.repeat(starts, lens)
            contrib = (cp.astype(np.uint64) + np.uint64(1)) * _char_multipliers(int(lens.max()))[pos]
            sums = np.add.reduceat(contrib, starts[nonempty])
        else:
            sums = np.zeros(0, dtype=np.uint64)
        out[:] = 0
        out[nonempty] = sums
        out = _fmix64(out ^ (lens.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    return out


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """uint64 hash of each word, in order."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return _hash_runs(_codepoints("".join(words)), lens)


def text_word_hashes(text: str) -> np.ndarray:
    """``word_hashes(normalize_words(text))`` without building the word list."""
    if not text:
        return np.zeros(0, dtype=np.uint64)
    t = text if text.isascii() else unicodedata.normalize("NFKC", text)
    cp = _codepoints(t.casefold())
    cp, cls, isword, starts, ends = _word_runs(cp, _char_classes()[cp])
    return _hash_runs(cp[isword], ends - starts)


def _word_runs(cp: np.ndarray, cls: np.ndarray):
    """In-word apostrophes dropped (class 4 between two word characters), then the word runs (class 1):
    (code points, classes, word mask, run starts, run ends). Shared by one text and a batch."""
    apos = cls == 4
    if apos.any():
        wordish = (cls == 1) | (cls == 2)
        drop = apos.copy()
        drop[0] = drop[-1] = False
        drop[1:-1] &= wordish[:-2] & wordish[2:]
        if drop.any():
            keep = ~drop
            cp, cls = cp[keep], cls[keep]
    isword = (cls == 1).view(np.int8)
    edges = np.diff(isword, prepend=np.int8(0), append=np.int8(0))
    return cp, cls, isword.view(bool), np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


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


def signature_matrix(shingle_sets: Sequence[np.ndarray], num_perm: int, seed: int, block: int = 2048) -> np.ndarray:
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
            phv = np.empty((len(flat), num_perm), dtype=np.uint32)  # a block of ~2,048 rows stays in cache
            with np.errstate(over="ignore"):
                np.multiply(flat[:, None], a[None, :], out=phv)
                phv += b[None, :]
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
