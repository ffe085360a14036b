"""`corpus check`: is each outlet still crawlable?

End to end: the real `corpus` command in a subprocess against the replay web (the bundled outlets plus the
test-only host tests/web/check.example.net/, with outlets of a test registry written here); and unit tests of
the pure report module (crawler/checkreport.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler import exitcodes
from crawler.checkreport import OutletCheck, Sample, as_json, assess, newest, pick_samples, route_problem, table

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CORPUS_OUTLET_POLITENESS=False"]
HOST = "https://check.example.net"

# name -> (article URL prefix, discovery): one healthy outlet and one for each way an outlet breaks
TEST_OUTLETS = {
    "good": ("/good/news/", {"feeds": [f"{HOST}/good/feed.rss"]}),
    "dead-feed": ("/dead/news/", {"feeds": [f"{HOST}/dead/feed/"]}),                  # 404
    "empty-sitemap": ("/empty/news/", {"sitemaps": [f"{HOST}/empty/sitemap.xml"]}),   # <urlset/> without URLs
    "no-match": ("/nomatch/news/", {"listings": [f"{HOST}/nomatch/"]}),              # links to /nomatch/stories/N
    "hollow": ("/hollow/news/", {"feeds": [f"{HOST}/hollow/feed.rss"]}),             # articles without text
    "forbidden": ("/private/news/", {"feeds": [f"{HOST}/private/feed.rss"]}),        # robots.txt disallows it
}


def write_registry(path: Path) -> Path:
    lines = []
    for name, (prefix, discovery) in TEST_OUTLETS.items():
        lines += ["[[outlet]]", f'name = "{name}"', f'title = "Check test: {name}"', 'domains = ["check.example.net"]',
                  f"articles = ['^https://check\\.example\\.net{prefix}']", "[outlet.discovery]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in discovery.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def no_store_env(tmp_path: Path) -> dict:
    """A store and a local report folder the check must never create."""
    return {"CORPUS_STORE": str(tmp_path / "store"), "XDG_STATE_HOME": str(tmp_path / "xdg")}


# -- end to end ---------------------------------------------------------------------------------------
def test_broken_outlets_are_named_and_the_check_exits_4(replay, corpus_cmd, tmp_path):
    reg = write_registry(tmp_path / "check-registry.toml")
    before = files_under(tmp_path)
    res = corpus_cmd("check", "--registry", reg, "--replay", replay.url, *FAST, env=no_store_env(tmp_path))
    out, err = res.stdout, res.stderr
    assert res.returncode == exitcodes.DISCOVERY, out + err
    assert "Traceback" not in err
    # each broken outlet named, in plain words
    assert f"dead-feed: feed {HOST}/dead/feed/ HTTP 404" in out
    assert f"empty-sitemap: sitemap {HOST}/empty/sitemap.xml has 0 entries" in out
    assert "no-match: 12 listing links, none match the article patterns" in out
    assert f"hollow: sample article {HOST}/hollow/news/two.html extracted no text" in out
    assert f"forbidden: feed {HOST}/private/feed.rss forbidden by robots.txt" in out
    for name in ("dead-feed", "empty-sitemap", "no-match", "hollow", "forbidden"):
        assert f"{name}: no route gives an article URL" in out or f"{name}: none of" in out, name
    assert "6 outlets checked: 1 yield articles, 5 yield none (dead-feed, empty-sitemap, no-match, hollow, forbidden)" in out
    exit_lines = [line for line in err.splitlines() if line.startswith("corpus: exit 4 (discovery): ")]
    assert len(exit_lines) == 1 and "5 of 6 outlets yield no article" in exit_lines[0], err
    # the healthy outlet: its feed counted (3 items, 2 articles), its samples extracted, newest first
    rows = [line.split() for line in out.splitlines()]
    feed = next(r for r in rows if r[:3] == ["good", "feed", f"{HOST}/good/feed.rss"])
    assert feed[3:] == ["200", "3", "2", "2024-07-26"]
    samples = [line for line in out.splitlines() if line.startswith("good ") and "/good/news/" in line]
    assert len(samples) == 2 and "lavrov-asean-vientiane" in samples[0] and "russian-wheat-indonesia" in samples[1]
    assert "Lavrov and ASEAN ministers meet in Vientiane" in samples[0]
    # robots.txt obeyed: the disallowed feed was never requested; nothing written anywhere
    assert not [h for h in replay.requests if h.host == "check.example.net" and h.path.startswith("/private/")]
    assert files_under(tmp_path) == before
    assert not (tmp_path / "store").exists() and not (tmp_path / "corpus-store").exists()
    assert not (tmp_path / "xdg").exists()


def test_a_healthy_outlet_exits_0_with_extracted_samples_as_json(replay, corpus_cmd, tmp_path):
    before = files_under(tmp_path)
    res = corpus_cmd("check", "russia-briefing", "yahoo-finance", "--json", "--samples", "2", "--replay",
                     replay.url, *FAST, env=no_store_env(tmp_path))
    assert res.returncode == exitcodes.OK, res.stdout + res.stderr
    assert "corpus: exit" not in res.stderr
    data = json.loads(res.stdout)
    assert data["exit_code"] == 0 and data["broken"] == [] and data["checked"] == ["russia-briefing", "yahoo-finance"]
    by_name = {o["outlet"]: o for o in data["outlets"]}
    for outlet in by_name.values():
        assert outlet["ok"] and outlet["article_urls"] > 0
        assert len(outlet["samples"]) == 2
        for sample in outlet["samples"]:
            assert sample["extracted"] and sample["status"] == 200
            assert sample["title"] and sample["words"] > 0 and sample["topic"] is not None
    briefing = by_name["russia-briefing"]
    robots = next(r for r in briefing["routes"] if r["kind"] == "robots")
    assert robots["status"] == 200 and robots["sitemaps"] == ["https://www.russia-briefing.com/sitemap_index.xml"]
    index = next(r for r in briefing["routes"] if r["url"].endswith("/sitemap_index.xml"))
    assert index["via"] == "robots.txt" and index["index"] and index["entries"] == 3
    subs = [r for r in briefing["routes"] if r["via"] == index["url"]]
    assert subs and sum(r["articles"] for r in subs) > 0 and all(r["newest"] for r in subs)
    # samples newest first: by the dates their routes announced
    dates = [s["date"] for s in briefing["samples"]]
    assert dates == sorted(dates, reverse=True)
    assert files_under(tmp_path) == before and not (tmp_path / "xdg").exists()


# -- usage and help (in process: nothing runs a spider) -------------------------------------------------
@pytest.mark.parametrize("argv", [["check", "no-such-outlet"], ["check", "--samples", "-1"],
                                  ["check", "rsis", "--site", "https://example.org/"],
                                  ["check", "--site", "not a url"]])
def test_usage_errors_exit_2(argv, capsys):
    from crawler.cli import main

    assert main(argv) == exitcodes.USAGE
    assert capsys.readouterr().err.startswith("corpus: ")


def test_check_has_no_store_option_and_documents_its_exit_codes(capsys):
    from crawler.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["check", "--store", "x"])
    assert exc.value.code == exitcodes.USAGE
    args = parser.parse_args(["check"])
    assert not hasattr(args, "store") and args.samples == 3
    capsys.readouterr()
    with pytest.raises(SystemExit):
        parser.parse_args(["check", "--help"])
    text = capsys.readouterr().out
    for code in (exitcodes.OK, exitcodes.DISCOVERY, exitcodes.USAGE, exitcodes.INTERRUPTED):
        assert f"\n  {code} " in text
    assert "exit status" in text and "robots.txt" in text


def test_the_check_spider_runs_no_item_pipeline_and_no_run_report():
    from crawler.spiders.check import CheckSpider

    assert CheckSpider.custom_settings["ITEM_PIPELINES"] == {}
    assert CheckSpider.custom_settings["EXTENSIONS"]["crawler.runreport.RunReport"] is None


# -- the pure report ----------------------------------------------------------------------------------
def test_newest_reads_iso_and_rfc_2822_dates_and_ignores_junk():
    assert newest(["2024-07-26", "Fri, 26 Jul 2024 12:00:00 +0000", None, "soon", "2023-01-01T00:00:00Z"]) \
        == "2024-07-26T12:00:00+00:00"
    assert newest([None, "", "not a date"]) is None


def test_samples_are_the_newest_first_undated_last():
    found = {"a": None, "b": "2024-01-01", "c": "Tue, 02 Jul 2024 09:00:00 +0000", "d": None, "e": "2023-05-05"}
    assert [u for u, _ in pick_samples(found, 3)] == ["c", "b", "e"]
    assert [u for u, _ in pick_samples(found, 10)] == ["c", "b", "e", "a", "d"]
    assert pick_samples(found, 0) == []
    assert pick_samples({"x": None}, 3) == [("x", None)]


def _check(name="x", **routes) -> OutletCheck:
    check = OutletCheck(name)
    for kind, fields in routes.items():
        route = check.add(kind.replace("_", "-"), fields.pop("url", f"https://x.example/{kind}"), fields.pop("via", None))
        for key, value in fields.items():
            setattr(route, key, value)
    return check


@pytest.mark.parametrize("kind, fields, problem", [
    ("feed", {"status": 404, "error": "HTTP 404"}, "x: feed https://u.example/r HTTP 404"),
    ("feed", {"error": "DNS lookup failed"}, "x: feed https://u.example/r DNS lookup failed"),
    ("sitemap", {"status": 200, "entries": 0, "articles": 0}, "x: sitemap https://u.example/r has 0 entries"),
    ("news-sitemap", {"status": 200, "entries": 40, "articles": 0},
     "x: news-sitemap https://u.example/r: 40 entries, none match the article patterns"),
    ("listing", {"status": 200, "entries": 12, "articles": 0},
     "x: 12 listing links, none match the article patterns (https://u.example/r)"),
    ("listing", {"status": 200, "entries": 0, "articles": 0}, "x: listing https://u.example/r has no links to the site"),
    ("feed", {"status": 200, "entries": 0, "articles": 0, "error": "is not a feed (an HTML page)"},
     "x: feed https://u.example/r is not a feed (an HTML page)"),
    ("robots", {"status": 503, "error": "HTTP 503"}, "x: robots.txt https://u.example/r HTTP 503"),
    ("robots", {"status": 404, "error": "HTTP 404"}, None),      # no robots.txt: everything allowed
    ("feed", {"status": 200, "entries": 5, "articles": 5}, None),
    ("sitemap", {"status": 200, "entries": 3, "index": True}, None),
])
def test_route_problems_in_plain_words(kind, fields, problem):
    check = OutletCheck("x")
    route = check.add(kind, "https://u.example/r")
    for key, value in fields.items():
        setattr(route, key, value)
    assert route_problem(route, check) == problem


def test_a_sitemap_index_is_judged_by_its_sub_sitemaps():
    check = OutletCheck("x")
    index = check.add("sitemap", "https://x.example/index.xml", via="robots.txt")
    index.status, index.entries, index.index = 200, 2, True
    pages = check.add("sitemap", "https://x.example/page-sitemap.xml", via=index.url)
    pages.status, pages.entries, pages.articles = 200, 4, 0
    posts = check.add("sitemap", "https://x.example/post-sitemap.xml", via=index.url)
    posts.status, posts.entries, posts.articles = 200, 9, 0
    assert route_problem(pages, check) is None  # a sitemap of pages: normal
    assert route_problem(index, check) == ("x: sitemap index (robots.txt) https://x.example/index.xml: none of the 2 "
                                           "sitemaps followed from it lists a URL matching the article patterns")
    posts.articles = 9
    assert route_problem(index, check) is None


def _sample(extracted=True, outlet="x", **fields) -> Sample:
    sample = Sample(outlet, "https://x.example/news/a", "2024-07-26")
    if extracted:
        sample.status, sample.title, sample.words, sample.topic, sample.relevant = 200, "A", 120, 0.9, True
    for key, value in fields.items():
        setattr(sample, key, value)
    return sample


def test_verdict_an_outlet_is_broken_without_article_urls_or_without_an_extracted_sample():
    healthy = _check("healthy", feed={"status": 200, "entries": 3, "articles": 3})
    healthy.article_urls = 3
    healthy.samples = [_sample(False, "healthy", status=200, no_text="no-article-text"), _sample(outlet="healthy")]
    hollow = _check("hollow", feed={"status": 200, "entries": 3, "articles": 3})
    hollow.article_urls = 3
    hollow.samples = [_sample(False, "hollow", status=200, no_text="too-short"),
                      _sample(False, "hollow", status=404, error="HTTP 404")]
    dead = _check("dead", feed={"status": 404, "error": "HTTP 404"})
    bare = OutletCheck("bare")
    bare.add("robots", "https://bare.example/robots.txt").status = 200

    verdict = assess([healthy, hollow, dead, bare], 3)
    assert verdict["exit_code"] == exitcodes.DISCOVERY
    assert verdict["broken"] == ["hollow", "dead", "bare"]
    assert verdict["reason"] == "3 of 4 outlets yield no article: hollow, dead, bare"
    problems = verdict["problems"]
    assert "healthy: sample article https://x.example/news/a extracted no text (no-article-text)" in problems
    assert "hollow: none of 2 sample articles extracted any text" in problems
    assert "hollow: sample article https://x.example/news/a HTTP 404" in problems
    assert "dead: no route gives an article URL" in problems
    assert any(p.startswith("bare: no discovery route") for p in problems)

    assert assess([healthy], 3)["exit_code"] == exitcodes.OK
    # --samples 0: article URLs are enough
    hollow.samples = []
    assert assess([hollow], 0)["exit_code"] == exitcodes.OK
    assert assess([hollow], 1)["problems"][-1] == "hollow: no sample article was fetched"
    # interrupted wins over discovery
    stopped = assess([dead], 3, finish_reason="shutdown", interrupted_by="SIGTERM")
    assert stopped["exit_code"] == exitcodes.INTERRUPTED and "interrupted by SIGTERM" in stopped["reason"]


def test_table_and_json_say_the_same():
    check = _check("x", robots={"url": "https://x.example/robots.txt", "status": 200, "entries": 1,
                                "sitemaps": ["https://x.example/s.xml"]},
                   sitemap={"url": "https://x.example/s.xml", "via": "robots.txt", "status": 200, "entries": 0,
                            "articles": 0},
                   feed={"url": "https://x.example/feed/", "status": 200, "entries": 10, "articles": 8,
                         "newest": "2024-07-26T10:00:00+00:00", "final_url": "https://www.x.example/feed/"})
    check.article_urls = 8
    check.samples = [_sample(published="2024-07-25T00:00:00+00:00"),
                     _sample(False, status=200, no_text="too-short", url="https://x.example/news/b")]
    verdict = assess([check], 2)
    text = table([check], verdict)
    lines = text.splitlines()
    assert lines[0].split() == ["outlet", "kind", "url", "status", "entries", "articles", "newest"]
    assert lines[2].split() == ["x", "robots.txt", "https://x.example/robots.txt", "200", "1", "-", "-"]
    assert lines[3].split() == ["x", "sitemap", "(robots.txt)", "https://x.example/s.xml", "200", "0", "0", "-"]
    assert lines[4].split() == ["x", "feed", "https://x.example/feed/", "->", "https://www.x.example/feed/", "200",
                                "10", "8", "2024-07-26"]
    assert "samples" in lines
    assert any(line.split()[:6] == ["x", "https://x.example/news/a", "200", "2024-07-25", "120", "0.90"]
               for line in lines)
    assert any("(no text: too-short)" in line for line in lines)
    assert "  x: sitemap (robots.txt) https://x.example/s.xml has 0 entries" in lines
    assert lines[-1] == "1 outlet checked: 1 yield articles"
    data = json.loads(json.dumps(as_json([check], verdict)))
    assert data["exit_code"] == 0 and data["outlets"][0]["ok"]
    assert [r["label"] for r in data["outlets"][0]["routes"]] == ["robots.txt", "sitemap (robots.txt)", "feed"]
    assert data["outlets"][0]["problems"] == verdict["problems"]
    assert [s["extracted"] for s in data["outlets"][0]["samples"]] == [True, False]
