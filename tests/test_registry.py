"""The outlet registry is valid data: unique names, valid URLs and patterns, known profiles."""

import re
from urllib.parse import urlsplit

import pytest

from pipelines.profiles import load_profiles
from pipelines.registry import RegistryError, load_registry, site_outlet

REGISTRY = load_registry()


def test_bundled_registry_is_valid_and_complete():
    registry = load_registry(profiles=set(load_profiles()))  # raises on any invalid entry
    names = [o.name for o in registry]
    assert len(names) == len(set(names))
    assert {"intellinews", "russia-briefing", "rsis", "yahoo-finance", "russia-direct", "scmp", "tass",
            "the-diplomat", "east-asia-forum", "asean-secretariat", "lowy-interpreter", "carnegie",
            "valdai"} <= set(names)
    for outlet in registry:
        assert outlet.domains and all("/" not in d and not d.startswith("www.") for d in outlet.domains)
        assert outlet.status in ("replay-verified", "unverified", "ad hoc (--site)")
        for url in outlet.start_urls():
            parts = urlsplit(url)
            assert parts.scheme == "https" and outlet.owns(url), (outlet.name, url)
        for pattern in (*outlet.articles, *outlet.exclude, *outlet.pagination):
            re.compile(pattern)
    domains = [d for o in registry for d in o.domains]
    assert len(domains) == len(set(domains)), "a domain belongs to one outlet"


def test_every_profile_named_in_the_registry_exists():
    profiles = set(load_profiles())
    assert {o.profile for o in REGISTRY if o.profile} <= profiles


def test_unverified_outlets_say_so():
    unverified = [o for o in REGISTRY if o.status == "unverified"]
    assert unverified and all(o.name not in ("rsis", "intellinews") for o in unverified)


@pytest.mark.parametrize("url,outlet,article", [
    ("https://intellinews.com/lavrov-presses-the-flesh-at-asean-summit-as-kremlin-seeks-to-deepen-ties-with-asia-335684", "intellinews", True),
    ("https://intellinews.com/tags/asean/?page=2", "intellinews", False),
    ("https://www.russia-briefing.com/news/russia-asean-trade-outlook-2025.html/", "russia-briefing", True),
    ("https://www.rsis.edu.sg/rsis-publication/rsis/page/2/", "rsis", False),
    ("https://ca.finance.yahoo.com/news/russia-china-join-forces-southeast-093000673.html", "yahoo-finance", True),
    ("https://ca.finance.yahoo.com/quote/SPTSX/", "yahoo-finance", False),
    ("https://tass.com/politics/1823456", "tass", True),
])
def test_article_patterns(url, outlet, article):
    found = REGISTRY.for_url(url)
    assert found is not None and found.name == outlet
    assert found.is_article(url) is article


def test_invalid_registries_are_refused_with_a_clear_message(tmp_path):
    cases = {
        "dup": '[[outlet]]\nname="a"\ntitle="A"\ndomains=["a.org"]\n[[outlet]]\nname="a"\ntitle="B"\ndomains=["b.org"]\n',
        "pattern": '[[outlet]]\nname="a"\ntitle="A"\ndomains=["a.org"]\narticles=["(unclosed"]\n',
        "url": '[[outlet]]\nname="a"\ntitle="A"\ndomains=["a.org"]\n[outlet.discovery]\nfeeds=["ftp://a.org/feed"]\n',
        "key": '[[outlet]]\nname="a"\ntitle="A"\ndomains=["a.org"]\nfeeedz=["x"]\n',
        "profile": '[[outlet]]\nname="a"\ntitle="A"\ndomains=["a.org"]\nprofile="nope"\n',
    }
    messages = {"dup": "duplicate name", "pattern": "bad pattern", "url": "invalid URL",
                "key": "unknown keys", "profile": "unknown extraction profile"}
    for case, text in cases.items():
        path = tmp_path / f"{case}.toml"
        path.write_text(text)
        with pytest.raises(RegistryError, match=messages[case]):
            load_registry(path, profiles=set(load_profiles()))


def test_site_outlet_for_unregistered_sites():
    outlet = site_outlet("https://www.example.org/asia/")
    assert outlet.follow_links and outlet.owns("https://example.org/x") and outlet.listings == ("https://www.example.org/asia/",)
    with pytest.raises(RegistryError):
        site_outlet("not a url")
