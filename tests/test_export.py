"""The corpus for consumers: record files that DuckDB and Hugging Face ``datasets`` load as they are,
``corpus export`` (JSON Lines, Parquet) read back by pyarrow, pandas, DuckDB and ``datasets``, and
``scrapy crawl outlet -o out.jsonl`` writing the stored records.

A crawl of the replay web (seven outlets, one story syndicated twice) makes the store, once per session.
``datasets`` runs in a subprocess with HF_DATASETS_OFFLINE=1, its own cache and an endpoint that
cannot answer: nothing is ever downloaded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.corpus.reader import open_corpus
from pipelines.corpus.schema import NAMES, SCHEMA_VERSION, from_json, to_json
from pipelines.store import open_store

REPO = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("corpus")
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
OUTLETS = ["intellinews", "russia-briefing", "rsis", "yahoo-finance", "russia-direct", "scmp", "asiaone"]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_", "HF_"))}
    env.update(extra)
    return env


def run_corpus(*args, cwd, env=None, timeout=180):
    return subprocess.run([os.fspath(EXE), *map(str, args)], cwd=cwd, env=clean_env(**(env or {})),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def crawled(tmp_path_factory):
    """A store crawled from the replay web: (store path, replay URL while the session lasts)."""
    from crawler.replay.server import DEFAULT_ROOT, ReplayServer

    base = tmp_path_factory.mktemp("crawled")
    with ReplayServer([DEFAULT_ROOT, REPO / "tests" / "web"]) as server:
        res = run_corpus("crawl", "--replay", server.url, "--store", base / "store", *FAST, *OUTLETS, cwd=base)
        assert res.returncode == 0, res.stdout + res.stderr[-3000:]
        yield base / "store", server


def record_files(store: Path) -> list[Path]:
    return sorted((store / "corpus" / "docs").glob("*.json"))


def copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


HF_SCRIPT = r"""
import json, sys
import datasets
datasets.disable_progress_bars()
kind, files, cache = sys.argv[1], sys.argv[2], sys.argv[3]
ds = datasets.load_dataset(kind, data_files=files, split="train", cache_dir=cache)
rows = ds.to_list()
print(json.dumps({"features": sorted(ds.features), "rows": rows}, default=str))
"""


def load_with_datasets(kind: str, files: str, tmp: Path) -> dict:
    """``datasets.load_dataset(kind, data_files=files)`` without options, offline, in a subprocess."""
    env = clean_env(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=os.fspath(tmp / "hf-home"),
                    HF_ENDPOINT="http://127.0.0.1:9")
    res = subprocess.run([sys.executable, "-c", HF_SCRIPT, kind, files, os.fspath(tmp / "hf-cache")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.splitlines()[-1])


def comparable(row: dict) -> dict:
    """A record read by another tool, back in the record form (timestamps as the tools give them
    become the ISO strings of the record)."""
    out = dict(row)
    for name in ("fetched_at", "stored_at"):
        value = out.get(name)
        if value is not None and not isinstance(value, str):
            out[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if isinstance(out.get(name), str) and " " in out[name]:  # "2026-11-27 18:22:07" (UTC, naive)
            out[name] = out[name].replace(" ", "T") + "+00:00"
    return from_json(out)


# -- the record files themselves --------------------------------------------------------------------
def test_record_files_load_in_duckdb_as_they_are(crawled):
    import duckdb

    store, _ = crawled
    files = record_files(store)
    assert len(files) >= 35
    rel = duckdb.sql(f"SELECT * FROM read_json_auto('{store}/corpus/docs/*.json')")
    rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    assert len(rows) == len(files) and set(rel.columns) == set(NAMES)
    assert sorted(r["id"] for r in rows) == [p.stem for p in files]
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert types["published"] == "VARCHAR" and types["fetched_at"].startswith("TIMESTAMP")
    assert types["topic"].startswith("STRUCT") and types["extractor"].startswith("STRUCT")
    corpus = Corpus(open_store(store))
    for row in rows:
        stored = json.loads((store / "corpus" / "docs" / f"{row['id']}.json").read_text())
        assert row["title"] == stored["title"] and row["authors"] == stored["authors"]
        assert row["duplicate_of"] == stored["duplicate_of"] and row["schema_version"] == SCHEMA_VERSION
        assert json.loads(row["also_at"]) == [dict(a) for a in corpus.get(row["id"])["also_at"]]


def test_record_files_load_in_datasets_as_they_are(crawled, tmp_path):
    store, _ = crawled
    got = load_with_datasets("json", f"{store}/corpus/docs/*.json", tmp_path)
    assert got["features"] == sorted(NAMES)
    corpus = Corpus(open_store(store))
    records = {r["id"]: r for r in corpus.iter_records()}
    assert len(got["rows"]) == len(records) == len(record_files(store))
    for row in got["rows"]:
        assert comparable(row) == records[row["id"]]


def sparse_and_full(corpus: Corpus, sparse_id: str, full_id: str):
    """A record with everything unknown and one with every field set, as ``put`` writes them."""
    base = {"url": "https://example.org/a", "canonical_url": "https://example.org/a", "outlet": "example.org",
            "title": None, "authors": [], "published": None, "language": None, "text": None,
            "text_sha256": None, "fetched_at": "2024-07-29T10:15:00+00:00", "http_status": None, "etag": None,
            "last_modified": None, "extractor": {"name": "x", "version": "1"}, "duplicate_of": None,
            "also_at": []}
    corpus.put(dict(base, id=sparse_id))
    full = dict(base, id=full_id, url="https://example.org/b", canonical_url="https://example.org/b",
                title="Lavrov in Vientiane", authors=["Ben Aris", "Jane Roe"], published="2024-07-27T08:00:00+07:00",
                language="en", text="Para one.\n\nPara two.", http_status=200, etag='"e"',
                last_modified="Sat, 27 Jul 2024 01:00:00 GMT", credit="SCMP", description="d", sitename="s",
                declared_canonical="https://example.org/b", content_type="text/html", text_kept="adds content",
                also_at=[{"id": "1" * 16, "url": "https://example.net/c", "outlet": "example.net"}],
                topic={"score": 0.9, "asean": 1.0, "russia": 0.8, "link": 1.0, "relevant": True, "reason": None,
                       "matched": [{"term": "ASEAN", "side": "asean", "count": 3},
                                   {"term": "Asean", "side": "asean", "count": 2}]},
                warc={"file": "corpus/raw/x.warc.gz", "offset": 10, "length": 20},
                gone={"http_status": 410, "since": "2024-08-01T00:00:00+00:00"}, replayed=True)
    corpus.put(full)


@pytest.mark.parametrize("sparse_first", [True, False])
def test_sparse_and_full_records_load_in_any_order(tmp_path, sparse_first):
    """datasets types every file from the first one and DuckDB from its first 32: a record with no
    date, no authors, no topic must load before and after one that has them all."""
    import duckdb

    corpus = Corpus(open_store(tmp_path / "s"))
    ids = ("0" * 16, "f" * 16) if sparse_first else ("f" * 16, "0" * 16)
    sparse_and_full(corpus, *ids)
    rows = load_with_datasets("json", f"{tmp_path}/s/corpus/docs/*.json", tmp_path)["rows"]
    assert {r["id"]: comparable(r) for r in rows} == {r["id"]: r for r in corpus.iter_records()}
    rel = duckdb.sql(f"SELECT id, published, authors, topic FROM read_json_auto('{tmp_path}/s/corpus/docs/*.json')")
    assert len(rel.fetchall()) == 2


def test_duckdb_reads_a_late_record_without_a_date(tmp_path):
    """DuckDB takes column types from its first 32 files: 40 dated records, then one without a date."""
    import duckdb

    corpus = Corpus(open_store(tmp_path / "s"))
    for n in range(40):
        corpus.put({"id": f"{n:016x}", "url": f"https://e.org/{n}", "canonical_url": f"https://e.org/{n}",
                    "outlet": "e.org", "title": "t", "authors": ["A"], "published": f"2024-07-{n % 28 + 1:02d}T08:00:00+07:00",
                    "language": "en", "text": "x y", "text_sha256": None, "fetched_at": "2024-07-29T10:15:00+00:00",
                    "http_status": 200, "etag": None, "last_modified": None, "extractor": {"name": "x"},
                    "duplicate_of": None, "also_at": []})
    sparse_and_full(corpus, "f" * 16, "e" * 16)
    rel = duckdb.sql(f"SELECT id, published, credit FROM read_json_auto('{tmp_path}/s/corpus/docs/*.json') ORDER BY id")
    rows = rel.fetchall()
    assert len(rows) == 42 and rows[-1] == ("f" * 16, "", "") and rows[-2] == ("e" * 16, "20240727T080000+0700", "SCMP")


# -- corpus export ------------------------------------------------------------------------------------
def canonical_records(store: Path, include_duplicates=False) -> list[dict]:
    return [r for r in open_corpus(store).records() if include_duplicates or not r["duplicate_of"]]


def test_export_jsonl_and_parquet_read_back_everywhere(crawled, tmp_path):
    import duckdb
    import pandas as pd
    import pyarrow.json as paj
    import pyarrow.parquet as pq

    store, _ = crawled
    canonical = canonical_records(store)
    everything = canonical_records(store, include_duplicates=True)
    assert 0 < len(canonical) < len(everything)  # the syndicated story's copies are duplicates

    res = run_corpus("export", "--store", store, cwd=tmp_path)  # jsonl to standard output
    assert res.returncode == 0, res.stderr
    assert f"exported {len(canonical)} records as jsonl" in res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert lines == [to_json(r) for r in canonical]  # the record files' form, one per line
    (tmp_path / "out.jsonl").write_text(res.stdout)

    res = run_corpus("export", "--format", "parquet", "--out", tmp_path / "out.parquet", "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.to_pylist() == canonical  # the record form, typed
    assert pq.ParquetFile(tmp_path / "out.parquet").schema_arrow.metadata[b"schema_version"] == str(SCHEMA_VERSION).encode()

    assert paj.read_json(tmp_path / "out.jsonl").num_rows == len(canonical)
    frame = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert list(frame["id"]) == [r["id"] for r in canonical]
    frame = pd.read_parquet(tmp_path / "out.parquet")
    assert list(frame["title"]) == [r["title"] for r in canonical]
    assert list(frame["authors"].map(list)) == [r["authors"] for r in canonical]
    for name in ("out.jsonl", "out.parquet"):
        rows = duckdb.sql(f"SELECT id, title FROM '{tmp_path / name}' ORDER BY id").fetchall()
        assert rows == [(r["id"], r["title"]) for r in canonical]
    got = load_with_datasets("parquet", os.fspath(tmp_path / "out.parquet"), tmp_path / "p")
    assert [comparable(r) for r in got["rows"]] == canonical
    got = load_with_datasets("json", os.fspath(tmp_path / "out.jsonl"), tmp_path / "j")
    assert [comparable(r) for r in got["rows"]] == canonical

    res = run_corpus("export", "--include-duplicates", "--format", "parquet", "--out", tmp_path / "all.parquet",
                     "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert pq.read_table(tmp_path / "all.parquet").to_pylist() == everything
    res = run_corpus("export", "--include-duplicates", "--out", tmp_path / "all.jsonl", "--store", store, cwd=tmp_path)
    assert [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()] == \
        [json.loads(p.read_text()) for p in record_files(store)]  # the files themselves, one per line


def test_export_changed_since_a_run(crawled, tmp_path):
    """A later run changes one document: --changed-since the first run exports it alone, from the
    manifests, and by time when the store has no manifests."""
    source, server = crawled
    store = copy_store(source, tmp_path / "store")
    first = sorted(p.stem for p in (store / "corpus" / "runs").glob("*.json"))[-1]
    time.sleep(1.1)  # stored_at has whole seconds: the next run's writes come after this run ended
    url = "https://intellinews.com/polish-zloty-firms-as-central-bank-signals-no-rate-change-this-year-141207"
    res = run_corpus("fetch", "--replay", server.url, "--store", store, url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    new_id = res.stdout.split()[0]
    assert (store / "corpus" / "docs" / f"{new_id}.json").is_file()

    res = run_corpus("export", "--changed-since", first, "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == [new_id]
    assert "from the manifests of 1 later run" in res.stderr

    shutil.rmtree(store / "corpus" / "manifests")  # a store from before manifests: by time
    res = run_corpus("export", "--changed-since", first, "--store", store, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == [new_id]
    assert "stored after" in res.stderr
    res = run_corpus("export", "--changed-since", sorted(p.stem for p in (store / "corpus" / "runs").glob("*.json"))[-1],
                     "--store", store, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == ""


def test_export_errors_are_clear_and_leave_no_partial_file(crawled, tmp_path):
    source, _ = crawled
    store = copy_store(source, tmp_path / "store")
    res = run_corpus("export", "--format", "parquet", "--store", store, cwd=tmp_path)
    assert res.returncode == 2 and "--out" in res.stderr
    res = run_corpus("export", "--changed-since", "19990101T000000000000Z", "--store", store, cwd=tmp_path)
    assert res.returncode == 2 and "no run" in res.stderr and res.stdout == ""
    res = run_corpus("export", "--store", tmp_path / "nowhere", cwd=tmp_path)
    assert res.returncode == 3 and "no corpus" in res.stderr and not (tmp_path / "nowhere").exists()
    res = run_corpus("export", "--format", "parquet", "--out", tmp_path / "x.parquet", "--since", "July",
                     "--store", store, cwd=tmp_path)
    assert res.returncode == 2 and "not a date" in res.stderr
    assert not list(tmp_path.glob("*parquet*"))  # nothing half written

    victim = record_files(store)[3]
    victim.write_text("{ not json")
    res = run_corpus("export", "--include-duplicates", "--format", "parquet", "--out", tmp_path / "x.parquet",
                     "--store", store, cwd=tmp_path)
    assert res.returncode == 1 and f"could not read corpus/docs/{victim.name}" in res.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "x.parquet").num_rows == len(record_files(store)) - 1


def _file_size_limit(limit: int):
    """A child whose files cannot grow past ``limit`` bytes: its writes fail with EFBIG (SIGXFSZ ignored), as
    they fail with ENOSPC on a full disk, without needing one."""
    import resource
    import signal

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_that_cannot_write_its_output_says_so_in_one_line(crawled, tmp_path, fmt):
    """A reviewer's case: a full disk (or a read-only one, a closed pipe) gave a traceback and exit 1, which
    README gives to "some records could not be read, the others were exported". Now exit 74 (output), one
    line, no traceback, and no file left."""
    store, _ = crawled
    out = tmp_path / f"x.{fmt}"
    res = subprocess.run([os.fspath(EXE), "export", "--format", fmt, "--out", os.fspath(out), "--include-duplicates",
                          "--store", os.fspath(store)], cwd=tmp_path, env=clean_env(), capture_output=True,
                         text=True, timeout=180, preexec_fn=_file_size_limit(2000))
    assert res.returncode == 74, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "corpus: exit 74 (output): export: cannot write" in res.stderr
    assert not list(tmp_path.glob("*x.*"))  # no partial file, no temp file


def test_export_onto_a_device_or_a_link_writes_through_it(crawled, tmp_path):
    """A second review: `--out /dev/full` gave exit 0 and, as root, replaced the device with a file (the
    temp file was renamed over it). A path that is no regular file is written as it is; a symlink's target
    is replaced, the link kept."""
    import stat

    store, _ = crawled
    full = tmp_path / "full"  # a /dev/full of our own: a regression replaces this node, not the machine's
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, OSError):
        full = None  # no right to make device nodes here: the FIFO and the link below still run
    if full is not None:
        res = run_corpus("export", "--out", full, "--store", store, cwd=tmp_path)
        assert res.returncode == 74 and "No space left on device" in res.stderr, res.stderr[-2000:]
        assert full.is_char_device()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with open(tmp_path / "read.jsonl", "wb") as got:
        reader = subprocess.Popen(["cat", os.fspath(fifo)], stdout=got)  # the other end of the pipe
        res = run_corpus("export", "--out", fifo, "--store", store, cwd=tmp_path)
        reader.wait(timeout=60)
    rows = (tmp_path / "read.jsonl").read_text().splitlines()
    assert res.returncode == 0 and rows and all(json.loads(r)["id"] for r in rows), res.stderr[-2000:]
    assert fifo.is_fifo()
    target = tmp_path / "real.jsonl"
    target.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    res = run_corpus("export", "--out", link, "--store", store, cwd=tmp_path)
    assert res.returncode == 0 and link.is_symlink() and len(target.read_text().splitlines()) == len(rows)


def test_export_to_a_full_or_closed_standard_output(crawled, tmp_path):
    store, _ = crawled
    with open("/dev/full", "wb") as full:  # every write fails with ENOSPC
        res = subprocess.run([os.fspath(EXE), "export", "--include-duplicates", "--store", os.fspath(store)],
                             cwd=tmp_path, env=clean_env(), stdout=full, stderr=subprocess.PIPE, text=True,
                             timeout=180)
    assert res.returncode == 74 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "cannot write standard output" in res.stderr and res.stderr.count("\n") == 1
    # a reader that stops early (`| head -c 100`): the pipe closes under the export
    proc = subprocess.Popen([os.fspath(EXE), "export", "--include-duplicates", "--store", os.fspath(store)],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=180) == 74 and "Traceback" not in err and "Exception ignored" not in err, err


# -- scrapy crawl -o --------------------------------------------------------------------------------------
def test_scrapy_crawl_o_writes_the_stored_records(crawled, tmp_path):
    _, server = crawled
    store, out = tmp_path / "store", tmp_path / "out.jsonl"
    env = clean_env(CORPUS_REPLAY_URL=server.url, CORPUS_STORE=os.fspath(store))
    res = subprocess.run([os.fspath(Path(sys.executable).with_name("scrapy")), "crawl", "outlet", "-a", "outlets=rsis",
                          "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-o", os.fspath(out)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "not JSON serializable" not in res.stderr and "Error caught on signal handler" not in res.stderr
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    stored = {p.stem: json.loads(p.read_text()) for p in record_files(store)}
    assert len(exported) == len(stored) == 7
    assert {r["id"]: r for r in exported} == stored  # exactly the record files
    # the outcome bookkeeping still works: the run report counts 7 new pages, 2 off-topic skipped
    report = json.loads(sorted((store / "corpus" / "runs").glob("*.json"))[-1].read_text())
    assert report["summary"]["rsis"]["new"] == 7 and report["summary"]["rsis"]["off-topic"] == 2
    assert report["stats"]["item_scraped_count"] == 7
