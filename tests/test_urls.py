from pipelines.crawl.urls import canonicalize, doc_id, registered_host


def test_scheme_www_tracking_and_fragment_fold_to_one_id():
    variants = [
        "https://www.russia-briefing.com/news/a.html/",
        "http://russia-briefing.com/news/a.html/?utm_source=tw&utm_medium=social",
        "https://WWW.Russia-Briefing.com:443/news/a.html/?fbclid=abc#comments",
        "https://russia-briefing.com/news/x/../a.html/",
    ]
    assert len({canonicalize(v) for v in variants}) == 1
    assert len({doc_id(v) for v in variants}) == 1


def test_meaningful_query_is_kept_and_sorted():
    a = canonicalize("https://x.org/list?page=2&tag=asean")
    b = canonicalize("https://x.org/list?tag=asean&page=2&utm_campaign=z")
    assert a == b == "https://x.org/list?page=2&tag=asean"
    assert canonicalize("https://x.org/list?page=3") != a


def test_id_is_16_hex_and_distinct_paths_differ():
    one, two = doc_id("https://x.org/a"), doc_id("https://x.org/b")
    assert len(one) == 16 and int(one, 16) >= 0
    assert one != two
    assert canonicalize("https://x.org/a/") != canonicalize("https://x.org/a")


def test_registered_host():
    assert registered_host("https://www.scmp.com/news") == "scmp.com"
    assert registered_host("https://ca.finance.yahoo.com/x") == "ca.finance.yahoo.com"


def test_same_site_and_the_url_a_record_is_keyed_on():
    from pipelines.corpus.record import canonical_for
    from pipelines.crawl.urls import same_site

    assert same_site("https://m.example.com/a", "https://www.example.com/b")
    assert same_site("https://ca.finance.yahoo.com/x", "https://finance.yahoo.com/x")
    assert same_site("https://www.bbc.co.uk/a", "https://bbc.co.uk/b")
    assert not same_site("https://www.bbc.co.uk/a", "https://www.itv.co.uk/a")
    assert not same_site("https://www.scmp.com/a", "https://ca.finance.yahoo.com/a")
    # an AMP copy folds into its canonical page; a syndicated copy keeps its own URL
    assert canonical_for("https://m.x.com/amp/story-1?utm_source=t", "https://www.x.com/story-1") == "https://x.com/story-1"
    assert canonical_for("https://ca.finance.yahoo.com/news/a.html", "https://www.scmp.com/article/1") == \
        "https://ca.finance.yahoo.com/news/a.html"
    # one user of a hosting platform is not another's site (the Public Suffix List; tests/test_sites.py)
    assert not same_site("https://a.github.io/x", "https://b.github.io/x")
    assert canonical_for("https://a.github.io/x", "https://b.github.io/x") == "https://a.github.io/x"


def test_host_of_never_raises():
    from pipelines.crawl.urls import host_of, same_site

    assert host_of("http://[bad/") == "" and host_of("") == "" and host_of("HTTPS://WWW.X.ORG/") == "www.x.org"
    assert not same_site("http://[bad/", "https://x.org/")


def test_tracking_parameters_of_feeds_and_newsletters_are_dropped():
    clean = "https://scmp.com/week-asia/opinion/article/3279378/why"
    for tail in ("?utm_source=rss_feed", "?cid=nl-2026-11", "?CID=x&icid=y", "?guccounter=1&guce_referrer=abc",
                 "?.tsrc=rss", "?cmp=social&utm_medium=email"):
        assert canonicalize("https://www.scmp.com/week-asia/opinion/article/3279378/why" + tail) == clean, tail
    assert canonicalize("https://carnegieendowment.org/x/2022/07/y?lang=en&utm_source=t") == \
        "https://carnegieendowment.org/x/2022/07/y?lang=en"  # a meaningful parameter stays


def test_a_site_no_outlet_owns_is_named_by_its_registrable_domain():
    """A reviewer: one publisher got two outlet names, `m.washingtontimes.com` from an imported WARC and
    `washingtontimes.com` from a fetch. A record's outlet, for a site the registry does not know, is its
    site by the Public Suffix List; blogs on one platform stay apart."""
    from crawler.outlets import outlet_lookup
    from pipelines.crawl.urls import site_name

    lookup = outlet_lookup()
    for url, name in (("https://m.washingtontimes.com/news/2025/a/", "washingtontimes.com"),
                      ("https://www.washingtontimes.com/news/2025/a/", "washingtontimes.com"),
                      ("https://news.bbc.co.uk/2/hi/asia-pacific/1.stm", "bbc.co.uk"),
                      ("https://a.substack.com/p/x", "a.substack.com"), ("https://b.substack.com/p/x", "b.substack.com"),
                      ("https://victim.github.io/post", "victim.github.io"), ("http://127.0.0.1:8080/a", "127.0.0.1")):
        assert site_name(url) == name and lookup(url) == name, url
    assert lookup("https://m.thestar.com.my/news/nation/2026/05/18/a-b-c/") == "the-star"  # the registry's name
