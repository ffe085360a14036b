"""page_metadata: title, authors and date rules on small hand-written pages, and the measured accuracy on
the development sets (../shared/data/wcxb-dev and fundus-pages; skipped where absent)."""

import json
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from pipelines.extract.metadata import page_metadata


def meta(head: str = "", body: str = "", url: str = "https://www.example-news.com/a/1") -> dict:
    return page_metadata(load_html(f"<html><head>{head}</head><body>{body}<p>{'Text. ' * 40}</p></body></html>"),
                         url)


def test_site_name_stripped_from_title():
    m = meta('<title>Rice prices climb in Hanoi | Example News</title>'
             '<meta property="og:site_name" content="Example News">')
    assert m["title"] == "Rice prices climb in Hanoi"
    # the domain names the site when og:site_name is missing
    assert meta("<title>Rice prices climb in Hanoi - ExampleNews</title>",
                url="https://www.examplenews.org/x")["title"] == "Rice prices climb in Hanoi"
    # a dash inside the headline stays
    assert meta("<title>Laos - Thailand rail link opens</title>")["title"] == "Laos - Thailand rail link opens"


def test_a_headline_starting_with_the_sites_name_or_a_title_as_site_name_keeps_its_start():
    # wcxb-dev corti.ai: "Corti introduces GIM: ..." lost its start as if "Corti introduces GIM" named the site
    ld = ('<script type="application/ld+json">{"@type":"Article","headline":"Corti introduces GIM: a method for '
          'reading AI models","publisher":{"@type":"Organization","name":"Corti"}}</script>')
    title = "Corti introduces GIM: a method for reading AI models"
    assert meta(ld + f"<title>{title} | Corti</title>", f"<h1>{title}</h1>",
                url="https://www.corti.ai/stories/gim")["title"] == title
    # ...while "Site: Headline" still loses the site's name
    assert meta("<title>Example News: Rice prices climb in Hanoi</title>"
                '<meta property="og:site_name" content="Example News">')["title"] == "Rice prices climb in Hanoi"
    # wcxb-dev clay.global: og:site_name holds the page's title, which is no site's name
    title = "How to Design a Website: a Complete Guide for 2026"
    head = f'<title>{title} | Clay</title><meta property="og:site_name" content="{title} | Clay">'
    assert meta(head, f"<h1>{title}</h1>", url="https://clay.global/blog/web-design-guide")["title"] == title
    # wcxb-dev davidbau.com: the domain before the headline, no separator; a dotted word of a headline stays
    assert meta("<title>davidbau.com Vibe Coding at home</title>", "<h1><a href='/'>davidbau.com</a></h1>",
                url="https://davidbau.com/archives/vibe.html")["title"] == "Vibe Coding at home"
    assert meta("<title>Node.js gains a permission model</title>",
                url="https://nodejs.org/en/blog/a")["title"] == "Node.js gains a permission model"


def test_section_after_pipe_dropped():
    assert meta("<title>How meditation rewires brains | Opinion | Example News</title>",
                "<h1>How meditation rewires brains | Opinion</h1>")["title"] == "How meditation rewires brains"


def test_logo_h1_skipped_and_headline_h1_taken():
    head = ('<title>Rice prices climb in Hanoi | Example News</title>'
            '<meta property="og:site_name" content="Example News">')
    body = '<h1 class="site-title">Example News</h1><h1 class="entry-title">Rice prices climb in Hanoi</h1>'
    assert meta(head, body)["title"] == "Rice prices climb in Hanoi"
    # a visible headline that shares nothing with an SEO <title> is the headline
    body = "<h1>Farmers in the Mekong delta brace for a dry season</h1>"
    assert meta("<title>Mekong drought 2025 guide</title>", body)["title"].startswith("Farmers in the Mekong")


def test_a_one_word_h1_is_no_match_for_a_title_holding_that_word():
    """A gist page (real, wcxb): its markdown's <h1>s come after the file name; "Discord" is one word of the
    title, not the headline."""
    head = ('<title>How we pwned X, Vercel, Cursor, Discord, and hundreds of companies · GitHub</title>'
            '<meta property="og:title" content="How we pwned X, Vercel, Cursor, Discord, and hundreds of companies">')
    body = "<h1>hackermondev/writeup.md</h1><h1>Discord</h1>"
    assert meta(head, body, "https://gist.github.com/hackermondev/1")["title"] == (
        "How we pwned X, Vercel, Cursor, Discord, and hundreds of companies")
    # a one-word headline whose title adds a section behind a separator is that headline
    assert meta('<meta property="og:title" content="Myanmar | Opinion">', "<h1>Myanmar</h1>")["title"] == "Myanmar"
    assert meta("<title>Myanmar - Opinion - Example News</title>", "<h1>Myanmar</h1>")["title"] == "Myanmar"


def test_a_headline_cut_short_in_json_ld_is_taken_whole_from_og_title():
    """SEO plugins cut a JSON-LD headline at 110 characters ("... (Including"); og:title has it whole."""
    whole = ("Fix It Friday: Struggling With How To Arrange Your Living Room? We Help 4 Readers Find Solutions"
             " (Including One Universal Trick That 9/10 Works)")
    cut = whole[:whole.index(" One")]
    head = (f'<script type="application/ld+json">{{"@type":"BlogPosting","headline":"{cut}"}}</script>'
            f'<meta property="og:title" content="{whole} - Emily Henderson">'
            '<meta property="og:site_name" content="Emily Henderson">')
    assert meta(head, "", "https://stylebyemilyhenderson.com/blog/fix-it-friday")["title"] == whole
    # cut inside a word, or with an ellipsis
    whole = ("Sanctions bite as ASEAN ports weigh the cost of Russian oil and the payment systems in landmark"
             " agreements this year")
    for cut in (whole[:100], whole[:30] + "...", whole[:31] + "…"):
        head = (f'<script type="application/ld+json">{{"@type":"NewsArticle","headline":"{cut}"}}</script>'
                f'<meta property="og:title" content="{whole}">')
        assert meta(head, "<h1>News</h1>")["title"] == whole, cut
    # a short headline and a longer og:title: the longer is another title, not the whole of this one
    head = ('<script type="application/ld+json">{"@type":"NewsArticle","headline":"Rice prices climb"}</script>'
            '<meta property="og:title" content="Rice prices climb in Hanoi as the dry season starts">')
    assert meta(head)["title"] == "Rice prices climb"


