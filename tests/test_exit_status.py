"""What a scheduler sees: exit status, the one-line reason and the run report, for each way a run fails.

Every run here is the real `corpus` command in a subprocess against real HTTP servers on 127.0.0.1
(the replay web, moto's S3 server). Codes: crawler/exitcodes.py and the README's "Exit status".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler import exitcodes
from crawler.replay.server import ReplayServer

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
ON_TOPIC = ("Russian Foreign Minister Sergei Lavrov met ASEAN foreign ministers in Vientiane, Laos, "
            "to discuss trade between Russia and Southeast Asia, energy supplies to Vietnam and Indonesia, "
            "and the Moscow-ASEAN dialogue partnership. ")


WORDS = ("ministers trade energy ports rice coal tin nickel palm oil wheat arms visas tourism banks rouble "
         "dong baht rupiah ringgit peso kyat summit talks deal pipeline reactor grain freight rail").split()


def article_html(title: str) -> str:
    import random

    rng = random.Random(title)  # distinct texts: these are different articles, not near-duplicates
    body = "".join(f"<p>{ON_TOPIC if i == 0 else ''}{' '.join(rng.choice(WORDS) for _ in range(60))}.</p>\n"
                   for i in range(6))
    return (f"<html><head><title>{title}</title><meta property='og:type' content='article'>"
            f"<meta property='article:published_time' content='2024-07-26T10:00:00Z'></head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


def make_site(root: Path, host: str, articles: int, missing: int) -> list[str]:
    """A host with an RSS feed of `articles` article URLs, the last `missing` of which are 404."""
    site = root / host
    (site / "news").mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    urls = [f"https://{host}/news/story-{i}.html" for i in range(articles)]
    for i, _ in enumerate(urls[: articles - missing]):
        (site / "news" / f"story-{i}.html").write_text(article_html(f"Lavrov in Vientiane, part {i}"))
    items = "".join(f"<item><title>s{i}</title><link>{u}</link></item>" for i, u in enumerate(urls))
    (site / "feed.rss").write_text(f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>")
    return urls


def registry(path: Path, *outlets: tuple[str, str, dict]) -> Path:
    """A registry file of test outlets: (name, host, discovery)."""
    lines = []
    for name, host, disc in outlets:
        lines += ["[[outlet]]", f'name = "{name}"', f'title = "{name}"', f'domains = ["{host}"]',
                  f"articles = ['^https://{host.replace('.', chr(92) + '.')}/news/']", "[outlet.discovery]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in disc.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def run(args, tmp_path, env=None, timeout=120):
    exe = Path(sys.executable).with_name("corpus")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    full["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    full.update(env or {})
    return subprocess.run([os.fspath(exe), *map(str, args)], cwd=tmp_path, env=full, capture_output=True,
                          text=True, timeout=timeout)


def report_of(store: Path) -> dict:
    runs = sorted((store / "corpus" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text())


def one_line_reason(stderr: str, code: int) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(f"corpus: exit {code} ")]
    assert len(lines) == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    return lines[0]


def test_every_discovery_route_failing_is_exit_4_with_the_routes_named(tmp_path):
    root = tmp_path / "web"
    make_site(root, "ok.example.org", 2, 0)
    (root / "dead.example.org").mkdir()
    (root / "dead.example.org" / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    reg = registry(tmp_path / "reg.toml",
                   ("healthy", "ok.example.org", {"feeds": ["https://ok.example.org/feed.rss"]}),
                   ("gone", "dead.example.org", {"feeds": ["https://dead.example.org/feed/"],
                                                 "listings": ["https://dead.example.org/news/"]}))
    with ReplayServer([root]) as server:
        res = run(["crawl", "--replay", server.url, "--registry", reg, "--store", tmp_path / "s", "--any-topic",
                   *FAST], tmp_path)
    assert res.returncode == exitcodes.DISCOVERY, res.stderr[-3000:]
    line = one_line_reason(res.stderr, exitcodes.DISCOVERY)
    assert "every discovery route of gone failed" in line and "HTTP 404" in line
    report = report_of(tmp_path / "s")
    assert report["exit_code"] == exitcodes.DISCOVERY and report["finish_reason"] == "finished"
    assert report["outlets_found_nothing"] == ["gone"]
    assert report["summary"]["healthy"]["new"] == 2  # the healthy outlet was crawled all the same


def test_page_errors_over_the_threshold_fail_a_few_do_not(tmp_path):
    root = tmp_path / "web"
    make_site(root, "news.example.org", 10, 3)
    reg = registry(tmp_path / "reg.toml", ("flaky", "news.example.org",
                                           {"feeds": ["https://news.example.org/feed.rss"]}))
    with ReplayServer([root]) as server:
        base = ["crawl", "--replay", server.url, "--registry", reg, "--any-topic", *FAST]
        strict = run([*base, "--store", tmp_path / "a"], tmp_path)
        lenient = run([*base, "--store", tmp_path / "b", "--max-error-rate", "0.5"], tmp_path)
    assert strict.returncode == exitcodes.PAGE_ERRORS, strict.stderr[-3000:]
    assert "3 of 10 pages ended in error (30%, over --max-error-rate 0.1)" in one_line_reason(
        strict.stderr, exitcodes.PAGE_ERRORS)
    assert lenient.returncode == exitcodes.OK, lenient.stderr[-3000:]
    assert report_of(tmp_path / "b")["page_errors"] == 3


def _slow_site(tmp_path, pages: int) -> tuple[Path, Path]:
    """A replay site of ``pages`` on-topic articles behind one feed, and a registry with it as "slow"."""
    root = tmp_path / "web"
    make_site(root, "slow.example.org", pages, 0)
    return root, registry(tmp_path / "reg.toml", ("slow", "slow.example.org",
                                                  {"feeds": ["https://slow.example.org/feed.rss"]}))


def _stopped_after_first_page(server, reg, store, tmp_path, settings: list[str], wait: float):
    """Run `corpus crawl` on ``server``, send SIGTERM once a page is stored: (process, stderr, seconds the
    process took to exit after the signal)."""
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    proc = subprocess.Popen([os.fspath(exe), "crawl", "--replay", server.url, "--registry", str(reg),
                             "--store", str(store), "--any-topic", *settings],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not list((store / "corpus" / "docs").glob("*.json")):
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=wait)
        return proc, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_mid_crawl_is_exit_5_with_a_report(tmp_path):
    root, reg = _slow_site(tmp_path, 60)  # 30 s of downloads: a loaded machine still stores one first
    store = tmp_path / "s"
    with ReplayServer([root]) as server:
        proc, err, _ = _stopped_after_first_page(server, reg, store, tmp_path, [
            "-s", "DOWNLOAD_DELAY=0.5", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"],
            wait=60)
    assert proc.returncode == exitcodes.INTERRUPTED, err[-3000:]
    assert "interrupted by SIGTERM" in one_line_reason(err, exitcodes.INTERRUPTED)
    report = report_of(store)
    assert report["finish_reason"] == "shutdown" and report["interrupted_by"] == "SIGTERM"
    assert 0 < report["summary"]["slow"]["new"] < 60


def test_sigterm_sends_none_of_the_requests_queued_per_site(tmp_path):
    """Scrapy's graceful stop sent every request already queued in a site's download slot, one politeness
    delay after another (a reviewer: 16 requests over 34 s after SIGTERM). With a 3 s delay and one request
    at a time, a stop that drains the queue took 48 s here; the run now stops within one delay and a
    fetch, the queued URLs counted as not sent, recorded as no outcome, and fetched by the next run."""
    root, reg = _slow_site(tmp_path, 20)
    store = tmp_path / "s"
    with ReplayServer([root]) as server:
        proc, err, stopped_in = _stopped_after_first_page(server, reg, store, tmp_path, [
            "-s", "DOWNLOAD_DELAY=3", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"], wait=90)
        assert proc.returncode == exitcodes.INTERRUPTED, err[-3000:]
        report = report_of(store)
        stored = report["summary"]["slow"]["new"]
        assert stopped_in < 15, (stopped_in, report["stats"].get("corpus/stop/not_sent"))
        assert report["stats"].get("corpus/stop/not_sent", 0) > 0
        assert not any(k.startswith("corpus/outcome/skipped") for k in report["stats"])  # no outcome for them
        again = run(["crawl", "--replay", server.url, "--registry", reg, "--store", store, "--any-topic", *FAST],
                    tmp_path)
    assert again.returncode == exitcodes.OK, again.stderr[-3000:]
    assert stored + report_of(store)["summary"]["slow"]["new"] == 20  # the rest, fetched by the next run


def test_missing_bucket_is_exit_3_in_one_line_with_a_report(s3_server, s3_endpoint, tmp_path):
    env = {k: os.environ[k] for k in os.environ if k.startswith("AWS_")}
    res = run(["crawl", "--store", "s3://no-such-bucket-here/corpus", "--report", tmp_path / "r.json", "rsis"],
              tmp_path, env=env)
    assert res.returncode == exitcodes.STORE, res.stderr[-3000:]
    line = one_line_reason(res.stderr, exitcodes.STORE)
    assert "bucket 'no-such-bucket-here' does not exist" in line
    assert len(res.stderr.strip().splitlines()) <= 2  # no traceback, no log noise
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == exitcodes.STORE and report["finish_reason"] == "not_started"
    # --report is a copy: the state folder keeps every report no store took, so that a scheduler's next
    # run, writing the same --report file, does not erase the only trace of this one (a reviewer)
    kept = list((tmp_path / "xdg" / "asean-russia-corpus" / "runs").glob("*.json"))
    assert [json.loads(p.read_text())["run_id"] for p in kept] == [report["run_id"]]


def test_a_report_the_store_could_not_take_stays_in_the_state_folder_beside_its_copy(tmp_path, monkeypatch):
    from crawler.runreport import write_report

    class DeadCorpus:
        def write_run_stats(self, run_id, report):
            raise OSError("the endpoint went away")

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    report = {"run_id": "20261129T150000000000Z", "exit_code": exitcodes.STORE}
    where = write_report(DeadCorpus(), report["run_id"], report, str(tmp_path / "last-run.json"))
    kept = tmp_path / "xdg" / "asean-russia-corpus" / "runs" / "20261129T150000000000Z.json"
    assert where == str(kept) and json.loads(kept.read_text()) == report
    assert json.loads((tmp_path / "last-run.json").read_text()) == report


def test_robots_txt_holds_for_every_request_and_is_fetched_once_per_host(tmp_path):
    root = tmp_path / "web"
    urls = make_site(root, "robots.example.org", 2, 0)
    site = root / "robots.example.org"
    (site / "private").mkdir()
    forbidden = []
    for name in "abcdef":
        (site / "private" / name).write_text(article_html(f"secret {name}"))
        forbidden.append(f"https://robots.example.org/private/{name}")
    with ReplayServer([root]) as server:
        res = run(["fetch", "--replay", server.url, "--store", tmp_path / "s", *forbidden, urls[0]], tmp_path)
        hits = list(server.requests)
    assert [line.split(None, 1)[1].startswith("skipped: forbidden by robots.txt")
            for line in res.stdout.splitlines()] == [True] * 6 + [False]
    assert not [h for h in hits if h.path.startswith("/private/")]
    assert len([h for h in hits if h.path == "/robots.txt"]) == 1
    assert res.returncode == exitcodes.OK, res.stderr[-2000:]


def test_crawl_fetches_each_robots_txt_once(tmp_path):
    root = tmp_path / "web"
    make_site(root, "once.example.org", 3, 0)
    (root / "once.example.org" / "robots.txt").write_text(
        "User-agent: *\nDisallow: /private/\nSitemap: https://once.example.org/sitemap.xml\n")
    (root / "once.example.org" / "sitemap.xml").write_text(
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        "<url><loc>https://once.example.org/news/story-0.html</loc></url></urlset>")
    reg = registry(tmp_path / "reg.toml", ("once", "once.example.org",
                                           {"feeds": ["https://once.example.org/feed.rss"]}))
    with ReplayServer([root]) as server:
        res = run(["crawl", "--replay", server.url, "--registry", reg, "--store", tmp_path / "s", "--any-topic",
                   *FAST], tmp_path)
        hits = list(server.requests)
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    assert len([h for h in hits if h.path == "/robots.txt"]) == 1
    assert any(h.path == "/sitemap.xml" for h in hits)  # its Sitemap: line was still followed
    assert report_of(tmp_path / "s")["summary"]["once"]["new"] == 3


def test_robots_txt_server_error_means_nothing_is_fetched(tmp_path):
    root = tmp_path / "web"
    urls = make_site(root, "err.example.org", 2, 0)
    (root / "err.example.org" / "robots.txt.meta.json").write_text(json.dumps({"status": 503}))
    with ReplayServer([root]) as server:
        res = run(["fetch", "--replay", server.url, "--store", tmp_path / "s", *urls, "-s", "RETRY_TIMES=0"],
                  tmp_path)
        hits = list(server.requests)
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert all("robots.txt unavailable (HTTP 503)" in line for line in res.stdout.splitlines())
    assert not [h for h in hits if h.path.startswith("/news/")]


def test_a_robots_txt_that_times_out_is_named_in_each_pages_outcome(tmp_path):
    """A review saw every page of a host whose robots.txt timed out end as `error: timed out`, as if the page
    had: the page was never requested, and its outcome now says robots.txt is why."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            paths.append(self.path)
            if self.path == "/robots.txt":
                release.wait(10)  # past the download timeout
            body = article_html("Lavrov in Vientiane").encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        urls = [f"http://127.0.0.1:{httpd.server_port}/news/{n}.html" for n in "ab"]
        res = run(["fetch", "--allow-private", "--store", tmp_path / "s", *urls, "-s", "DOWNLOAD_TIMEOUT=1",
                   "-s", "RETRY_TIMES=1", "-s", "CORPUS_RETRY_BACKOFF=0.05"], tmp_path)
    finally:
        release.set()
        httpd.shutdown()
    assert res.returncode == exitcodes.PAGE_ERRORS, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and all("error: timed out (robots.txt: the page was not requested)" in line
                                   for line in lines), lines
    assert paths.count("/robots.txt") == 2 and not [p for p in paths if p.startswith("/news/")]  # (one retry)
    # the pages were never sent: not retried, not counted by the slow-host breaker (a review saw "timed out 3
    # times in a row" and "Gave up retrying <page>" for pages that never went out)
    assert not [line for line in res.stderr.splitlines()
                if "times in a row" in line or ("Gave up retrying" in line and "/news/" in line)], res.stderr[-2000:]


