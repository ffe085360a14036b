"""Same site by the Public Suffix List: one user of a hosting platform never claims another's record."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.corpus.record import canonical_for
from pipelines.crawl.registry import Outlet, RegistryError, load_registry, site_outlet
from pipelines.crawl.urls import host_under, is_public_suffix, same_site, site_of
from pipelines.extract.listing import listing_verdict

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("a, b", [
    ("https://www.bbc.co.uk/news/1", "https://news.bbc.co.uk/2"),
    ("https://m.example.com/a", "https://www.example.com/b"),
    ("https://ca.finance.yahoo.com/x", "https://finance.yahoo.com/y"),
    ("https://x.blogspot.com/a", "https://www.x.blogspot.com/b"),
    ("https://victim.github.io/a", "http://victim.github.io:8080/b"),  # schemes and ports do not matter
    ("https://github.io/", "https://www.github.io/"),                   # the platform's own site
    ("https://bücher.de/a", "https://xn--bcher-kva.de/b"),              # IDN: Unicode and punycode alike
    ("https://www.BÜCHER.de./a", "https://news.bücher.de/b"),
    ("https://食狮.公司.cn/a", "https://www.xn--85x722f.xn--55qx5d.cn/b"),
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b"),
    ("http://[::1]/a", "http://[0:0:0:0:0:0:0:1]:81/b"),
    ("http://localhost/a", "http://localhost:8080/b"),
    ("https://substack.com/a", "https://www.substack.com/b"),
])
def test_same_site(a, b):
    assert same_site(a, b) and same_site(b, a)


@pytest.mark.parametrize("a, b", [
    ("https://a.github.io/x", "https://b.github.io/x"),
    ("https://attacker.github.io/x", "https://github.io/x"),
    ("https://x.blogspot.com/a", "https://y.blogspot.com/a"),
    ("https://x.substack.com/p/a", "https://y.substack.com/p/a"),       # not in the list: the project's extras
    ("https://x.wordpress.com/a", "https://y.wordpress.com/a"),
    ("https://a.herokuapp.com/", "https://b.herokuapp.com/"),
    ("https://www.bbc.co.uk/a", "https://www.itv.co.uk/a"),
    ("https://bbc.co.uk/a", "https://co.uk/a"),
    ("https://www.scmp.com/a", "https://ca.finance.yahoo.com/a"),
    ("https://bücher.de/a", "https://buecher.de/a"),
    ("http://1.2.3.4/a", "http://5.2.3.4/a"),                           # never "3.4" as a registrable domain
    ("http://127.0.0.1/a", "http://127.0.0.2/a"),
    ("http://0x7f.0.0.1/a", "http://0x0a.0.0.1/a"),                     # numeric last label: the whole host
    ("http://[::1]/a", "http://[::2]/a"),
    ("http://localhost/a", "http://127.0.0.1/a"),
    ("http://a.localhost/", "http://b.localhost/"),
    ("https://example.com/", "not a url"),
    ("https://example.com/", ""),
    ("http://[bad/", "http://[bad/"),                                   # unparsable: never the same site
])
def test_not_same_site(a, b):
    assert not same_site(a, b) and not same_site(b, a)


def test_site_of_and_public_suffixes():
    assert site_of("www.bbc.co.uk") == site_of("news.bbc.co.uk") == "bbc.co.uk"
    assert site_of("ca.finance.yahoo.com") == "yahoo.com"
    assert site_of("www.victim.github.io") == "victim.github.io"
    assert site_of("a.b.substack.com") == "b.substack.com"
    assert site_of("[::ffff:127.0.0.1]") == "::ffff:7f00:1"
    assert site_of("localhost") == "localhost" and site_of("") == ""
    for suffix in ("co.uk", "github.io", "blogspot.com", "substack.com", "com", "xn--55qx5d.cn", "公司.cn"):
        assert is_public_suffix(suffix), suffix
    for host in ("bbc.co.uk", "victim.github.io", "127.0.0.1", "localhost.example", "intellinews.com"):
        assert not is_public_suffix(host), host
    assert host_under("news.bbc.co.uk", "bbc.co.uk") and host_under("github.io", "github.io")
    assert not host_under("victim.github.io", "github.io")


def test_a_canonical_on_another_user_of_a_platform_is_not_followed():
    assert canonical_for("https://attacker.github.io/p", "https://victim.github.io/story") \
        == "https://attacker.github.io/p"
    assert canonical_for("https://x.substack.com/p/a", "https://y.substack.com/p/a") == "https://x.substack.com/p/a"
    assert canonical_for("https://www.bbc.co.uk/news/a?utm_source=x", "https://news.bbc.co.uk/a") \
        == "https://news.bbc.co.uk/a"
    # declarations that cannot be a record's key are ignored, never an exception
    for bad in ("https://attacker.github.io:99999/p", "ftp://attacker.github.io/p", "http://[bad/"):
        assert canonical_for("https://attacker.github.io/p", bad) == "https://attacker.github.io/p"


def test_listing_teasers_count_only_the_users_own_site():
    def page(hosts):
        teasers = "".join(f'<li><a href="https://{h}.github.io/posts/{i}">A long teaser headline number {i} here'
                          f"</a><p>Summary of the story.</p></li>" for i in range(6) for h in hosts)
        return f"<html><body><main><ul>{teasers}</ul></main></body></html>"

    assert listing_verdict(page(["me", "other"]), "https://me.github.io/").teasers == 6
    assert listing_verdict(page(["other"]), "https://me.github.io/").teasers == 0
    assert listing_verdict(page(["www.me"]), "https://me.github.io/").teasers == 6


def test_outlet_domains_never_own_a_public_suffixs_users():
    outlet = site_outlet("https://github.io/")
    assert outlet.owns("https://github.io/about") and not outlet.owns("https://victim.github.io/")
    blog = site_outlet("https://www.attacker.github.io/")
    assert blog.owns("https://attacker.github.io/p") and not blog.owns("https://victim.github.io/p")
    registry = load_registry()
    for outlet in registry:
        for domain in outlet.domains:
            assert not is_public_suffix(domain), (outlet.name, domain)


def test_registry_refuses_a_public_suffix_as_an_outlet_domain(tmp_path):
    toml = tmp_path / "outlets.toml"
    toml.write_text('[[outlet]]\nname = "pages"\ntitle = "All of GitHub Pages"\ndomains = ["github.io"]\n')
    with pytest.raises(RegistryError, match="public suffix"):
        load_registry(toml)


def test_the_list_is_bundled_and_never_fetched():
    """With every socket refused (an audit hook), the list loads and answers: nothing is downloaded."""
    code = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event.startswith(('socket.', 'urllib.Request', 'http.client')):\n"
        "        raise RuntimeError('network use: ' + event)\n"
        "sys.addaudithook(hook)\n"
        "from pipelines.crawl.urls import same_site, site_of\n"
        "assert not same_site('https://a.github.io/', 'https://b.github.io/')\n"
        "assert site_of('www.bbc.co.uk') == 'bbc.co.uk'\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def _page(title: str, said: str, canonical: str | None = None) -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    pars = "".join(f"<p>{said} Paragraph {i} tells how ASEAN ministers met Russian officials in Vientiane "
                   "to talk about trade, energy and security in the region this year.</p>" for i in range(6))
    return (f"<!doctype html><html lang=en><head><title>{title}</title>{link}</head>"
            f"<body><article><h1>{title}</h1>{pars}</article></body></html>")


def test_attacker_canonical_to_a_victim_on_the_same_platform_end_to_end(corpus_cmd, tmp_path):
    """`corpus fetch` of the victim's page, then of an attacker's page on another github.io user whose
    rel=canonical names the victim's URL: the victim's record is unchanged, the attacker's is its own."""
    from crawler.replay.server import ReplayServer

    root = tmp_path / "web"
    victim_url = "https://victim.github.io/posts/story.html"
    attacker_url = "https://attacker.github.io/posts/fake.html"
    for url, html in ((victim_url, _page("Victim story", "The victim wrote this.")),
                      (attacker_url, _page("Attacker story", "The ATTACKER injected this.", victim_url))):
        path = root / url.split("://", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
    store = tmp_path / "store"
    docs = store / "corpus" / "docs"
    with ReplayServer([root]) as server:
        first = corpus_cmd("fetch", "--any-topic", "--replay", server.url, "--store", store, victim_url)
        assert first.returncode == 0, first.stderr[-2000:]
        (victim_file,) = docs.glob("*.json")
        before = json.loads(victim_file.read_text())
        second = corpus_cmd("fetch", "--any-topic", "--replay", server.url, "--store", store, attacker_url)
        assert second.returncode == 0, second.stderr[-2000:]
    records = {json.loads(p.read_text())["url"]: json.loads(p.read_text()) for p in docs.glob("*.json")}
    assert set(records) == {victim_url, attacker_url}
    victim, attacker = records[victim_url], records[attacker_url]
    assert victim["text"] == before["text"] and victim["text_sha256"] == before["text_sha256"]
    assert victim["title"] == "Victim story" and "ATTACKER" not in victim["text"]
    assert attacker["canonical_url"] == attacker_url and attacker["id"] != victim["id"]
    assert attacker["declared_canonical"] == victim_url  # kept as written, for near-duplicate detection