def test_capitals_h1_gives_the_reference_wording():
    head = "<title>Best Drip Coffee Maker 2026: Buying Tips From Coffee Pros</title>"
    body = "<h1>BEST DRIP COFFEE MAKER IN 2026: BUYING TIPS FROM COFFEE PROS</h1>"
    assert meta(head, body)["title"] == "Best Drip Coffee Maker 2026: Buying Tips From Coffee Pros"


def test_an_h1_holding_a_paragraph_gives_the_reference_title():
    """renofi.com (wcxb-dev) sets its three-sentence summary as the page's <h1>; <title>, og:title and JSON-LD
    agree on the headline. A question and its answer is still a headline, and an <h1> is still taken where no
    reference exists."""
    head = "<title>The 10 Best Home Improvement ROI Projects of 2023 | RenoFi</title>"
    summary = ("Learn which home renovations have the best ROI (return on investment)? Get expert tips on how to "
               "understand and calculate home improvement ROI. We'll help you learn everything you need to know "
               "about the potential value of your home renovation project.")  # the page's own, 250 characters
    assert meta(head, "<h1>Rice exports rose. Prices fell. Farmers in the Mekong delta now wait for the rains "
                      "to come</h1>")["title"] == "The 10 Best Home Improvement ROI Projects of 2023"
    assert meta(head, f"<h1>{summary}</h1>")["title"] == "The 10 Best Home Improvement ROI Projects of 2023"
    assert meta("", f"<h1>{summary}</h1>")["title"] == summary
    head = "<title>Why are rice prices rising in Vietnam | Example News</title>"
    h1 = "Why are rice prices rising in Vietnam? Traders explain"
    assert meta(head, f"<h1>{h1}</h1>")["title"] == h1
    # abbreviations end no sentence (a review: these lost to an unrelated <title>, or to a similar og:title)
    head = "<title>Russia-ASEAN summit | Example News</title>"
    for h1 in ("Gen. Prayut meets Mr. Shoigu in Bangkok", "U.S. and Russia vie for ASEAN. Jakarta decides",
               "No. 1 trade partner? Russia eyes Vietnam"):
        assert meta(head, f"<h1>{h1}</h1>")["title"] == h1
    head = '<meta property="og:title" content="Lavrov, Retno Marsudi hold talks in Jakarta">'
    h1 = "Mr. Lavrov and Dr. Retno Marsudi hold talks in Jakarta"
    assert meta(head, f"<h1>{h1}</h1>")["title"] == h1


def test_section_headings_set_as_h1_give_the_title_the_page_shows_above_them():
    """Markdown blogs set a post's sections as <h1> below the post's title in an <h2>/<h3> (the Rust blog;
    Blogger's blog.engora.com, eleven <h1>s; both wcxb-dev); a promotion's lead-in ends in a colon
    (siliconangle.com). The page's own title is the headline there. A lone <h1> is, even after prose (a
    review: a teaser paragraph before a news headline), and so is a colon's <h1> on a page with no title."""
    prose = "<p>" + "Rust developers answered our survey in great numbers this year. " * 4 + "</p>"
    head = "<title>What do people love about Rust? | Rust Blog</title>"
    body = ("<header><h2>What do people love about Rust?</h2></header>" + prose
            + "<h1>But what they love is the sense of empowerment and versatility</h1>" + prose)
    assert meta(head, body)["title"] == "What do people love about Rust?"
    head = "<meta property='og:title' content='Small adventures with small language models'>"
    body = "<h3 class='post-title'>Small adventures with small language models</h3>" + "".join(
        f"<h1>{h}</h1>{prose}" for h in ("Small is the new large", "What is a SLM?", "How to get started"))
    assert meta(head, body)["title"] == "Small adventures with small language models"
    head = "<title>How Google Cloud runs AI inference - SiliconANGLE</title>"
    body = "<h1>A message from John Furrier, co-founder of SiliconANGLE:</h1>" + prose
    assert meta(head, body)["title"] == "How Google Cloud runs AI inference - SiliconANGLE"
    assert meta("", "<h1>Five things to know about the summit:</h1>" + prose)["title"] == (
        "Five things to know about the summit:")
    # one <h1> unlike its SEO title, before or after prose, under a section's name: the visible headline
    head = "<title>World news | Example News</title>"
    for body in ("<h1>Vietnam and Russia sign new oil exploration deal</h1>" + prose,
                 prose + "<h1>Vietnam and Russia sign new oil exploration deal</h1>" + prose,
                 "<h2>World news</h2><h1>Vietnam and Russia sign new oil exploration deal</h1>" + prose):
        assert meta(head, body)["title"] == "Vietnam and Russia sign new oil exploration deal", body


def test_kicker_h1_gives_the_headline():
    head = '<meta property="og:title" content="Pendler zahlen weniger">'
    assert meta(head, "<h1><span>Ticket</span> Pendler zahlen weniger</h1>")["title"] == "Pendler zahlen weniger"


def test_double_escaped_and_mojibake_titles_repaired():
    assert meta("<title>Full &amp;#038; Part Time</title>")["title"] == "Full & Part Time"
    assert meta("<meta charset='utf-8'><title>Investorâ\u0080\u0099s Guide</title>")["title"] == "Investor’s Guide"


def test_published_not_modified():
    ld = ('<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",'
          '"datePublished":"2024-03-01T10:00:00+07:00","dateModified":"2025-01-02T10:00:00+07:00"}</script>')
    assert meta(ld)["published"].startswith("2024-03-01")
    head = ('<meta property="article:modified_time" content="2025-01-02">'
            '<meta property="article:published_time" content="2024-03-01">')
    assert meta(head)["published"] == "2024-03-01"


