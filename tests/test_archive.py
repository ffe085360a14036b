"""The raw archive (pipelines/archive/): WARC records, rotation, publication whole, spool recovery.

Unit tests of the pure part on both stores (a local folder and moto's S3 server on 127.0.0.1).
End to end (crawls, reextract, kill -9, import-warc): tests/test_archive_e2e.py.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.archive import spool
from pipelines.archive.reader import index_warc, read_page
from pipelines.archive.records import SERVER_NOT_MODIFIED
from pipelines.archive.writer import RAW_PREFIX, WarcArchive

WARCIO = Path(sys.executable).with_name("warcio")
ARTICLE = (Path(__file__).resolve().parent.parent / "crawler" / "replay" / "web" / "rsis.edu.sg" / "rsis-publication"
           / "rsis" / "russia-asean-sochi-summit-beyond-symbolism" / "index.html").read_bytes()


def capture(url: str, body: bytes, *, encoding: str | None = None, status: int = 200, chunked: bool = False,
            ctype: str = "text/html; charset=utf-8") -> dict:
    """A capture as crawler/middlewares/raw_capture.py makes it: the body still Content-Encoded."""
    headers = [("Content-Type", ctype), ("ETag", '"abc"'), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")]
    raw = body
    if encoding == "gzip":
        raw = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    elif encoding == "deflate":
        raw = zlib.compress(body)
        headers.append(("Content-Encoding", "deflate"))
    if chunked:  # the HTTP client undid the chunking: the header must not make readers de-chunk again
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(len(raw))))
    return {"url": url, "method": "GET", "protocol": "HTTP/1.1", "status": status, "reason": None,
            "request_headers": [("User-Agent", "asean-russia-corpus/test (+https://example.org/contact)"),
                                ("Accept-Encoding", "gzip, deflate, br")],
            "response_headers": headers, "body": raw, "ip": "203.0.113.7", "replayed": False}


def local_file(store, key: str, tmp_path: Path) -> Path:
    return spool.local_copy(store, key, tmp_path)


def records_at(store, loc: dict):
    """The WARC record at a ``warc`` location, read with warcio from the stored object."""
    data = store.read(loc["file"])
    assert data is not None, f"{loc['file']} is not in the store"
    chunk = data[loc["offset"]:loc["offset"] + loc["length"]]
    assert len(chunk) == loc["length"]
    return next(iter(ArchiveIterator(io.BytesIO(chunk))))


def warcio_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([os.fspath(WARCIO), *map(os.fspath, args)], capture_output=True, text=True, timeout=60)


def test_response_request_and_warcinfo_read_back_at_their_location(blob_store, tmp_path):
    archive = WarcArchive(blob_store, spool_dir=tmp_path / "spool", run_id="20260101T000000000000Z",
                          info={"software": "asean-russia-corpus/test", "robots": "obey"})
    pages = [("https://rsis.edu.sg/a/", ARTICLE, "gzip", False), ("https://rsis.edu.sg/b/", ARTICLE[:5000], None, True),
             ("https://rsis.edu.sg/c/", ARTICLE[::-1][:3000], "deflate", False)]
    locations = [archive.append(capture(url, body, encoding=enc, chunked=ch), fetched_at="2026-01-02T03:04:05+00:00",
                                meta={"outlet": "rsis", "requested_url": url + "?utm_source=x", "replayed": False})
                 for url, body, enc, ch in pages]
    key = locations[0]["file"]
    assert key == f"{RAW_PREFIX}{key[len(RAW_PREFIX):len(RAW_PREFIX) + 10]}/20260101T000000000000Z-00001.warc.gz"
    assert not blob_store.exists(key)  # still in the spool: a WARC file appears whole, when it is closed
    assert archive.close() == [key]
    assert blob_store.exists(key)
    assert not list((tmp_path / "spool").iterdir())

    for (url, body, _, _), loc in zip(pages, locations):
        rec = records_at(blob_store, loc)
        assert rec.rec_type == "response"
        assert rec.rec_headers.get_header("WARC-Target-URI") == url
        assert rec.rec_headers.get_header("WARC-Date") == "2026-01-02T03:04:05Z"
        assert rec.rec_headers.get_header("WARC-Corpus-Outlet") == "rsis"
        assert rec.rec_headers.get_header("WARC-Corpus-Requested-URL") == url + "?utm_source=x"
        assert rec.content_stream().read() == body  # decoded as a browser would, whatever the encoding
        page = read_page(io.BytesIO(blob_store.read(key)), loc["offset"], loc["length"])
        assert (page["url"], page["body"], page["outlet"], page["etag"]) == (url, body, "rsis", '"abc"')
        assert page["fetched_at"] == "2026-01-02T03:04:05+00:00" and page["charset"] == "utf-8"

    path = local_file(blob_store, key, tmp_path)
    with open(path, "rb") as fh:
        recs = [(r.rec_type, dict(r.rec_headers.headers)) for r in ArchiveIterator(fh)]
    assert [t for t, _ in recs] == ["warcinfo"] + ["response", "request"] * 3
    info = blob_store.read(key)
    with gzip.open(io.BytesIO(info)) as fh:
        text = fh.read().decode("utf-8", "replace")
    assert "isPartOf: 20260101T000000000000Z" in text and "software: asean-russia-corpus/test" in text
    responses = [h for t, h in recs if t == "response"]
    requests = [h for t, h in recs if t == "request"]
    assert [r["WARC-Concurrent-To"] for r in requests] == [r["WARC-Record-ID"] for r in responses]
    with open(path, "rb") as fh:
        index = index_warc(fh, key)
    assert [c.url for c in index.captures] == [p[0] for p in pages]
    assert [c.location() for c in index.captures] == locations
    check = warcio_cli("check", "-v", path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") >= 7 and "fail" not in check.stdout
    listed = warcio_cli("index", path)
    assert listed.returncode == 0 and listed.stdout.count('"warc-type": "response"') == 3


def test_the_chunked_header_is_renamed_so_readers_do_not_dechunk_again(tmp_path):
    archive = WarcArchive(__import__("pipelines.store", fromlist=["open_store"]).open_store(tmp_path / "s"),
                          run_id="r1")
    loc = archive.append(capture("https://rsis.edu.sg/x/", ARTICLE, encoding="gzip", chunked=True))
    archive.close()
    rec = records_at(archive.store, loc)
    assert rec.http_headers.get_header("Transfer-Encoding") is None
    assert rec.http_headers.get_header("X-Crawler-Transfer-Encoding") == "chunked"
    assert rec.content_stream().read() == ARTICLE


def test_files_rotate_by_size_and_each_is_published_whole(blob_store, tmp_path):
    archive = WarcArchive(blob_store, spool_dir=tmp_path / "spool", run_id="run7", max_bytes=8_000)
    locs = [archive.append(capture(f"https://rsis.edu.sg/p{i}/", ARTICLE)) for i in range(8)]
    published_early = list(archive.published)
    assert published_early and all(blob_store.exists(k) for k in published_early)  # rotated while running
    keys = archive.close()
    assert len(keys) >= 3 and keys == sorted(keys)
    assert [k.rsplit("-", 1)[1] for k in keys] == [f"{n:05d}.warc.gz" for n in range(1, len(keys) + 1)]
    assert sorted({loc["file"] for loc in locs}) == keys
    for i, loc in enumerate(locs):
        assert records_at(blob_store, loc).rec_headers.get_header("WARC-Target-URI") == f"https://rsis.edu.sg/p{i}/"
    for key in keys:  # each file opens with its warcinfo
        with open(local_file(blob_store, key, tmp_path), "rb") as fh:
            first = next(iter(ArchiveIterator(fh)))
        assert first.rec_type == "warcinfo"
        assert first.rec_headers.get_header("WARC-Filename") == key.rsplit("/", 1)[1]


def test_revisit_record_for_not_modified(blob_store, tmp_path):
    archive = WarcArchive(blob_store, spool_dir=tmp_path / "spool", run_id="r304")
    cap = capture("https://rsis.edu.sg/a/", b"", status=304)
    loc = archive.revisit(cap, refers_to_uri="https://rsis.edu.sg/a/", refers_to_date="2026-01-01T10:00:00+00:00",
                          fetched_at="2026-02-01T10:00:00+00:00", meta={"replayed": True})
    archive.close()
    rec = records_at(blob_store, loc)
    assert rec.rec_type == "revisit"
    headers = rec.rec_headers
    assert headers.get_header("WARC-Profile") == SERVER_NOT_MODIFIED
    assert headers.get_header("WARC-Refers-To-Target-URI") == "https://rsis.edu.sg/a/"
    assert headers.get_header("WARC-Refers-To-Date") == "2026-01-01T10:00:00Z"
    assert headers.get_header("WARC-Corpus-Replayed") == "true"
    assert rec.http_headers.get_statuscode() == "304"
    assert archive.counts["revisits"] == 1


def test_a_run_killed_halfway_is_recovered_trimmed_to_its_last_whole_record(blob_store, tmp_path):
    folder = tmp_path / "spool"
    archive = WarcArchive(blob_store, spool_dir=folder, run_id="killed")
    locs = [archive.append(capture(f"https://rsis.edu.sg/k{i}/", ARTICLE)) for i in range(3)]
    key = locs[0]["file"]
    whole = archive.current.size
    cut = archive.maker.response(capture("https://rsis.edu.sg/cut/", ARTICLE), "2026-01-01T00:00:00Z")[0]
    archive.current.append(cut[: len(cut) // 2])  # the kill came in the middle of a record
    # a writer that is still running holds its lock: recovery leaves its file alone
    assert spool.recover(blob_store, folder) == []
    assert not blob_store.exists(key)
    os.close(archive.current.fd)  # kill -9: the lock goes with the process, nothing is published
    archive.current.fd = None

    done = spool.recover(blob_store, folder)
    assert done == [{"key": key, "bytes": whole, "trimmed": len(cut) // 2}]
    assert blob_store.exists(key) and not list(folder.iterdir())
    for i, loc in enumerate(locs):  # every record a stored page points to is there
        assert records_at(blob_store, loc).rec_headers.get_header("WARC-Target-URI") == f"https://rsis.edu.sg/k{i}/"
    path = local_file(blob_store, key, tmp_path)
    check = warcio_cli("check", path)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(path, "rb") as fh:
        assert [c.url for c in index_warc(fh, key).captures] == [f"https://rsis.edu.sg/k{i}/" for i in range(3)]
    assert spool.recover(blob_store, folder) == []  # nothing left to do


def test_complete_length_stops_at_garbage_and_at_non_warc_members(tmp_path):
    archive = WarcArchive(__import__("pipelines.store", fromlist=["open_store"]).open_store(tmp_path / "s"),
                          spool_dir=tmp_path / "spool", run_id="x")
    archive.append(capture("https://rsis.edu.sg/a/", ARTICLE))
    size = archive.current.size
    path = archive.current.path
    archive.current.append(gzip.compress(b"not a WARC record"))
    assert spool.complete_length(path) == size
    archive.current.append(b"\x00" * 100)
    assert spool.complete_length(path) == size
    os.close(archive.current.fd)
    archive.current.fd = None
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert spool.complete_length(empty) == 0


def test_default_spool_folders(tmp_path, monkeypatch):
    from pipelines.store import S3Store, open_store

    assert spool.default_spool_dir(open_store(tmp_path / "s")) == (tmp_path / "s").resolve() / ".warc-spool"
    monkeypatch.setenv("XDG_STATE_HOME", os.fspath(tmp_path / "xdg"))
    one, two = spool.default_spool_dir(S3Store("b", "p")), spool.default_spool_dir(S3Store("b", "q"))
    assert one != two and one.parent == tmp_path / "xdg" / "asean-russia-corpus" / "warc-spool"


def test_spool_files_are_not_store_keys(tmp_path):
    from pipelines.store import open_store

    store = open_store(tmp_path / "s")
    archive = WarcArchive(store, run_id="hidden")
    archive.append(capture("https://rsis.edu.sg/a/", ARTICLE))
    assert list(store.list()) == []  # the open spool file lives in <store>/.warc-spool, out of the key space
    archive.close()
    assert [k for k in store.list()] == [archive.published[0]]


def test_reextract_publishes_a_killed_crawls_spool_file_first(blob_store, tmp_path):
    from pipelines.archive.reextract import reextract
    from pipelines.corpus.layout import Corpus

    folder = tmp_path / "spool"
    archive = WarcArchive(blob_store, spool_dir=folder, run_id="killed")
    url = "https://rsis.edu.sg/rsis-publication/rsis/russia-asean-sochi-summit-beyond-symbolism/"
    loc = archive.append(capture(url, ARTICLE, encoding="gzip"), fetched_at="2026-01-02T03:04:05+00:00",
                         meta={"outlet": "rsis"})
    os.close(archive.current.fd)  # killed: never published
    archive.current.fd = None
    report = reextract(blob_store, workers=1, spool_dir=folder)
    assert report.recovered == 1 and report.outcomes == {"new": 1} and report.errors == []
    [rec] = list(Corpus(blob_store).iter_records())
    assert (rec["url"], rec["outlet"], rec["warc"]) == (url, "rsis", loc)
    assert rec["fetched_at"] == "2026-01-02T03:04:05+00:00" and rec["topic"]["relevant"]
    assert reextract(blob_store, workers=1, spool_dir=folder).changed == 0


def test_a_cut_off_warc_is_an_error_not_a_shorter_text(blob_store, tmp_path):
    """A WARC file cut off inside a record (a copy stopped midway, a full disk) read as a whole, shorter
    page: `reextract` replaced a stored text with a cut-off one and exited 0 (a reviewer: 280 -> 138 words).
    The reader now compares what it read with the record's Content-Length; cut inside the first record,
    the file is no WARC it can read; either way the re-extraction says so and keeps the stored record."""
    from pipelines.archive.reader import NotAWarc
    from pipelines.archive.reextract import reextract
    from pipelines.corpus.layout import Corpus

    url = "https://rsis.edu.sg/rsis-publication/rsis/russia-asean-sochi-summit-beyond-symbolism/"
    archive = WarcArchive(blob_store, spool_dir=tmp_path / "spool", run_id="r1")
    loc = archive.append(capture(url, ARTICLE), fetched_at="2026-01-02T03:04:05+00:00", meta={"outlet": "rsis"})
    archive.close()
    assert reextract(blob_store, workers=1).outcomes == {"new": 1}
    stored = Corpus(blob_store).get(doc_id_of(blob_store))["text"]
    whole = blob_store.read(loc["file"])

    cut = whole[: loc["offset"] + loc["length"] * 2 // 3]  # inside the response's body
    index = index_warc(io.BytesIO(cut), "cut.warc.gz")
    [c] = [c for c in index.captures if c.url == url]
    with pytest.raises(ValueError, match="cut off"):
        read_page(io.BytesIO(cut), c.offset, c.length)
    with pytest.raises(NotAWarc, match="no WARC record could be read"):
        index_warc(io.BytesIO(whole[:50]), "head.warc.gz")  # inside the first record (its headers)

    blob_store.write(loc["file"], cut)
    report = reextract(blob_store, workers=1)
    assert report.errors and "cut off" in report.errors[0] and report.changed == 0
    assert Corpus(blob_store).get(doc_id_of(blob_store))["text"] == stored  # the stored text is kept


def doc_id_of(store) -> str:
    from pipelines.corpus.layout import Corpus

    [rec] = list(Corpus(store).iter_records(with_text=False))
    return rec["id"]


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_warc_cut_anywhere_but_between_records_is_said_to_be_cut(tmp_path, gzipped):
    """A second reviewer: an uncompressed WARC cut inside a record's header block, and a gzipped one cut
    inside a member that warcio passes over (a request record, the warcinfo), read as whole files with one
    page fewer. Every cut is now "unreadable rest of file" (an error for `reextract` and `import-warc`)
    unless it falls between two records."""
    from pipelines.archive.reader import NotAWarc
    from pipelines.store import open_store

    store = open_store(tmp_path / "s")
    archive = WarcArchive(store, spool_dir=tmp_path / "spool", run_id="r1")
    for i in range(3):
        loc = archive.append(capture(f"https://rsis.edu.sg/x{i}/", ARTICLE), fetched_at="2026-01-02T03:04:05+00:00",
                             meta={"outlet": "rsis"})
    archive.close()
    data = store.read(loc["file"])
    data = data if gzipped else gzip.decompress(data)
    it = ArchiveIterator(io.BytesIO(data))
    ends = set()
    for _ in it:
        ends.add(it.get_record_offset())
    ends.add(len(data))
    missed = []
    for n in range(1, len(data), max(1, len(data) // 400)):
        if any(-16 * gzipped <= n - end <= 4 for end in ends):
            continue  # between two records (or in a gzip member's trailer, its record whole): nothing is lost
        try:
            index = index_warc(io.BytesIO(data[:n]), "cut")
        except NotAWarc:
            continue
        if not index.skipped.get("unreadable rest of file"):
            missed.append(n)
    assert not missed, missed[:10]
    assert not index_warc(io.BytesIO(data), "whole").skipped  # the whole file is not
