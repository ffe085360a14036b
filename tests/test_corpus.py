"""Corpus layer on both store backends: put new/unchanged/updated, history, INDEX.md, seeds, runs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus, compact_time, text_sha256
from pipelines.corpus.schema import from_json, normalize

SEEDS = Path("/work/main/seeds")
if not SEEDS.is_dir():
    SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def make_record(doc_id="0123456789abcdef", title="Lavrov in Vientiane", text="Para one.\n\nPara two.", **kw):
    rec = {
        "id": doc_id, "url": f"https://example.org/a/{doc_id}", "canonical_url": f"https://example.org/a/{doc_id}",
        "outlet": "example.org", "title": title, "authors": ["Ben Aris"], "published": "2024-07-28",
        "language": "en", "text": text, "text_sha256": text_sha256(text) if text else None,
        "fetched_at": "2024-07-29T10:15:00+00:00", "http_status": 200, "etag": '"abc"',
        "last_modified": None, "extractor": "trafilatura", "duplicate_of": None, "also_at": [],
    }
    rec.update(kw)
    return rec


class CountingStore:
    """Wraps a BlobStore and records the keys written or deleted."""

    def __init__(self, inner):
        self.inner, self.writes = inner, []

    def write(self, key, data, **kw):
        self.writes.append(key)
        return self.inner.write(key, data, **kw)

    def write_if_absent(self, key, data, **kw):
        self.writes.append(key)
        return self.inner.write_if_absent(key, data, **kw)

    def delete(self, key):
        self.writes.append(key)
        return self.inner.delete(key)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_put_new_then_get(blob_store):
    corpus = Corpus(blob_store)
    rec = make_record()
    assert corpus.put(rec) == "new"
    got = corpus.get(rec["id"])
    assert got == dict(normalize(rec), stored_at=got["stored_at"])  # the record, in the current schema
    raw = blob_store.read(f"corpus/docs/{rec['id']}.json").decode()
    assert json.loads(raw)["text"] == rec["text"] and raw == json.dumps(json.loads(raw), sort_keys=True, indent=2,
                                                              ensure_ascii=False) + "\n"
    assert blob_store.read(f"corpus/text/{rec['id']}.txt").decode() == f"{rec['title']}\n\n{rec['text']}\n"
    assert corpus.get("ffffffffffffffff") is None


def test_unchanged_writes_nothing(blob_store):
    counting = CountingStore(blob_store)
    corpus = Corpus(counting)
    assert corpus.put(make_record()) == "new"
    counting.writes.clear()
    refetched = make_record(fetched_at="2024-08-01T00:00:00Z", etag='"new"', http_status=304,
                            last_modified="Thu, 01 Aug 2024 00:00:00 GMT")
    assert corpus.put(refetched) == "unchanged"
    assert counting.writes == []
    assert corpus.get(refetched["id"])["fetched_at"] == "2024-07-29T10:15:00+00:00"


def test_updated_archives_previous_version(blob_store):
    corpus = Corpus(blob_store)
    first = make_record()
    corpus.put(first)
    second = make_record(text="Para one, corrected.\n\nPara two.", fetched_at="2024-08-02T09:00:00+07:00")
    assert corpus.put(second) == "updated"
    got = corpus.get(first["id"])
    assert got == dict(normalize(second), stored_at=got["stored_at"])
    hist = corpus.history(first["id"])
    assert hist == [f"corpus/history/{first['id']}/20240729T101500Z.json"]
    old = from_json(json.loads(blob_store.read(hist[0])))
    assert old == dict(normalize(first), stored_at=old["stored_at"])  # old version kept whole, text included
    third = make_record(title="Lavrov in Vientiane (updated)", text=second["text"],
                        fetched_at="2024-08-03T00:00:00Z")
    assert corpus.put(third) == "updated"  # metadata change alone makes a version
    assert len(corpus.history(first["id"])) == 2


def test_duplicate_record_keeps_no_text(blob_store):
    corpus = Corpus(blob_store)
    dup_id = "aaaaaaaaaaaaaaaa"
    corpus.put(make_record(doc_id=dup_id))
    assert blob_store.exists(f"corpus/text/{dup_id}.txt")
    dup = make_record(doc_id=dup_id, text=None, duplicate_of="0123456789abcdef",
                      text_sha256=text_sha256("Para one.\n\nPara two."))
    assert corpus.put(dup) == "updated"
    assert not blob_store.exists(f"corpus/text/{dup_id}.txt")
    assert corpus.get(dup_id)["text"] is None and corpus.get(dup_id)["duplicate_of"] == "0123456789abcdef"
    fresh_dup = make_record(doc_id="bbbbbbbbbbbbbbbb", text="", duplicate_of="0123456789abcdef")
    assert corpus.put(fresh_dup) == "new"
    assert not blob_store.exists("corpus/text/bbbbbbbbbbbbbbbb.txt")


def test_put_rejects_incomplete_or_unsafe(blob_store):
    corpus = Corpus(blob_store)
    rec = make_record()
    del rec["outlet"]
    with pytest.raises(ValueError, match="outlet"):
        corpus.put(rec)
    with pytest.raises(ValueError):
        corpus.put(make_record(doc_id="../escape"))
    assert list(blob_store.list()) == []


def test_index_unicode_and_pipes(blob_store):
    corpus = Corpus(blob_store)
    corpus.put(make_record(doc_id="1111111111111111", title="Лавров | ASEAN: Việt Nam & Россия",
                           published="2024-07-27T08:00:00+07:00"))
    corpus.put(make_record(doc_id="2222222222222222", title="Second\nline | x", published="2024-07-28"))
    corpus.put(make_record(doc_id="3333333333333333", text=None, duplicate_of="2222222222222222",
                           published="2024-07-28"))
    assert corpus.write_index() is True
    index = blob_store.read("corpus/INDEX.md").decode("utf-8")
    rows = [ln for ln in index.splitlines() if ln.startswith("| `")]
    assert len(rows) == 3
    assert all(ln.replace("\\|", "").count("|") == 7 for ln in rows)  # 6 cells, pipes escaped
    assert "Лавров \\| ASEAN: Việt Nam & Россия" in index and "Second line \\| x" in index
    assert any("`3333333333333333`" in r and "duplicate of 2222222222222222" in r for r in rows)
    assert any("`1111111111111111`" in r and "| 2024-07-27 |" in r and "| canonical |" in r for r in rows)
    assert corpus.write_index() is False  # regenerated identically: nothing written
    assert [r["id"] for r in corpus.iter_records()] == ["1111111111111111", "2222222222222222",
                                                         "3333333333333333"]
    assert corpus.get("1111111111111111")["title"].startswith("Лавров |")


@pytest.mark.skipif(not any(SEEDS.glob("*.txt")), reason="no seeds folder")
def test_mirror_seeds_idempotent(blob_store):
    corpus = Corpus(blob_store)
    expected = sorted(p.name for p in SEEDS.iterdir() if p.suffix == ".txt" or p.name == "INDEX.md")
    assert corpus.mirror_seeds(SEEDS) == len(expected)
    assert [k.split("/", 1)[1] for k in blob_store.list("seeds/")] == expected
    name = expected[-1]
    assert blob_store.read(f"seeds/{name}") == (SEEDS / name).read_bytes()
    blob_store.delete(f"seeds/{name}")
    assert corpus.mirror_seeds(SEEDS) == 1  # only the missing file
    assert corpus.mirror_seeds(SEEDS) == 0


def test_run_stats_and_json_helpers(blob_store):
    corpus = Corpus(blob_store)
    key = corpus.write_run_stats("20240801T000000Z-ab12", {"fetched": 12, "new": 3, "outlet": "Россия"})
    assert key == "corpus/runs/20240801T000000Z-ab12.json"
    assert corpus.read_json(key) == {"fetched": 12, "new": 3, "outlet": "Россия"}
    assert corpus.write_json("state/crawl.json", {"a": [1, 2]}, if_changed=True) is True
    assert corpus.write_json("state/crawl.json", {"a": [1, 2]}, if_changed=True) is False
    assert corpus.read_json("state/missing.json") is None
    with pytest.raises(ValueError):
        corpus.write_run_stats("../x", {})


def test_compact_time():
    assert compact_time("2024-08-02T09:00:00+07:00") == "20240802T020000Z"
    assert compact_time("2024-08-02T09:00:00Z") == "20240802T090000Z"
    assert compact_time("2024-08-02") == "20240802T000000"
    assert compact_time(None) == "unknown"
    assert compact_time("Fri, 02 Aug 2024") == "Fri02Aug2024"
