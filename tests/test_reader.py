"""The consumer's reader (``open_corpus``): every filter on a local store and on moto's S3 server,
streaming, changed-since from manifests or by time, broken and old records, the public package."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.corpus.reader import CorpusError, open_corpus
from pipelines.corpus.schema import SCHEMA_VERSION, normalize, to_json
from pipelines.store import BlobStore, StoreError, open_store

from test_export import crawled  # noqa: F401  (the session's crawl of the replay web)


@pytest.fixture(params=["local", "s3"])
def spec(request, crawled):  # noqa: F811
    """The crawled corpus as a local folder, or copied to a bucket on moto's S3 server."""
    store, _ = crawled
    if request.param == "local":
        return os.fspath(store)
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_endpoint")
    url = f"s3://{server.make_bucket()}/corpus-root"
    s3 = open_store(url)
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        s3.write(path.relative_to(store).as_posix(), path.read_bytes())
    return url


def test_every_filter(spec):
    reader = open_corpus(spec)
    everything = list(Corpus(open_store(spec)).iter_records())
    assert [r["id"] for r in reader.records()] == sorted(r["id"] for r in everything) and len(everything) >= 35

    def ids(**filters):
        return [r["id"] for r in reader.records(**filters)]

    def expect(pred):
        return sorted(r["id"] for r in everything if pred(r))

    outlets = sorted({r["outlet"] for r in everything})
    assert ids(outlet=outlets[0]) == expect(lambda r: r["outlet"] == outlets[0]) != []
    assert ids(outlet=outlets[:2]) == expect(lambda r: r["outlet"] in outlets[:2])
    assert ids(language="en") == expect(lambda r: r["language"] == "en") != []
    assert ids(language="xx") == []
    canonical = ids(canonical_only=True)
    assert canonical == expect(lambda r: not r["duplicate_of"]) and 0 < len(canonical) < len(everything)

    days = sorted(r["published"][:10] for r in everything if r["published"])
    mid, late = days[len(days) // 2], days[-3]
    assert ids(since=mid) == expect(lambda r: r["published"] and r["published"][:10] >= mid)
    assert ids(until=mid) == expect(lambda r: r["published"] and r["published"][:10] <= mid)
    assert ids(since=mid, until=late) == expect(lambda r: r["published"] and mid <= r["published"][:10] <= late)
    instant = datetime.fromisoformat(f"{mid}T12:00:00+00:00")

    def utc(value):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed

    assert ids(since=instant) == expect(lambda r: r["published"] and utc(r["published"]) >= instant)
    both = ids(outlet=outlets[0], canonical_only=True, since=days[0])
    assert both == expect(lambda r: r["outlet"] == outlets[0] and not r["duplicate_of"] and r["published"])
    first = next(iter(reader.records(with_text=False)))
    assert "text" not in first and first["schema_version"] == SCHEMA_VERSION
    assert next(iter(reader.records()))["text"] is not None or next(iter(reader.records()))["duplicate_of"]
    runs = reader.runs()
    assert len(runs) == 1
    assert ids(changed_since=runs[0]) == []  # nothing changed after the only run
    with pytest.raises(CorpusError, match="no run"):
        list(reader.records(changed_since="20000101T000000000000Z"))
    with pytest.raises(CorpusError, match="not a date"):
        list(reader.records(since="last Tuesday"))


class CountingStore(BlobStore):
    def __init__(self, inner):
        self.inner, self.reads = inner, []

    def read(self, key):
        self.reads.append(key)
        return self.inner.read(key)

    def write(self, key, data, **kw):
        return self.inner.write(key, data, **kw)

    def write_if_absent(self, key, data, **kw):
        return self.inner.write_if_absent(key, data, **kw)

    def exists(self, key):
        return self.inner.exists(key)

    def delete(self, key):
        return self.inner.delete(key)

    def list(self, prefix=""):
        return self.inner.list(prefix)

    def describe(self):
        return self.inner.describe()


@pytest.mark.parametrize("read_ahead", [1, 4])
def test_records_are_streamed_not_loaded(crawled, read_ahead):  # noqa: F811
    store, _ = crawled
    counting = CountingStore(open_store(store))
    it = open_corpus(counting, read_ahead=read_ahead).records()
    first = next(it)
    assert counting.reads[0] == f"corpus/docs/{first['id']}.json"
    assert len(counting.reads) <= read_ahead  # at most the read-ahead window, not the corpus
    second = next(it)
    assert len(counting.reads) <= read_ahead + 1 and second["id"] > first["id"]
    rest = list(it)
    assert len(counting.reads) == 2 + len(rest) == len(list((store / "corpus" / "docs").glob("*.json")))


def make(doc_id, **kw):
    rec = {"id": doc_id, "url": f"https://example.org/{doc_id}", "canonical_url": f"https://example.org/{doc_id}",
           "outlet": "example.org", "title": f"T {doc_id}", "authors": [], "published": "2024-07-28",
           "language": "en", "text": f"text of {doc_id}", "text_sha256": None, "fetched_at": "2024-07-29T10:00:00+00:00",
           "http_status": 200, "etag": None, "last_modified": None, "extractor": {"name": "x", "version": "1"},
           "duplicate_of": None, "also_at": []}
    rec.update(kw)
    return rec


def write_run(store, run, finished_at):
    store.write(f"corpus/runs/{run}.json", json.dumps({"run_id": run, "finished_at": finished_at}).encode())


def test_changed_since_by_time_then_from_manifests(blob_store):
    corpus = Corpus(blob_store)
    corpus.put(make("a" * 16))
    corpus.put(make("b" * 16))
    for doc_id, stored_at in (("a" * 16, "2024-08-01T00:00:00+00:00"), ("b" * 16, "2024-08-03T00:00:00+00:00")):
        rec = corpus.get(doc_id)
        blob_store.write(f"corpus/docs/{doc_id}.json", json.dumps(to_json(dict(rec, stored_at=stored_at))).encode())
    r1, r2, r3 = "20240801T120000000000Z", "20240802T120000000000Z", "20240804T120000000000Z"
    write_run(blob_store, r1, "2024-08-01T12:00:00+00:00")
    write_run(blob_store, r2, "2024-08-02T12:00:00+00:00")
    write_run(blob_store, r3, "2024-08-04T12:00:00+00:00")
    reader = open_corpus(blob_store)
    assert [r["id"] for r in reader.records(changed_since=r1)] == ["b" * 16]  # no manifests: by time
    assert reader.last_changed.how == "time"
    assert [r["id"] for r in reader.records(changed_since=r3)] == []

    # manifests (pipelines/corpus/manifest.py roots: run, previous, changes) that reach back to r1
    roots = {r1: {"run": r1, "previous": None, "changes": {"new": ["a" * 16, "b" * 16]}},
             r2: {"run": r2, "previous": r1, "changes": {"updated": ["a" * 16], "removed": ["c" * 16]}},
             r3: {"run": r3, "previous": r2, "changes": {"relinked": ["b" * 16], "gone": []}}}
    for run, root in roots.items():
        blob_store.write(f"corpus/manifests/{run}.json", json.dumps(root).encode())
    blob_store.write("corpus/manifests/latest.json", json.dumps(roots[r3]).encode())
    assert [r["id"] for r in reader.records(changed_since=r1)] == ["a" * 16, "b" * 16]
    assert reader.last_changed.how == "manifests" and reader.last_changed.runs == [r3, r2]
    assert [r["id"] for r in reader.records(changed_since=r2)] == ["b" * 16]
    assert [r["id"] for r in reader.records(changed_since=r2, canonical_only=True, outlet="elsewhere")] == []
    # a chain that does not reach back to the run: by time again
    blob_store.write(f"corpus/manifests/{r2}.json", json.dumps(dict(roots[r2], previous=None)).encode())
    assert [r["id"] for r in reader.records(changed_since=r1)] == ["b" * 16]
    assert reader.last_changed.how == "time"


def test_a_broken_record_is_skipped_and_named(tmp_path):
    corpus = Corpus(open_store(tmp_path / "s"))
    for doc_id in ("a" * 16, "c" * 16):
        corpus.put(make(doc_id))
    (tmp_path / "s" / "corpus" / "docs" / ("b" * 16 + ".json")).write_text("[1, 2")
    newer = dict(to_json(make("d" * 16)), schema_version=SCHEMA_VERSION + 1)
    (tmp_path / "s" / "corpus" / "docs" / ("d" * 16 + ".json")).write_text(json.dumps(newer))
    reader = open_corpus(tmp_path / "s")
    assert [r["id"] for r in reader.records()] == ["a" * 16, "c" * 16]
    assert [(key, "not JSON" in why or "schema version" in why) for key, why in reader.errors] == [
        (f"corpus/docs/{'b' * 16}.json", True), (f"corpus/docs/{'d' * 16}.json", True)]


def test_open_corpus_refuses_what_is_not_a_corpus(tmp_path, s3_endpoint):
    with pytest.raises(CorpusError, match="no corpus"):
        open_corpus(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(StoreError, match="does not exist"):
        open_corpus("s3://no-such-bucket-here/x")


# -- records written before schema version 2 -------------------------------------------------------------
def v1_record(doc_id="0123456789abcdef", text="Para one.\n\nPara two."):
    """A record as build_record wrote it before schema version 2 (no schema_version, topic.matched a
    map, no stored_at, nulls), text in the record."""
    return {"id": doc_id, "url": "https://example.org/a", "requested_url": "https://example.org/a",
            "canonical_url": "https://example.org/a", "declared_canonical": None, "outlet": "example.org",
            "title": "Lavrov in Vientiane", "authors": ["Ben Aris"], "published": "2024-07-27T08:00:00+07:00",
            "language": "en", "description": None, "sitename": None, "credit": None, "text": text,
            "text_sha256": __import__("hashlib").sha256(text.encode()).hexdigest(), "word_count": len(text.split()),
            "fetched_at": "2024-07-29T10:15:00+00:00", "http_status": 200, "content_type": "text/html",
            "etag": None, "last_modified": None, "extractor": {"name": "corpus-extract", "version": "1.0"},
            "duplicate_of": None, "also_at": [], "replayed": False,
            "topic": {"score": 0.9, "asean": 1.0, "russia": 0.8, "link": 1.0, "relevant": True, "reason": None,
                      "matched": {"ASEAN": 3, "Asean": 2, "Lavrov": 4}}}


def test_old_records_are_upgraded_on_read_and_on_put_without_a_new_version(blob_store):
    old = v1_record()
    key = f"corpus/docs/{old['id']}.json"
    raw = (json.dumps(old, sort_keys=True, indent=2) + "\n").encode()
    blob_store.write(key, raw)
    reader = open_corpus(blob_store)
    (rec,) = list(reader.records())
    assert rec["schema_version"] == SCHEMA_VERSION and rec["stored_at"] == old["fetched_at"]
    assert rec["topic"]["matched"] == [{"term": "Lavrov", "side": "russia", "count": 4},
                                       {"term": "ASEAN", "side": "asean", "count": 3},
                                       {"term": "Asean", "side": "asean", "count": 2}]
    assert {k: rec[k] for k in old if k != "topic"} == {k: v for k, v in old.items() if k != "topic"}

    corpus = Corpus(blob_store)
    refetched = dict(v1_record(), fetched_at="2024-09-01T00:00:00+00:00", etag='"new"')
    refetched["topic"] = dict(refetched["topic"], matched=rec["topic"]["matched"])  # scored again: the new form
    assert corpus.put(normalize(refetched)) == "unchanged"  # a schema upgrade is not a new version
    assert corpus.history(old["id"]) == []
    upgraded = json.loads(blob_store.read(key))
    assert upgraded == to_json(rec) and upgraded["schema_version"] == SCHEMA_VERSION  # rewritten in place
    again = blob_store.read(key)
    assert corpus.put(normalize(refetched)) == "unchanged" and blob_store.read(key) == again  # no more writes

    changed = normalize(v1_record(text="Para one, corrected.\n\nPara two."))
    assert corpus.put(changed) == "updated"
    (hist,) = corpus.history(old["id"])
    assert json.loads(blob_store.read(hist)) == upgraded  # the previous version, in the current form


def test_put_refuses_a_field_the_schema_does_not_know(tmp_path):
    corpus = Corpus(open_store(tmp_path / "s"))
    with pytest.raises(ValueError, match="schema does not know: colour"):
        corpus.put(make("a" * 16, colour="blue"))
    assert not (tmp_path / "s" / "corpus").exists()


# -- the public package ------------------------------------------------------------------------------------
def test_public_package_reads_a_corpus_without_scrapy(crawled, tmp_path):  # noqa: F811
    store, _ = crawled
    script = (
        "import sys\n"
        "from asean_russia_corpus import open_corpus, export, SCHEMA_VERSION, arrow_schema\n"
        f"corpus = open_corpus({os.fspath(store)!r})\n"
        "recs = list(corpus.records(outlet='rsis', canonical_only=True))\n"
        "result = export(corpus, 'rsis.parquet', format='parquet', outlet='rsis')\n"
        "import pyarrow.parquet as pq\n"
        "assert pq.read_table('rsis.parquet').to_pylist() == recs, 'export != reader'\n"
        "print(len(recs), result.rows, SCHEMA_VERSION, len(arrow_schema()),\n"
        "      sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted', 'crawler')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    rsis = [r for r in Corpus(open_store(store)).iter_records() if r["outlet"] == "rsis" and not r["duplicate_of"]]
    assert res.stdout.split(maxsplit=4)[:4] == [str(len(rsis)), str(len(rsis)), str(SCHEMA_VERSION),
                                               str(len(to_json(rsis[0])))]
    assert res.stdout.strip().endswith("[]")  # neither Scrapy nor the crawler was imported
    assert Path(tmp_path / "rsis.parquet").is_file()
