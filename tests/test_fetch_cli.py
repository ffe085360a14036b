"""`corpus fetch` end to end: the real CLI, Scrapy and pipelines against the replay server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.corpus.seeds import read_index
from pipelines.store import open_store
from pipelines.crawl.urls import doc_id

REPO = Path(__file__).resolve().parent.parent
SEEDS = read_index(REPO / "seeds" / "INDEX.md")
SEED_URLS = [row["url"] for row in SEEDS]

# Boilerplate the raw seed texts carry, which must not reach the clean text.
JUNK = {
    "intellinews.com": ["Dismiss", "presses the flesh at ASEAN summit as Kremlin seeks to deepen ties with Asia\n"],
    "russia-briefing.com": ["Related Reading", "About Us", "we must stress that our firm", "Posted by"],
    "rsis.edu.sg": ["Board of Governors", "Getting to RSIS", "Nanyang Avenue", "comments powered by Disqus",
                    "Last updated on", "RSIS Commentary is a platform"],
    "ca.finance.yahoo.com": ["S&P/TSX", "CRUDE OIL", "Canada markets close", "SCMP Knowledge", "Advertisement"],
    "russia-direct.org": ["Also read", "What are the results of the Kremlin's turn to the East?"],
}
# First and last sentences of each article body (whole article kept).
WHOLE = {
    "intellinews.com": ["Russian Foreign Minister Sergei Lavrov was pressing the flesh",
                        "on the sidelines of the events."],
    "russia-briefing.com": ["Sergey Lavrov, Russia’s Foreign Minister Sergei Lavrov will take part",
                            "Whatever happens will be a game changer."],
    "rsis.edu.sg": ["SERGEI LAVROV, Russia’s foreign minister, met President Joko Widodo",
                    "an even stronger political linkage."],
    "ca.finance.yahoo.com": ["Russia and China should join efforts to counter interference",
                             "which Russia left in 2002."],
    "russia-direct.org": ["On July 25-26, Russian Foreign Minister Sergei Lavrov took part",
                          "will raise it again in future meetings and discussions."],
}


def _site(url: str) -> str:
    host = url.split("/")[2]
    return host[4:] if host.startswith("www.") else host


def _lines(out: str) -> list[list[str]]:
    return [line.split(None, 2) for line in out.strip().splitlines()]


def test_seed_articles_fetch_clean_then_unchanged(replay, corpus_cmd, tmp_path):
    store = tmp_path / "store"
    first = corpus_cmd("fetch", "--replay", replay.url, "--store", store, *SEED_URLS)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = _lines(first.stdout)
    assert [r[1] for r in rows] == ["new"] * 5
    corpus = Corpus(open_store(store))
    records = {r["requested_url"]: r for r in corpus.iter_records()}
    assert set(records) == set(SEED_URLS)  # the outlets' real URLs, not the replay server's
    # the seeds' intellinews.com and www.rsis.edu.sg answer 301 to the live hosts; the ids stay the seeds'
    assert records[SEED_URLS[0]]["url"].startswith("https://www.intellinews.com/")
    assert records[SEED_URLS[2]]["url"].startswith("https://rsis.edu.sg/")
    assert all(rec["id"] == doc_id(url) for url, rec in records.items())
    for url, rec in records.items():
        site, text = _site(url), rec["text"]
        for junk in JUNK[site]:
            assert junk not in text, (site, junk)
        for sentence in WHOLE[site]:
            assert text.count(sentence) == 1, (site, sentence)
        assert rec["title"] and rec["published"] and len(rec["id"]) == 16
    rsis = records[SEED_URLS[2]]
    assert rsis["published"].startswith("2021-07-26") and rsis["authors"] == ["Chris Cheang"]
    assert (store / "corpus" / "INDEX.md").read_text().count("\n| `") == 5
    assert sorted(p.name for p in (store / "seeds").iterdir()) == sorted(
        [r["file"] for r in SEEDS] + ["INDEX.md"])

    before = {p: p.stat().st_mtime_ns for p in (store / "corpus").rglob("*") if p.is_file()}
    second = corpus_cmd("fetch", "--replay", replay.url, "--store", store, *SEED_URLS)
    assert second.returncode == 0, second.stderr
    assert [r[1] for r in _lines(second.stdout)] == ["unchanged"] * 5
    after = {p: p.stat().st_mtime_ns for p in (store / "corpus").rglob("*") if p.is_file()}
    # the run report and the raw archive (a WARC of every fetch, pipelines/archive/) are new; nothing else is
    before, after = ({p: t for p, t in d.items() if "raw" not in p.relative_to(store).parts} for d in (before, after))
    assert {p for p in after if p.parent.name != "runs"} == {p for p in before if p.parent.name != "runs"}
    assert all(after[p] == before[p] for p in before if p.parent.name != "runs")


def test_errors_and_skips_have_reasons_and_exit_status(replay, corpus_cmd, tmp_path):
    urls = [
        "https://test.example.net/missing-page/",   # 404
        "https://test.example.net/report.pdf",      # not an article page
        "https://test.example.net/logo.png",
        "https://test.example.net/nav-only/",       # a page with no article
        "https://test.example.net/cp1251/",         # windows-1251 without a header charset
    ]
    res = corpus_cmd("fetch", "--json", "--replay", replay.url, "--store", tmp_path / "s", *urls)
    assert res.returncode == 1  # the 404 is an error
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["url"] for o in out] == urls
    outcomes = [o["outcome"] for o in out]
    assert outcomes[0] == "error: HTTP 404"
    assert outcomes[1].startswith("skipped: not an article page (application/pdf)")
    assert outcomes[2].startswith("skipped: not an article page (image/png)")
    assert outcomes[3].startswith("skipped: no article")
    assert outcomes[4] == "new"
    assert "Россия" in out[4]["text"] or "России" in out[4]["text"]


def test_private_targets_refused_unless_allowed(replay, corpus_cmd, tmp_path):
    direct = f"{replay.url}/test.example.net/cp1251/"
    res = corpus_cmd("fetch", "--store", tmp_path / "s", direct, f"http://localhost:{replay.port}/x/")
    assert res.returncode == 1
    assert all("error: refused non-public address" in line for line in res.stdout.splitlines())
    assert "--allow-private" in res.stdout

    # a public name that redirects to a loopback address is refused after the redirect
    res = corpus_cmd("fetch", "--replay", replay.url, "--store", tmp_path / "s",
                     "https://test.example.net/redirect-private/")
    assert res.returncode == 1 and "refused non-public address 127.0.0.1" in res.stdout

    allowed = corpus_cmd("fetch", "--allow-private", "--store", tmp_path / "s", direct)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert allowed.stdout.split()[1] == "new"


def test_unreachable_host_is_an_error(corpus_cmd, tmp_path):
    from s3server import closed_port

    res = corpus_cmd("fetch", "--allow-private", "--store", tmp_path / "s",
                     f"http://127.0.0.1:{closed_port()}/article")
    assert res.returncode == 1
    assert "error: connection refused" in res.stdout


def test_fetch_into_s3_never_logs_credentials(replay, corpus_cmd, s3_server, s3_endpoint, tmp_path):
    bucket = s3_server.make_bucket()
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
    env = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server.url,
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    res = corpus_cmd("fetch", "-vv", "--replay", replay.url, "--store", f"s3://{bucket}/corpus", SEED_URLS[0], env=env)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert res.stdout.split()[1] == "new"
    assert secret not in res.stdout + res.stderr and "AKIAIOSFODNN7EXAMPLE" not in res.stdout + res.stderr
    store = open_store(f"s3://{bucket}/corpus")
    keys = list(store.list("corpus/"))
    assert "corpus/INDEX.md" in keys and any(k.startswith("corpus/docs/") for k in keys)
    assert store.exists("seeds/INDEX.md")


def test_dead_s3_endpoint_is_a_clear_error(replay, corpus_cmd, tmp_path):
    from s3server import closed_port

    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    res = corpus_cmd("fetch", "--replay", replay.url, "--store", "s3://nowhere/corpus", SEED_URLS[0], env=env,
                     timeout=60)
    assert res.returncode != 0
    assert "cannot reach S3 endpoint" in res.stderr
    assert "Traceback" not in res.stderr


def test_oversized_response_is_an_error_not_a_crash(corpus_cmd, tmp_path):
    from crawler.replay.server import ReplayServer

    root = tmp_path / "web"
    page = root / "big.example.org" / "huge.html"
    page.parent.mkdir(parents=True)
    para = "<p>" + "Lavrov met ASEAN ministers in Vientiane. " * 50 + "</p>\n"
    with page.open("w") as fh:
        fh.write("<html><body><article>")
        while fh.tell() < 20 * 1024 * 1024:
            fh.write(para)
        fh.write("</article></body></html>")
    with ReplayServer([root]) as server:
        res = corpus_cmd("fetch", "--replay", server.url, "--store", tmp_path / "s",
                         "https://big.example.org/huge.html")
    assert res.returncode == 1
    assert "error: response too large" in res.stdout


def test_off_topic_page_a_person_asked_for_is_stored_with_its_score(replay, corpus_cmd, tmp_path):
    url = "https://intellinews.com/polish-zloty-firms-as-central-bank-signals-no-rate-change-this-year-141207"
    res = corpus_cmd("fetch", "--replay", replay.url, "--store", tmp_path / "s", url)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split()[1:4] == ["new", "(off-topic:", "score"]
    record = json.loads(next((tmp_path / "s" / "corpus" / "docs").glob("*.json")).read_text())
    assert record["topic"]["relevant"] is False and record["topic"]["reason"].startswith("no-asean-side")

    res = corpus_cmd("fetch", "--on-topic-only", "--replay", replay.url, "--store", tmp_path / "t", url)
    assert res.returncode == 0
    assert "skipped: off-topic (no-asean-side" in res.stdout
    assert not list((tmp_path / "t" / "corpus").glob("docs/*.json"))


def test_robots_disallow_and_redirects(replay, corpus_cmd, tmp_path):
    urls = ["https://test.example.net/private/", "https://test.example.net/old-article/",
            "https://test.example.net/gone/"]
    res = corpus_cmd("fetch", "--json", "--any-topic", "--replay", replay.url, "--store", tmp_path / "s", *urls)
    out = {row["url"] if "id" not in row else row["requested_url"]: row for row in map(json.loads, res.stdout.splitlines())}
    assert out[urls[0]]["outcome"] == "skipped: forbidden by robots.txt"
    assert not [h for h in replay.requests if h.path == "/private/"]
    moved = out[urls[1]]
    assert moved["outcome"] == "new" and moved["url"] == "https://test.example.net/article/"
    assert out[urls[2]]["outcome"] == "error: HTTP 410"
    assert res.returncode == 1


def test_invalid_urls_are_errors_without_a_traceback(corpus_cmd, tmp_path):
    res = corpus_cmd("fetch", "--store", tmp_path / "s", "not-a-url", "http:///no-host", "http://x.org:99999/")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and all("error: invalid URL" in line for line in lines)


def test_too_large_says_how_whether_announced_streamed_or_a_gzip_bomb(corpus_cmd, tmp_path):
    """A body past DOWNLOAD_MAXSIZE is an error naming the limit, whether the server announced its length,
    streamed it without one, or sent a small gzip that inflates past it; never a skip, never Scrapy's
    message with the request's (maybe internal) address in it."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bomb = gzip.compress(b"\0" * (4 * 2**20))
    body = b"<html><body>" + b"<p>Lavrov met ASEAN ministers.</p>" * 100_000 + b"</body></html>"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # no Content-Length on /stream: the body ends when the connection does

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path not in ("/bomb", "/stream", "/announced"):
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            data = bomb if self.path == "/bomb" else body
            if self.path == "/bomb":
                self.send_header("Content-Encoding", "gzip")
            if self.path != "/stream":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        res = corpus_cmd("fetch", "--allow-private", "--store", tmp_path / "s", "-s", "DOWNLOAD_MAXSIZE=1048576",
                         f"{base}/bomb", f"{base}/stream", f"{base}/announced")
    finally:
        server.shutdown()
    assert res.returncode == 1, res.stderr[-2000:]
    text = res.stdout
    assert "error: response too large (over 1 MiB decompressed)" in text, res.stdout
    assert "error: response too large (past DOWNLOAD_MAXSIZE while downloading)" in text, res.stdout
    assert re.search(r"error: response too large \(\d+ MiB announced, limit 1 MiB\)", text), res.stdout
    assert "skipped" not in text and "Ignored response" not in text


