"""Postings: a multimap uint32 key -> row, as sorted uint64 runs ``key << 32 | row`` (8 bytes per entry).

Log-structured: each insert batch becomes a sorted run; runs of similar size are merged (a binary
counter: every entry is copied O(log n) times), so there are O(log n) runs to search. A lookup is one
vectorised ``searchsorted`` per run for all the query's keys. Rows are never removed here: the index
keeps an ``alive`` mask and ``compact()`` drops and renumbers rows.

Runs holding rows added since the last save are ``fresh``; they are merged only with each other, so
``fresh_entries()`` reads what a save must write from the fresh runs alone.
"""
from __future__ import annotations

import numpy as np

_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


class Postings:
    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.fresh: list[bool] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.runs)

    def add(self, keys: np.ndarray, rows: np.ndarray, fresh: bool = True) -> None:
        """Insert pairs (keys uint32, rows uint32, same length)."""
        if len(keys) == 0:
            return
        run = keys.astype(np.uint64)
        run <<= _SHIFT
        run |= rows
        run.sort()
        self.runs.append(run)
        self.fresh.append(fresh)
        self._merge()

    def _merge(self) -> None:
        while len(self.runs) >= 2 and self.fresh[-1] == self.fresh[-2] and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            b, a = self.runs.pop(), self.runs.pop()
            f = self.fresh.pop()
            self.fresh[-1:] = []
            merged = np.concatenate((a, b))
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
            self.runs.append(merged)
            self.fresh.append(f)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into ``keys`` of each hit, row of each hit) for unique uint32 ``keys``."""
        k = keys.astype(np.uint64) << _SHIFT
        which, rows = [], []
        for run in self.runs:
            lo = np.searchsorted(run, k)
            hi = np.searchsorted(run, k | _LOW, side="right")
            n = hi - lo
            total = int(n.sum())
            if not total:
                continue
            q = np.repeat(np.arange(len(keys)), n)
            pos = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
            which.append(q)
            rows.append((run[pos] & _LOW).astype(np.int64))
        if not which:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(which), np.concatenate(rows)

    def counts(self, keys: np.ndarray) -> np.ndarray:
        """Number of entries (dead rows included) under each of the unique ``keys``."""
        k = keys.astype(np.uint64) << _SHIFT
        out = np.zeros(len(keys), dtype=np.int64)
        for run in self.runs:
            out += np.searchsorted(run, k | _LOW, side="right") - np.searchsorted(run, k)
        return out

    def mark_saved(self) -> None:
        self.fresh = [False] * len(self.runs)
        self._merge()

    def fresh_entries(self, first_row: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, rows) of the entries of rows >= first_row (all in fresh runs), sorted by row then key."""
        parts = [r for r, f in zip(self.runs, self.fresh) if f]
        return self._by_row(parts, first_row, None)

    def entries(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, rows) of the entries of rows in [lo, hi), sorted by row then key."""
        return self._by_row(self.runs, lo, hi)

    @staticmethod
    def _by_row(runs: list[np.ndarray], lo: int, hi: int | None, chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
        keys, rows = [], []
        for run in runs:
            for s in range(0, len(run), chunk):  # in chunks: no temporary the size of a whole run
                part = run[s : s + chunk]
                r = part & _LOW
                m = r >= np.uint64(lo)
                if hi is not None:
                    m &= r < np.uint64(hi)
                sel = part[m]
                keys.append((sel >> _SHIFT).astype(np.uint32))
                rows.append((sel & _LOW).astype(np.uint32))
        if not keys:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32)
        k, r = np.concatenate(keys), np.concatenate(rows)
        order = np.lexsort((k, r))
        return k[order], r[order]

    def compact(self, alive: np.ndarray, remap: np.ndarray) -> None:
        """Drop entries of dead rows and renumber the others (``remap`` is increasing over live rows)."""
        for i, run in enumerate(self.runs):
            rows = (run & _LOW).astype(np.int64)
            keep = alive[rows]
            kept = run[keep]
            self.runs[i] = (kept & ~_LOW) | remap[rows[keep]].astype(np.uint64)
        pairs = [(r, f) for r, f in zip(self.runs, self.fresh) if len(r)]
        self.runs, self.fresh = [p[0] for p in pairs], [p[1] for p in pairs]
