"""The compact NearDupIndex: verification through the texts callable, story anchors, segment persistence
(LocalStore and moto's S3 server), corrupt segments, and the memory bound per document."""
from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from pipelines.dedup import DedupConfig, NearDupIndex, normalize_words, shingle_hashes, word_shingles
from pipelines.dedup import persist
from pipelines.dedup.features import anchors, featurize
from pipelines.dedup.persist import MANIFEST, OLD_BLOB, PREFIX, load_index, save_index
from pipelines.dedup.shingles import signature_matrix, text_word_hashes, word_hashes
from pipelines.dedup.stopwords import STOPWORDS

EVAL = Path(__file__).resolve().parent / "dedup_eval" / "docs"
CFG = DedupConfig()


def text(name: str) -> str:
    return (EVAL / name).read_text(encoding="utf-8")


class Texts(dict):
    """The store stand-in: doc_id -> text, counting reads."""

    reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)


def synthetic(n: int, seed: int = 3) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}x" for i in range(20_000)])
    stop = np.array(sorted(STOPWORDS))
    out = {}
    for i in range(n):
        length = int(rng.integers(250, 641))
        words = vocab[rng.zipf(1.3, length) % len(vocab)]
        mask = rng.random(length) < 0.45
        words[mask] = stop[rng.integers(0, len(stop), int(mask.sum()))]
        out[f"s{i:06d}"] = " ".join(words)
    return out


# ---- features ---------------------------------------------------------------------------------------
def test_batch_features_equal_the_plain_functions():
    samples = [text(n) for n in ("000_orig.txt", "003_trunc.txt", "004_edits.txt")] + [
        "Russia’s FOREIGN-minister “Lavrov”, 2024!", "a''b a'b'c _'x foo_'s a'_b x' 'x", "ﬁnance Straße ½ x²",
        "", "one", "the of and", "日本語 ไทย हिन्दी ру́сский e\u0301"]
    f = featurize(samples, CFG)
    for i, t in enumerate(samples):
        assert np.array_equal(text_word_hashes(t), word_hashes(normalize_words(t)))
        assert np.array_equal(f.shingles(i), shingle_hashes(t, CFG.shingle_size)), t
        assert np.array_equal(f.anchors(i), anchors(t)), t
        assert f.nwords[i] == len(normalize_words(t))
        if f.signed[i]:
            assert np.array_equal(f.sig[i], signature_matrix([shingle_hashes(t, 4)], CFG.num_perm, CFG.seed)[0])


def test_anchors_are_sampled_bigrams_of_content_words():
    t = text("000_orig.txt")
    a = anchors(t)
    content = [w for w in normalize_words(t) if w not in STOPWORDS]
    bigrams = word_shingles(content, 2)
    assert a.dtype == np.uint32 and np.all(np.diff(a.astype(np.int64)) > 0)
    assert set(a.tolist()) == {h for h in bigrams.tolist() if h % 4 == 0}
    assert 0.15 < len(a) / len(bigrams) < 0.35
    assert len(anchors("the of and in on at")) == 0  # stopwords only


# ---- the index ----------------------------------------------------------------------------------------
@pytest.fixture()
def store_texts() -> Texts:
    names = [f"{s}_orig.txt" for s in ("000", "001", "002", "003", "004")]
    return Texts({n: text(n) for n in names})


def test_verification_reads_candidate_texts_through_the_callable(store_texts):
    index = NearDupIndex(CFG, texts=store_texts.get)
    index.add_many(store_texts.items(), tags={n: f"{i:064x}" for i, n in enumerate(store_texts)})
    assert len(index) == 5 and "003_orig.txt" in index and set(index.ids()) == set(store_texts)
    store_texts.reads = 0
    (m,) = index.find(text("003_trunc.txt"))
    assert m.doc_id == "003_orig.txt" and m.containment > 0.9 and m.jaccard < 0.5
    assert store_texts.reads == 1  # the other four were pre-filtered without reading their text
    store_texts.reads = 0
    for other in ("../negatives/tass_lavrov_wang_talks.txt", "../negatives/xinhua_wang_lavrov_readout.txt"):
        assert index.find(text(other)) == []  # other reports of the same meetings
    assert store_texts.reads <= 1  # at most one text read to reject them
    # the text the store returns is what is verified: a record whose text changed no longer matches
    store_texts["003_orig.txt"] = text("001_orig.txt")
    assert index.find(text("003_trunc.txt")) == []
    del store_texts["003_orig.txt"]  # gone from the store: unverifiable, not a match
    assert index.find(text("003_edits.txt")) == []
    assert index.find_id("001_orig.txt") == [] and index.tags["001_orig.txt"] == f"{1:064x}"


