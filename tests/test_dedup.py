"""Near-duplicate detection and canonical choice, on the labelled set tests/dedup_eval."""
from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash

from pipelines.dedup.canonical import choose_canonical, credited_outlet
from pipelines.dedup import (
    DedupConfig,
    NearDupIndex,
    ParamsMismatch,
    cluster,
    normalize_words,
    shingle_hashes,
    signatures,
)

EVAL = Path(__file__).resolve().parent / "dedup_eval"
LABELS = json.loads((EVAL / "labels.json").read_text(encoding="utf-8"))
CLUSTER_OF = {name: cid for cid, names in LABELS["clusters"].items() for name in names}
KINDS = ["raw", "boiler", "headline", "trunc", "credit", "edits", "doubled", "combo"]


def text(name: str) -> str:
    return (EVAL / "docs" / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def originals_index() -> NearDupIndex:
    index = NearDupIndex()
    index.add_many((f"{s}_orig.txt", text(f"{s}_orig.txt")) for s in ("000", "001", "002", "003", "004"))
    return index


# ---- pure functions -------------------------------------------------------------------------------
def test_normalize_words_folds_case_punctuation_and_apostrophes():
    assert normalize_words("Russia’s FOREIGN-minister “Lavrov”, 2024!") == ["russias", "foreign", "minister", "lavrov", "2024"]
    assert normalize_words("") == []


def test_shingle_hashes_sorted_unique_and_order_sensitive():
    h = shingle_hashes("a b c d a b c d a b c d", 4)
    assert h.dtype == np.uint32 and np.all(np.diff(h.astype(np.int64)) > 0)
    assert len(h) == 4  # abcd bcda cdab dabc
    assert not np.array_equal(shingle_hashes("a b c d", 4), shingle_hashes("d c b a", 4))
    assert np.array_equal(shingle_hashes("A, b. C d", 4), shingle_hashes("a b c d", 4))
    assert len(shingle_hashes("two words", 4)) == 1 and len(shingle_hashes("", 4)) == 0


def test_batch_signatures_equal_datasketch_minhash():
    cfg = DedupConfig()
    texts = [text("003_orig.txt"), text("004_trunc.txt"), "short text only"]
    sigs = signatures(texts, cfg)
    for t, sig in zip(texts, sigs):
        ref = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme="affine32", hashfunc=int)
        ref.update_batch(shingle_hashes(t, cfg.shingle_size).tolist())
        assert isinstance(sig, LeanMinHash) and np.array_equal(sig.hashvalues, ref.hashvalues)


def test_config_rejects_bands_beyond_num_perm():
    with pytest.raises(ValueError):
        DedupConfig(num_perm=64, bands=64, rows=2)


# ---- detection ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_each_variant_kind_found(originals_index, kind):
    for seed in ("000", "001", "002", "003", "004"):
        matches = originals_index.find(text(f"{seed}_{kind}.txt"))
        assert [m.doc_id for m in matches] == [f"{seed}_orig.txt"], (seed, kind, matches)


def test_truncated_copy_found_by_containment_not_jaccard(originals_index):
    (m,) = originals_index.find(text("000_trunc.txt"))
    assert m.jaccard < 0.5 and m.containment > 0.9 and not m.exact


def test_same_event_different_articles_not_merged(originals_index):
    for name in ["000_orig.txt", "003_orig.txt", "004_orig.txt"] + [n for n in CLUSTER_OF if n.startswith("../")]:
        found = [m.doc_id for m in originals_index.find(text(name), exclude=name)]
        assert found == [], (name, found)


def test_cluster_reproduces_labels_exactly():
    items = [(name, text(name)) for name in CLUSTER_OF]
    got = {frozenset(c) for c in cluster(items)}
    want = {frozenset(v) for v in LABELS["clusters"].values()}
    assert got == want
    for a, b in LABELS["hard_negatives"]:
        assert not any(a in c and b in c for c in got)


def test_exact_copy_short_circuits():
    index = NearDupIndex()
    index.add("a", "Tiny note.")  # below min_words: only the exact hash can match
    index.add("b", text("003_orig.txt"))
    assert index.find("  tiny NOTE ") == [("a", 1.0, 1.0, True)]
    best = index.find(text("003_orig.txt").upper())[0]
    assert best.doc_id == "b" and best.exact
    assert index.find("another tiny note") == []


def test_remove_and_replace():
    index = NearDupIndex()
    index.add_many([("x", text("001_orig.txt")), ("y", text("002_orig.txt"))])
    assert len(index) == 2
    index.remove("x")
    assert len(index) == 1 and index.find(text("001_edits.txt")) == []
    index.remove("x")  # unknown id: no error
    index.add("y", text("004_orig.txt"))  # page changed: re-indexed under the same id
    assert len(index) == 1
    assert index.find(text("002_edits.txt")) == []
    assert [m.doc_id for m in index.find(text("004_edits.txt"))] == ["y"]


