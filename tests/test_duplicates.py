"""Near-duplicates across the corpus: clusters, canonical switch, persistence, rebuild (local and S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.dedup import DedupConfig
from pipelines.dedup.deduplicator import INDEX_KEY, Deduplicator
from pipelines.corpus.record import text_sha256
from pipelines.crawl.urls import doc_id

DOCS = Path(__file__).resolve().parent / "dedup_eval" / "docs"
PRIORITY = {"scmp": 80, "yahoo-finance": 20, "asiaone": 25, "intellinews": 70, "russia-direct": 60}


def body(name: str) -> str:
    text = (DOCS / name).read_text(encoding="utf-8")
    return text.split("\n\n", 1)[1] if "\n\n" in text else text


def record(url, outlet, text, published, title="t", declared=None):
    return {
        "id": doc_id(url), "url": url, "canonical_url": url, "declared_canonical": declared, "outlet": outlet,
        "title": title, "authors": [], "published": published, "language": "en", "text": text,
        "text_sha256": text_sha256(text), "word_count": len(text.split()), "fetched_at": "2026-01-01T00:00:00+00:00",
        "http_status": 200, "etag": None, "last_modified": None, "extractor": {"name": "x", "version": "1"},
        "duplicate_of": None, "also_at": [],
    }


def store_all(corpus, dedup, rec):
    records = dedup.resolve(rec)
    outcome = corpus.put(records[0])
    for other in records[1:]:
        corpus.put(other)
    return outcome


@pytest.fixture
def corpus(blob_store):
    return Corpus(blob_store)


def dedup_for(corpus):
    return Deduplicator(corpus, priority=lambda o: PRIORITY.get(o, 50)).load()


YAHOO = "https://ca.finance.yahoo.com/news/russia-china-join-forces-southeast-093000673.html"
SCMP = "https://www.scmp.com/news/asia/article/3272065/russia-and-china-should-join-forces"
ASIAONE = "https://www.asiaone.com/asia/lavrov-urges-china-team-against-outside-interference"


def test_syndicated_copy_first_then_original_switches_canonical(corpus):
    dedup = dedup_for(corpus)
    assert store_all(corpus, dedup, record(YAHOO, "yahoo-finance", body("003_credit.txt"), "2024-07-25T09:30:00+00:00")) == "new"
    dedup.save()
    # tomorrow's run: a new process loads the persisted index
    dedup = dedup_for(corpus)
    store_all(corpus, dedup, record(ASIAONE, "asiaone", body("003_headline.txt"), "2024-07-26T06:00:00+08:00"))
    store_all(corpus, dedup, record(SCMP, "scmp", body("003_orig.txt"), "2024-07-25T15:10:00+08:00"))
    scmp, yahoo, asiaone = (corpus.get(doc_id(u)) for u in (SCMP, YAHOO, ASIAONE))
    assert scmp["duplicate_of"] is None
    assert sorted(a["id"] for a in scmp["also_at"]) == sorted([yahoo["id"], asiaone["id"]])
    assert yahoo["duplicate_of"] == asiaone["duplicate_of"] == scmp["id"]
    assert yahoo["also_at"] == [] and not yahoo["text"] and not asiaone["text"]  # text not stored twice
    assert yahoo["text_sha256"] and yahoo["url"] == YAHOO and yahoo["published"].startswith("2024-07-25")
    assert not corpus.store.exists(f"corpus/text/{yahoo['id']}.txt")


def test_same_event_different_articles_stay_apart(corpus):
    dedup = dedup_for(corpus)
    store_all(corpus, dedup, record("https://intellinews.com/lavrov-1", "intellinews", body("000_orig.txt"), "2024-07-28"))
    store_all(corpus, dedup, record(SCMP, "scmp", body("003_orig.txt"), "2024-07-25"))
    store_all(corpus, dedup, record("https://russia-direct.org/opinion/x", "russia-direct", body("004_orig.txt"), "2016-07-27"))
    assert all(r["duplicate_of"] is None and r["also_at"] == [] for r in corpus.iter_records())


def test_refetch_of_a_duplicate_is_unchanged_and_writes_nothing(corpus):
    dedup = dedup_for(corpus)
    store_all(corpus, dedup, record(SCMP, "scmp", body("003_orig.txt"), "2024-07-25T15:10:00+08:00"))
    dup = record(YAHOO, "yahoo-finance", body("003_credit.txt"), "2024-07-25T09:30:00+00:00")
    store_all(corpus, dedup, dict(dup))
    again = dict(dup, fetched_at="2026-02-02T00:00:00+00:00", etag='"new"')
    assert store_all(corpus, dedup, again) == "unchanged"


def test_truncated_original_keeps_the_longer_copys_text(corpus):
    dedup = dedup_for(corpus)
    store_all(corpus, dedup, record(SCMP, "scmp", body("003_trunc.txt"), "2024-07-25T15:10:00+08:00"))
    store_all(corpus, dedup, record(YAHOO, "yahoo-finance", body("003_credit.txt"), "2024-07-25T09:30:00+00:00"))
    yahoo = corpus.get(doc_id(YAHOO))
    assert yahoo["duplicate_of"] == doc_id(SCMP)  # the original publisher stays canonical ...
    assert yahoo["text"] and yahoo["text_kept"]   # ... but the fuller copy's text is not thrown away


def test_index_persists_with_its_parameters_and_is_reconciled(corpus):
    dedup = dedup_for(corpus)
    store_all(corpus, dedup, record(SCMP, "scmp", body("003_orig.txt"), "2024-07-25"))
    dedup.save()
    assert corpus.store.exists(INDEX_KEY)
    # a record written after the last save (a crash) is added back on load
    corpus.put(record("https://intellinews.com/lavrov-1", "intellinews", body("000_orig.txt"), "2024-07-28"))
    again = dedup_for(corpus)
    assert len(again.index) == 2 and again.index.find(body("000_edits.txt"))
    # other parameters: the persisted index is not used, it is rebuilt from the records
    other = Deduplicator(corpus, cfg=DedupConfig(shingle_size=5, num_perm=64, bands=32, rows=2)).load()
    assert len(other.index) == 2 and other.index.find(body("003_boiler.txt"))


def test_rebuild_recomputes_clusters_from_records(corpus):
    dedup = dedup_for(corpus)
    for url, outlet, name, date in [(YAHOO, "yahoo-finance", "003_credit.txt", "2024-07-25T09:30:00+00:00"),
                                    (SCMP, "scmp", "003_orig.txt", "2024-07-25T15:10:00+08:00"),
                                    ("https://intellinews.com/lavrov-1", "intellinews", "000_orig.txt", "2024-07-28")]:
        store_all(corpus, dedup, record(url, outlet, body(name), date))
    # scramble the links by hand: the canonical forgets its copies
    scmp = corpus.get(doc_id(SCMP))
    scmp["also_at"] = []
    corpus.put(scmp)
    changed = dedup_for(corpus).rebuild()
    for rec in changed:
        corpus.put(rec)
    assert [a["id"] for a in corpus.get(doc_id(SCMP))["also_at"]] == [doc_id(YAHOO)]
    assert corpus.get(doc_id(YAHOO))["duplicate_of"] == doc_id(SCMP)
    assert corpus.get(doc_id("https://intellinews.com/lavrov-1"))["duplicate_of"] is None
