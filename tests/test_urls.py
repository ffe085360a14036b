from pipelines.urls import canonicalize, doc_id, registered_host


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