def test_exact_copies_remove_replace_and_tags(store_texts):
    index = NearDupIndex(CFG, texts=store_texts.get)
    index.add("a", "Tiny note.", tag="v1")
    index.add_many([("b", store_texts["002_orig.txt"])], tags={"b": "ab" * 32})
    store_texts.update(a="Tiny note.", b=store_texts["002_orig.txt"])
    assert index.find("  tiny NOTE ") == [("a", 1.0, 1.0, True)]
    assert [m.doc_id for m in index.find_id("b")] == [] and index.find(store_texts["b"].upper())[0].exact
    assert dict(index.tags) == {"a": "v1", "b": "ab" * 32}
    index.tags["a"] = "v2"
    index.add("b", text("004_orig.txt"))  # re-indexed: the old version is gone, the tag with it
    store_texts["b"] = text("004_orig.txt")
    assert "b" not in index.tags and index.tags.get("a") == "v2"
    assert index.find(text("002_edits.txt")) == [] and [m.doc_id for m in index.find(text("004_edits.txt"))] == ["b"]
    index.remove("b")
    index.remove("b")  # unknown: no error
    assert len(index) == 1 and "b" not in index and index.find(text("004_edits.txt")) == []
    with pytest.raises(KeyError):
        index.find_id("b")


def test_own_texts_when_no_callable_and_compaction_keeps_answers():
    index = NearDupIndex(CFG)  # keeps the texts it is given
    docs = synthetic(300)
    index.add_many(docs.items())
    index.add("copy", docs["s000007"] + " a footer line")
    for i in range(0, 300, 2):
        index.remove(f"s{i:06d}")
    before = index.find(docs["s000007"])
    index.compact()
    assert index._n == len(index) == 151
    assert index.find(docs["s000007"]) == before and [m.doc_id for m in before] == ["s000007", "copy"]
    assert [m.doc_id for m in index.find(docs["s000009"])] == ["s000009"]
    blob = index.to_bytes()  # the one-blob form carries the texts of an index that keeps its own
    loaded = NearDupIndex.from_bytes(blob, CFG)
    assert loaded.find(docs["s000007"]) == before and sorted(loaded.ids()) == sorted(index.ids())
    with pytest.raises(ValueError):
        NearDupIndex.from_bytes(blob[:-40] + bytes([blob[-40] ^ 1]) + blob[-39:], CFG)