def test_date_shown_under_headline_when_metadata_has_none():
    body = "<nav><p>March 1, 2020</p></nav><h1>Rice prices climb</h1><p class='by'>Updated Sep 4, 2025</p>"
    assert meta("<title>Rice prices climb</title>", body)["published"] == "2025-09-04"
    assert meta("", "<h1>Regen in Bern</h1><span>17.05.2021</span>")["published"] == "2021-05-17"
    # a written-out date in a <meta> tag is read too
    assert meta('<meta name="published" content="July 17, 2025">')["published"] == "2025-07-17"


def test_author_id_reference_and_organisation_fallback():
    ld = ('<script type="application/ld+json">{"@graph":[{"@type":"NewsArticle","headline":"H",'
          '"author":{"@id":"#p1"}},{"@type":"Person","@id":"#p1","name":"Ann Lee"}]}</script>')
    assert meta(ld)["authors"] == ["Ann Lee"]
    org = ('<script type="application/ld+json">{"@type":"NewsArticle","headline":"H",'
           '"author":{"@type":"Organization","name":"Reuters"}}</script><meta name="author" content="Ann Lee">')
    assert meta(org)["authors"] == ["Ann Lee"]  # a person credited by the page beats the organisation


@pytest.mark.parametrize("raw, want", [
    ("Author: Ashley Biancuzzo", ["Ashley Biancuzzo"]),
    ("Harry Rabinowitz Tech Reporter", ["Harry Rabinowitz"]),
    ("Cazzy Magennis Last Updated August 1", ["Cazzy Magennis"]),
    ("Luke Kim December", ["Luke Kim"]),
    ("David Jackson - FullStack Editorial Team", ["David Jackson", "FullStack Editorial Team"]),
    ("Tom May", ["Tom May"]),
    ("Oleh Budi Santoso", ["Budi Santoso"]),        # Indonesian and Malay "by"
    ("Penulis: Budi Santoso", ["Budi Santoso"]),
    ("Tác giả: Nguyễn Văn An", ["Nguyễn Văn An"]),  # Vietnamese "author"
    ("โดย สมชาย ใจดี", ["สมชาย ใจดี"]),              # Thai "by"
    ("Staff", []),
    ("Admin", []),
    ("262588213843476", []),
])
def test_byline_cleaned_to_people(raw, want):
    assert meta(f'<meta name="author" content="{raw}">')["authors"] == want


def test_an_indonesian_byline_under_the_headline():
    body = "<h1>Rusia dan ASEAN perkuat kerja sama energi</h1><p>Oleh Budi Santoso</p><p>12 Maret 2025</p>"
    assert meta("", body)["authors"] == ["Budi Santoso"]


def test_byline_element_gives_the_person():
    body = ('<h1>Rice prices climb</h1><div class="post-author">By<a href="/a/ann">Ann Lee</a>'
            '<span>Senior Reporter</span></div>')
    assert meta("", body)["authors"] == ["Ann Lee"]
    # a byline element holding no name (a date, a read time) gives nothing
    assert meta("", '<div class="author-wrapper">August 28, 2025 • 5 min read</div>')["authors"] == []


def test_by_line_under_headline_and_outlet_credit_last():
    head = '<meta name="author" content="Example News"><meta property="og:site_name" content="Example News">'
    body = "<h1>Rice prices climb in Hanoi</h1><p>By Ann Lee | March 3, 2025</p>"
    assert meta(head, body)["authors"] == ["Ann Lee"]  # the person under the headline, not the outlet
    assert meta(head, "<h1>Rice prices climb in Hanoi</h1>")["authors"] == ["Example News"]  # else the credit


def test_citation_authors_turned_round():
    head = '<meta name="citation_author" content="Roy, Aniruddha"><meta name="citation_author" content="Lee, Ann">'
    assert meta(head)["authors"] == ["Aniruddha Roy", "Ann Lee"]


def _ld(obj) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def test_author_credentials_suffixes_and_escaped_ampersands():
    """A reviewer's cases (7 wcxb-dev pages gave credentials as authors: "Dylan Bailey, MS, RD, FAND" was four
    authors; one gave "amp"): a degree after a comma is no author, "Jr." stays with its name, and JSON-LD
    written with entities (Yoast's "&amp;") is read as text."""
    def authors(name):
        return meta(_ld({"@type": "NewsArticle", "headline": "Rice prices climb in Hanoi",
                         "author": {"@type": "Person", "name": name}}))["authors"]

    assert authors("Dylan Bailey, MS, RD, FAND") == ["Dylan Bailey"]
    assert authors("Ann Lee, Ph.D., MPH") == ["Ann Lee"]
    assert authors("Martin Luther King, Jr.") == ["Martin Luther King Jr"]
    assert authors("Ann Lee &amp; Boon Hui Tan") == ["Ann Lee", "Boon Hui Tan"]
    assert authors("Ann Lee, Boon Hui Tan and Tom Park") == ["Ann Lee", "Boon Hui Tan", "Tom Park"]  # unchanged


def test_library_style_author_tags_turned_round_and_all_of_them_read():
    """"Last, First" in author and dc.creator tags (Nature: "You, Xiaoying" gave the authors "You" and
    "Xiaoying"), and every dc.creator tag, not the first alone."""
    head = '<meta name="dc.creator" content="Lee, Ann"><meta name="dc.creator" content="Tan, Boon Hui">'
    assert meta(head)["authors"] == ["Ann Lee", "Boon Hui Tan"]
    assert meta('<meta name="author" content="Ann Lee, Tom Park">')["authors"] == ["Ann Lee", "Tom Park"]
    # an author tag has no such convention: two agencies, two single names (a second review: "AP, Reuters"
    # had become one person, "Reuters AP"), and agencies in capitals are no credentials
    assert meta('<meta name="author" content="AP, Reuters">')["authors"] == ["AP", "Reuters"]
    assert meta('<meta name="author" content="Widodo, Prabowo">')["authors"] == ["Widodo", "Prabowo"]
    assert meta('<meta name="dc.creator" content="AP, Reuters">')["authors"] == ["AP", "Reuters"]
    assert meta('<meta name="author" content="Reuters, TASS">')["authors"] == ["Reuters", "TASS"]
    assert meta('<meta name="author" content="Ann Lee, RSIS">')["authors"] == ["Ann Lee", "RSIS"]


