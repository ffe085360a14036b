"""`corpus fetch` end to end: the real CLI, Scrapy and pipelines against the replay server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.corpus import Corpus
from pipelines.seeds import read_index
from pipelines.store import open_store

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
    records = {r["url"]: r for r in corpus.iter_records()}
    assert set(records) == set(SEED_URLS)  # the outlets' real URLs, not the replay server's
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