def test_round_trip_and_parameter_mismatch():
    index = NearDupIndex()
    index.add_many((n, text(n)) for n in ("000_orig.txt", "003_orig.txt", "004_orig.txt"))
    index.add("short", "just a few words")
    blob = index.to_bytes()
    loaded = NearDupIndex.from_bytes(blob, DedupConfig(), texts=index.texts)  # texts: read for verification
    assert len(loaded) == 4 and set(loaded.ids()) == set(index.ids())
    for probe in ("003_trunc.txt", "000_combo.txt"):
        assert loaded.find(text(probe)) == index.find(text(probe)) != []
    assert loaded.find("Just a few words.")[0].exact
    loaded.remove("003_orig.txt")
    assert loaded.find(text("003_trunc.txt")) == []
    with pytest.raises(ParamsMismatch):
        NearDupIndex.from_bytes(blob, replace(DedupConfig(), shingle_size=5))
    with pytest.raises(ParamsMismatch):
        NearDupIndex.from_bytes(b"XXXX" + blob[4:])
    with pytest.raises(ValueError):
        NearDupIndex.from_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert len(NearDupIndex.from_bytes(NearDupIndex().to_bytes())) == 0


# ---- canonical choice ----------------------------------------------------------------------------------
def member(i, outlet, published=None, text_="body " * 50, url=None, canonical_url=None, priority=0):
    return {"id": i, "url": url or f"https://{outlet.lower().replace(' ', '')}.example/{i}", "canonical_url": canonical_url,
            "outlet": outlet, "published": published, "text": text_, "priority": priority, "title": "t"}


def test_credited_outlet_parsing():
    assert credited_outlet(text("003_raw.txt")) == "South China Morning Post"
    assert credited_outlet("This story originally appeared in Asia Times and is republished here.") == "Asia Times"
    assert credited_outlet("Republished with permission from Nikkei Asia.") == "Nikkei Asia"
    assert credited_outlet("It was an original idea that first appeared in print.") is None
    assert credited_outlet(text("000_orig.txt")) is None


def test_rel_canonical_wins_over_dates():
    a = member("a", "Yahoo Finance", "2024-07-25T08:00:00+00:00", canonical_url="https://scmp.com/x")
    b = member("b", "SCMP", "2024-07-25T10:00:00+00:00", url="https://www.scmp.com/x/")
    assert choose_canonical([a, b]) == "b"


def test_credit_picks_the_credited_outlet_and_demotes_the_copy():
    yahoo = member("y", "Yahoo Finance", "2024-07-25", text("003_raw.txt"), priority=5)
    scmp = member("s", "South China Morning Post", "2024-07-26", text("003_orig.txt"))
    agg = member("g", "NewsNow", "2024-07-24", text("003_headline.txt"))
    assert choose_canonical([yahoo, scmp, agg]) == "s"
    # original absent: the member crediting someone else is not chosen over an uncredited one
    assert choose_canonical([yahoo, member("z", "Aggregator", "2024-07-27")]) == "z"


def test_earliest_date_then_priority_then_length_then_id():
    assert choose_canonical([member("a", "A", "2024-07-26"), member("b", "B", "2024-07-25")]) == "b"
    assert choose_canonical([member("a", "A", "2024-07-25T09:00:00+07:00"), member("b", "B", "2024-07-25T03:00:00+00:00")]) == "a"
    assert choose_canonical([member("a", "A", "2024-07-25"), member("b", "B", None)]) == "a"
    assert choose_canonical([member("a", "A", "2024-07-25", priority=1), member("b", "B", "2024-07-25", priority=3)]) == "b"
    assert choose_canonical([member("a", "A", text_="x " * 10), member("b", "B", text_="x " * 20)]) == "b"
    assert choose_canonical([member("b", "B"), member("a", "A")]) == "a"


def test_deterministic_under_member_order():
    ms = [member(i, o, d) for i, o, d in [("c", "C", "2024-07-25"), ("a", "A", "2024-07-25"), ("b", "B", "2024-07-26")]]
    assert {choose_canonical(list(p)) for p in itertools.permutations(ms)} == {"a"}


def test_canonical_switches_when_better_original_arrives():
    copies = [member("y", "Yahoo Finance", "2024-07-25T10:00:00+00:00", text("003_raw.txt")),
              member("n", "NewsNow", "2024-07-25T11:00:00+00:00", text("003_headline.txt"))]
    assert choose_canonical(copies) == "n"  # the Yahoo copy credits SCMP, the original is not yet known
    original = member("s", "SCMP", "2024-07-25T12:00:00+00:00", text("003_orig.txt"), url="https://www.scmp.com/a")
    assert choose_canonical(copies + [original]) == "s"
