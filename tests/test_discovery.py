import gzip

from crawler.discovery import page_links, parse_feed, parse_sitemap, robots_sitemaps

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://x.org/post-sitemap.xml</loc><lastmod>2024-07-30T10:00:00+00:00</lastmod></sitemap>
  <sitemap><loc>/page-sitemap.xml</loc></sitemap>
</sitemapindex>"""

NEWS_SITEMAP = b"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://x.org/a-1</loc>
    <news:news><news:publication_date>2024-07-28T09:00:00+00:00</news:publication_date></news:news></url>
  <url><loc>https://x.org/b-2</loc><lastmod>2023-01-01</lastmod></url>
  <url><lastmod>2023-01-01</lastmod></url>
</urlset>"""

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>A</title><link>https://x.org/news/a.html/</link><pubDate>Wed, 03 Aug 2022 10:00:00 +0000</pubDate></item>
<item><title>B</title><guid>https://x.org/news/b.html/</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<entry><title>A</title><link rel="alternate" href="https://x.org/opinion/a"/><link rel="enclosure" href="https://x.org/a.jpg"/>
<updated>2016-07-28T00:00:00Z</updated><published>2016-07-27T00:00:00Z</published></entry>
<entry><title>B</title><link href="/opinion/b"/></entry></feed>"""


def test_sitemap_index_and_relative_locs():
    kind, entries = parse_sitemap(SITEMAP_INDEX, "https://x.org/sitemap_index.xml")
    assert kind == "index"
    assert [e.url for e in entries] == ["https://x.org/post-sitemap.xml", "https://x.org/page-sitemap.xml"]
    assert entries[0].lastmod == "2024-07-30T10:00:00+00:00" and entries[1].lastmod is None


def test_news_sitemap_publication_date_and_gzip():
    for body in (NEWS_SITEMAP, gzip.compress(NEWS_SITEMAP)):
        kind, entries = parse_sitemap(body, "https://x.org/sitemap_news.xml")
        assert kind == "urlset"
        assert [(e.url, e.published) for e in entries] == [
            ("https://x.org/a-1", "2024-07-28T09:00:00+00:00"), ("https://x.org/b-2", None)]
        assert entries[1].lastmod == "2023-01-01"


def test_broken_xml_gives_nothing_not_an_exception():
    assert parse_sitemap(b"<html><body>not a sitemap", "https://x.org/s.xml")[1] == []
    assert parse_feed(b"\x00\x01garbage", "https://x.org/feed") == []


def test_rss_and_atom_items():
    rss = parse_feed(RSS, "https://x.org/feed/")
    assert [e.url for e in rss] == ["https://x.org/news/a.html/", "https://x.org/news/b.html/"]
    assert rss[0].published.startswith("Wed, 03 Aug 2022")
    atom = parse_feed(ATOM, "https://x.org/feed.atom")
    assert [e.url for e in atom] == ["https://x.org/opinion/a", "https://x.org/opinion/b"]
    assert atom[0].published == "2016-07-27T00:00:00Z" and atom[0].lastmod == "2016-07-28T00:00:00Z"


def test_robots_sitemap_lines():
    text = "User-agent: *\nDisallow: /search/\nSitemap: https://x.org/s1.xml\nsitemap: /s2.xml\n"
    assert robots_sitemaps(text, "https://x.org/robots.txt") == ["https://x.org/s1.xml", "https://x.org/s2.xml"]


def test_page_links_absolute_unique_no_fragments_and_feeds():
    html = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/feed/"></head><body>
    <a href="/news/a.html/">a</a><a href="/news/a.html/#comments">again</a>
    <a href="?page=2">next</a><a href="mailto:x@y.z">mail</a><a href="https://other.org/x">out</a></body></html>"""
    links, feeds = page_links(html, "https://x.org/news/")
    assert links == ["https://x.org/news/a.html/", "https://x.org/news/?page=2", "https://other.org/x"]
    assert feeds == ["https://x.org/feed/"]
