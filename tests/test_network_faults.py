"""Slow, throttling, looping and otherwise misbehaving servers (tests/faultsite.py, 127.0.0.1 only).

Each run is the real `corpus` command in a subprocess.  What is asserted: a 429 holds its own outlet
only, a long Retry-After is left to the next run, a dripping host costs a bounded time, redirect
loops and over-long URLs are page errors with their reason, and the classic failures end with a
clear reason and exit status 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler import exitcodes
from faultsite import FaultSite, registry

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]


def corpus(*args, cwd: Path, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env["XDG_STATE_HOME"] = str(cwd / "xdg")
    started = time.monotonic()
    res = subprocess.run([str(Path(sys.executable).with_name("corpus")), *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    return res, time.monotonic() - started


def crawl(site, reg, store, tmp_path, *extra, timeout=120):
    return corpus("crawl", "--replay", site.url, "--registry", reg, "--store", store, "--any-topic", *FAST, *extra,
                  cwd=tmp_path, timeout=timeout)


def fetch(tmp_path, *urls_and_options, timeout=120):
    """`corpus fetch --allow-private`: (result, seconds, {url: outcome})."""
    res, seconds = corpus("fetch", "--allow-private", "--json", "--store", tmp_path / "s", *FAST, *urls_and_options,
                          cwd=tmp_path, timeout=timeout)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return res, seconds, {row["input_url"]: row["outcome"] for row in rows}


def report_of(store: Path) -> dict:
    return json.loads(sorted((store / "corpus" / "runs").glob("*.json"))[-1].read_text())


def state_of(store: Path) -> dict:
    return json.loads((store / "state" / "urls.json").read_text())["urls"]


# --- 429 and Retry-After: per outlet, never global ------------------------------------------------
def test_a_429_holds_its_own_outlet_and_no_other(tmp_path):
    calm = [f"news/calm-{i}" for i in range(8)]
    busy = ["throttled/3/busy-0", "throttled/3/busy-1"]
    reg = registry(tmp_path / "reg.toml", {"calm": ("calm.example.org", calm), "busy": ("busy.example.org", busy)})
    with FaultSite() as site:
        # two places in the downloader for everyone: a wait held there would stop the calm outlet too
        res, seconds = crawl(site, reg, tmp_path / "s", tmp_path, "-s", "CONCURRENT_REQUESTS=2")
        first_429 = min(site.times("busy.example.org", "/throttled/", 429))
        calm_done = site.times("calm.example.org", "/news/", 200)
        busy_done = site.times("busy.example.org", "/throttled/", 200)
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    assert len(calm_done) == 8 and len(busy_done) == 2
    assert max(calm_done) - first_429 < 1.5  # the calm outlet finished long before the 3 s were up
    assert min(busy_done) - first_429 >= 2.9  # the busy one was asked again only after its wait
    summary = report_of(tmp_path / "s")["summary"]
    assert summary["calm"]["new"] == 8 and summary["busy"]["new"] == 2
    assert seconds < 30


def test_a_long_retry_after_is_left_to_the_next_run_with_its_due_time(tmp_path):
    reg = registry(tmp_path / "reg.toml", {
        "calm": ("calm.example.org", ["news/a", "news/b"]),
        "busy": ("busy.example.org", ["throttled/3600/x", "throttled/3600/y"])})
    store = tmp_path / "s"
    with FaultSite() as site:
        # one at a time (with no delay at all, Scrapy's slot may start two at once)
        res, seconds = crawl(site, reg, store, tmp_path, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                             "-s", "DOWNLOAD_DELAY=0.2", "-s", "CORPUS_MAX_ERROR_RATE=0.6")
        asked = site.hits("busy.example.org", "/throttled/")
        report, state = report_of(store), state_of(store)
        again, _ = crawl(site, reg, store, tmp_path, "-s", "CORPUS_MAX_ERROR_RATE=0.6")
        asked_again = site.hits("busy.example.org", "/throttled/")
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    assert seconds < 30  # nothing waited for the hour
    assert asked == 1  # the first 429 named an hour: the outlet's other URL was not requested at all
    assert report["summary"]["busy"]["error"] == 2 and report["summary"]["calm"]["new"] == 2
    assert report["stats"]["corpus/reason/error/rate-limited"] == 2
    for slug in ("x", "y"):
        entry = state[f"https://busy.example.org/throttled/3600/{slug}"]
        due = datetime.fromisoformat(entry["retry_at"]) - datetime.now(timezone.utc)
        assert entry["status"] == "error" and timedelta(minutes=58) < due <= timedelta(hours=1)
    assert again.returncode == exitcodes.OK and asked_again == asked  # not due before the time the server named


def test_an_outlet_that_throttles_every_url_waits_at_most_its_run_budget(tmp_path):
    reg = registry(tmp_path / "reg.toml", {"busy": ("busy.example.org", [f"throttled/2/u{i}" for i in range(5)])})
    with FaultSite() as site:
        res, seconds = crawl(site, reg, tmp_path / "s", tmp_path, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                             "-s", "DOWNLOAD_DELAY=0.2", "-s", "CORPUS_OUTLET_WAIT_MAX=3")
        answers = [status for _, host, _, status in site.log if host == "busy.example.org"][2:]  # robots, feed
    # one wait of 2 s, then the URL it was for (before the queued ones); the next 429 would pass 3 s:
    # the outlet's other URLs go to the next run, not requested
    assert answers == [429, 200, 429], answers
    fetched = 1
    report = report_of(tmp_path / "s")
    assert report["summary"]["busy"]["new"] == fetched and report["summary"]["busy"]["error"] == 5 - fetched
    assert report["stats"]["corpus/reason/error/rate-limited"] == 5 - fetched
    assert all(e.get("retry_at") for e in state_of(tmp_path / "s").values() if e["status"] == "error")
    assert res.returncode == exitcodes.PAGE_ERRORS and seconds < 40


def test_a_long_retry_after_says_so_in_corpus_fetch(tmp_path):
    with FaultSite() as site:
        url = f"{site.url}busy.example.org/throttled/3600/x"
        res, seconds, outcomes = fetch(tmp_path, url)
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert outcomes[url] == "error: rate limited (Retry-After 3600 s; retried next run)"
    assert seconds < 30


def test_retry_at_makes_a_url_due_at_that_time_and_a_later_outcome_clears_it(tmp_path):
    from pipelines.crawl.state import CrawlState
    from pipelines.store import open_store

    store = open_store(tmp_path / "store")
    url = "https://busy.example.org/a"
    now = datetime.now(timezone.utc)
    state = CrawlState(store, run_id="r1")
    state.mark(url, status="error", retry_at=(now + timedelta(hours=3)).isoformat())
    state.compact()  # in the snapshot
    state = CrawlState.load(store, run_id="r2")
    assert state.due(url, now=now + timedelta(hours=2)) == (False, "not-due")  # not the 1-hour error backoff
    assert state.due(url, now=now + timedelta(hours=3, seconds=1)) == (True, "retry-after")
    state.mark(url, status="error")  # a plain error later (the second): the generic backoff, 2 hours
    state.flush()
    state = CrawlState.load(store, run_id="r3")  # the journal line clears it over the older snapshot
    assert not state.get(url).get("retry_at")
    assert state.due(url, now=now + timedelta(hours=2, seconds=5)) == (True, "recheck-due")


# --- dripping and stalled servers: a bounded cost per URL and per host ------------------------------
def test_a_dripping_server_costs_two_timeouts_not_four(tmp_path):
    with FaultSite(drip_every=0.5) as site:
        url = f"{site.url}drip.example.org/drip/one"
        res, seconds, outcomes = fetch(tmp_path, "--timeout", "1.5", url)
        tries = site.hits("drip.example.org", "/drip/one")
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert outcomes[url] == "error: timed out"
    assert tries == 2  # retried once (CORPUS_TIMEOUT_RETRIES), not RETRY_TIMES = 3 times
    assert seconds < 30  # (most of it the start of the command)


def test_a_host_that_keeps_timing_out_fails_its_other_urls_fast(tmp_path):
    paths = [f"stall/s{i}" for i in range(8)]
    reg = registry(tmp_path / "reg.toml", {"slowpoke": ("slowpoke.example.org", paths)})
    with FaultSite() as site:
        # two at a time, as a real crawl (with no delay at all, Scrapy's slot may start them all at once)
        res, seconds = crawl(site, reg, tmp_path / "s", tmp_path, "--timeout", "1", "-s", "DOWNLOAD_DELAY=0.1")
        sent = site.hits("slowpoke.example.org", "/stall/")
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert sent <= 5  # three timeouts in a row (and what was on its way then), not 8 URLs x 2 tries
    stats = report_of(tmp_path / "s")["stats"]
    assert stats["corpus/outcome/error"] == 8 and stats["corpus/reason/error/timed-out"] == 8
    assert stats["corpus/slow_host/not_requested"] >= 4
    assert seconds < 40


# --- redirects ----------------------------------------------------------------------------------
def test_redirect_loops_and_long_chains_are_page_errors(tmp_path):
    with FaultSite() as site:
        loop, chain, short = (f"{site.url}x.example.org/{p}" for p in ("loop/a", "chain/25/0", "chain/3/0"))
        res, seconds, outcomes = fetch(tmp_path, loop, chain, short)
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert outcomes[loop] == f"error: redirect loop ({loop} -> {loop[:-1]}b -> {loop})"
    assert outcomes[chain] == "error: too many redirects (21)"  # REDIRECT_MAX_TIMES = 20
    assert outcomes[short] == "new"


def test_a_redirect_loop_counts_against_the_crawl(tmp_path):
    reg = registry(tmp_path / "reg.toml", {"loops": ("loops.example.org", ["loop/a", "news/fine"])})
    with FaultSite() as site:
        res, _ = crawl(site, reg, tmp_path / "s", tmp_path)
    assert res.returncode == exitcodes.PAGE_ERRORS, res.stderr[-3000:]
    assert "1 of 2 pages ended in error" in res.stderr
    assert report_of(tmp_path / "s")["stats"]["corpus/reason/error/redirect-loop"] == 1


# --- URL length ---------------------------------------------------------------------------------
def test_an_over_long_url_says_why(tmp_path):
    with FaultSite() as site:
        url = f"{site.url}x.example.org/news/" + "a" * (2100 - len(site.url) - len("x.example.org/news/"))
        res, _, outcomes = fetch(tmp_path, url)
        asked = site.hits("x.example.org")
    assert len(url) == 2100
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert outcomes[url] == "error: URL too long (2100 characters, limit 2083)"
    assert asked == 0


def test_a_discovered_over_long_link_is_skipped_and_counted(tmp_path):
    reg = registry(tmp_path / "reg.toml", {"longish": ("longish.example.org", ["long-2100", "news/fine"])})
    with FaultSite() as site:
        res, _ = crawl(site, reg, tmp_path / "s", tmp_path)
    assert res.returncode == exitcodes.OK, res.stderr[-3000:]
    report = report_of(tmp_path / "s")
    assert report["summary"]["longish"]["new"] == 1 and report["summary"]["longish"]["skipped"] == 1
    assert report["stats"]["corpus/reason/skipped/url-too-long"] == 1


# --- the classic misbehaviours: a clear reason, exit status 1 -------------------------------------
def test_classic_server_failures_end_with_a_clear_reason(tmp_path):
    with FaultSite() as site:
        base = f"{site.url}x.example.org/"
        with __import__("socket").socket() as sock:  # a port with nothing listening
            sock.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{sock.getsockname()[1]}/x"
        cases = {
            base + "status/404/a": "error: HTTP 404",
            base + "status/410/a": "error: HTTP 410",
            base + "status/500/a": "error: HTTP 500",
            base + "reset/a": "error: connection lost mid-response (fewer bytes than announced)",
            base + "empty/a": "skipped: no article (empty-page)",
            base + "stall/a": "error: timed out",
            refused: "error: connection refused",
            # https to a server that speaks plain http: was "DownloadFailedError: [<twisted.python.failure...>]"
            site.url.replace("http://", "https://") + "x.example.org/status/404/tls":
                "error: TLS handshake failed (wrong version number)",
        }
        res, seconds, outcomes = fetch(tmp_path, "--timeout", "1", "-s", "CORPUS_RETRY_BACKOFF=0.05", *cases)
        tries_500 = site.hits("x.example.org", "/status/500/")
    assert res.returncode == exitcodes.PAGE_ERRORS
    assert outcomes == cases
    assert tries_500 == 4  # RETRY_TIMES = 3 retries
    assert seconds < 40


@pytest.mark.parametrize("header, seconds", [
    ("99999999999999999999999", 86400.0),           # overflowed the datetime of retry_at: a traceback
    ("Wed, 21 Oct 2099 07:28:00 GMT", 86400.0),     # shut the outlet out until 2099
    ("3600", 3600.0),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    ("soon", None),
])
def test_a_retry_after_is_read_within_a_day(header, seconds):
    from crawler.middlewares.retry_after import RetryLater, retry_after_seconds

    got = retry_after_seconds(header)
    assert got == seconds if seconds is None or seconds < 3600 or "GMT" not in header else abs(got - seconds) < 5
    if got:
        due = datetime.fromisoformat(RetryLater.after(429, got).retry_at)  # a date the crawl state can keep
        assert due <= datetime.now(timezone.utc) + timedelta(days=1, minutes=1)
