"""Batch clustering (``corpus dedup --rebuild``): union-find over verified duplicate pairs."""
from __future__ import annotations

from typing import Sequence

from pipelines.dedup.index import NearDupIndex
from pipelines.dedup.shingles import DedupConfig


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def clusters_of(index: NearDupIndex) -> list[list[str]]:
    """Clusters (sorted ids, sorted by first id) of an already built index; singletons included."""
    uf = _UnionFind()
    for doc_id in index.ids():
        uf.find(doc_id)
        for m in index.find_id(doc_id):
            uf.union(doc_id, m.doc_id)
    groups: dict[str, list[str]] = {}
    for doc_id in index.ids():
        groups.setdefault(uf.find(doc_id), []).append(doc_id)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def cluster(items: Sequence[tuple[str, str]], cfg: DedupConfig = DedupConfig()) -> list[list[str]]:
    """Cluster (doc_id, text) pairs; every id appears in exactly one cluster (singletons included)."""
    texts = dict(items)
    index = NearDupIndex(cfg, texts=texts.get)
    index.add_many(texts.items())
    return clusters_of(index)
