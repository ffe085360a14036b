"""INDEX.md carries page-derived text as text: rendered by a real Markdown renderer (markdown-it-py, GFM-like:
tables, raw HTML on, linkify on), no hostile title or URL becomes an HTML element or a link."""
from __future__ import annotations

import html
import json

import pytest
from markdown_it import MarkdownIt

from pipelines.corpus.layout import Corpus
from pipelines.corpus.markdown import md_code, md_link, md_plain, md_text
from pipelines.corpus.record import text_sha256
from pipelines.store import open_store

HOSTILE_TITLES = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script> News",
    "</td></tr></table><iframe src=https://evil.example/>",
    "<!-- hidden --> comment",
    "[Click here](javascript:alert(1))",
    "![pixel](https://evil.example/track.png)",
    "[ref][1]\n\n[1]: https://evil.example/",
    "<https://evil.example/autolink>",
    "Read https://evil.example/a and www.evil.example and evil.example/x or mail a@evil.example",
    "AT&T &amp; &#60;b&#62; &lt;i&gt; &#x3C;svg onload=alert(1)&#x3E;",
    "A | pipe | title\nwith a newline\r\nand\ttab",
    "**bold** _em_ `code` ~~strike~~ $x^2$ \\escaped\\",
    "# Heading in a title",
    "- list item title",
    "+ plus item",
    "> quoted title",
    "1. numbered title",
    "2024) numbered title",
    "===",
    "Bidi \u202ereversed\u202c and \x00 NUL \x07 bell \x1b[31m escape",
    "",
]
ORDINARY_TITLES = [
    "Lavrov meets ASEAN ministers in Vientiane",
    "Лавров и АСЕАН: новая повестка",
    "Việt Nam – Nga hợp tác năng lượng",
    "ロシアとASEAN、エネルギー協力で合意",
    "Russia's pivot to Asia, five years on",
    "Why ASEAN can't ignore Moscow: an analysis",
]
HOSTILE_URLS = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://example.org/a b (c) <d> |e| `f`",
    "http://example.org/a)](javascript:alert(1))",
    "https://bücher.de/ü?q=<x>",
    "ftp://example.org/file",
    "http://[bad/",
]

RENDERER = MarkdownIt("gfm-like")  # commonmark + tables + strikethrough + linkify, raw HTML allowed


def _record(i: int, title, url: str) -> dict:
    doc_id = f"{i:016x}"
    return {"id": doc_id, "url": url, "canonical_url": url, "outlet": "example.org", "title": title,
            "authors": [], "published": f"2024-07-{1 + i % 28:02d}", "language": "en", "text": f"Text {i}.",
            "text_sha256": text_sha256(f"Text {i}."), "fetched_at": "2024-07-29T10:15:00+00:00",
            "http_status": 200, "etag": None, "last_modified": None, "extractor": {"name": "test"},
            "duplicate_of": None, "also_at": []}


def _walk(tokens):
    for tok in tokens:
        yield tok
        yield from _walk(tok.children or [])


def _check_rendered(index: str, allowed_links: set[str]) -> list:
    tokens = RENDERER.parse(index)
    kinds = {t.type for t in _walk(tokens)}
    assert not kinds & {"html_inline", "html_block", "image"}, kinds
    hrefs = {t.attrs.get("href") for t in _walk(tokens) if t.type == "link_open"}
    assert hrefs <= allowed_links, hrefs - allowed_links
    out = RENDERER.render(index)
    assert "<img" not in out and "<script" not in out and "<iframe" not in out
    assert all(h.startswith(("http://", "https://")) for h in hrefs)
    return tokens


def _cells(tokens) -> list[list[str]]:
    """The text of each body row's cells, as a reader sees it."""
    rows, row, in_body, cell = [], None, False, None
    for tok in tokens:
        if tok.type == "tbody_open":
            in_body = True
        elif in_body and tok.type == "tr_open":
            row = []
        elif in_body and tok.type == "tr_close":
            rows.append(row)
        elif in_body and tok.type == "inline":
            row.append("".join(c.content for c in tok.children
                               if c.type in ("text", "code_inline", "text_special", "softbreak")))
    return rows


def test_hostile_and_ordinary_titles_render_as_their_text(tmp_path):
    titles = HOSTILE_TITLES + ORDINARY_TITLES
    recs = [_record(i, t, f"https://example.org/a/{i}") for i, t in enumerate(titles)]
    corpus = Corpus(open_store(tmp_path / "store"))
    for rec in recs:
        corpus.put(rec)
    corpus.write_index()
    index = (tmp_path / "store" / "corpus" / "INDEX.md").read_text("utf-8")
    tokens = _check_rendered(index, {r["url"] for r in recs})
    rows = _cells(tokens)
    assert len(rows) == len(titles) and all(len(r) == 6 for r in rows)  # no title split or added a cell
    shown = {row[0]: row[3] for row in rows}
    for rec in recs:
        expected = " ".join(rec["title"].split())
        for ch in "\x00\x07\x1b\u202e\u202c":
            expected = expected.replace(ch, "")
        assert shown[rec["id"]] == expected, rec["title"]
    for title in ORDINARY_TITLES:  # ordinary titles read as they are in the file itself
        assert f"| {title} |" in index.replace("\\'", "'")