def test_outlets_that_found_nothing_in_the_last_runs_are_flagged(tmp_path):
    root = tmp_path / "web"
    make_site(root, "quiet.example.org", 0, 0)
    reg = registry(tmp_path / "reg.toml", ("quiet", "quiet.example.org",
                                           {"feeds": ["https://quiet.example.org/feed.rss"]}))
    with ReplayServer([root]) as server:
        for _ in range(3):
            res = run(["crawl", "--replay", server.url, "--registry", reg, "--store", tmp_path / "s", *FAST],
                      tmp_path)
            assert res.returncode == exitcodes.OK, res.stderr[-2000:]
    report = report_of(tmp_path / "s")
    assert report["outlets_found_nothing"] == ["quiet"] and report["outlets_quiet"] == {"quiet": 3}
    assert "discovery found no article for quiet (3 runs in a row)" in res.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_settings_from_s_and_from_the_environment_reach_the_user_agent(tmp_path, how):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("User-Agent"))
            body = article_html("Lavrov in Vientiane").encode() if self.path != "/robots.txt" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    contact = "https://example.org/who-runs-this-crawler"
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/news/a.html"
        args = ["fetch", "--allow-private", "--store", tmp_path / "s", url]
        if how == "option":
            res = run([*args, "-s", f"CORPUS_CONTACT_URL={contact}"], tmp_path)
        else:
            res = run(args, tmp_path, env={"CORPUS_CONTACT_URL": contact})
    finally:
        httpd.shutdown()
    assert res.returncode == 0, res.stdout + res.stderr[-2000:]
    assert seen and all(ua and ua.endswith(f"(+{contact})") for ua in seen), seen


