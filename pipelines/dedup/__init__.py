"""Near-duplicate detection (pure: no scrapy, no store I/O).

Texts are normalised to words (NFKC, case-folded, punctuation dropped), cut into k-word shingles hashed
to sorted unique uint32 arrays, and MinHashed in numpy batches (datasketch "affine32" scheme, so the
signatures are datasketch LeanMinHash). A MinHashLSH with explicit ``params=(bands, rows)`` proposes
candidates; each is verified on the exact shingle sets. Two texts are duplicates when

* their normalised word sequences hash equal (exact copy, short-circuit), or
* exact Jaccard >= ``cfg.threshold`` (boilerplate, headline, footer, copy edits, doubled body), or
* the smaller shingle set is >= ``cfg.containment`` inside the larger and has >= ``cfg.min_contained``
  shingles (paywall-truncated copy).

API::

    DedupConfig(shingle_size, num_perm, threshold, bands, rows, seed, min_words, containment, min_contained)
    normalize_words(text) -> list[str];  shingle_hashes(text, k) -> np.ndarray[uint32] (sorted, unique)
    signatures(texts, cfg) -> list[LeanMinHash]          # batched
    NearDupIndex(cfg, texts=None): add(id, text, tag=None), add_many(items, tags=None), remove(id),
        find(text, exclude=None) -> [Match], find_id(id) -> [Match], ids(), len(), in, tags (id -> tag),
        story_candidates(text, exclude=None, limit=50) -> [(id, shared anchors)], to_bytes()/from_bytes()
        # texts: doc_id -> text or None, read to verify candidates (None: the index keeps its own texts)
    anchors(text) -> np.ndarray[uint32]                  # story anchors (pipelines.dedup.features)
    persist.load_index(store, cfg, texts) -> NearDupIndex | None; persist.save_index(store, index) -> bool
    Match(doc_id, jaccard, containment, exact)
    cluster(items, cfg) -> list[list[str]]               # union-find over verified pairs, singletons included
"""
from pipelines.dedup.cluster import cluster, clusters_of
from pipelines.dedup.features import anchors
from pipelines.dedup.index import FORMAT_VERSION, Match, NearDupIndex, ParamsMismatch
from pipelines.dedup.shingles import (
    DedupConfig,
    normalize_words,
    overlap,
    shingle_hashes,
    signature_matrix,
    signatures,
    word_shingles,
)

__all__ = [
    "DedupConfig",
    "FORMAT_VERSION",
    "Match",
    "NearDupIndex",
    "ParamsMismatch",
    "anchors",
    "cluster",
    "clusters_of",
    "normalize_words",
    "overlap",
    "shingle_hashes",
    "signature_matrix",
    "signatures",
    "word_shingles",
]