def test_only_http_urls_become_links_with_encoded_targets(tmp_path):
    recs = [_record(i, f"Story {i}", u) for i, u in enumerate(HOSTILE_URLS)]
    index = Corpus(open_store(tmp_path / "store")).render_index(recs).decode("utf-8")
    allowed = {"https://example.org/a%20b%20%28c%29%20%3Cd%3E%20%7Ce%7C%20%60f%60",
               "http://example.org/a%29%5D%28javascript:alert%281%29%29",
               "https://xn--bcher-kva.de/%C3%BC?q=%3Cx%3E"}
    tokens = _check_rendered(index, allowed)
    hrefs = {t.attrs["href"] for t in _walk(tokens) if t.type == "link_open"}
    assert hrefs == allowed
    rows = _cells(tokens)
    assert all(len(r) == 6 for r in rows)
    by_id = {row[0]: row[4] for row in rows}
    assert by_id[f"{0:016x}"] == "javascript:alert(1)"  # shown as text, not a link
    assert by_id[f"{5:016x}"] == "ftp://example.org/file"


def test_cluster_section_is_escaped_too(tmp_path):
    head = _record(1, "<b>Head</b> [x](javascript:alert(1))", "https://example.org/a/1")
    copy = _record(2, "Copy <img src=x onerror=alert(1)>", "javascript:alert(2)")
    head["also_at"] = [{"id": copy["id"], "url": copy["url"], "outlet": "<i>evil</i>"}]
    copy["duplicate_of"] = head["id"]
    index = Corpus(open_store(tmp_path / "store")).render_index([head, copy]).decode("utf-8")
    assert "## Near-duplicate clusters" in index
    _check_rendered(index, {"https://example.org/a/1"})
    assert "also at `0000000000000002` &lt;i&gt;evil&lt;/i&gt;: Copy &lt;img" in index


@pytest.mark.parametrize("text", HOSTILE_TITLES + ORDINARY_TITLES)
def test_md_text_is_one_line_of_literal_text(text):
    out = md_text(text)
    assert "\n" not in out and "\r" not in out
    rendered = RENDERER.renderInline(out)
    assert "<" not in rendered.replace("&lt;", "")  # no element at all, not even <a> or <em>
    expected = " ".join(text.split())
    for ch in "\x00\x07\x1b\u202e\u202c":
        expected = expected.replace(ch, "")
    assert html.unescape(rendered) == expected


def test_helpers():
    assert md_code("0123abcd") == "`0123abcd`" and md_code("a`b") == "a\\`b"
    assert md_plain("gone (HTTP 410)") == "gone (HTTP 410)" and md_plain("<b>") == "&lt;b&gt;"
    assert md_link("") == "" and md_link(None) == ""
    assert md_link("https://example.org/a") == "<https://example.org/a>"
    assert md_text("Lavrov & Việt Nam") == "Lavrov & Việt Nam"  # a lone '&' stays readable


def test_fetched_page_with_a_hostile_title_end_to_end(corpus_cmd, tmp_path):
    """`corpus fetch` of a page whose title is markup: the record keeps the title as written, INDEX.md
    shows it as text."""
    from crawler.replay.server import ReplayServer

    # a pipe inside the words (a spaced " | Section" ending is a site label and is cut from titles)
    title = "&lt;img src=x onerror=alert(1)&gt; [Lavrov|ASEAN](javascript:alert(1)) talks"
    pars = "".join(f"<p>Paragraph {i}: ASEAN ministers met Russian officials in Vientiane to discuss trade, energy "
                   "and security in the region this year.</p>" for i in range(6))
    page = tmp_path / "web" / "xss.example.org" / "story.html"
    page.parent.mkdir(parents=True)
    page.write_text(f"<html><head><title>{title}</title></head><body><article>{pars}</article></body></html>")
    store = tmp_path / "store"
    with ReplayServer([tmp_path / "web"]) as server:
        res = corpus_cmd("fetch", "--any-topic", "--replay", server.url, "--store", store,
                         "https://xss.example.org/story.html")
    assert res.returncode == 0, res.stderr[-2000:]
    (doc,) = (store / "corpus" / "docs").glob("*.json")
    record = json.loads(doc.read_text())
    assert record["title"] == html.unescape(title)
    index = (store / "corpus" / "INDEX.md").read_text("utf-8")
    tokens = _check_rendered(index, {"https://xss.example.org/story.html"})
    (row,) = _cells(tokens)
    assert row[3] == record["title"]