def test_demo_never_writes_into_the_store_named_by_the_environment(tmp_path):
    production = tmp_path / "production"
    res = run(["demo"], tmp_path, env={"CORPUS_STORE": str(production)}, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert not production.exists()
    docs = list((tmp_path / "corpus-store" / "corpus" / "docs").glob("*.json"))
    assert docs and all(json.loads(p.read_text())["replayed"] is True for p in docs)


def test_a_stop_signal_before_the_crawl_starts_is_exit_5_not_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    for signum in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([os.fspath(exe), "crawl", "--store", str(tmp_path / "s"), "rsis"], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.4)  # Python is still importing: Scrapy's own handlers are not there yet
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == exitcodes.INTERRUPTED, (signum, proc.returncode, err[-2000:])
        assert "Traceback" not in err and f"corpus: exit 5 (interrupted): interrupted by {signum.name}" in err
        where = one_line_reason(err, exitcodes.INTERRUPTED).rsplit("; run report: ", 1)[1]
        report = json.loads(Path(where).read_text())  # a report even before the arguments were read
        assert report["exit_code"] == exitcodes.INTERRUPTED and report["interrupted_by"] == signum.name


def test_a_stop_signal_at_any_moment_is_exit_5_or_the_runs_own_status_never_143(tmp_path):
    """Signals land while Python imports, while Scrapy builds the crawler (it would wrap the exception),
    during the run, and after the status is settled while Python exits (which restores the default
    handlers: 143): each is exit 5, or the run's own status when it came too late, and no traceback."""
    import socket

    with socket.socket() as s:  # a closed port: the fetch fails fast, its own status is 1
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")  # where a report goes that has no store to go to
    start = time.monotonic()
    plain = subprocess.run([os.fspath(exe), "fetch", "--allow-private", "--store", str(tmp_path / "s0"),
                            f"http://127.0.0.1:{port}/a"], cwd=tmp_path, env=env, capture_output=True, text=True)
    whole = time.monotonic() - start
    assert plain.returncode == exitcodes.PAGE_ERRORS, plain.stderr[-2000:]
    seen = set()
    for i in range(8):  # moments spread over the whole run, its end included
        proc = subprocess.Popen([os.fspath(exe), "fetch", "--allow-private", "--store", str(tmp_path / f"s{i + 1}"),
                                 f"http://127.0.0.1:{port}/a"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(whole * (0.1 + i * 0.13))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (exitcodes.INTERRUPTED, exitcodes.PAGE_ERRORS), (i, proc.returncode, err[-2000:])
        assert "Traceback" not in err, err[-2000:]
        seen.add(proc.returncode)
        if proc.returncode == exitcodes.INTERRUPTED:
            # one line, naming the signal as such (a reviewer saw "interrupted by encoding with 'idna' codec
            # failed (Interrupted: ...)") and a run report, whatever the moment (before: none in the first 3 s)
            line = one_line_reason(err, exitcodes.INTERRUPTED)
            assert "interrupted by SIGTERM" in line and "codec" not in line, line
            where = line.rsplit("; run report: ", 1)[-1] if "; run report: " in line else None
            assert where and json.loads(Path(where).read_text())["exit_code"] == exitcodes.INTERRUPTED, line
    assert exitcodes.INTERRUPTED in seen


@pytest.mark.parametrize("args, message", [
    (["--max-pages", "-3"], "--max-pages takes a number of pages, 1 or more, not -3"),
    (["--max-pages", "0"], "--max-pages takes a number of pages, 1 or more, not 0"),
    (["--since", "2024-01-01T25:00"], "--since: not a date: '2024-01-01T25:00'"),
])
def test_bad_crawl_limits_are_usage_errors(tmp_path, args, message):
    """A reviewer's cases: `--max-pages -3` fetched nothing and exited 0 (0 meant no limit at all), and an
    impossible time in `--since` was dropped silently."""
    res = run(["crawl", "--store", tmp_path / "s", "rsis", *args], tmp_path)
    assert res.returncode == exitcodes.USAGE and message in res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize("args, message", [
    (["-s", "CORPUS_MAX_ERROR_RATE=abc"], "CORPUS_MAX_ERROR_RATE takes a number, not 'abc'"),
    (["-s", "DOWNLOAD_DELAY=x"], "DOWNLOAD_DELAY takes a number, not 'x'"),
    (["-s", "CORPUS_NOSUCH=1"], "unknown setting CORPUS_NOSUCH"),
    (["-s", "CORPUS_TOPIC_FILTR=0"], "did you mean CORPUS_TOPIC_FILTER?"),
    (["--timeout", "-5"], "must be more than 0 seconds"),
    (["--timeout", "0"], "must be more than 0 seconds"),
])
def test_bad_settings_are_usage_errors_before_anything_runs(tmp_path, args, message):
    res = run(["fetch", "--store", tmp_path / "s", "https://example.org/a", *args], tmp_path)
    assert res.returncode == exitcodes.USAGE, res.stderr[-2000:]
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()


def test_a_bad_setting_in_the_environment_is_a_usage_error_too(tmp_path):
    res = run(["fetch", "--store", tmp_path / "s", "https://example.org/a"], tmp_path,
              env={"CORPUS_MAX_ERROR_RATE": "lots"})
    assert res.returncode == exitcodes.USAGE and "CORPUS_MAX_ERROR_RATE takes a number" in res.stderr


def test_the_error_rate_from_the_environment_is_honoured(tmp_path):
    root = tmp_path / "web"
    make_site(root, "news.example.org", 10, 3)
    reg = registry(tmp_path / "reg.toml", ("flaky", "news.example.org",
                                           {"feeds": ["https://news.example.org/feed.rss"]}))
    with ReplayServer([root]) as server:
        res = run(["crawl", "--replay", server.url, "--store", tmp_path / "s", "--any-topic", *FAST], tmp_path,
                  env={"CORPUS_MAX_ERROR_RATE": "0.5", "CORPUS_REGISTRY": str(reg)})
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    report = report_of(tmp_path / "s")
    assert report["max_error_rate"] == 0.5 and report["page_errors"] == 3 and list(report["summary"]) == ["flaky"]


def test_invalid_urls_count_as_page_errors_in_the_line_and_the_report(replay, tmp_path):
    res = run(["fetch", "--replay", replay.url, "--store", tmp_path / "s", "--report", tmp_path / "r.json",
               "https://test.example.net/article/", "https://exa mple.org/", "http:///no-host"], tmp_path)
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert "2 of 3 pages ended in error" in one_line_reason(res.stderr, exitcodes.PAGE_ERRORS)
    assert json.loads((tmp_path / "r.json").read_text())["exit_code"] == exitcodes.PAGE_ERRORS

    only_bad = run(["fetch", "--store", tmp_path / "never", "--report", tmp_path / "r2.json", "https://a b/"],
                   tmp_path)
    assert only_bad.returncode == exitcodes.PAGE_ERRORS
    one_line_reason(only_bad.stderr, exitcodes.PAGE_ERRORS)
    assert json.loads((tmp_path / "r2.json").read_text())["exit_code"] == exitcodes.PAGE_ERRORS
    assert not (tmp_path / "never").exists()  # nothing to fetch: the store is not touched


def test_another_address_form_of_an_unchanged_page_writes_nothing(replay, tmp_path):
    store = tmp_path / "s"
    forms = ["https://rsis.edu.sg/rsis-publication/rsis/russia-and-southeast-asia-what-lavrovs-july-visits-mean/",
             "http://www.rsis.edu.sg/rsis-publication/rsis/russia-and-southeast-asia-what-lavrovs-july-visits-mean/"
             "?utm_source=x#frag"]
    first = run(["fetch", "--replay", replay.url, "--store", store, forms[0]], tmp_path)
    assert first.stdout.split()[1] == "new", first.stdout + first.stderr[-2000:]
    second = run(["fetch", "--replay", replay.url, "--store", store, forms[1]], tmp_path)
    assert second.stdout.split()[1] == "unchanged", second.stdout
    assert not (store / "corpus" / "history").exists()


def test_s_corpus_store_is_the_store_everywhere(replay, tmp_path):
    res = run(["fetch", "--replay", replay.url, "--store", tmp_path / "a", "-s", f"CORPUS_STORE={tmp_path / 'b'}",
               "https://test.example.net/article/"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not (tmp_path / "a").exists() and list((tmp_path / "b" / "corpus" / "docs").glob("*.json"))
    assert f"store: {tmp_path / 'b'}" in res.stderr


def test_a_dead_route_of_a_working_outlet_is_a_warning_and_dead_outlets_are_named_in_one_line(tmp_path):
    root = tmp_path / "web"
    make_site(root, "ok.example.org", 2, 0)
    for host in ("dead1.example.org", "dead2.example.org"):
        (root / host).mkdir()
    reg = registry(tmp_path / "reg.toml",
                   ("healthy", "ok.example.org", {"feeds": ["https://ok.example.org/feed.rss",
                                                            "https://ok.example.org/old-feed.rss"]}),
                   ("gone-a", "dead1.example.org", {"feeds": ["https://dead1.example.org/feed/"]}),
                   ("gone-b", "dead2.example.org", {"feeds": ["https://dead2.example.org/feed/"]}))
    with ReplayServer([root]) as server:
        res = run(["crawl", "--replay", server.url, "--registry", reg, "--store", tmp_path / "s", "--any-topic",
                   *FAST], tmp_path)
    line = one_line_reason(res.stderr, exitcodes.DISCOVERY)
    assert "discovery failed for 2 outlets: gone-a, gone-b" in line
    report = report_of(tmp_path / "s")
    assert report["warnings"] == ["healthy: discovery route https://ok.example.org/old-feed.rss failed (HTTP 404)"]
    assert "warning: healthy: discovery route https://ok.example.org/old-feed.rss failed" in res.stderr


def test_a_stop_signal_whose_exception_python_dropped_still_stops_the_run(monkeypatch):
    """A signal that lands in a weakref callback or __del__ (an import's module-lock callback) raises there,
    Python prints 'Exception ignored' and goes on: the run must not start as if never stopped."""
    import gc

    import pytest

    from crawler import interrupts

    monkeypatch.setattr(interrupts, "_received", None)
    monkeypatch.setattr(interrupts, "_pending", None)

    class Dropped:
        def __del__(self):
            interrupts._handler(signal.SIGINT, None)  # raises Interrupted inside __del__: ignored by Python

    Dropped()
    gc.collect()
    with pytest.raises(interrupts.Interrupted, match="SIGINT"):
        with interrupts.held():
            pass


def test_a_store_failing_at_the_start_names_its_first_error_and_no_discovery_failure():
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.runreport import STORE_UNAVAILABLE, assess, count_store_error

    from scrapy.settings import Settings

    class _Crawler:
        settings = Settings()

    stats = MemoryStatsCollector(_Crawler())
    count_store_error(stats, RuntimeError("could not connect to the endpoint URL http://127.0.0.1:9/"))
    count_store_error(stats, RuntimeError("report not written: the store is closed"))
    raw = stats.get_stats()
    verdict = assess(raw, finish_reason=STORE_UNAVAILABLE, outlets=["rsis", "tass", "diplomat"])
    assert verdict["exit_code"] == exitcodes.STORE
    assert "first: could not connect to the endpoint" in verdict["reason"]
    assert "last: report not written" in verdict["reason"]
    assert not any("discovery" in p for p in verdict["problems"]), verdict["problems"]
    assert verdict["warnings"] == ["discovery was not tried for 3 outlet(s): the store failed at the start"]
    # a run that did start still has its discovery judged
    assert any("discovery failed for 3 outlets" in p
               for p in assess(raw, finish_reason="finished", outlets=["rsis", "tass", "diplomat"])["problems"])
    one = MemoryStatsCollector(_Crawler())
    count_store_error(one, RuntimeError("bucket gone"))
    assert assess(one.get_stats(), finish_reason="finished")["reason"] == (
        "the store failed 1 time(s) during the run (bucket gone)")


class _HangingReplay(ReplayServer):
    """The replay web, but every article after the first hangs (``hang`` seconds): a graceful stop waits for
    the download in flight, so a second signal is what ends the run."""

    hang = 30.0

    def _log(self, hit):
        super()._log(hit)
        if hit.path.endswith(".html") and sum(h.path.endswith(".html") for h in self.requests) > 1:
            time.sleep(self.hang)


def test_a_second_signal_still_leaves_a_report_with_what_the_run_did_in_the_store(tmp_path):
    """Two SIGTERMs: the run stops at once (Scrapy's forced stop, the spider never closes). Its report still
    has the run's id, stats and per-outlet summary, and goes into the store beside the other runs'."""
    root, reg = _slow_site(tmp_path, 6)
    store = tmp_path / "s"
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    with _HangingReplay([root]) as server:
        proc = subprocess.Popen([os.fspath(exe), "crawl", "--replay", server.url, "--registry", str(reg),
                                 "--store", str(store), "--any-topic", *FAST],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not list((store / "corpus" / "docs").glob("*.json")):
                time.sleep(0.05)
            time.sleep(0.5)  # the next article's download is hanging
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=25)  # well before the hanging download would end
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == exitcodes.INTERRUPTED, err[-3000:]
    line = one_line_reason(err, exitcodes.INTERRUPTED)
    assert "stopped without closing (a second signal)" in line and "corpus/runs/" in line, line
    report = report_of(store)
    assert report["finish_reason"] == "killed" and report["interrupted_by"] == "SIGTERM"
    assert report["run_id"] in line
    assert report["stats"]["corpus/store/new"] >= 1 and report["summary"]["slow"]["new"] >= 1
    assert report["started_at"] and report["elapsed_seconds"] > 0


def test_interrupted_runs_neither_fail_discovery_nor_make_an_outlet_quiet(tmp_path):
    """A reviewer's case: three runs stopped by SIGTERM before an outlet's routes were answered reported
    "every discovery route failed (not sent: the run is stopping)" and made the outlet quiet (`outlets_quiet`:
    3), a false "site broke" alarm under any scheduler that stops runs. Routes never sent are not failed, an
    unfinished discovery is a warning, and an interrupted run does not count towards the quiet history."""
    root = tmp_path / "web"
    make_site(root, "slow.example.org", 3, 0)
    for i in range(4):
        shutil.copy(root / "slow.example.org" / "feed.rss", root / "slow.example.org" / f"feed{i}.rss")
    feeds = [f"https://slow.example.org/feed{i}.rss" for i in range(4)]
    reg = registry(tmp_path / "reg.toml", ("slow", "slow.example.org", {"feeds": feeds}))
    store = tmp_path / "s"
    exe = Path(sys.executable).with_name("corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    with ReplayServer([root]) as server:
        for _ in range(3):
            server.requests.clear()
            proc = subprocess.Popen([os.fspath(exe), "crawl", "--replay", server.url, "--registry", str(reg),
                                     "--store", str(store), "--any-topic", "-s", "DOWNLOAD_DELAY=5",
                                     "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", "-s", "AUTOTHROTTLE_ENABLED=False",
                                     "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"],
                                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not any("robots.txt" in h.path for h in server.requests):
                    time.sleep(0.05)
                time.sleep(0.5)
                proc.send_signal(signal.SIGTERM)  # robots.txt answered, the routes queued 5 s behind it
                _, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert proc.returncode == exitcodes.INTERRUPTED, err[-3000:]
            report = report_of(store)
            assert not any("discovery" in p for p in report["problems"]), report["problems"]
            assert not report.get("outlets_quiet")
            assert report["stats"].get("corpus/outlet/slow/discovery_not_sent", 0) >= 1
            assert not report["stats"].get("corpus/outlet/slow/discovery_failed"), report["warnings"]
        health = json.loads((store / "state" / "outlets.json").read_text()) \
            if (store / "state" / "outlets.json").exists() else {}
        assert not (health.get("outlets") or {}).get("slow"), health  # no history entry from a stopped run
        done = run(["crawl", "--replay", server.url, "--registry", reg, "--store", store, "--any-topic", *FAST],
                   tmp_path)
    assert done.returncode == exitcodes.OK, done.stderr[-3000:]
    assert report_of(store)["outlets_quiet"] == {}
