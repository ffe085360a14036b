"""Same-story clusters in the records (schema version 3: ``same_story``, ``story_original``): the
reader's ``one_per_story`` and ``story()``, ``corpus export --one-per-story``, the new columns read by
pandas, pyarrow, DuckDB and Hugging Face ``datasets``, and records of schema version 2 read with both
fields unknown. The records are written straight into a local store through ``Corpus.put`` (the
deduplicator that sets the fields in a crawl is not needed here).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus, dumps_json
from pipelines.corpus.reader import CorpusError, open_corpus
from pipelines.corpus.schema import NAMES, SCHEMA_VERSION, arrow_schema, from_json, to_json
from pipelines.store import open_store

from test_export import comparable, load_with_datasets, run_corpus

ST_A, ST_B, ST_C = "st-" + "a" * 16, "st-" + "b" * 16, "st-" + "c" * 16


def hid(name: str) -> str:
    """A 16-hex id from a short readable name (a1 -> a100000000000000)."""
    return (name.encode().hex() + "0" * 16)[:16]


def rec(name: str, *, outlet="wire.example", published="2024-07-01", **kw) -> dict:
    doc = hid(name)
    return dict({"id": doc, "url": f"https://{outlet}/{name}", "canonical_url": f"https://{outlet}/{name}",
                 "outlet": outlet, "title": f"Story {name}", "authors": ["A. Writer"], "published": published,
                 "language": "en", "text": f"Text of {name}.\n\nIts own words.", "text_sha256": None,
                 "fetched_at": "2024-07-29T10:15:00+00:00", "http_status": 200, "etag": None,
                 "last_modified": None, "extractor": {"name": "x", "version": "1"}, "duplicate_of": None,
                 "also_at": [], "same_story": None, "story_original": None}, **kw)


def member(name: str, story: str, original: str, **kw) -> dict:
    return rec(name, same_story=story, story_original=hid(original), **kw)


def write_v2(store: Path, record: dict) -> None:
    """A record file as schema version 2 wrote it: no same_story, no story_original."""
    data = to_json(record)
    del data["same_story"], data["story_original"]
    data["schema_version"] = 2
    (store / "corpus" / "docs").mkdir(parents=True, exist_ok=True)
    (store / "corpus" / "docs" / f"{record['id']}.json").write_bytes(dumps_json(data))


@pytest.fixture
def store(tmp_path) -> Path:
    """Three stories, singletons, near-duplicate copies, two records of schema version 2.

    - story A: a1 the original (wire, 07-02); a0 (07-03) and a2 (07-01) on paper.example, a0 with the
      smaller id; a2d, a near-duplicate copy of a2 on mirror.example, in the same story;
    - story B: its original b1 is a near-duplicate copy of b2; b3 is dated before both;
    - story C: its original (c9) is not in the store; c1 has no date, c2 has one;
    - s1 and s2 alone in their stories, s1d a near-duplicate copy of s1; v1 and v2 of schema version 2.
    """
    root = tmp_path / "store"
    corpus = Corpus(open_store(root))
    records = [
        member("a1", ST_A, "a1", published="2024-07-02T09:00:00+07:00"),
        member("a0", ST_A, "a1", outlet="paper.example", published="2024-07-03"),
        member("a2", ST_A, "a1", outlet="paper.example", published="2024-07-01T23:30:00-04:00",
               also_at=[{"id": hid("a2d"), "url": "https://mirror.example/a2d", "outlet": "mirror.example"}]),
        member("a2d", ST_A, "a1", outlet="mirror.example", published="2024-07-01", duplicate_of=hid("a2"),
               text=None),
        member("b1", ST_B, "b1", published="2024-07-05", duplicate_of=hid("b2"), text=None),
        member("b2", ST_B, "b1", outlet="paper.example", published="2024-07-05",
               also_at=[{"id": hid("b1"), "url": "https://wire.example/b1", "outlet": "wire.example"}]),
        member("b3", ST_B, "b1", outlet="other.example", published="2024-07-04"),
        member("c1", ST_C, "c9", published=None),
        member("c2", ST_C, "c9", outlet="paper.example", published="2024-07-09"),
        rec("s1", also_at=[{"id": hid("s1d"), "url": "https://mirror.example/s1d", "outlet": "mirror.example"}]),
        rec("s1d", outlet="mirror.example", duplicate_of=hid("s1"), text=None),
        rec("s2", outlet="paper.example", published="2024-07-06"),
    ]
    for r in records:
        assert corpus.put(r) == "new"
    write_v2(root, rec("v1", published="2024-06-30"))
    write_v2(root, rec("v2", outlet="paper.example", published="2024-06-29"))
    return root


def ids(records) -> list[str]:
    return [r["id"] for r in records]


def h(*names) -> list[str]:
    return sorted(hid(n) for n in names)


# -- the schema -----------------------------------------------------------------------------------
def test_schema_version_3_has_both_fields_in_every_form():
    assert SCHEMA_VERSION == 3 and {"same_story", "story_original"} <= set(NAMES)
    schema = arrow_schema()
    for name in ("same_story", "story_original"):
        field = schema.field(name)
        assert str(field.type) == "string" and field.nullable and field.metadata[b"description"]
    assert schema.metadata[b"schema_version"] == b"3"
    alone = from_json(to_json(rec("s9")))
    assert alone["same_story"] is None and alone["story_original"] is None
    assert to_json(alone)["same_story"] == "" and to_json(alone)["story_original"] == ""  # never null in JSON
    linked = from_json(to_json(member("a9", ST_A, "a1")))
    assert (linked["same_story"], linked["story_original"]) == (ST_A, hid("a1"))


def test_version_2_records_read_alone_in_their_story_and_upgrade_in_place(store):
    corpus = Corpus(open_store(store))
    old = corpus.get(hid("v1"))
    assert old["schema_version"] == SCHEMA_VERSION and old["same_story"] is None and old["story_original"] is None
    assert corpus.put(rec("v1", published="2024-06-30")) == "unchanged"  # same article: rewritten in place
    raw = json.loads((store / "corpus" / "docs" / f"{hid('v1')}.json").read_text())
    assert raw["schema_version"] == 3 and raw["same_story"] == "" and not corpus.history(hid("v1"))
    # joining a story later rewrites the record; links alone are not a new version of the article
    assert corpus.put(member("v1", ST_C, "c9", published="2024-06-30")) == "updated"
    assert corpus.get(hid("v1"))["same_story"] == ST_C and corpus.history(hid("v1")) == []


# -- the reader -------------------------------------------------------------------------------------
def test_one_per_story_original_first_else_earliest_selected(store):
    reader = open_corpus(store)
    everything = ids(reader.records())
    assert len(everything) == 14 and everything == sorted(everything)
    # A: the original a1; B: b2, the canonical copy of the original b1 (a near-duplicate);
    # C: no original in the store, c2 (dated) before c1 (no date); singletons and v2 records as they are
    got = ids(reader.records(one_per_story=True))
    assert got == h("a1", "b2", "c2", "s1", "s2", "v1", "v2") and got == sorted(got)
    # the original is outside the selection: the first selected member by published (UTC), then id
    # (a2: 2024-07-02 03:30 UTC, before a0's 2024-07-03 though a0's id is smaller; a2d is a near-duplicate)
    assert hid("a0") < hid("a2")
    assert ids(reader.records(one_per_story=True, outlet="paper.example")) == h("a2", "b2", "c2", "s2", "v2")
    assert ids(reader.records(one_per_story=True, outlet=["paper.example", "mirror.example"])) == \
        h("a2", "b2", "c2", "s2", "v2")
    assert ids(reader.records(one_per_story=True, outlet="other.example")) == h("b3")
    assert ids(reader.records(one_per_story=True, outlet="mirror.example")) == []  # copies only: none
    assert ids(reader.records(one_per_story=True, since="2024-07-02", until="2024-07-03")) == h("a1")
    assert ids(reader.records(one_per_story=True, since="2024-07-03", until="2024-07-05")) == h("a0", "b2")
    # without one_per_story every member is there; canonical_only drops the near-duplicates alone
    assert ids(reader.records(canonical_only=True)) == \
        h("a1", "a2", "a0", "b2", "b3", "c1", "c2", "s1", "s2", "v1", "v2")
    # one_per_story streams records with their text, in the record form
    first = next(iter(reader.records(one_per_story=True)))
    assert first["text"] and first["schema_version"] == SCHEMA_VERSION
    assert reader.errors == []


def test_story_members_and_the_same_story_filter(store):
    reader = open_corpus(store)
    assert ids(reader.records(same_story=ST_A)) == h("a1", "a2", "a2d", "a0")
    assert ids(reader.records(same_story=[ST_B, ST_C], canonical_only=True)) == h("b2", "b3", "c1", "c2")
    story = reader.story(ST_A)
    assert ids(story) == [hid("a1"), hid("a2d"), hid("a2"), hid("a0")]  # original, then by date and id
    assert all(r["story_original"] == hid("a1") for r in story) and story[0]["text"]
    assert ids(reader.story(ST_C, with_text=False)) == [hid("c2"), hid("c1")]  # no original stored; undated last
    assert reader.story("st-unknown") == []
    with pytest.raises(CorpusError, match="not a story id"):
        reader.story("")


def test_one_per_story_with_a_broken_record_says_it_once(store):
    (store / "corpus" / "docs" / f"{hid('c2')}.json").write_text("{ broken")
    reader = open_corpus(store)
    assert ids(reader.records(one_per_story=True)) == h("a1", "b2", "c1", "s1", "s2", "v1", "v2")
    assert [key for key, _ in reader.errors] == [f"corpus/docs/{hid('c2')}.json"]


# -- export and the consumer tools --------------------------------------------------------------------
def test_export_one_per_story_in_every_format(store, tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    reader = open_corpus(store)
    chosen = list(reader.records(one_per_story=True))
    res = run_corpus("export", "--one-per-story", "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"exported {len(chosen)} records as jsonl" in res.stderr
    assert [json.loads(line) for line in res.stdout.splitlines()] == [to_json(r) for r in chosen]
    (tmp_path / "one.jsonl").write_text(res.stdout)
    res = run_corpus("export", "--one-per-story", "--format", "parquet", "--out", tmp_path / "one.parquet",
                     "--outlet", "paper.example", "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert pq.read_table(tmp_path / "one.parquet").to_pylist() == \
        list(reader.records(one_per_story=True, outlet="paper.example"))

    frame = pd.read_json(tmp_path / "one.jsonl", lines=True, dtype={"id": str, "same_story": str, "story_original": str})
    assert list(frame["id"]) == ids(chosen)
    assert list(frame["same_story"]) == [r["same_story"] or "" for r in chosen]
    frame = pd.read_parquet(tmp_path / "one.parquet")
    assert list(frame["story_original"].fillna("")) == [hid("a1"), hid("b1"), hid("c9"), "", ""]
    assert frame["same_story"].isna().sum() == 2 and frame.groupby("same_story").size().to_dict() == \
        {ST_A: 1, ST_B: 1, ST_C: 1}

    res = run_corpus("export", "--one-per-story", "--include-duplicates", "--store", store, cwd=tmp_path)
    assert res.returncode == 2 and "--one-per-story" in res.stderr and res.stdout == ""


def test_duckdb_and_datasets_read_the_story_columns_of_mixed_v2_and_v3_records(store, tmp_path):
    import duckdb

    reader = open_corpus(store)
    everything = list(reader.records())
    for fmt in ("jsonl", "parquet"):
        res = run_corpus("export", "--include-duplicates", "--format", fmt, "--out", tmp_path / f"all.{fmt}",
                         "--store", store, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    members = {ST_A: h("a1", "a2", "a2d", "a0"), ST_B: h("b1", "b2", "b3"), ST_C: h("c1", "c2")}
    one = ids(reader.records(one_per_story=True))
    for name in ("all.jsonl", "all.parquet"):
        path = tmp_path / name
        rows = duckdb.sql(f"SELECT same_story, list(id ORDER BY id), count(DISTINCT story_original) FROM '{path}' "
                          "WHERE coalesce(same_story, '') <> '' GROUP BY same_story ORDER BY same_story").fetchall()
        assert rows == [(story, ids_, 1) for story, ids_ in members.items()]
        alone = duckdb.sql(f"SELECT count(*) FROM '{path}' WHERE coalesce(same_story, '') = ''").fetchall()[0][0]
        assert alone == 5  # s1, s1d, s2 and the two version-2 records
        # one document per story in SQL, as the README gives it (the reader's choice when the original is
        # a canonical copy or absent, as here for A and C)
        query = (f"SELECT id FROM '{path}' WHERE coalesce(duplicate_of, '') = '' "
                 "QUALIFY row_number() OVER (PARTITION BY coalesce(nullif(same_story, ''), id) "
                 "ORDER BY id = story_original DESC, nullif(published, '') NULLS LAST, id) = 1 ORDER BY id")
        sql = [r[0] for r in duckdb.sql(query).fetchall()]
        assert sql == [i if i != hid("b2") else hid("b3") for i in one]  # B: b1 is a copy: SQL takes the earliest
    # the record files of a store that mixes versions 2 and 3: DuckDB reads the missing keys as NULL
    rows = duckdb.sql(f"SELECT id, same_story FROM read_json_auto('{store}/corpus/docs/*.json') "
                      f"WHERE id IN ('{hid('v1')}', '{hid('a1')}') ORDER BY id").fetchall()
    assert rows == [(hid("a1"), ST_A), (hid("v1"), None)]

    for kind, name in (("json", "all.jsonl"), ("parquet", "all.parquet")):
        got = load_with_datasets(kind, os.fspath(tmp_path / name), tmp_path / kind)
        assert got["features"] == sorted(NAMES)
        assert [comparable(r) for r in got["rows"]] == everything


# -- INDEX.md -----------------------------------------------------------------------------------------
def test_index_lists_each_story_together_from_the_manifest_and_from_the_records(tmp_path):
    corpus = Corpus(open_store(tmp_path / "s"))
    corpus.begin_run("test")
    for r in (member("a1", ST_A, "a1", published="2024-07-02", title="Lavrov [meets] <b>ASEAN</b>"),
              member("a0", ST_A, "a1", outlet="paper.example", published="2024-07-03"),
              member("a2", ST_A, "a1", outlet="paper.example", published="2024-07-01"),
              member("a2d", ST_A, "a1", outlet="mirror.example", duplicate_of=hid("a2"), text=None),
              rec("s1")):
        corpus.put(r)
        corpus.noted([r])
    corpus.finish_run("r1")
    index = (tmp_path / "s" / "corpus" / "INDEX.md").read_text()
    assert corpus.write_index() is False  # the same bytes from the manifest entries and from every record
    section = index.split("## Same-story clusters", 1)[1].strip().splitlines()
    assert section[2] == f"- story `{ST_A}`: 3 documents"
    assert section[3].startswith(f"  - `{hid('a1')}` (original) wire\\.example, 2024-07-02: "
                                 "Lavrov \\[meets\\] &lt;b&gt;ASEAN&lt;/b&gt; <https://wire.example/a1>")
    assert [line.split("`")[1] for line in section[3:]] == [hid("a1"), hid("a2"), hid("a0")]  # original, then by date
    assert hid("s1") not in index.split("## Same-story clusters", 1)[1]
    empty = Corpus(open_store(tmp_path / "t"))
    empty.put(rec("s2"))
    empty.write_index()
    assert "Same-story" not in (tmp_path / "t" / "corpus" / "INDEX.md").read_text()  # no story, no section