def test_an_article_under_a_web_pages_main_entity_is_read():
    """{"@type": "WebPage", "mainEntity": {"@type": "NewsArticle", ...}}: the article's own headline, date and
    authors, not the weaker sources after them (7 dev pages hold their article node only so)."""
    ld = _ld({"@type": "WebPage", "name": "Example News", "mainEntity": {
        "@type": "NewsArticle", "headline": "Rice prices climb in Hanoi", "datePublished": "2024-07-25",
        "author": [{"@type": "Person", "name": "Ann Lee"}, {"@type": "Person", "name": "Boon Hui Tan"}]}})
    m = meta(ld + '<meta name="dc.creator" content="Somebody, Else">')
    assert m["authors"] == ["Ann Lee", "Boon Hui Tan"] and m["published"] == "2024-07-25"
    assert m["title"] == "Rice prices climb in Hanoi"


def test_author_page_link_names_the_author():
    body = ('<h1>Rice prices climb in Hanoi</h1><p>Markets</p>'
            '<p>Story: <a href="/blog/author/ann-lee/">Ann Lee and Tom Park</a></p>')
    assert meta("", body)["authors"] == ["Ann Lee", "Tom Park"]
    assert meta("", '<h1>Rice prices climb</h1><p><a href="/contributors/Ann+Lee">Ann Lee</a></p>')["authors"] == [
        "Ann Lee"]
    # a link to an author page whose text is no name ("View all posts") names nobody
    assert meta("", '<h1>Rice prices climb</h1><a href="/author/ann-lee/">View all posts</a>')["authors"] == []


def test_name_beside_dateline_or_role_under_headline():
    h1 = "<h1>Rice prices climb in Hanoi</h1>"
    assert meta("", h1 + "<div>Ann Lee</div><div>Tech Writer</div>")["authors"] == ["Ann Lee"]
    assert meta("", h1 + "<span>Dec 26, 2025</span><span>•</span><span>Ann Lee in</span><a>Markets</a>"
                )["authors"] == ["Ann Lee"]
    assert meta("", h1 + "<p>Contributors:</p><p>Ann Lee</p>")["authors"] == ["Ann Lee"]
    # a name-like subheading with no date or role beside it, a label, or a name inside a sentence: nobody
    assert meta("", h1 + "<h2>Hotel Travel Hacks</h2><p>Although you might have booked a hotel...</p>"
                )["authors"] == []
    assert meta("", h1 + "<span>Posted On</span><span>Dec 4, 2025</span>")["authors"] == []
    assert meta("", h1 + "<p>Stand: 24.04.2024</p><p>Der <a>FC Liverpool</a> hat verloren.</p>")["authors"] == []


def test_dateline_earlier_than_metadata_published_wins():
    ld = ('<script type="application/ld+json">{"@type":"Article","headline":"The information bottleneck",'
          '"datePublished":"2025-12-01T05:10:15+00:00"}</script>')
    h1 = "<h1>The information bottleneck</h1>"
    # an article shown as written in 2000 on a page whose metadata says 2025: a re-publication stamp
    assert meta(ld, h1 + "<p>Naftali Tishby</p><p>24 Apr 2000</p><p>3 min read</p>")["published"] == "2000-04-24"
    # a later "Updated" line leaves the published date alone, and so does a day's difference (time zones)
    assert meta(ld, h1 + "<p>Updated Dec 18, 2025</p>")["published"].startswith("2025-12-01")
    assert meta(ld, h1 + "<p>November 30, 2025</p>")["published"].startswith("2025-12-01")
    # a date inside a sentence (a photo caption) is no dateline
    caption = "<p>A file photograph shows the minister speaking in Shah Alam on November 19, 2024. Picture by Y</p>"
    assert meta(ld, h1 + caption)["published"].startswith("2025-12-01")


def test_a_note_of_first_publication_dates_a_republished_article():
    """"This article was originally published on 26 Sep 2019" (a real wcxb page, realestate.com.au, whose
    metadata and dateline say 2022): the note's day is the publication date."""
    ld = ('<script type="application/ld+json">{"@type":"Article","headline":"Tiny homes",'
          '"datePublished":"2022-09-30T11:07:00+10:00"}</script>')
    note = ('<article><h1>Tiny homes</h1><p>30 Sep 2022, 11:07am</p></article><p class="disclaimer">This article'
            ' was originally published on \n 26 Sep 2019 at 4:12pm \n but has been regularly updated.</p>')
    assert meta(ld, note)["published"] == "2019-09-26"
    # the day in an element of its own, a weekday before it
    assert meta(ld, "<p>First published on <time>Wednesday, March 2, 2022</time>.</p>")["published"] == "2022-03-02"
    # and with no date in the metadata at all
    assert meta("", "<p>Originally posted 4 May 2018.</p>")["published"] == "2018-05-04"
    # another article's note, in a sidebar or a menu, is not this one's
    for box in ("aside", "nav"):
        assert meta(ld, f"<{box}><p>Ten years on: first published on 3 May 2015</p></{box}>")["published"].startswith(
            "2022-09-30")
    # a note naming where it first ran, in an inline element, in capitals, on a WordPress page
    for note in ("<p>This article originally appeared in <em>Foreign Affairs</em> on 3 May 2021.</p>",
                 "<p><strong>Originally published:</strong> 3 May 2021</p>",
                 "<p>ORIGINALLY PUBLISHED ON 3 MAY 2021</p>"):
        page = load_html(f"<html><head>{ld}</head><body class='post comments-open'>{note}</body></html>")
        assert page_metadata(page, "https://www.example-news.com/a/1")["published"] == "2021-05-03", note
    # no note of its own: a clause in prose, a reader's comment; no day in the note's sentence; a later note
    for text in ("<p>Our investigation, first published on 3 March 2021, showed the losses.</p>",
                 "<p>The 1997 memo, first published on 2 July 1997 by the ministry, set out the policy.</p>",
                 "<section id='comments'><p>This post was first published on 5 May 2024 on my blog.</p></section>",
                 "<div class='comment-body'><p>Originally posted 5 May 2024</p></div>",
                 "<p>This article originally appeared on The Conversation. Read it on 3 May 2021.</p>",
                 "<p>The recipe was first published in 2004, and on 3 May 2021 it was revised.</p>",
                 "<p>Originally published on 2 October 2022.</p>"):  # within two days: the same publication
        assert meta(ld, text)["published"].startswith("2022-09-30"), text


