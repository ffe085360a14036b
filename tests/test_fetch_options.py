"""`corpus fetch` as a person uses it: URLs from files and standard input, one outcome per page,
records printed as stored, a timeout, settings, the version, and bad URLs as one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler import __version__, exitcodes

SCMP = ("https://www.scmp.com/news/asia/southeast-asia/article/3272065/"
        "russia-and-china-should-join-forces-southeast-asia-lavrov-tells-wang-asean-meeting")
YAHOO = "https://ca.finance.yahoo.com/news/russia-china-join-forces-southeast-093000673.html"
TEST_ARTICLE = "https://test.example.net/article/"


def corpus(args, cwd, stdin=None, env=None, timeout=120):
    exe = Path(sys.executable).with_name("corpus")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    full.update(env or {})
    return subprocess.run([os.fspath(exe), *map(str, args)], cwd=cwd, env=full, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_urls_from_stdin_and_files_one_outcome_per_page(replay, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# found this week\n{TEST_ARTICLE}?utm_source=newsletter&utm_medium=email\n\n"
                       "https://test.example.net/missing-page/\n")
    res = corpus(["fetch", "--replay", replay.url, "--store", tmp_path / "s", "-i", listing, "-"],
                 tmp_path, stdin=f"{TEST_ARTICLE}\nhttps://TEST.example.net/article/#comments\n")
    lines = res.stdout.splitlines()
    # the article given three times (tracking parameters, upper-case host, fragment) is one outcome
    assert len(lines) == 2, res.stdout
    assert lines[0].split()[1] == "new" and lines[1].split()[1:] == ["error:", "HTTP", "404", "https://test.example.net/missing-page/"]
    assert "2 URL(s) named a page already given" in res.stderr
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert [h.path for h in replay.requests].count("/article/") == 1


def test_no_urls_and_unreadable_input_file_are_usage_errors(tmp_path):
    res = corpus(["fetch", "--store", tmp_path / "s"], tmp_path, stdin="")
    assert res.returncode == exitcodes.USAGE and "no URL given" in res.stderr
    res = corpus(["fetch", "--store", tmp_path / "s", "-i", tmp_path / "nope.txt"], tmp_path)
    assert res.returncode == exitcodes.USAGE and "nope.txt" in res.stderr and "Traceback" not in res.stderr


def test_url_with_a_space_is_a_one_line_error(tmp_path):
    res = corpus(["fetch", "--store", tmp_path / "s", "https://example.org/an article", "https://exa mple.org/"],
                 tmp_path)
    assert res.returncode == exitcodes.PAGE_ERRORS and "Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and all("error: invalid URL (a space in the URL" in line for line in lines)


def test_version(tmp_path):
    res = corpus(["--version"], tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"corpus {__version__}"


def test_json_prints_the_record_as_stored_for_a_syndicated_copy(replay, tmp_path):
    store = tmp_path / "s"
    first = corpus(["fetch", "--replay", replay.url, "--store", store, SCMP], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    res = corpus(["fetch", "--json", "--replay", replay.url, "--store", store, YAHOO], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    row = json.loads(res.stdout)
    stored = json.loads((store / "corpus" / "docs" / f"{row['id']}.json").read_text())
    assert row["outcome"].startswith("duplicate of ") and row["duplicate_of"] == stored["duplicate_of"]
    assert row["duplicate_of"] and row["text"] == stored["text"]
    assert {k: v for k, v in row.items() if k not in ("outcome", "input_url")} == stored


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/robots.txt":
            self.send_response(404)
            self.end_headers()
            return
        time.sleep(5)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_timeout_bounds_a_slow_server(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        res = corpus(["fetch", "--allow-private", "--timeout", "1", "-s", "RETRY_TIMES=0", "--store", tmp_path / "s",
                      f"http://127.0.0.1:{httpd.server_port}/slow"], tmp_path)
        elapsed = time.monotonic() - started
    finally:
        httpd.shutdown()
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert "error: timed out" in res.stdout
    assert elapsed < 15