def test_story_candidates_rank_by_shared_anchors_and_skip_common_phrases():
    base = text("000_orig.txt")
    words = base.split()
    rewrite = " ".join(words[len(words) // 3 :]) + " Analysts said the outcome was uncertain."
    other = text("003_orig.txt")
    docs = {"orig": base, "other": other, "flash": " ".join(words[:60])}
    index = NearDupIndex(CFG, texts=docs.get)
    index.add_many(docs.items())
    found = index.story_candidates(rewrite)
    assert [d for d, _ in found][:1] == ["orig"] and all(c >= 2 for _, c in found)
    counts = dict(found)
    assert counts["orig"] > 10 * counts.get("other", 0)  # another story on the same topic shares a few
    own = index.story_candidates(base, exclude="orig")
    assert own[0][0] == "flash" and "orig" not in dict(own)  # the flash is the report's first 60 words
    assert index.story_candidates(base, exclude="orig", limit=0) == []
    # a phrase in every document: over max_postings, its anchors are ignored
    phrase = " ".join(f"zq{i} yv{i}" for i in range(40))
    crowd = {f"c{i}": f"{phrase} item{i} unique{i} words{i}" for i in range(30)}
    index.add_many(crowd.items())
    assert len(index.story_candidates(phrase)) == 30
    assert index.story_candidates(phrase, max_postings=20) == []
    # min_share: the rewrite shares most of its anchors with the original, a same-topic story only a few
    shared = dict(index.story_candidates(rewrite, min_share=0.1))
    assert "orig" in shared and "other" not in shared and "other" in counts


# ---- persistence ----------------------------------------------------------------------------------------
def segments(store) -> list[str]:
    return [k for k in store.list(PREFIX) if k.startswith(PREFIX + "seg-")]


def same_state(a: NearDupIndex, b: NearDupIndex, probes) -> None:
    assert sorted(a.ids()) == sorted(b.ids())
    assert dict(a.tags) == dict(b.tags)
    for p in probes:
        assert a.find(p) == b.find(p)
        assert a.story_candidates(p) == b.story_candidates(p)


def test_segments_round_trip_incremental_save_and_compaction(blob_store, monkeypatch):
    docs = synthetic(400)
    docs.update({n: text(n) for n in ("000_orig.txt", "003_orig.txt")})
    index = NearDupIndex(CFG, texts=docs.get)
    index.add_many(list(docs.items())[:390], tags={k: f"{i:064x}" for i, k in enumerate(docs)})
    assert load_index(blob_store, CFG, docs.get) is None  # nothing persisted yet
    assert save_index(blob_store, index) is True
    assert save_index(blob_store, index) is False  # nothing changed
    first = segments(blob_store)
    snap_bytes = sum(len(blob_store.read(k)) for k in first)
    probes = [docs["s000005"], text("003_trunc.txt"), text("000_edits.txt"), docs["s000100"][:900]]

    loaded = load_index(blob_store, CFG, docs.get)
    same_state(index, loaded, probes)
    # a run: 2% more documents, one removed, one re-indexed with a new text, one tag changed
    loaded.add_many(list(docs.items())[390:], tags={"003_orig.txt": "f" * 64})
    loaded.remove("s000001")
    docs["s000002"] = docs["s000003"] + " and more"
    loaded.add("s000002", docs["s000002"], tag="e" * 64)
    loaded.tags["s000004"] = "d" * 64
    assert save_index(blob_store, loaded) is True
    new = [k for k in segments(blob_store) if k not in first]
    assert len(new) == 1 and set(first) < set(segments(blob_store))
    assert len(blob_store.read(new[0])) < snap_bytes / 10  # the delta, not the index
    again = load_index(blob_store, CFG, docs.get)
    same_state(loaded, again, probes + [docs["s000002"]])
    assert again.tags["s000004"] == "d" * 64 and "s000001" not in again
    assert [m.doc_id for m in again.find(docs["s000003"], exclude="s000003")] == ["s000002"]

    # compaction: past MAX_SEGMENTS, a save writes a snapshot and deletes the old segments
    monkeypatch.setattr(persist, "MAX_SEGMENTS", 3)
    for i in range(2):  # a third segment, then a snapshot instead of a fourth
        again.remove(f"s{10 + i:06d}")
        assert save_index(blob_store, again)
    keys = segments(blob_store)
    assert len(keys) == 1 and not set(keys) & set(first + new)
    manifest = json.loads(blob_store.read(MANIFEST))
    assert manifest["dead"] == 0 and manifest["docs"] == len(again) and [s["key"] for s in manifest["segments"]] == keys
    final = load_index(blob_store, CFG, docs.get)
    same_state(again, final, probes)


def test_too_many_removals_compact_and_old_blob_counts_as_absent(tmp_path):
    from pipelines.store import open_store

    store = open_store(tmp_path / "store")
    store.write(OLD_BLOB, b"NDIX old single-blob index")
    docs = synthetic(200)
    index = NearDupIndex(CFG, texts=docs.get)
    index.add_many(docs.items())
    assert load_index(store, CFG, docs.get) is None  # the old format: rebuild
    save_index(store, index)
    assert store.read(OLD_BLOB) is None  # migrated: the first snapshot deletes it
    for i in range(60):  # 30% of the documents
        index.remove(f"s{i:06d}")
    save_index(store, index)
    assert len(segments(store)) == 1 and json.loads(store.read(MANIFEST))["docs"] == 140
    assert sorted(load_index(store, CFG, docs.get).ids()) == sorted(index.ids())
    assert load_index(store, DedupConfig(shingle_size=5), docs.get) is None  # other parameters: rebuild


@pytest.mark.parametrize("manifest", [b"[]", b"null", b'"x"', b'{"segments": [{"key": "../../etc/passwd"}]}',
                                      b'{"segments": [{"key": "dedup/index/seg-1.bin/../../x"}]}'])
def test_a_manifest_of_another_shape_loads_as_none(blob_store, manifest):
    """Valid JSON that is no manifest, or names a key that is not one of our segments: rebuilt, never read
    (a reviewer's `[]` was an AttributeError that ended the run as interrupted, `..` a store error)."""
    blob_store.write(MANIFEST, manifest)
    assert load_index(blob_store, CFG, None) is None


def test_anchors_are_capped_per_text():
    """A huge page keeps at most MAX_ANCHORS anchors, the smallest hashes, the same sample in every copy
    (a 14 MB page added 295 KB to the index)."""
    from pipelines.dedup.features import MAX_ANCHORS

    words = [f"w{i}" for i in range(6000)]
    long_text, copy = " ".join(words), " ".join(words[:2000])
    full = featurize([long_text], CFG).anchors(0)
    assert len(full) == MAX_ANCHORS == len(anchors(long_text)) and np.all(np.diff(full.astype(np.int64)) > 0)
    part = anchors(copy)
    assert len(np.intersect1d(full, part)) >= 0.9 * np.count_nonzero(part <= full[-1])


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing", "manifest"])
def test_a_damaged_index_loads_as_none(blob_store, damage):
    docs = synthetic(120)
    index = NearDupIndex(CFG, texts=docs.get)
    index.add_many(list(docs.items())[:100])
    save_index(blob_store, index)
    index.add_many(list(docs.items())[100:])
    save_index(blob_store, index)
    key = segments(blob_store)[-1]
    data = blob_store.read(key)
    if damage == "flip":
        blob_store.write(key, data[:200] + bytes([data[200] ^ 0x10]) + data[201:])
    elif damage == "truncate":
        blob_store.write(key, data[:-7])
    elif damage == "missing":
        blob_store.delete(key)
    else:
        blob_store.write(MANIFEST, b'{"format": 2, "segments": [')
    assert load_index(blob_store, CFG, docs.get) is None
    # a segment that matches its manifest entry but not its own checksum is caught too
    if damage == "flip":
        manifest = json.loads(blob_store.read(MANIFEST))
        bad = blob_store.read(key)
        import xxhash

        manifest["segments"][-1].update(bytes=len(bad), xxh64=xxhash.xxh64_hexdigest(bad))
        blob_store.write(MANIFEST, json.dumps(manifest).encode())
        assert load_index(blob_store, CFG, docs.get) is None


# ---- memory ------------------------------------------------------------------------------------------------
def test_memory_per_document_at_most_2_kib():
    docs = synthetic(20_000, seed=5)
    items = list(docs.items())
    index = NearDupIndex(CFG, texts=docs.get)
    index.add_many(items[:512])  # lazy tables and caches, allocated once per process
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        index.add_many((k[:1] + k[1:], v) for k, v in items[512:])  # id strings of its own, counted
        gc.collect()
        per_doc = (tracemalloc.get_traced_memory()[0] - base) / (len(items) - 512)
    finally:
        tracemalloc.stop()
    assert len(index) == 20_000
    assert 300 < per_doc <= 2048, per_doc
    assert [m.doc_id for m in index.find(docs["s000123"])][:1] == ["s000123"]