def test_a_slash_date_is_read_where_its_order_shows():
    """"2/24/2026" under the headline (a real wcxb page, cartalk.com, with no date in its metadata) is
    February 24; "09/04/2025" is April 9 in Europe and September 4 in the US, and is left alone."""
    h1 = "<h1>Best electric vehicles of 2026</h1>"
    assert meta("", h1 + "<p>John Goreham</p><p>2/24/2026</p>")["published"] == "2026-02-24"
    assert meta("", h1 + "<p>Publié le 24/02/2026 - 16:00</p>")["published"] == "2026-02-24"
    assert meta("", h1 + "<p>09/04/2025</p>")["published"] is None
    # a labelled slash dateline after another piece (its place in the window is not its place in the piece;
    # asked of the shown-date step itself, since htmldate's guess after it reads the page's slash dates too)
    from pipelines.extract.metadata import _shown_date

    assert _shown_date(("", "John Goreham ¦ Posted on 2/24/2026 at ¦ The EV market grew")) == "2026-02-24"
    # a slash date inside a caption or a table is no dateline; nor is a path
    for body in ("<figure><figcaption>Photo taken 3/14/2019 in Phnom Penh</figcaption></figure>",
                 "<p>/12/24/2025</p>"):
        assert meta("", h1 + body)["published"] is None, body
    assert meta("", "<table><tr><td>Cargo arrival</td><td>1/15/2025</td></tr></table>")["published"] is None
    # an ambiguous dateline stops the search: the next date is the prose's, not the article's
    assert meta("", h1 + "<p>09/04/2025</p><p>Data released on March 14, 2025 showed growth.</p>")["published"] is None


def test_a_time_element_states_the_day_its_text_leaves_unclear():
    """A ``<time datetime>`` under the headline whose text is an ambiguous slash date (casact.org's
    "03/01/2017", March 1; wcxb-dev), a relative date or a day without its year gives its attribute's day;
    a date written out in its text is what the reader sees, and stays."""
    h1 = "<h1>Consulting firm or insurance carrier?</h1>"
    for shown in ("03/01/2017", "3 days ago", "Mar 1", "10/03/2017 7:38:01 PM"):  # ambiguous, relative, no year
        body = h1 + f'<div class="meta"><time datetime="2017-03-01T12:00:00Z">{shown}</time> by Ann Lee</div>'
        assert meta("", body)["published"] == "2017-03-01", shown
    body = h1 + '<div><time datetime="2024-12-20">August 28, 2024</time></div>'
    assert meta("", body)["published"] == "2024-08-28"
    # an "Updated" label before its own <time> still marks an update (a review: each became the date)
    for body in ('<p>Updated <time datetime="2025-11-20T10:00Z">2 hours ago</time> · Published Oct 2, 2025</p>',
                 '<p>Last updated <time datetime="2025-11-20T10:00Z">5 hours ago</time></p>'
                 '<p>By Ann Lee, October 2, 2025</p>',
                 '<p>Updated <time datetime="2025-11-20">Nov 20</time> · Published '
                 '<time datetime="2025-10-02">Oct 2</time></p>'):
        assert meta("", h1 + body)["published"] == "2025-10-02", body
    # above the headline too, and not from an attribute that is no date
    body = '<div><time datetime="2017-03-01">03/01/2017</time></div>' + h1
    assert meta("", body)["published"] == "2017-03-01"
    from pipelines.extract.metadata import _headline_window

    page = load_html(f'<html><body>{h1}<p><time datetime="PT5M">09/04/2025</time></p></body></html>')
    assert _headline_window(page)[1] == "09/04/2025"


def test_an_updated_date_is_taken_only_where_no_other_is_shown():
    h1 = "<h1>Rice prices climb in Hanoi</h1>"
    assert meta("", h1 + "<p>Updated Nov 20, 2025 · Published Oct 2, 2025</p>")["published"] == "2025-10-02"
    assert meta("", h1 + "<p>Updated 11/20/2025</p><p>Published 10/22/2025</p>")["published"] == "2025-10-22"
    assert meta("", h1 + "<p>Zuletzt aktualisiert am 20.11.2025</p><p>17.05.2025</p>")["published"] == "2025-05-17"
    assert meta("", h1 + "<p>Last updated: Nov 20, 2025</p>")["published"] == "2025-11-20"  # the only date shown


def test_a_utc_timestamp_a_day_off_the_urls_date_gives_the_urls_day():
    # wcxb-dev (whatever.scalzi.com, spectrecollie.com): "/2025/12/18/slug" published "2025-12-19T03:05:00+00:00",
    # the evening of the 18th where the site is; in Southeast Asia the other way round
    ld = ('<script type="application/ld+json">{"@type":"BlogPosting","headline":"H",'
          '"datePublished":"%s"}</script>')
    us = "https://whatever.example.com/2025/12/18/the-december-comfort-watches/"
    assert meta(ld % "2025-12-19T03:05:00+00:00", url=us)["published"] == "2025-12-18"
    asia = "https://www.example-news.com.my/news/2024/03/01/grain-talks"
    assert meta(ld % "2024-02-29T20:00:00Z", url=asia)["published"] == "2024-03-01"
    # a time with the site's own offset is already its day; the same day, or days apart (a URL dated when
    # the draft began, an old slug), leave the metadata's date too
    local = "https://www.example-news.com.my/news/2025/12/20/grain-talks"
    assert meta(ld % "2025-12-19T03:05:00+07:00", url=local)["published"].startswith("2025-12-19T03:05")
    assert meta(ld % "2025-12-18T09:00:00+00:00", url=us)["published"].startswith("2025-12-18T09")
    assert meta(ld % "2025-12-21T09:00:00+00:00", url=us)["published"].startswith("2025-12-21")
    assert meta(ld % "2025-12-19T03:05:00+00:00", url="https://www.example.com/p/2025-12-1")["published"] \
        .startswith("2025-12-19")


