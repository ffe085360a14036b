"""Replay web server: path mapping, versions, conditional GETs, sidecars; and the integrity of the replay site."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lxml import html as lxml_html

from crawler.replay.server import DEFAULT_ROOT, ReplayServer, content_type_for

TEST_WEB = Path(__file__).parent / "web"
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NEWS_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "OpinionNewsArticle"}
REDIRECTING_HOSTS = {"intellinews.com", "www.rsis.edu.sg"}  # 301 to the live hosts, like the real sites


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@pytest.fixture(scope="module")
def server():
    with ReplayServer([DEFAULT_ROOT, TEST_WEB]) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _epoch_one(server):
    server.epoch = 1
    yield
    server.epoch = 1


def fetch(server: ReplayServer, url: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(server.url_for(url), method=method, headers=headers)
    try:
        with _opener.open(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


# --- server behaviour -------------------------------------------------------------------------------

def test_hosts_and_url(server):
    assert {"www.intellinews.com", "www.russia-briefing.com", "rsis.edu.sg", "ca.finance.yahoo.com",
            "russia-direct.org", "www.scmp.com", "www.asiaone.com", "test.example.net"} <= server.hosts
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)


def test_host_path_and_index_mapping(server):
    status, headers, body = fetch(server, "https://test.example.net/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (TEST_WEB / "test.example.net/index.html").read_bytes()
    # a folder without the trailing slash also serves its index.html
    assert fetch(server, "https://test.example.net/nav-only")[2] == fetch(server, "https://test.example.net/nav-only/")[2]


def test_query_maps_to_suffixed_file(server):
    status, _, body = fetch(server, "https://test.example.net/list/?page=2")
    assert status == 200 and body == (TEST_WEB / "test.example.net/list/index.html__page=2").read_bytes()
    assert fetch(server, "https://test.example.net/list/?page=3")[0] == 404


def test_binary_types(server):
    status, headers, body = fetch(server, "https://test.example.net/report.pdf")
    assert status == 200 and headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")
    status, headers, body = fetch(server, "https://test.example.net/logo.png")
    assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert content_type_for("feed/atom/index.html~v2") == "text/html; charset=utf-8"
    assert content_type_for("sitemap.xml__page=2") == "application/xml"


def test_versions_follow_epoch(server):
    v1 = fetch(server, "https://test.example.net/article/")
    assert b"first version" in v1[2] and fetch(server, "https://test.example.net/only-v2/")[0] == 404
    server.epoch = 2
    v2 = fetch(server, "https://test.example.net/article/")
    assert b"second version" in v2[2] and v2[1]["ETag"] != v1[1]["ETag"]
    assert v2[1]["Last-Modified"] == "Sat, 27 Jul 2024 08:00:00 GMT"
    assert fetch(server, "https://test.example.net/only-v2/")[0] == 200
    server.epoch = 5  # highest version <= epoch
    assert b"second version" in fetch(server, "https://test.example.net/article/")[2]


def test_conditional_requests(server):
    status, headers, _ = fetch(server, "https://test.example.net/article/")
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    status, _, body = fetch(server, "https://test.example.net/article/", **{"If-None-Match": etag})
    assert status == 304 and body == b""
    assert fetch(server, "https://test.example.net/article/", **{"If-Modified-Since": last_modified})[0] == 304
    assert fetch(server, "https://test.example.net/article/", **{"If-None-Match": '"other"'})[0] == 200
    server.epoch = 2  # the article changed: the old validator no longer matches
    assert fetch(server, "https://test.example.net/article/", **{"If-None-Match": etag})[0] == 200
    hits = [h for h in server.requests if h.path == "/article/" and h.conditional]
    assert [h.status for h in hits[-4:]] == [304, 304, 200, 200]


def test_sidecar_status_and_headers(server):
    status, headers, _ = fetch(server, "https://test.example.net/redirect-private/")
    assert status == 302 and headers["Location"] == "http://127.0.0.1:9/x"
    status, headers, _ = fetch(server, "https://test.example.net/busy/")
    assert status == 503 and headers["Retry-After"] == "2"
    assert fetch(server, "https://test.example.net/gone/")[0] == 410
    status, headers, body = fetch(server, "https://test.example.net/cp1251/")
    assert headers["Content-Type"] == "text/html" and "Лавров".encode("cp1251") in body


def test_missing_and_hidden_files_are_404(server):
    for url in ["https://test.example.net/nope.html", "https://nohost.example/", "https://test.example.net/../web/x",
                "https://test.example.net/busy/index.html.meta.json", "https://test.example.net/article/index.html~v2"]:
        status, headers, body = fetch(server, url)
        assert status == 404 and b"Not Found" in body, url


def test_head_and_request_log(server):
    server.requests.clear()
    status, headers, body = fetch(server, "https://test.example.net/report.pdf", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 100
    assert server.requests == [("HEAD", "test.example.net", "/report.pdf", 200, False)]


# --- the replay site ------------------------------------------------------------------------------

def _article_files() -> list[Path]:
    out = []
    for root in (DEFAULT_ROOT, TEST_WEB):
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.name.endswith(".meta.json") and content_type_for(p.name).startswith("text/html"):
                raw = p.read_bytes()
                if b'"NewsArticle"' in raw:
                    out.append(p)
    return out


def _jsonld(doc) -> list[dict]:
    items = []
    for node in doc.xpath('//script[@type="application/ld+json"]'):
        data = json.loads(node.text)
        items += data if isinstance(data, list) else [data]
    return items


def test_every_article_parses_with_date():
    files = _article_files()
    assert len(files) >= 45
    for path in files:
        doc = lxml_html.document_fromstring(path.read_bytes())
        assert doc.findtext(".//title"), path
        news = [d for d in _jsonld(doc) if d.get("@type") in NEWS_TYPES]
        assert news and re.match(r"\d{4}-\d{2}-\d{2}", news[0]["datePublished"]), path
        if DEFAULT_ROOT in path.parents:
            assert doc.xpath('//link[@rel="canonical"]/@href'), path


def test_seed_bodies_are_on_their_pages(server):
    """Every body paragraph of a seed's raw text appears on its replay page."""
    pages = {"000": "https://www.intellinews.com/lavrov-presses-the-flesh-at-asean-summit-as-kremlin-seeks-to-deepen-ties-with-asia-335684",
             "001": "https://www.russia-briefing.com/news/russia-s-foreign-minister-to-meet-with-asean-leaders-analysis.html/",
             "002": "https://rsis.edu.sg/rsis-publication/rsis/russia-and-southeast-asia-what-lavrovs-july-visits-mean/",
             "003": "https://ca.finance.yahoo.com/news/russia-china-join-forces-southeast-093000673.html",
             "004": "https://russia-direct.org/opinion/russia-pursues-security-architecture-east-asia"}
    if not SEEDS.is_dir():
        pytest.skip("seeds/ absent")
    for num, url in pages.items():
        status, _, body = fetch(server, url)
        assert status == 200, url
        text = " ".join(lxml_html.document_fromstring(body).text_content().split())
        seed = next(SEEDS.glob(f"{num}_*.txt")).read_text("utf-8")
        long_lines = [" ".join(l.split()) for l in seed.split("\n") if len(l.split()) > 25]
        assert long_lines and all(l in text for l in long_lines), num


