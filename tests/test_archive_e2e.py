"""The raw archive end to end: `corpus crawl` into WARCs, `corpus reextract`, kill -9, 304 revisits,
`corpus import-warc` (a wget WARC, a Common Crawl-style WARC), on a local folder and on S3 (moto)."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import exitcodes
from pipelines.archive import spool
from pipelines.archive.reextract import reextract
from pipelines.archive.writer import RAW_PREFIX
from pipelines.corpus.layout import Corpus
from pipelines.extract.extractor import Document, ExtractionResult, try_extract
from pipelines.store import open_store
from s3server import DUMMY_ENV

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
WARCIO = Path(sys.executable).with_name("warcio")
WEB = Path(__file__).resolve().parent.parent / "crawler" / "replay" / "web"


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    """(store spec, environment for the `corpus` subprocess): a folder, or a bucket on moto."""
    if request.param == "local":
        return os.fspath(tmp_path / "store"), {}
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_endpoint")  # this process talks to moto too
    env = dict(DUMMY_ENV, AWS_ENDPOINT_URL=server.url, AWS_CONFIG_FILE=os.fspath(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=os.fspath(tmp_path / "none"),
               CORPUS_WARC_SPOOL=os.fspath(tmp_path / "spool"))
    return f"s3://{server.make_bucket()}/corpus", env


def crawl(corpus_cmd, replay, store, *args, env=None):
    res = corpus_cmd("crawl", "--replay", replay.url, "--store", store, *FAST, *args, env=env)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    return res


def snapshot(store) -> dict:
    """What a re-extraction must give back: ids, titles, texts, duplicate links."""
    return {r["id"]: {"url": r["url"], "outlet": r["outlet"], "title": r["title"], "text": r["text"] or "",
                      "published": r["published"], "duplicate_of": r["duplicate_of"],
                      "also_at": sorted(a["id"] for a in r["also_at"]), "topic": r["topic"]["relevant"]}
            for r in Corpus(store).iter_records()}


def record_at(store, loc: dict):
    data = store.read(loc["file"])
    assert data is not None, f"{loc['file']} missing"
    chunk = data[loc["offset"]:loc["offset"] + loc["length"]]
    rec = next(iter(ArchiveIterator(io.BytesIO(chunk))))
    return rec, rec.content_stream().read()


def warcio_ok(path) -> None:
    for cmd in ("check", "index"):
        res = subprocess.run([os.fspath(WARCIO), cmd, os.fspath(path)], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, (cmd, res.stdout[-2000:], res.stderr[-2000:])


def raw_keys(store) -> list[str]:
    return [k for k in store.list(RAW_PREFIX) if k.endswith((".warc.gz", ".warc"))]


# -- crawl -> WARC -> reextract ----------------------------------------------------------------
def test_crawl_delete_records_reextract_gives_them_back(where, replay, corpus_cmd, tmp_path):
    spec, env = where
    crawl(corpus_cmd, replay, spec, "scmp", "asiaone", "yahoo-finance", "rsis", env=env)
    store = open_store(spec)
    before = snapshot(store)
    scmp = [r for r in before.values() if r["also_at"]]
    assert len(before) == 16 and len(scmp) == 1 and len(scmp[0]["also_at"]) == 2  # the syndicated story

    keys = raw_keys(store)
    assert len(keys) == 1
    path = spool.local_copy(store, keys[0], tmp_path)
    warcio_ok(path)
    with open(path, "rb") as fh:
        records = list((r.rec_type, r.rec_headers, r.content_stream().read()) for r in ArchiveIterator(fh))
    kinds = [k for k, _, _ in records]
    # every page that reached the item pipelines, off-topic ones too (2 of rsis, 2 of yahoo), with its request
    assert kinds[0] == "warcinfo" and kinds.count("response") == kinds.count("request") == 20
    info = records[0][2].decode("utf-8")
    assert "replay-web:" in info and "robots: obey" in info and "http-header-user-agent: asean-russia-corpus/" in info
    assert socket.gethostname() not in info and f"isPartOf: {keys[0].rsplit('/', 1)[1][:-len('-00001.warc.gz')]}" in info
    assert all(h.get_header("WARC-Corpus-Replayed") == "true" for k, h, _ in records if k == "response")

    for rec in Corpus(store).iter_records():  # the warc field's offset/length give that page
        warc, body = record_at(store, rec["warc"])
        assert warc.rec_type == "response" and warc.rec_headers.get_header("WARC-Target-URI") == rec["url"]
        if rec["text"]:
            assert try_extract(body, rec["url"]).document.text == rec["text"]

    for key in [*store.list("corpus/docs/"), *store.list("corpus/text/")]:
        store.delete(key)
    assert snapshot(store) == {}
    res = corpus_cmd("reextract", "--store", spec, "--json", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert report["outcomes"] == {"new": 16} and report["selected"] == 20 and report["errors"] == []
    crawl_stats = json.loads(store.read(next(store.list("corpus/runs/"))))["stats"]
    dropped = {f"off-topic ({k.rsplit('/', 1)[1]})": n for k, n in crawl_stats.items()
               if k.startswith("corpus/focus/off-topic/")}
    assert report["skipped"] == dropped and sum(dropped.values()) == 4  # what the crawl dropped, for the same reasons
    assert snapshot(store) == before

    again = corpus_cmd("reextract", "--store", spec, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "\n0 changed (20 pages" in again.stdout
    one = corpus_cmd("reextract", "--store", spec, "--outlet", "rsis", "--json", env=env)
    assert json.loads(one.stdout)["selected"] == 9 and json.loads(one.stdout)["changed"] == 0


def test_an_extractor_change_is_picked_up_and_a_second_run_changes_nothing(replay, corpus_cmd, tmp_path):
    spec = os.fspath(tmp_path / "store")
    crawl(corpus_cmd, replay, spec, "rsis")
    store = open_store(spec)
    before = snapshot(store)

    def first_paragraphs(html, url=None, **kw):  # a changed extractor: keeps the first three paragraphs
        result = try_extract(html, url, **kw)
        if result.document is None:
            return result
        doc = result.document
        return ExtractionResult(Document(**{**doc.to_dict(), "text": "\n\n".join(doc.text.split("\n\n")[:3])}))

    report = reextract(store, workers=1, extract=first_paragraphs)
    assert report.outcomes == {"updated": 7} and report.changes["text-shorter"] == 7 and report.changed == 7
    assert set(report.examples["text-shorter"][0]) == {"id", "url", "before", "after"}
    after = snapshot(store)
    assert all(after[i]["text"] == "\n\n".join(before[i]["text"].split("\n\n")[:3]) for i in before)
    assert all(Corpus(store).history(i) for i in before)  # the previous versions are kept
    assert reextract(store, workers=1, extract=first_paragraphs).changed == 0

    back = corpus_cmd("reextract", "--store", spec, "--workers", "2", "--json")  # the current extractor again
    assert back.returncode == 0, back.stderr[-2000:]
    report = json.loads(back.stdout)
    assert report["changes"] == {"text-longer": 7} and report["workers"] == 2
    assert snapshot(store) == before
    assert "\n0 changed" in corpus_cmd("reextract", "--store", spec).stdout
    [key] = raw_keys(store)
    run = key.rsplit("/", 1)[1][:-len("-00001.warc.gz")]
    assert json.loads(corpus_cmd("reextract", "--store", spec, "--run", run, "--json").stdout)["selected"] == 9
    assert json.loads(corpus_cmd("reextract", "--store", spec, "--run", "latest", "--json").stdout)["selected"] == 9
    none = corpus_cmd("reextract", "--store", spec, "--run", "20000101T000000000000Z", "--since", "2000-01-01")
    assert none.returncode == 2, none.stderr  # a run with no WARC files is a mistyped id, not "nothing to do"
    assert "--run: no WARC files of run '20000101T000000000000Z'" in none.stderr and run in none.stderr
    missing = corpus_cmd("reextract", "--store", tmp_path / "no-such-store")
    assert missing.returncode == 3 and "no corpus at" in missing.stderr, missing.stderr
    assert not (tmp_path / "no-such-store").exists()  # never created
    later = corpus_cmd("reextract", "--store", spec, "--since", "2999-01-01", "--json")
    assert json.loads(later.stdout)["selected"] == 0
    bad = corpus_cmd("reextract", "--store", spec, "--since", "last tuesday")
    assert bad.returncode == 2 and "--since: not a date" in bad.stderr
    typo = corpus_cmd("reextract", "--store", spec, "-s", "CORPUS_MIN_WORD=3")
    assert typo.returncode == 2 and "did you mean CORPUS_MIN_WORDS" in typo.stderr

    # a setting changes what extracts: stored records that no longer extract are left as they are, counted
    strict = corpus_cmd("reextract", "--store", spec, "-s", "CORPUS_MIN_WORDS=100000", "--json")
    report = json.loads(strict.stdout)
    assert report["changed"] == 0 and report["kept_unchanged"] == {"no longer extracts: no article (too-short)": 7}
    assert snapshot(store) == before


def test_records_no_warc_backs_are_left_and_counted(replay, corpus_cmd, tmp_path):
    spec = os.fspath(tmp_path / "store")
    crawl(corpus_cmd, replay, spec, "rsis", "-s", "CORPUS_WARC=False")  # fetched "before the archive"
    store = open_store(spec)
    assert raw_keys(store) == [] and not any(r.get("warc") for r in Corpus(store).iter_records())
    before = snapshot(store)
    report = json.loads(corpus_cmd("reextract", "--store", spec, "--json").stdout)
    assert report["kept_unchanged"] == {"no WARC (fetched before the archive)": 7} and report["changed"] == 0
    assert snapshot(store) == before


def _make_due(store) -> None:
    """Let time pass: every known URL is due for a re-check (its If-None-Match gets a 304)."""
    state = json.loads(store.read("state/urls.json"))
    for entry in state["urls"].values():
        entry["checked_at"] = "2000-01-01T00:00:00+00:00"
    store.write("state/urls.json", json.dumps(state).encode())
    for key in store.list("state/journal/"):
        store.delete(key)


def test_not_modified_is_a_revisit_record(replay, corpus_cmd, tmp_path):
    """Each revisit names a response record of the first crawl by its exact (Target-URI, Date) pair, as
    replay tools resolve it (a reviewer found 5 of 18 revisits naming no record, where the first fetch had
    kept a feed link's tracking query; the pair is now read from the stored record, which the response
    record was written from)."""
    spec = os.fspath(tmp_path / "store")
    crawl(corpus_cmd, replay, spec, "rsis", "intellinews")
    store = open_store(spec)
    first = raw_keys(store)
    captures = set()
    for key in first:
        with open(spool.local_copy(store, key, tmp_path), "rb") as fh:
            captures |= {(r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date"))
                         for r in ArchiveIterator(fh) if r.rec_type == "response"}
    _make_due(store)
    replay.requests.clear()
    res = crawl(corpus_cmd, replay, spec, "rsis", "intellinews")
    not_modified = sum(1 for h in replay.requests if h.status == 304)
    assert not_modified >= 9
    new = [k for k in raw_keys(store) if k not in first]
    assert len(new) == 1
    path = spool.local_copy(store, new[0], tmp_path)
    warcio_ok(path)
    with open(path, "rb") as fh:
        recs = [(r.rec_type, r.rec_headers, r.http_headers) for r in ArchiveIterator(fh)]
    revisits = [(h, http) for kind, h, http in recs if kind == "revisit"]
    assert len(revisits) == not_modified and not [k for k, _, _ in recs if k == "response"]
    for headers, http in revisits:
        assert headers.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
        assert http.get_statuscode() == "304"
        pair = (headers.get_header("WARC-Refers-To-Target-URI"), headers.get_header("WARC-Refers-To-Date"))
        assert pair in captures, pair
    assert "unchanged" in res.stdout
    run = json.loads(store.read(sorted(store.list("corpus/runs/"))[-1]))
    assert run["stats"]["corpus/warc/revisits"] == not_modified


def test_kill_9_halfway_loses_no_warc_record_of_a_stored_page(where, replay, tmp_path):
    spec, extra_env = where
    exe = Path(sys.executable).with_name("corpus")
    args = [os.fspath(exe), "crawl", "--replay", replay.url, "--store", spec, *FAST,
            "-s", "DOWNLOAD_DELAY=0.15", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s", "CORPUS_STATE_FLUSH_SECONDS=0", "intellinews", "russia-briefing", "rsis"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env.update(extra_env)
    store = open_store(spec)
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(store.list("corpus/docs/"))) < 6:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = list(Corpus(store).iter_records())
    assert 6 <= len(stored) < 21, "the crawl must be killed halfway"
    pending = {r["warc"]["file"] for r in stored}
    assert not any(store.exists(k) for k in pending)  # the WARC was still a spool file...
    spool_dir = Path(extra_env["CORPUS_WARC_SPOOL"]) if "CORPUS_WARC_SPOOL" in extra_env else spool.default_spool_dir(store)
    assert [spool.key_of(p) for p in spool_dir.iterdir()] == sorted(pending)

    res = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert all(store.exists(k) for k in pending)  # ...finalised and published by the next run, first
    records = list(Corpus(store).iter_records())
    assert len(records) == 21
    for rec in records:  # every stored record's warc location resolves to its page
        warc, body = record_at(store, rec["warc"])
        assert warc.rec_type == "response" and warc.rec_headers.get_header("WARC-Target-URI") == rec["url"]
        assert body
    for key in raw_keys(store):
        warcio_ok(spool.local_copy(store, key, tmp_path))
    assert not list(spool_dir.glob("*.open"))
    run = json.loads(store.read(sorted(store.list("corpus/runs/"))[-1]))
    assert run["stats"]["corpus/warc/recovered_files"] == 1


# -- import-warc ---------------------------------------------------------------------------------
def _article(path: str) -> bytes:
    return (WEB / path / "index.html").read_bytes()


RSIS = "rsis.edu.sg/rsis-publication/rsis/"
SLUGS = ["russia-asean-sochi-summit-beyond-symbolism", "rosatoms-bid-for-southeast-asias-nuclear-future",
         "asean-and-the-russia-ukraine-war-hedging-in-hard-times"]


def _chunked(data: bytes, size: int = 1000) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size))
    return out + b"0\r\n\r\n"


def common_crawl_style_warc(path: Path, *, per_record_gzip: bool = True) -> dict:
    """A WARC written the way Common Crawl's segments are: warcinfo, then request/response/metadata per
    URL; payloads gzip-encoded, chunked, or already decoded with the X-Crawler-* header kept."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=per_record_gzip, warc_version="1.0")
    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "Apache Nutch 1.20 (modified)",
                                                                   "isPartOf": "CC-MAIN-2026-05"}))

    def response(url, body, headers, status="200 OK", date="2026-01-10T10:00:00Z"):
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        req = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=StatusAndHeaders(
            "GET / HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True), warc_headers_dict={"WARC-Date": date})
        rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
                                        warc_headers_dict={"WARC-Date": date})
        writer.write_request_response_pair(req, rec)
        meta = writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"), length=18,
                                         warc_content_type="application/warc-fields", warc_headers_dict={"WARC-Date": date})
        writer.write_record(meta)

    html = "text/html; charset=UTF-8"
    a, b, c = (_article(RSIS + s) for s in SLUGS)
    response(f"https://{RSIS}{SLUGS[0]}/", gzip.compress(a), [("Content-Type", html), ("Content-Encoding", "gzip")])
    response(f"https://{RSIS}{SLUGS[1]}/", _chunked(gzip.compress(b)),
             [("Content-Type", html), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
    response(f"https://{RSIS}{SLUGS[2]}/", c, [("Content-Type", html), ("X-Crawler-Content-Encoding", "gzip"),
                                               ("Content-Length", str(len(c)))])
    # an older capture of the first URL, with another text: the newest capture wins
    response(f"https://{RSIS}{SLUGS[0]}/", c, [("Content-Type", html)], date="2025-06-01T00:00:00Z")
    # an article on a host no registry outlet owns: the host is its outlet
    response("https://news.example.org/2024/07/russia-asean", a, [("Content-Type", html)])
    response("https://rsis.edu.sg/wp-content/logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50, [("Content-Type", "image/png")])
    response("https://rsis.edu.sg/gone/", b"<html>gone</html>", [("Content-Type", html)], status="404 Not Found")
    response("https://rsis.edu.sg/old/", b"", [("Location", "https://rsis.edu.sg/new/")], status="301 Moved Permanently")
    data = buf.getvalue()
    path.write_bytes(data if per_record_gzip else gzip.compress(data))
    return {"urls": [f"https://{RSIS}{s}/" for s in SLUGS] + ["https://news.example.org/2024/07/russia-asean"],
            "texts": [try_extract(x, f"https://{RSIS}{s}/").document.text for x, s in zip((a, b, c), SLUGS)]}


def test_import_common_crawl_style_warc(where, corpus_cmd, tmp_path):
    spec, env = where
    warc = tmp_path / "CC-MAIN-20260110-00042.warc.gz"
    expected = common_crawl_style_warc(warc)
    warcio_ok(warc)
    res = corpus_cmd("import-warc", warc, "--store", spec, "--json", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    store = open_store(spec)
    records = {r["url"]: r for r in Corpus(store).iter_records()}
    assert sorted(records) == sorted(expected["urls"])
    assert [records[u]["text"] for u in expected["urls"][:3]] == expected["texts"]  # gzip, chunked, CC-decoded
    assert [records[u]["outlet"] for u in expected["urls"]] == ["rsis"] * 3 + ["example.org"]  # its site
    assert records[expected["urls"][0]]["fetched_at"] == "2026-01-10T10:00:00+00:00"  # the newer capture
    news = records["https://news.example.org/2024/07/russia-asean"]
    assert news["duplicate_of"] == records[expected["urls"][0]]["id"]  # the same article at two addresses
    assert report["outcomes"] == {"new": 4} and report["selected"] == 4 and report["responses"] == 5
    assert report["skipped"] == {"not HTML (image/png) (in the WARC)": 1, "HTTP 404 (in the WARC)": 1,
                                 "HTTP 301 (in the WARC)": 1, "metadata record (in the WARC)": 8}
    [copy] = report["imported"]
    assert copy["copied"] and copy["key"].startswith(RAW_PREFIX) and copy["key"].rsplit("/", 1)[1].startswith("import-")
    assert store.read(copy["key"]) == warc.read_bytes()  # the WARC itself, for later re-extractions
    for rec in records.values():
        assert rec["warc"]["file"] == copy["key"]
        assert record_at(store, rec["warc"])[0].rec_headers.get_header("WARC-Target-URI") == rec["url"]

    again = corpus_cmd("import-warc", warc, "--store", spec, env=env)
    assert again.returncode == 0 and "already in the archive as" in again.stdout and "\n0 changed" in again.stdout
    assert len(raw_keys(store)) == 1
    assert "\n0 changed" in corpus_cmd("reextract", "--store", spec, env=env).stdout


def test_import_a_warc_gzipped_as_a_whole_and_refuse_what_is_not_a_warc(corpus_cmd, tmp_path):
    spec = os.fspath(tmp_path / "store")
    whole = tmp_path / "whole.warc.gz"
    common_crawl_style_warc(whole, per_record_gzip=False)
    bad = tmp_path / "notes.warc.gz"
    bad.write_bytes(gzip.compress(b"just some text, not a WARC\n"))
    refused = corpus_cmd("import-warc", whole, bad, "--store", spec)
    assert refused.returncode == 2 and "notes.warc.gz: not a WARC file" in refused.stderr
    assert "nothing imported" in refused.stderr and "Traceback" not in refused.stderr
    assert raw_keys(open_store(spec)) == []
    missing = corpus_cmd("import-warc", tmp_path / "nope.warc", "--store", spec)
    assert missing.returncode == 2 and "no such file" in missing.stderr

    res = corpus_cmd("import-warc", whole, "--store", spec, "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert report["imported"][0]["recompressed"] and report["outcomes"] == {"new": 4}
    warcio_ok(spool.local_copy(open_store(spec), report["imported"][0]["key"], tmp_path))


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_import_a_wget_warc(replay, corpus_cmd, tmp_path):
    urls = [replay.url_for(f"https://{RSIS}{s}/") for s in SLUGS] + [replay.url_for("https://rsis.edu.sg/robots.txt")]
    res = subprocess.run(["wget", "--quiet", "--no-proxy", f"--warc-file={tmp_path / 'site'}", "-O", os.devnull, *urls],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    warc = tmp_path / "site.warc.gz"
    spec = os.fspath(tmp_path / "store")
    imported = corpus_cmd("import-warc", warc, "--outlet", "rsis", "--store", spec, "--json")
    assert imported.returncode == 0, imported.stderr[-3000:]
    report = json.loads(imported.stdout)
    records = list(Corpus(open_store(spec)).iter_records())
    assert sorted(r["url"] for r in records) == sorted(urls[:3])
    assert {r["outlet"] for r in records} == {"rsis"} and all(r["text"] for r in records)
    assert report["outcomes"] == {"new": 3}
    # wget's log and manifest are resource/metadata records; robots.txt (text/plain) is no article
    assert report["skipped"] == {"metadata record (in the WARC)": 1, "resource record (in the WARC)": 2,
                                 "no article (not-html)": 1}


@pytest.mark.parametrize("gzipped", [True, False])
def test_import_of_a_cut_off_warc_is_exit_1_in_a_line_and_stores_no_short_page(corpus_cmd, tmp_path, gzipped):
    """A second reviewer: a cut .warc.gz ended in a NotAWarc traceback; a cut .warc imported the pages before
    the cut and exited 0."""
    writer_buf = io.BytesIO()
    writer = WARCWriter(writer_buf, gzip=gzipped)
    body = ("<html><head><title>Lavrov in Vientiane</title></head><body><article><h1>Lavrov in Vientiane</h1>"
            + "<p>Russian Foreign Minister Sergei Lavrov met ASEAN foreign ministers in Vientiane to discuss "
              "trade between Russia and Southeast Asia, energy and the dialogue partnership.</p>" * 30
            + "</article></body></html>").encode()
    for i in range(3):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                           ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"https://news.example.org/2024/07/lavrov-{i}", "response",
                                                      payload=io.BytesIO(body), http_headers=http))
    data = writer_buf.getvalue()
    cut = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    cut.write_bytes(data[: len(data) * 5 // 6])  # inside the third record
    res = corpus_cmd("import-warc", cut, "--store", tmp_path / "s")
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "corpus: exit 1 (page-errors)" in res.stderr
    texts = [r["text"] for r in Corpus(open_store(tmp_path / "s")).iter_records()] if (tmp_path / "s" / "corpus").is_dir() else []
    assert all(t.count("Lavrov met ASEAN") == 30 for t in texts)  # no page stored short


def test_reextract_run_names_step_back_with_a_caret(tmp_path):
    """`--run latest^` is the crawl run with WARC files before the newest; `RUN^^` two before RUN. Imports
    are not runs in time, and stepping back past the first run is a usage error naming the runs there are."""
    from crawler.commands.common import UsageError
    from crawler.commands.reextract import warc_run

    store = open_store(os.fspath(tmp_path / "store"))
    runs = ["20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z"]
    for run in runs:
        for n in (1, 2):
            store.write(f"{RAW_PREFIX}2026/01/{run}-{n:05}.warc.gz", b"x")
    store.write(f"{RAW_PREFIX}import/import-0123abcd.warc.gz", b"x")
    assert warc_run(store, "latest") == runs[2]
    assert warc_run(store, "latest^") == runs[1]
    assert warc_run(store, "latest^^") == runs[0]
    assert warc_run(store, runs[2] + "^^") == runs[0]
    assert warc_run(store, runs[1]) == runs[1] and warc_run(store, "import-0123abcd") == "import-0123abcd"
    for bad in ("latest^^^", runs[0] + "^", "import-0123abcd^", "nosuch^"):
        with pytest.raises(UsageError, match="no WARC files of run") as err:
            warc_run(store, bad)
        assert runs[2] in str(err.value)


def test_pages_the_archive_could_not_take_are_due_again_and_their_records_get_the_warc(replay, corpus_cmd,
                                                                                       tmp_path):
    """A review filled the disk mid-crawl: 27 records were stored with no WARC copy, the crawl state called
    them done, and no later run archived them (`reextract` could never rebuild them). Now such a page stays
    due: the next run fetches it again, archives it, and its record (unchanged) is given the location."""
    spec = os.fspath(tmp_path / "store")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("the WARC spool cannot be made here")
    first = corpus_cmd("crawl", "--replay", replay.url, "--store", spec, *FAST, "rsis",
                       "-s", f"CORPUS_WARC_SPOOL={blocked}")
    assert first.returncode == exitcodes.STORE, first.stdout + first.stderr[-3000:]
    store = open_store(spec)
    records = list(Corpus(store).iter_records(with_text=False))
    assert records and not any(r.get("warc") for r in records)
    report = json.loads(store.read(sorted(store.list("corpus/runs/"))[-1]))
    assert report["stats"]["corpus/warc/unarchived"] >= len(records)  # (and the pages not stored: off-topic...)

    crawl(corpus_cmd, replay, spec, "rsis")
    again = {r["id"]: r for r in Corpus(store).iter_records(with_text=False)}
    assert set(again) == {r["id"] for r in records}
    for rec in again.values():
        assert rec["warc"] and rec["warc"]["file"], rec["url"]
        warc_rec, body = record_at(store, rec["warc"])
        assert warc_rec.rec_headers.get_header("WARC-Type") == "response" and b"<html" in body.lower()
