"""`corpus crawl` end to end: the registry-driven spider on the replay web."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.corpus.layout import Corpus
from pipelines.store import open_store

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
ARTICLE_HOSTS = {"www.intellinews.com", "www.russia-briefing.com", "rsis.edu.sg", "ca.finance.yahoo.com",
                 "russia-direct.org"}
TRAPS = ["/search/", "/print/", "/quote/"]


def article_hits(server, host=None):
    return [h for h in server.requests
            if h.host in ARTICLE_HOSTS and (host is None or h.host == host)
            and not any(t in h.path for t in TRAPS)
            and ("/news/" in h.path or "/rsis-publication/" in h.path and h.path.count("/") >= 4
                 and "/page/" not in h.path and h.path != "/rsis-publication/rsis/"
                 or h.host in ("www.intellinews.com",) and h.path[1:].split("?")[0].rsplit("-", 1)[-1].isdigit()
                 or h.host == "russia-direct.org" and h.path.startswith(("/opinion/", "/analysis/")))]


def crawl(corpus_cmd, replay, store, *args):
    res = corpus_cmd("crawl", "--replay", replay.url, "--store", store, *FAST, *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def test_discovery_of_every_kind_topic_focus_and_robots(replay, corpus_cmd, tmp_path):
    store = tmp_path / "store"
    res = crawl(corpus_cmd, replay, store, "intellinews", "russia-briefing", "rsis", "yahoo-finance",
                "russia-direct")
    records = list(Corpus(open_store(store)).iter_records())
    by_outlet = {}
    for rec in records:
        by_outlet.setdefault(rec["outlet"], []).append(rec)
    # 9 articles per outlet, 2 of them off-topic: 7 stored each.
    assert {k: len(v) for k, v in by_outlet.items()} == {
        "intellinews": 7, "russia-briefing": 7, "rsis": 7, "yahoo-finance": 7, "russia-direct": 7}
    # only-in-one-place articles prove each discovery kind was used:
    urls = {r["url"] for r in records}
    assert "https://rsis.edu.sg/rsis-publication/rsis/russia-asean-sochi-summit-beyond-symbolism/" in urls  # page 3
    paths = [h.path for h in replay.requests]
    assert any("sitemap_news.xml" in p for p in paths)          # news sitemap from robots.txt
    assert any("post-sitemap2.xml" in p for p in paths)         # sitemap index -> sitemap
    assert any(p.startswith("/feed/atom") for p in paths)       # Atom
    assert any(p == "/news/rssindex" for p in paths)            # RSS
    assert any(p.endswith("?page=2") for p in paths)            # ?page=N pagination
    assert any("/page/2/" in p for p in paths)                  # /page/N/ pagination
    # robots.txt obeyed: no trap was ever requested
    assert not [h for h in replay.requests if any(t in h.path for t in TRAPS)]
    # topic focus: off-topic pages counted with their reason, not stored; the score is in the record
    run = json.loads(sorted((store / "corpus" / "runs").iterdir())[-1].read_text())
    assert sum(r["off-topic"] for r in run["summary"].values()) == 10
    assert any(k.startswith("corpus/reason/off-topic/") for k in run["stats"])
    assert all(r["topic"]["relevant"] and r["topic"]["score"] > 0 for r in records)
    assert "TOTAL" in res.stdout and "off-topic" in res.stdout


def test_rerun_fetches_only_what_changed_and_keeps_history(replay, corpus_cmd, tmp_path):
    store = tmp_path / "store"
    crawl(corpus_cmd, replay, store, "russia-briefing", "intellinews")
    first = len(article_hits(replay))
    assert first == 18
    replay.requests.clear()
    crawl(corpus_cmd, replay, store, "russia-briefing", "intellinews")
    assert article_hits(replay) == []  # nothing new, nothing due: no article re-requested
    replay.epoch = 2                    # the site changes one article and its sitemap lastmod
    replay.requests.clear()
    res = crawl(corpus_cmd, replay, store, "russia-briefing", "intellinews")
    hits = article_hits(replay)
    assert [h.path.split("?")[0] for h in hits] == ["/news/russia-asean-trade-outlook-2025.html/"]
    corpus = Corpus(open_store(store))
    changed = [r for r in corpus.iter_records() if "trade-outlook" in r["url"]][0]
    assert "Updated March 3, 2025" in changed["text"]
    assert len(corpus.history(changed["id"])) == 1
    row = [line for line in res.stdout.splitlines() if line.startswith("russia-briefing")][0].split()
    assert row[1:6] == ["9", "8", "1", "0", "1"]  # discovered, not due, fetched, new, updated


def test_since_and_max_pages(replay, corpus_cmd, tmp_path):
    crawl(corpus_cmd, replay, tmp_path / "a", "rsis", "--since", "2022-01-01")
    dates = [r["published"][:10] for r in Corpus(open_store(tmp_path / "a")).iter_records()]
    assert dates and all(d >= "2022-01-01" for d in dates)
    replay.requests.clear()
    crawl(corpus_cmd, replay, tmp_path / "b", "intellinews", "--max-pages", "3")
    assert len(article_hits(replay, "www.intellinews.com")) == 3


def test_site_mode_crawls_an_unregistered_site(replay, corpus_cmd, tmp_path):
    store = tmp_path / "store"
    res = crawl(corpus_cmd, replay, store, "--site", "https://rsis.edu.sg/rsis-publication/rsis/",
                "--any-topic")
    records = list(Corpus(open_store(store)).iter_records())
    urls = {r["url"] for r in records}
    assert "https://rsis.edu.sg/rsis-publication/rsis/russia-and-southeast-asia-what-lavrovs-july-visits-mean/" in urls
    assert len(urls) >= 8
    assert not [h for h in replay.requests if "/search/" in h.path]
    # the ad-hoc outlet is named as `corpus fetch` names an unregistered site: its registrable domain
    assert "rsis.edu.sg" in res.stdout and {r["outlet"] for r in records} == {"rsis.edu.sg"}


def test_retry_after_is_honoured(replay, corpus_cmd, tmp_path):
    started = time.monotonic()
    res = corpus_cmd("fetch", "--replay", replay.url, "--store", tmp_path / "s", "-v",
                     "https://test.example.net/busy/")
    elapsed = time.monotonic() - started
    busy = [h for h in replay.requests if h.path == "/busy/"]
    assert len(busy) == 4                 # first try + RETRY_TIMES (3)
    assert elapsed >= 3 * 2               # Retry-After: 2 before each retry
    assert "error: HTTP 503" in res.stdout


def test_resume_after_kill(replay, tmp_path):
    """kill -9 in the middle of a crawl; the next run does not fetch finished work again."""
    store = tmp_path / "store"
    exe = Path(sys.executable).with_name("corpus")
    args = [os.fspath(exe), "crawl", "--replay", replay.url, "--store", os.fspath(store), *FAST,
            "-s", "DOWNLOAD_DELAY=0.15", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s", "CORPUS_STATE_FLUSH_SECONDS=0", "intellinews", "russia-briefing", "rsis"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    docs = store / "corpus" / "docs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not docs.is_dir() or len(list(docs.iterdir())) < 6):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # under load the replay server may still be logging the killed crawl's last requests
    done_before = len(list(docs.iterdir()))
    assert 6 <= done_before < 21, "the crawl must be killed halfway"
    # the journal as the next run reads it: the store's own listing, which leaves out a write the kill cut
    # short (a temp file not yet renamed: its entries are the "last unflushed seconds", fetched again)
    state_store = open_store(store)
    journal = [json.loads(line) for key in state_store.list("state/journal/")
               for line in state_store.read(key).decode().splitlines()]
    finished = {e["url"] for e in journal if e.get("status") in ("stored", "off-topic")}
    assert finished
    first_hits = list(replay.requests)
    replay.requests.clear()

    res = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    from pipelines.crawl.urls import canonicalize

    again = {canonicalize(f"https://{h.host}{h.path}") for h in article_hits(replay)}
    refetched = sorted(again & finished)
    assert not refetched, f"finished work was fetched again: {[e for e in journal if e['url'] in refetched]}"
    records = list(Corpus(open_store(store)).iter_records())
    assert len(records) == 21  # 3 outlets x 7 on-topic articles, none lost, none twice
    assert len({r["id"] for r in records}) == 21
    assert len(article_hits(replay)) + len(first_hits) >= 27


@pytest.mark.parametrize("how", ["environment", "-s"])
def test_scrapy_crawl_works_from_the_repository_root(replay, tmp_path, how):
    repo = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUS_")}
    settings = {"CORPUS_REPLAY_URL": replay.url, "CORPUS_STORE": os.fspath(tmp_path / "store")}
    if how == "environment":
        env.update(settings)
        extra = []
    else:  # `-s CORPUS_*=...` behaves like the environment variable
        extra = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    res = subprocess.run([os.fspath(Path(sys.executable).with_name("scrapy")), "crawl", "outlet",
                          "-a", "outlets=rsis", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
                          *extra], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list(Corpus(open_store(tmp_path / "store")).iter_records())) == 7
    enabled = res.stderr.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "TelnetConsole" not in enabled and "RemoteControl" not in enabled and "CoreStats" in enabled


def test_syndicated_story_has_one_canonical_copy_and_rebuild_agrees(replay, corpus_cmd, tmp_path):
    store = tmp_path / "store"
    # the syndicators first, the original publisher in a later crawl
    crawl(corpus_cmd, replay, store, "yahoo-finance", "asiaone")
    res = crawl(corpus_cmd, replay, store, "scmp")
    corpus = Corpus(open_store(store))
    records = {r["outlet"]: r for r in corpus.iter_records() if "Lavrov" in (r["title"] or "")
               and "Wang" in (r["title"] or "") or r["outlet"] in ("asiaone", "scmp")}
    scmp, yahoo, asiaone = records["scmp"], records["yahoo-finance"], records["asiaone"]
    assert scmp["duplicate_of"] is None and scmp["text"]
    assert sorted(a["id"] for a in scmp["also_at"]) == sorted([yahoo["id"], asiaone["id"]])
    assert yahoo["duplicate_of"] == asiaone["duplicate_of"] == scmp["id"]
    assert not yahoo["text"] and not asiaone["text"]
    # the credit lines are boilerplate in the text but kept as metadata for the canonical choice
    assert yahoo["credit"] == asiaone["credit"] == "South China Morning Post" and scmp["credit"] is None
    index = (store / "corpus" / "INDEX.md").read_text()
    assert "## Near-duplicate clusters" in index and f"duplicate of {scmp['id']}" in index
    rebuilt = corpus_cmd("dedup", "--rebuild", "--store", store)
    assert rebuilt.returncode == 0 and "0 records relinked" in rebuilt.stdout
    assert "1 cluster, 2 duplicates" in rebuilt.stdout


def test_s3_store_dying_mid_crawl_loses_nothing(replay, tmp_path):
    """The S3 endpoint goes away halfway: the pages not stored end in `error`, the crawl finishes,
    and the next run (endpoint back, same bucket) stores exactly what is missing."""
    from s3server import DUMMY_ENV, S3Server

    server = S3Server().start()
    bucket = server.make_bucket()
    store = f"s3://{bucket}/corpus"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))}
    env.update(DUMMY_ENV, AWS_ENDPOINT_URL=server.url, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), XDG_STATE_HOME=str(tmp_path / "xdg"))
    exe = Path(sys.executable).with_name("corpus")
    args = [os.fspath(exe), "crawl", "--replay", replay.url, "--store", store, *FAST,
            "-s", "DOWNLOAD_DELAY=0.2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "rsis"]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.environ.update({k: env[k] for k in (*DUMMY_ENV, "AWS_ENDPOINT_URL")})
    try:
        s3 = open_store(store)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(s3.list("corpus/docs/"))) < 2:
            time.sleep(0.05)
        # the endpoint dies, then comes back on the same port with the same (in-memory) data
        from moto.server import ThreadedMotoServer

        port = int(server.url.rsplit(":", 1)[1])
        server.stop()
        out, err = proc.communicate(timeout=120)
        # the scheduler sees the failure: exit 3, one line, and a run report written locally
        assert proc.returncode == 3, err[-3000:]
        assert [line for line in err.splitlines() if line.startswith("corpus: exit 3 (store): ")]
        reports = list((tmp_path / "xdg").rglob("*.json"))
        assert len(reports) == 1 and json.loads(reports[0].read_text())["exit_code"] == 3
        row = [line for line in out.splitlines() if line.startswith("rsis")][0].split()
        new, errors = int(row[4]), int(row[10])
        assert new >= 2 and errors >= 1 and new + errors == 7
        back = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        back.start()
        try:
            res = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr[-3000:]
            records = list(Corpus(open_store(store)).iter_records())
            assert len(records) == 7 and len({r["id"] for r in records}) == 7
        finally:
            back.stop()
    finally:
        for k in (*DUMMY_ENV, "AWS_ENDPOINT_URL"):
            os.environ.pop(k, None)
        if proc.poll() is None:
            proc.kill()


def test_progress_lines_when_not_on_a_terminal(replay, corpus_cmd, tmp_path):
    res = crawl(corpus_cmd, replay, tmp_path / "s", "rsis", "-s", "CORPUS_PROGRESS_INTERVAL=0.05",
                "-s", "DOWNLOAD_DELAY=0.05")
    progress = [line for line in res.stderr.splitlines() if "fetched/discovered" in line]
    assert progress and all(line.split("] ", 1)[1].startswith("rsis") for line in progress)
    assert "\x1b[" not in res.stderr