def _listed_urls() -> list[str]:
    urls = []
    for path in DEFAULT_ROOT.rglob("*"):
        if not path.is_file() or path.name.endswith(".meta.json"):
            continue
        head = path.read_bytes()[:200]
        if not head.startswith(b"<?xml"):
            continue
        root = ET.fromstring(path.read_bytes())
        for el in root.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "loc" or (tag == "link" and el.text and el.text.strip()) or tag == "guid":
                urls.append(el.text.strip())
            elif tag == "link" and el.get("href") and el.get("rel") in ("alternate", "self"):
                urls.append(el.get("href"))
    return sorted(set(urls))


@pytest.mark.parametrize("epoch", [1, 2])
def test_every_url_in_sitemaps_and_feeds_exists(server, epoch):
    server.epoch = epoch
    urls = _listed_urls()
    assert len(urls) >= 45
    missing = [u for u in urls if fetch(server, u)[0] != 200]
    assert not missing


def test_robots_files_have_rules_and_sitemaps_exist(server):
    for host in server.hosts - {"test.example.net"} - REDIRECTING_HOSTS:
        status, _, body = fetch(server, f"https://{host}/robots.txt")
        text = body.decode()
        assert status == 200 and "Disallow: /" in text, host
        for line in text.splitlines():
            if line.startswith("Sitemap:"):
                assert fetch(server, line.split(":", 1)[1].strip())[0] == 200, line


def test_changing_article_differs_between_epochs(server):
    url = "https://www.russia-briefing.com/news/russia-asean-trade-outlook-2025.html/"
    v1 = fetch(server, url)[2]
    server.epoch = 2
    v2 = fetch(server, url)[2]
    assert v1 != v2 and b"2025-03-03T11:20:00+03:00" in v2 and b"2025-03-03" not in v1
    sitemap = fetch(server, "https://www.russia-briefing.com/post-sitemap2.xml")[2]
    assert b"2025-03-03T11:20:00+03:00" in sitemap


def test_bare_hosts_redirect_to_the_live_hosts_like_the_real_sites(server):
    seed = "lavrov-presses-the-flesh-at-asean-summit-as-kremlin-seeks-to-deepen-ties-with-asia-335684"
    status, headers, _ = fetch(server, f"https://intellinews.com/{seed}")
    assert status == 301 and headers["Location"] == f"https://www.intellinews.com/{seed}"
    status, headers, _ = fetch(server, "https://intellinews.com/tags/asean/?page=2")
    assert status == 301 and headers["Location"] == "https://www.intellinews.com/tags/asean/?page=2"
    status, headers, _ = fetch(server, "https://www.rsis.edu.sg/rsis-publication/rsis/")
    assert status == 301 and headers["Location"] == "https://rsis.edu.sg/rsis-publication/rsis/"
    assert fetch(server, headers["Location"])[0] == 200
    assert fetch(server, "https://intellinews.com/.meta.json")[0] != 200  # the host sidecar itself is never served


def test_tracking_parameters_are_ignored_like_a_real_site_does(server):
    url = "https://www.russia-briefing.com/news/russia-asean-trade-outlook-2025.html/"
    plain = fetch(server, url)
    assert plain[0] == 200
    assert fetch(server, url + "?utm_source=rss_feed&utm_medium=rss")[2] == plain[2]
    assert fetch(server, "https://ca.finance.yahoo.com/news/russia-china-join-forces-southeast-093000673.html?.tsrc=rss")[0] == 200
    # a meaningful parameter is not ignored, and tracking ones stay ignored beside it
    assert fetch(server, "https://test.example.net/list/?page=2&utm_campaign=x")[2] == fetch(server, "https://test.example.net/list/?page=2")[2]
    assert fetch(server, "https://test.example.net/list/?page=3&utm_campaign=x")[0] == 404