def test_no_published_date_after_the_fetch_nor_a_mastheads_clock():
    # "publication date (not the modified date, not today)": judged against the day the page was fetched
    future = ('<script type="application/ld+json">{"@type":"NewsArticle","headline":"Rice prices climb",'
              '"datePublished":"2031-01-05T10:00:00+07:00"}</script>')
    h1 = "<h1>Rice prices climb</h1><p class='byline'>March 3, 2025</p>"
    got = page_metadata(load_html(f"<html><head>{future}</head><body>{h1}<p>{'Text. ' * 40}</p></body></html>"),
                        "https://www.example-news.com/a/1", "2025-03-04T08:00:00Z")
    assert got["published"] == "2025-03-03"  # a date after the fetch is no publication date
    masthead = "<header><p>Tuesday, March 4, 2025</p></header><h2>Rice prices climb</h2>"
    page = load_html(f"<html><body>{masthead}<p>{'Text. ' * 40}</p></body></html>")
    assert page_metadata(page, "https://www.example-news.com/a/1", "2025-03-04T08:00:00Z")["published"] is None
    # the same page fetched later: that day is a date of the page, not the visit's
    page = load_html(f"<html><body>{masthead}<p>{'Text. ' * 40}</p></body></html>")
    assert page_metadata(page, "https://www.example-news.com/a/1", "2025-06-01")["published"] == "2025-03-04"
    # an article of the very day, dated under its headline, keeps its date; a day ahead is a time zone
    today = "<h1>Rice prices climb</h1><p class='byline'>March 4, 2025</p>"
    page = load_html(f"<html><body>{today}<p>{'Text. ' * 40}</p></body></html>")
    assert page_metadata(page, "https://www.example-news.com/a/1", "2025-03-04T23:00:00Z")["published"] == "2025-03-04"
    # a masthead in a time zone ahead (Asia, in the UTC evening) already shows the next day: no date either
    masthead = "<header><p>Wednesday, March 5, 2025</p></header><h2>Rice prices climb</h2>"
    page = load_html(f"<html><body>{masthead}<p>{'Text. ' * 40}</p></body></html>")
    assert page_metadata(page, "https://www.example-news.com/a/1", "2025-03-04T20:00:00+00:00")["published"] is None
    ahead = ('<meta property="article:published_time" content="2025-03-05T06:00:00+08:00">')
    got = page_metadata(load_html(f"<html><head>{ahead}</head><body><p>{'Text. ' * 40}</p></body></html>"),
                        "https://www.example-news.com/a/1", "2025-03-04T23:00:00Z")
    assert got["published"].startswith("2025-03-05")


def test_headline_with_a_line_break_keeps_its_words_apart():
    # wcxb-dev has two such <h1>s ("Top MBA Programs of 2025 (US)<br>Your Guide ..."): text_content() ran the
    # lines together; inline tags still join as shown ("CO<sub>2</sub>")
    h1 = "<h1>Vietnam and Russia sign a grain deal<br>What the ports gain</h1>"
    assert meta("", h1)["title"] == "Vietnam and Russia sign a grain deal What the ports gain"
    assert meta("", "<h1>Hanoi cuts CO<sub>2</sub> from <b>ship</b>ping</h1>")["title"] == "Hanoi cuts CO2 from shipping"


def test_dateline_anywhere_when_no_other_date():
    body = ('<div class="logo"><h1>Example</h1></div><div><span>Published on Oct 21, 2025</span></div>'
            '<h2>Eight private cloud providers compared</h2>')
    assert meta("", body, url="https://www.example-news.com/blog/cloud")["published"] == "2025-10-21"


def test_headline_without_credit_or_source_tail():
    head = '<meta property="og:title" content="Skiplagging in the relocation process">'
    assert meta(head, "<h1>Skiplagging in the relocation process (via Passle)</h1>")["title"] == (
        "Skiplagging in the relocation process")
    head = '<meta property="og:title" content="Top strategies to secure a blockchain">'
    body = "<h1>Top strategies to secure a blockchain Posted on July 1, 2024 by infuy</h1>"
    assert meta(head, body)["title"] == "Top strategies to secure a blockchain"
    # a year in parentheses is part of the headline
    head = '<meta property="og:title" content="Best moving companies in Boston">'
    assert meta(head, "<h1>Best moving companies in Boston (2025)</h1>")["title"] == (
        "Best moving companies in Boston (2025)")


def test_the_shown_headline_wins_over_a_reference_that_only_adds_words_after_it():
    # wcxb-dev: SEO titles extend the <h1> ("Best Camping Hammocks of 2026, Tested & Reviewed | CleverHiker",
    # "... to Visit This Month, December 2025", "... keeping your home safe in 2026"); the <h1> is the headline
    head = '<title>Best rice cookers of 2026, Tested &amp; Reviewed | Example News</title>'
    assert meta(head, "<h1>Best rice cookers of 2026</h1>")["title"] == "Best rice cookers of 2026"
    ld = '<script type="application/ld+json">{"@type":"Article","headline":"Hanoi rail link opens, December 2025"}</script>'
    assert meta(ld, "<h1>Hanoi rail link opens</h1>")["title"] == "Hanoi rail link opens"
    # an <h1> cut short with an ellipsis, or of one or two words (a label), still gives the full reference
    head = '<meta property="og:title" content="Vietnam and Russia sign a grain deal for the ports of Haiphong">'
    assert meta(head, "<h1>Vietnam and Russia sign a grain deal…</h1>")["title"] == (
        "Vietnam and Russia sign a grain deal for the ports of Haiphong")
    head = '<meta property="og:title" content="Index funds: how to invest">'
    assert meta(head, "<h1>Index funds</h1>")["title"] == "Index funds: how to invest"