def test_a_url_whose_page_an_earlier_run_spooled_is_stored_from_the_spool_not_fetched_twice(replay, corpus_cmd,
                                                                                            tmp_path, monkeypatch):
    """A third review saw `corpus fetch URL`, with that URL's page in the pending spool (an earlier fetch whose
    store was down), store the page from the spool, then fetch it again: two outcomes counted for one URL."""
    from urllib.parse import urlsplit

    from crawler.replay.server import DEFAULT_ROOT, resolve
    from pipelines.corpus.pending import PendingSpool
    from pipelines.extract.extractor import extract

    url, other = SEED_URLS[2], SEED_URLS[3]
    parts = urlsplit(url)
    found = next(f for h in (parts.hostname, parts.hostname.removeprefix("www."))
                 if (f := resolve([DEFAULT_ROOT], h, parts.path.lstrip("/"), parts.query, 1)) is not None and f.body)
    doc = extract(found.body, url)
    store = tmp_path / "store"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    spool = PendingSpool.for_store(open_store(store))
    spool.put({"url": url, "requested_url": url, "status": 200, "content_type": "text/html", "body": found.body,
               "fetched_at": "2026-11-28T10:00:00+00:00", "outlet": None}, doc.to_dict(), None,
              {"name": "corpus-extract", "version": "test"})
    asked = url + "?utm_source=twitter"  # (a review: another spelling of the spooled page's URL was fetched again)
    res = corpus_cmd("fetch", "--json", "--replay", replay.url, "--store", store, asked, other,
                     env={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert res.returncode == 0, res.stderr[-3000:]
    out = {o["input_url"]: o["outcome"] for o in map(json.loads, res.stdout.splitlines())}
    assert out[other] == "new" and out[asked].startswith("new")  # (spooled without its topic score: "off-topic")
    assert len(spool) == 0
    assert not [h for h in replay.requests if parts.path.rstrip("/") and h.path.startswith(parts.path)]
    report = json.loads(sorted((store / "corpus" / "runs").glob("*.json"))[-1].read_text())
    stats = report["stats"]
    assert stats["corpus/outcome/new"] == 2 and stats["corpus/fetch/stored-from-spool"] == 1
    assert len(list(Corpus(open_store(store)).iter_records(with_text=False))) == 2


def test_a_closed_pipe_does_not_hide_a_failed_runs_status(tmp_path):
    """A review: with standard output a closed pipe, a run that failed (here a page error, exit 1) exited 74
    for the pipe and its own status and reason were lost. Its status stands; a run that succeeded says 74."""
    import os
    import subprocess
    import sys

    from crawler import exitcodes
    from s3server import closed_port

    exe = os.fspath(Path(sys.executable).with_name("corpus"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    proc = subprocess.Popen([exe, "fetch", "--allow-private", "--store", str(tmp_path / "s"),
                             f"http://127.0.0.1:{closed_port()}/article"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    proc.stdout.close()  # the reader is gone before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == exitcodes.PAGE_ERRORS, err[-3000:]
    assert "Traceback" not in err and "exit 1 (page-errors)" in err and "broken pipe" not in err
