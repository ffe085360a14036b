"""A listing or tag page is not an article: by its address (the registry) and by its content
(pipelines/extract/listing.py), checked on the replay web's pages and on ~970 real article pages."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from crawler.replay.server import DEFAULT_ROOT, ReplayServer
from pipelines.extract.listing import LISTING_REASON, listing_verdict

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"  # real pages; never copied into the repository
WEB = DEFAULT_ROOT

# The replay web's home, section, tag and search pages (URL -> file): all listings.
REPLAY_LISTINGS = {
    "https://www.intellinews.com/": "www.intellinews.com/index.html",
    "https://www.intellinews.com/tags/asean/": "www.intellinews.com/tags/asean/index.html",
    "https://www.intellinews.com/tags/asean/?page=2": "www.intellinews.com/tags/asean/index.html__page=2",
    "https://www.intellinews.com/tags/russia/": "www.intellinews.com/tags/russia/index.html",
    "https://www.intellinews.com/search/?q=asean": "www.intellinews.com/search/index.html__q=asean",
    "https://www.russia-briefing.com/": "www.russia-briefing.com/index.html",
    "https://www.russia-briefing.com/search/asean/": "www.russia-briefing.com/search/asean/index.html",
    "https://rsis.edu.sg/": "rsis.edu.sg/index.html",
    "https://rsis.edu.sg/rsis-publication/rsis/": "rsis.edu.sg/rsis-publication/rsis/index.html",
    "https://rsis.edu.sg/rsis-publication/rsis/page/2/": "rsis.edu.sg/rsis-publication/rsis/page/2/index.html",
    "https://rsis.edu.sg/rsis-publication/rsis/page/3/": "rsis.edu.sg/rsis-publication/rsis/page/3/index.html",
    "https://ca.finance.yahoo.com/": "ca.finance.yahoo.com/index.html",
    "https://ca.finance.yahoo.com/news/": "ca.finance.yahoo.com/news/index.html",
    "https://russia-direct.org/": "russia-direct.org/index.html",
    "https://russia-direct.org/opinion": "russia-direct.org/opinion/index.html",
    "https://russia-direct.org/analysis": "russia-direct.org/analysis/index.html",
    "https://russia-direct.org/tags/asean": "russia-direct.org/tags/asean",
    "https://russia-direct.org/tags/asean?page=1": "russia-direct.org/tags/asean__page=1",
}


def _replay_articles() -> list[Path]:
    out = []
    for path in WEB.rglob("*"):
        if path.is_file() and not path.name.endswith(".json") and b'"NewsArticle"' in path.read_bytes()[:200_000]:
            out.append(path)
    return sorted(out)


def _url_of(path: Path) -> str:
    rel = path.relative_to(WEB)
    tail = "/".join(rel.parts[1:]).split("~v")[0]
    return f"https://{rel.parts[0]}/" + re.sub(r"(^|/)index\.html$", r"\1", tail)


# --- the pure function ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", sorted(REPLAY_LISTINGS))
def test_replay_home_section_and_tag_pages_are_listings(url):
    verdict = listing_verdict((WEB / REPLAY_LISTINGS[url]).read_bytes(), url)
    assert verdict.listing, verdict


def test_replay_articles_are_not_listings_even_without_their_metadata():
    articles = _replay_articles()
    assert len(articles) >= 45
    for path in articles:
        html = path.read_bytes()
        assert not listing_verdict(html, _url_of(path)).listing, path
        # the content alone (no JSON-LD, no og:type) still reads as an article: it has running text
        verdict = listing_verdict(_strip_metadata(html), _url_of(path))
        assert not verdict.listing and verdict.reason != "declares an article", (path, verdict)


def _page(main: str, head: str = "") -> str:
    nav = "".join(f'<li><a href="/section-{i}/">Section number {i} of the site</a></li>' for i in range(30))
    return (f"<html><head><title>T</title>{head}</head><body><header><nav><ul>{nav}</ul></nav></header>"
            f"<main>{main}</main><footer><a href='/about/'>About us and our team</a></footer></body></html>")


TEASERS = "".join(
    f'<div class="item"><h3><a href="/asia/story-number-{i}-about-asean-and-russia">Story number {i} about '
    f'ASEAN and Russia ties</a></h3><p>A one-sentence summary of the story, as listings give it.</p>'
    f'<span>3 hours ago</span></div>' for i in range(12))
BODY = "".join(f"<p>{'Lavrov met the ASEAN foreign ministers in Vientiane and spoke at length. ' * 6}</p>"
               for _ in range(6))


def test_teasers_without_running_text_are_a_listing():
    verdict = listing_verdict(_page(TEASERS), "https://news.example.org/asia")
    assert verdict.listing and verdict.teasers == 12 and verdict.longest_run < 40, verdict


def test_an_article_with_a_list_of_related_stories_is_not_a_listing():
    verdict = listing_verdict(_page("<h1>Lavrov in Vientiane</h1>" + BODY + TEASERS), "https://news.example.org/asia/a")
    assert not verdict.listing and verdict.reason == "running text", verdict
    # inline links inside the paragraphs do not break the running text
    linked = BODY.replace("spoke at length", '<a href="/asia/lavrov-spoke-at-length-on-monday">spoke at length</a>')
    assert not listing_verdict(_page(linked + TEASERS), "https://news.example.org/asia/b").listing


def test_what_a_page_declares_weighs():
    article_ld = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "x"}</script>'
    assert listing_verdict(_page(TEASERS, article_ld), "https://news.example.org/asia").reason == "declares an article"
    og_article = '<meta property="og:type" content="article"><meta property="article:published_time" content="2024-07-28">'
    assert not listing_verdict(_page(TEASERS, og_article), "https://news.example.org/asia").listing
    # a section page that describes each of its teasers as a NewsArticle is still a listing
    many = "".join(f'<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "h{i}"}}</script>'
                   for i in range(5))
    assert listing_verdict(_page(TEASERS, many), "https://news.example.org/asia").listing
    # a declared collection with a longer introduction is a listing too
    collection = '<script type="application/ld+json">{"@graph": [{"@type": "CollectionPage"}, {"@type": "WebSite"}]}</script>'
    intro = "<p>" + "This page collects our coverage of Russia and Southeast Asia over the years. " * 8 + "</p>"
    assert not listing_verdict(_page(intro + TEASERS), "https://news.example.org/asia").listing
    assert listing_verdict(_page(intro + TEASERS, collection), "https://news.example.org/asia").listing


def test_links_to_other_sites_and_short_links_are_not_teasers():
    other = TEASERS.replace('href="/asia/', 'href="https://elsewhere.example.com/asia/')
    assert listing_verdict(_page(other), "https://news.example.org/asia").teasers == 0
    assert listing_verdict(_page('<a href="/a/1">One</a> <a href="/a/2">Two</a>'), "https://news.example.org/").teasers == 0
    assert listing_verdict(b"", "https://news.example.org/").listing is False
    assert listing_verdict("<html></html>", "https://news.example.org/").listing is False


def _real_pages():
    manifest = DATA / "fundus-pages" / "manifest.jsonl"
    wcxb = DATA / "wcxb-dev" / "ground-truth"
    if not manifest.is_file() or not wcxb.is_dir():
        pytest.skip("../shared/data/fundus-pages or wcxb-dev absent")
    for line in manifest.read_text("utf-8").splitlines():
        row = json.loads(line)
        yield row["file"], row["url"], gzip.decompress((DATA / "fundus-pages" / row["file"]).read_bytes())
    for truth in sorted(wcxb.glob("*.json")):
        url = json.loads(truth.read_text("utf-8"))["url"]
        yield truth.stem, url, gzip.decompress((DATA / "wcxb-dev" / "html" / f"{truth.stem}.html.gz").read_bytes())


def test_real_article_pages_are_not_listings():
    """False-positive rate on the real article pages of fundus-pages and wcxb-dev (all articles)."""
    pages = list(_real_pages())
    called = [(name, url, v) for name, url, html in pages if (v := listing_verdict(html, url)).listing]
    print(f"\nreal article pages called listings: {len(called)} of {len(pages)} "
          f"({100 * len(called) / len(pages):.2f}%)")
    assert len(pages) >= 900
    assert not called, called
    # The content alone (JSON-LD and og:type/date metas removed, as on the many listing pages that
    # declare nothing) must still read as an article almost always.
    bare = [(name, url, v) for name, url, html in pages if (v := listing_verdict(_strip_metadata(html), url)).listing]
    print(f"... with their metadata removed: {len(bare)} of {len(pages)} ({100 * len(bare) / len(pages):.2f}%)")
    assert len(bare) <= 3, bare


def _strip_metadata(html: bytes) -> bytes:
    html = re.sub(rb"<script[^>]*application/ld\+json[^>]*>.*?</script>", b"", html, flags=re.S | re.I)
    return re.sub(rb"<meta[^>]*(og:type|published_time|datePublished|pubdate|dc\.date)[^>]*>", b"", html, flags=re.I)


# --- end to end: `corpus fetch` --------------------------------------------------------------------

def _outcome(stdout: str, url: str) -> str:
    for line in stdout.splitlines():
        row = json.loads(line)
        if url in (row.get("url"), row.get("requested_url")):
            return row["outcome"]
    raise AssertionError(f"{url} not in output: {stdout}")


def test_fetch_skips_a_registry_listing_by_its_address(replay, corpus_cmd, tmp_path):
    urls = ["https://intellinews.com/tags/asean/", "https://www.intellinews.com/tags/russia/?page=2",
            "https://www.intellinews.com/feed/?utm_source=x", "https://rsis.edu.sg/rsis-publication/rsis/page/2/",
            "https://www.russia-briefing.com/about-us/"]
    res = corpus_cmd("fetch", "--json", "--replay", replay.url, "--store", tmp_path / "s", *urls)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    for url in urls[:4]:
        assert _outcome(res.stdout, url) == f"skipped: {LISTING_REASON}", url
    paths = [h.path for h in replay.requests]
    assert not [p for p in paths if "/tags/" in p or "/feed/" in p or "/page/" in p], paths
    # an owned address the article patterns do not know is still fetched: a person asked for it
    assert "/about-us/" in paths
    assert _outcome(res.stdout, urls[4]) != f"skipped: {LISTING_REASON}"
    assert not list((tmp_path / "s" / "corpus").glob("docs/*.json"))


def test_fetch_drops_a_listing_page_by_its_content(corpus_cmd, tmp_path):
    """A section page with the address shape of a short article (the registry cannot tell) is fetched,
    and its content says it is a listing."""
    root = tmp_path / "web"
    page = root / "www.straitstimes.com" / "asia" / "se-asia"
    page.parent.mkdir(parents=True)
    html = (WEB / "www.intellinews.com" / "tags" / "asean" / "index.html").read_text("utf-8")
    page.write_text(html.replace("https://www.intellinews.com", "https://www.straitstimes.com"), "utf-8")
    article = root / "test.example.net" / "article" / "index.html"
    article.parent.mkdir(parents=True)
    article.write_bytes((REPO / "tests" / "web" / "test.example.net" / "article" / "index.html").read_bytes())
    url = "https://www.straitstimes.com/asia/se-asia"
    with ReplayServer([root]) as server:
        res = corpus_cmd("fetch", "--json", "--replay", server.url, "--store", tmp_path / "s", url,
                         "https://test.example.net/article/")
        assert [h.path for h in server.requests if h.host == "www.straitstimes.com" and h.path != "/robots.txt"] == [
            "/asia/se-asia"]
    assert _outcome(res.stdout, url) == f"skipped: {LISTING_REASON}", res.stdout + res.stderr[-2000:]
    assert _outcome(res.stdout, "https://test.example.net/article/") == "new"
    docs = list((tmp_path / "s" / "corpus").glob("docs/*.json"))
    assert len(docs) == 1 and "straitstimes" not in docs[0].read_text()


def test_try_extract_finds_no_article_on_the_replay_listings_and_keeps_every_replay_article():
    """try_extract alone (a library caller, the check spider) keeps listings out too: trafilatura's fast mode
    keeps a home page's teaser summaries, and under a few hundred prose words the listing check decides."""
    from pipelines.extract.extractor import try_extract

    for url, file in sorted(REPLAY_LISTINGS.items()):
        result = try_extract((WEB / file).read_bytes(), url)
        assert result.document is None, (url, result.document and result.document.text[:200])
    for path in _replay_articles():
        assert try_extract(path.read_bytes(), _url_of(path)).document is not None, path