def test_a_year_before_the_headline_is_no_kicker_and_lost_characters_take_the_references_wording():
    # wcxb-dev fullstack.com: JSON-LD "Software Development Price Guide ..." under an <h1> "2025 Software ...": the
    # year is the headline's own, where a word before it ("Analysis") is a kicker
    ld = '<script type="application/ld+json">{"@type":"Article","headline":"Russia-ASEAN trade guide"}</script>'
    assert meta(ld, "<h1>2025 Russia-ASEAN trade guide</h1>")["title"] == "2025 Russia-ASEAN trade guide"
    assert meta(ld, "<h1>Analysis: Russia-ASEAN trade guide</h1>")["title"] == "Russia-ASEAN trade guide"
    # wcxb-dev aaft.edu.in: the <h1> shows "?" where its page lost characters; the og:title has them
    head = '<meta property="og:title" content="The Basics Of Event Planning: Beginner\u2019s Guide">'
    assert meta(head, "<h1>The Basics Of Event Planning? Beginner? Guide</h1>")["title"] == (
        "The Basics Of Event Planning: Beginner\u2019s Guide")
    # a question in the headline is no lost character
    head = '<meta property="og:title" content="Is the Hanoi rail link late: what the ministry says">'
    assert meta(head, "<h1>Is the Hanoi rail link late? Ministry answers critics</h1>")["title"] == (
        "Is the Hanoi rail link late? Ministry answers critics")


def test_a_headline_in_an_elementor_widget_or_named_a_post_title_is_no_chrome():
    # wcxb-dev: Elementor wraps every block in "elementor-widget..." classes, and 7 headlines were taken for a
    # widget's; a class naming the post's title marks the headline; a real widget's or logo's <h1> stays chrome
    head = '<title>Vietnam and Russia sign a grain deal - Eat Your Greens with Dr. Black</title>'
    body = ('<div class="elementor-element elementor-widget elementor-widget-heading"><div class="elementor-widget-'
            'container"><h1 class="elementor-heading-title">Vietnam and Russia sign a grain deal</h1></div></div>')
    assert meta(head, body)["title"] == "Vietnam and Russia sign a grain deal"
    body = ('<div class="elementor-widget elementor-widget-theme-post-title"><h1 class="elementor-heading-title">'
            'Vietnam and Russia sign a grain deal</h1></div>')
    assert meta(head, body)["title"] == "Vietnam and Russia sign a grain deal"
    # ...but a post's title in a sidebar's widget, Elementor's site-title widget or any widget's <h1> is chrome
    # (a review of the first version, which let a title's name overrule them)
    head = '<meta property="og:title" content="Hanoi opens its new rail link">'
    for body in ('<div class="widget"><h1>Subscribe to our weekly newsletter today</h1></div>',
                 '<div class="sidebar widget recent-posts"><h1 class="entry-title">Why Vietnam keeps buying Russian '
                 'weapons today</h1></div>',
                 '<div class="elementor-widget elementor-widget-theme-site-title"><div class="elementor-widget-'
                 'container"><h1>Bridging Southeast Asia and Eurasia since 2010</h1></div></div>'):
        assert meta(head, body)["title"] == "Hanoi opens its new rail link", body


def test_a_container_with_a_sidebar_or_utility_classes_holds_no_chrome_headline():
    # wcxb-dev: "container-article-with-sidebar", Tailwind's "md:[grid-area:sidebar]", HubSpot's
    # "hs_cos_wrapper_widget", an <article class="w-article widget">: layout around the headline, not chrome
    head = '<title>OER Language: Spanish - The Center for OER</title>'
    for wrap in ('<section class="container container-article-with-sidebar"><div>{}</div></section>',
                 '<div class="md:[grid-area:sidebar] mb-6">{}</div>', '<div class="hs_cos_wrapper_widget">{}</div>',
                 '<article class="w-article widget">{}</article>'):
        body = wrap.format("<h1>Hanoi and Moscow sign a deal on grain exports</h1>")
        assert meta(head, body)["title"] == "Hanoi and Moscow sign a deal on grain exports", wrap


def test_by_inside_a_sentence_or_a_step_by_step_title_is_no_byline():
    # wcxb-dev: "Step by Step Guide" (a breadcrumb) gave the author "Step Guide", "can be reached by Canvas
    # discussion" gave "Canvas di"; a byline begins its line or ends it
    h1 = "<h1>Hanoi and Moscow sign a deal on grain exports</h1>"
    for line in ("<p>Home | Solar Installation: Step by Step Guide</p>",
                 "<p>The ministry can be reached by Canvas Discussion, e-mail and phone at any time of day.</p>"):
        assert meta("", line + h1)["authors"] == [], line
    assert meta("", h1 + "<p>Posted by Ann Lee</p>")["authors"] == ["Ann Lee"]
    assert meta("", "<p>Grain deal signed in Hanoi by Ann Lee</p>" + h1)["authors"] == ["Ann Lee"]


def test_review_of_the_title_and_byline_rules_dates_labels_and_bylines_after_a_date():
    """A review of this session's first versions: a date, a time or an issue number before the headline is a
    kicker (only a year or count alone is the headline's own); an <h1> that is a label or the headline without
    its subtitle gives way to the whole reference; bylines after a date or a separator are bylines."""
    head = '<meta property="og:title" content="Putin and Anwar discuss trade in national currencies">'
    for kicker in ('<span class="date">14.03.2025</span>', "<time>10:45</time>", "050/2025"):
        body = f"<h1>{kicker} Putin and Anwar discuss trade in national currencies</h1>"
        assert meta(head, body)["title"] == "Putin and Anwar discuss trade in national currencies", kicker
    for og, h1 in (("The Week in Asia: Malaysia's Anwar courts Putin at Kazan summit", "The Week in Asia"),
                   ("Russia-ASEAN Relations: A New Chapter After Kazan", "Russia-ASEAN Relations"),
                   ("Who Needs Whom? Russia, ASEAN and the War in Ukraine", "Who Needs Whom? Russia, ASEAN and the War")):
        assert meta(f'<meta property="og:title" content="{og}">', f"<h1>{h1}</h1>")["title"] == og, h1
    h1 = "<h1>Hanoi and Moscow sign a deal on grain exports</h1>"
    for line in ("Posted on March 14, 2025 by Ivan Petrov in Analysis",
                 "RSIS Commentary 052/2025 / 14 March 2025 / by Ivan Petrov and Anna Lee",
                 "Updated: 8:15am, 14 Mar 2025 by Ivan Petrov in Kuala Lumpur"):
        assert meta("", h1 + f"<p>{line}</p>")["authors"][0] == "Ivan Petrov", line
    body = (h1 + "<p>Published 14 March 2025 by Chris Devonshire-Ellis | 5 min read</p>"
            "<figure><figcaption>Photo by Alexei Druzhinin</figcaption></figure>")
    assert meta("", body)["authors"] == ["Chris Devonshire-Ellis"]


@pytest.mark.parametrize("body", [
    '<div class="byline">By <a class="author-name" href="/a/1">Ann Lee</a> <time>May 1</time></div>',
    '<div id="comments"><span class="author">Troll</span></div><p class="byline">Tom Park</p>',
    '<div class="sidebar"><span class="author">Side Bar</span></div><span class="post-author">Ann Lee</span>',
    '<figure><span class="author">Photo Credit</span></figure><div data-component="Byline">Kim Ng</div>',
    '<span class="meta-date author">June 2</span><span class="entry-author">Ann Lee</span>',
    "<p>No credit on this page at all.</p>",
])
def test_author_search_matches_trafilatura(body):
    """The author search in one attribute scan finds what trafilatura's extract_author finds (on the class
    names it scans for: author, byline, contributor)."""
    from trafilatura.metadata import extract_author

    from pipelines.extract.metadata import _author_search, _credit_nodes

    tree = load_html(f"<html><body><article>{body}<p>{'Text. ' * 40}</p></article></body></html>")
    assert _author_search(_credit_nodes(tree)) == extract_author(tree)


def test_headline_window_walk_matches_xpath():
    """The text walked after and before the headline is what XPath following::/preceding:: text() gives."""
    from lxml import etree

    from pipelines.extract.metadata import _texts_after, _texts_before

    tree = load_html("<html><body><nav><a>Home</a> <a>News</a><script>var x = 1;</script> tail</nav>"
                     "<div><p>Kicker</p><h1>Headline <b>bold</b></h1><style>p{}</style>after style"
                     "<p>By <a>Ann Lee</a></p></div><!-- note --><p>Body text</p></body></html>")
    h1 = tree.find(".//h1")
    visible = "[not(ancestor::script) and not(ancestor::style)]"
    assert _texts_after(h1) == etree.XPath(f"following::text(){visible}")(h1)
    assert _texts_before(h1) == etree.XPath(f"preceding::text(){visible}")(h1)[::-1]


def test_text_above_headline_kept_nearest_in_reading_order():
    """The window above the headline keeps the text nearest to it, in reading order (a blog's date line
    sits just above its <h1>, after a long menu)."""
    from pipelines.extract.metadata import _headline_window

    menu = "".join(f"<li><a>Section number {i} of the menu</a></li>" for i in range(20))
    tree = load_html(f"<html><body><ul>{menu}</ul><p>Small adventures</p><p>Friday, December 19, 2025</p>"
                     "<h1>Small adventures with small language models</h1><p>Body text here.</p></body></html>")
    above, _ = _headline_window(tree)
    assert above.endswith("Small adventures ¦ Friday, December 19, 2025")
    assert "Section number 0 " not in above


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "wcxb-dev").exists()
                    and not Path("/work/shared/data/wcxb-dev").exists(), reason="../shared/data absent")
def test_accuracy_on_development_sets(monkeypatch):
    """Metadata accuracy as bench/extraction.py scores it, a small margin under what was measured."""
    # bench/ on the path for this test only: it holds a requests.py, which would shadow the `requests`
    # package for every later import in this process (Scrapy's cookies middleware, through tldextract)
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import extraction as bench
    from pipelines.extract.charset import decode_html
    from pipelines.extract.sanitise import sanitise_markup

    # measured 2026-11-29: wcxb title 0.881, date 0.886, author 0.852; fundus 0.824, 0.988, 0.896
    floors = {"wcxb": {"title": 0.874, "date": 0.879, "author": 0.845},
              "fundus": {"title": 0.815, "date": 0.98, "author": 0.89}}
    for name, loader in (("wcxb", bench.load_wcxb), ("fundus", bench.load_pages)):
        scores = {"title": [], "date": [], "author": []}
        for page in loader():
            m = page_metadata(load_html(sanitise_markup(decode_html(page["html"]))), page["url"])
            if page.get("title"):
                scores["title"].append(bench.title_ok(m["title"], page["title"]))
            if page.get("published"):
                scores["date"].append(bench.date_ok(m["published"], page["published"]))
            if page.get("authors"):
                scores["author"].append(bench.authors_ok(m["authors"], page["authors"]))
        got = {k: sum(v) / len(v) for k, v in scores.items()}
        assert all(got[k] >= floors[name][k] for k in got), (name, json.dumps(got))


def test_site_credit_keeps_the_pages_own_spelling():
    """A page with no byline: trafilatura's author search finds the outlet and title-cases it ("Bne
    Intellinews"); the JSON-LD organisation gives the same credit as the page writes it."""
    from pathlib import Path

    from pipelines.extract.extractor import extract

    root = Path(__file__).resolve().parents[1] / "crawler" / "replay" / "web" / "www.intellinews.com"
    slug = "russian-tourists-return-to-phuket-in-record-numbers-282931"
    doc = extract((root / slug).read_bytes(), f"https://www.intellinews.com/{slug}")
    assert doc is not None and doc.authors == ["bne IntelliNews"]
