"""Only the public web, only over http(s): schemes, DNS rebinding, IPv6 forms that reach private space.

Everything runs against servers on 127.0.0.1 (and 127.0.0.2); names are answered by
``tests/driven_dns.py``, never by the system resolver.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock

from crawler.discovery import page_links, split_fetchable
from crawler.middlewares.private_guard import PrivateAddressGuard, PrivateAddressRefused
from crawler.middlewares.scheme_guard import SchemeGuard, SchemeRefused
from crawler.resolver import PublicResolver, literal_ip, non_public
from pipelines.crawl.urls import refused_scheme, url_problem
from trapsite import article_text

TESTS = Path(__file__).resolve().parent
SECRET = "Secret local notes"


# -- IPv6 and IPv4 forms --------------------------------------------------------------------------------
REFUSED = [
    # IPv4 private, loopback, link-local, shared, reserved, multicast, broadcast
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "192.0.0.8", "192.0.0.170", "192.88.99.1", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "240.0.0.1",
    "224.0.0.1", "239.255.255.250", "255.255.255.255",
    # IPv6 loopback, unspecified, link-local, unique local, multicast, scoped
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
    # IPv4-mapped, IPv4-compatible (::/96), IPv4-translated (::ffff:0:0:0/96)
    "::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:10.0.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "::7f00:1", "0:0:0:0:0:0:127.0.0.1", "::10.0.0.1", "::8.8.8.8", "::a9fe:a9fe",
    "::ffff:0:7f00:1", "::ffff:0:8.8.8.8", "::ffff:0:a9fe:a9fe",
    # NAT64 with a private IPv4 inside; local-use NAT64 (any)
    "64:ff9b::a9fe:a9fe", "64:ff9b::169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::127.0.0.1", "64:ff9b::a00:1",
    "64:ff9b:0:0:0:0:c0a8:101", "64:ff9b:1::1", "64:ff9b:1::808:808", "64:ff9b:1:ffff::1",
    # 6to4 with a private IPv4 inside
    "2002:7f00:1::", "2002:7f00:0001::1", "2002:a00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::",
    "2002:0:0::1",
    # Teredo: server or client private (the client is stored inverted), and Teredo at large
    "2001:0:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:808:808:0:0:f5ff:fffe", "2001::1",
    # site-local, discard-only, documentation, SRv6, ORCHID, benchmarking
    "fec0::1", "fec0:0:0:1::1", "feff::1", "100::1", "100::ffff:ffff:ffff:ffff", "2001:db8::1", "3fff::1",
    "3fff:fff::1", "5f00::1", "2001:10::1", "2001:2::1",
    # not an address at all
    "not-an-ip", "",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "64:ff9b::8.8.8.8", "2002:808:808::1"]


@pytest.mark.parametrize("ip", REFUSED)
def test_non_public_forms_are_refused(ip):
    assert non_public(ip)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_pass(ip):
    assert not non_public(ip)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "017700000001",
                                  "127.0.0.1.", "[::127.0.0.1]", "[64:ff9b::a9fe:a9fe]", "[::ffff:0:7f00:1]",
                                  "[2002:7f00:1::]", "[fec0::1]", "[fe80::1%25eth0]"])
def test_numeric_hosts_are_read_as_addresses_without_dns(host):
    ip = literal_ip(host)
    assert ip is not None and non_public(ip)


def test_names_are_not_addresses():
    assert [literal_ip(h) for h in ("example.com", "cafe.be", "0x.example", "1.2.3.4.example")] == [None] * 4


def run(coro):
    import asyncio

    return asyncio.new_event_loop().run_until_complete(coro)


class _Req:
    def __init__(self, url, meta=None):
        self.url = url
        self.meta = meta or {}


def _no_dns(host):
    raise AssertionError(f"looked up {host}: an address in the URL needs no DNS")


@pytest.mark.parametrize("url", [f"http://{h}:8080/latest/meta-data/" for h in (
    "[::127.0.0.1]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b::169.254.169.254]", "[64:ff9b:1::a9fe:a9fe]", "[2002:a9fe:a9fe::1]", "[fec0::1]", "[2001:0:7f00:1::1]",
    "[100::1]", "[::]", "127.1", "2130706433", "0x7f.1", "0251.0376.0251.0376", "localhost", "LOCALHOST.",
    "a.b.localhost")])
def test_guard_refuses_literal_spellings_with_the_usual_message(url):
    guard = PrivateAddressGuard(replay=False, resolver=PublicResolver(lookup=_no_dns))
    with pytest.raises(PrivateAddressRefused, match=r"^refused non-public address .* pass --allow-private to allow"):
        run(guard.process_request(_Req(url)))


# -- the resolver: one lookup, checked, pinned, fail closed ----------------------------------------------
class Script:
    """A lookup driven by the test: each call takes the next answer (the last repeats); counts calls."""

    def __init__(self, **answers):
        self.answers = {k.replace("_", "."): v for k, v in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host):
        self.calls.append(host)
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[min(self.calls.count(host), len(answers)) - 1]


class _SyncPool:
    def callInThreadWithCallback(self, on_result, f, *args, **kwargs):
        try:
            result = f(*args, **kwargs)
        except Exception:  # noqa: BLE001 - handed back as the thread pool would
            from twisted.python.failure import Failure

            on_result(False, Failure())
        else:
            on_result(True, result)


class FakeReactor(Clock):
    """Enough of a reactor for the resolver's own lookups: a clock, a thread pool that runs at once."""

    def getThreadPool(self):
        return _SyncPool()

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class Receiver:
    def __init__(self):
        self.addresses, self.began, self.complete = [], False, False

    def resolutionBegan(self, resolution):
        self.began = True

    def addressResolved(self, address):
        self.addresses.append(address)

    def resolutionComplete(self):
        self.complete = True


def connect_to(resolver, host, port=80):
    """What Twisted would connect to for ``host``: the addresses the resolver hands it."""
    receiver = Receiver()
    resolver.resolveHostName(receiver, host, port)
    assert receiver.began and receiver.complete
    return [(a.host, a.port) for a in receiver.addresses]


def test_rebinding_the_connection_goes_to_the_checked_address_never_to_the_second_answer():
    lookup = Script(rebind_example=[["93.184.216.34"], ["127.0.0.1"]])
    resolver = PublicResolver(FakeReactor(), lookup=lookup)
    guard = PrivateAddressGuard(replay=False, resolver=resolver)
    assert run(guard.process_request(_Req("https://rebind.example/a"))) is None
    for _ in range(3):  # the connection, a retry, another page of the host
        assert connect_to(resolver, "rebind.example", 443) == [("93.184.216.34", 443)]
    assert run(guard.process_request(_Req("https://rebind.example/b"))) is None
    assert lookup.calls == ["rebind.example"]  # resolved once: no second answer to connect to


def test_rebinding_without_the_guard_the_resolver_checks_what_it_hands_over():
    lookup = Script(rebind_example=[["127.0.0.1"], ["93.184.216.34"]], mixed_example=[["93.184.216.34", "10.0.0.7"]],
                    nat64_example=[["64:ff9b::a9fe:a9fe"]], v6_example=[["2606:4700:4700::1111"]])
    resolver = PublicResolver(FakeReactor(), lookup=lookup)
    assert connect_to(resolver, "rebind.example") == []       # refused: Twisted fails with a DNS lookup error
    assert connect_to(resolver, "rebind.example") == []       # and stays refused for the run
    assert lookup.calls == ["rebind.example"]
    assert connect_to(resolver, "mixed.example") == []        # one private address is enough
    assert connect_to(resolver, "nat64.example") == []
    assert connect_to(resolver, "unknown.example") == []      # fail closed
    resolver.resolveHostName(receiver := Receiver(), "v6.example", 8443)
    assert receiver.addresses == [IPv6Address("TCP", "2606:4700:4700::1111", 8443)]
    with pytest.raises(PrivateAddressRefused, match="refused non-public address 127.0.0.1 for rebind.example"):
        run(PrivateAddressGuard(replay=False, resolver=resolver).process_request(_Req("http://rebind.example/")))


def test_a_name_that_does_not_resolve_is_an_error_never_let_through():
    from scrapy.exceptions import CannotResolveHostError

    from crawler.spiders.base import failure_reason
    from twisted.python.failure import Failure

    guard = PrivateAddressGuard(replay=False, resolver=PublicResolver(lookup=Script()))
    with pytest.raises(CannotResolveHostError) as caught:
        run(guard.process_request(_Req("http://nowhere.example/")))
    assert failure_reason(Failure(caught.value)) == ("error", "DNS lookup failed")


def test_the_resolver_leaves_literals_replay_host_and_allow_private_alone():
    lookup = Script(intranet_example=[["10.1.2.3"]], replayhost=[["127.0.0.1"]])
    resolver = PublicResolver(FakeReactor(), lookup=lookup, allowed_hosts=["replayhost"])
    assert connect_to(resolver, "8.8.8.8", 53) == [("8.8.8.8", 53)]
    assert connect_to(resolver, "127.0.0.1") == []
    assert connect_to(resolver, "replayhost", 8000) == [("127.0.0.1", 8000)]
    allowing = PublicResolver(FakeReactor(), lookup=lookup, allow_private=True)
    assert connect_to(allowing, "intranet.example") == [("10.1.2.3", 80)]
    assert connect_to(allowing, "127.0.0.1", 9) == [("127.0.0.1", 9)]
    resolver.resolveHostName(receiver := Receiver(), "8.8.8.8", 53, addressTypes=[IPv6Address])
    assert receiver.addresses == [] and receiver.complete
    resolver.resolveHostName(receiver := Receiver(), "8.8.8.8", 53, addressTypes=[IPv4Address])
    assert receiver.addresses == [IPv4Address("TCP", "8.8.8.8", 53)]


def test_a_lookup_that_hangs_fails_after_the_dns_timeout(monkeypatch):
    import crawler.resolver

    reactor = FakeReactor()
    resolver = PublicResolver(reactor, lookup=Script(), timeout=5)
    monkeypatch.setattr(crawler.resolver, "deferToThreadPool", lambda *a, **k: defer.Deferred())  # never answers
    resolver.resolveHostName(receiver := Receiver(), "slow.example", 80)
    assert not receiver.complete
    reactor.advance(5)
    assert receiver.complete and receiver.addresses == []


# -- schemes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, scheme", [
    ("file:///etc/passwd", "file"), ("FILE://localhost/etc/passwd", "file"), ("file://127.0.0.1/tmp/x.html", "file"),
    ("ftp://127.0.0.1/x", "ftp"), ("data:text/html,<p>hi</p>", "data"), ("s3://bucket/key", "s3"),
    ("gopher://127.0.0.1:70/", "gopher"), ("javascript:alert(1)", "javascript"), ("jar:file:///x!/y", "jar"),
    ("  file:///etc/passwd", "file"), ("file://[::1/x", "file"), ("//example.com/x", ""), ("/relative", ""),
])
def test_other_schemes_are_refused_everywhere(url, scheme):
    assert refused_scheme(url) == scheme
    assert url_problem(url)
    with pytest.raises(SchemeRefused) as caught:
        SchemeGuard().process_request(_Req(url))
    if scheme:
        assert str(caught.value) == f"refused scheme '{scheme}' (only http and https are fetched)"
    assert split_fetchable([url, "https://ok.example/a"]) == (["https://ok.example/a"], [(url, scheme)])


def test_http_and_https_pass_the_scheme_guard():
    for url in ("http://example.com/", "HTTPS://example.com/a?b=1"):
        assert refused_scheme(url) is None and SchemeGuard().process_request(_Req(url)) is None


def test_a_redirect_to_another_scheme_says_why():
    from scrapy.http import Request, Response

    request = Request("https://example.com/a")
    for location, scheme in [("file:///etc/passwd", "file"), ("ftp://example.com/x", "ftp"), ("data:,x", "data")]:
        response = Response(request.url, status=302, headers={"Location": location}, request=request)
        with pytest.raises(SchemeRefused, match=f"^refused redirect to scheme '{scheme}' \\(only http and https"):
            SchemeGuard().process_response(request, response)
    ok = Response(request.url, status=301, headers={"Location": "/b"}, request=request)
    assert SchemeGuard().process_response(request, ok) is ok


def test_page_links_and_feeds_are_http_only():
    html = b"""<html><head><link rel="alternate" type="application/rss+xml" href="file:///etc/feed.xml">
    <link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>
    <a href="file:///etc/passwd">p</a><a href="ftp://x/y">f</a><a href="/ok">ok</a></body></html>"""
    links, feeds = page_links(html, "https://site.example/")
    assert links == ["https://site.example/ok"] and feeds == ["https://site.example/feed.xml"]


@pytest.mark.parametrize("overrides", [{}, {"CORPUS_REPLAY_URL": "http://127.0.0.1:9"},
                                       {"DOWNLOAD_HANDLERS": {"file": "scrapy.core.downloader.handlers.file.FileDownloadHandler",
                                                              "gopher": "x.Y"}}])
def test_download_handlers_other_than_http_stay_off(overrides):
    from scrapy import Spider
    from scrapy.core.downloader.handlers import DownloadHandlers
    from scrapy.crawler import Crawler

    from crawler.addon import CorpusAddon
    from crawler.runner import project_settings

    settings = project_settings({**overrides, "CORPUS_OUTLET_POLITENESS": False})
    CorpusAddon().update_settings(settings)
    handlers = DownloadHandlers(Crawler(Spider, settings))
    for scheme in ("file", "data", "ftp", "s3", "gopher"):
        assert handlers._get_handler(scheme) is None, scheme
    assert set(settings.getwithbase("DOWNLOAD_HANDLERS").items()) >= {("file", None), ("s3", None)}
    assert handlers._get_handler("https") is not None


# -- end to end: a hostile site on 127.0.0.1 ---------------------------------------------------------------
def article_html(title: str) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in article_text(title, 6))
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paras}</article>"
            "</body></html>").encode()


class Site:
    """An HTTP server on ``host`` whose pages the test sets; it logs every path asked for."""

    def __init__(self, host="127.0.0.1", port=0):
        self.pages: dict[str, tuple[int, dict, bytes]] = {}
        self.hits: list[str] = []
        self.log: list[tuple[float, str, str]] = []  # (monotonic time, Host header, path) of every request
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.hits.append(self.path)
                site.log.append((time.monotonic(), self.headers.get("Host", ""), self.path))
                status, headers, body = site.pages.get(self.path, (404, {}, b"not here"))
                self.send_response(status)
                for k, v in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Tripwire:
    """A named pipe holding an article: opening it for reading is noticed (and would hand the article over)."""

    def __init__(self, path: Path):
        self.path = path
        os.mkfifo(path)
        self.opened = threading.Event()
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        fd = os.open(self.path, os.O_WRONLY)  # blocks until someone opens the pipe to read it
        if not self.done.is_set():
            self.opened.set()
            os.write(fd, article_html(SECRET))
        os.close(fd)

    def close(self) -> bool:
        """Whether anyone opened it; unblocks the waiting writer."""
        self.done.set()
        os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
        return self.opened.is_set()


def _records(store: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (store / "corpus" / "docs").glob("*.json")]


def _report(store: Path) -> dict:
    return json.loads(next((store / "corpus" / "runs").glob("*.json")).read_text())


def test_file_and_other_schemes_in_robots_sitemaps_feeds_and_redirects_are_never_read(corpus_cmd, tmp_path):
    notes = Tripwire(tmp_path / "notes.html")
    site = Site()
    base = f"http://127.0.0.1:{site.port}"
    hostile = ["file:///etc/passwd", f"file://{notes.path}", f"file://127.0.0.1{notes.path}",
               f"ftp://127.0.0.1:{site.port}/article/ftp", "data:text/html,%3Cp%3Earticle%3C/p%3E",
               "s3://bucket/article/s3"]
    urlset = "".join(f"<url><loc>{u}</loc></url>" for u in [*hostile, f"{base}/article/real", f"{base}/article/redirect"])
    index = f"<sitemap><loc>file://{notes.path}</loc></sitemap><sitemap><loc>{base}/sitemap.xml</loc></sitemap>"
    xml = {"Content-Type": "application/xml"}
    site.pages.update({
        "/robots.txt": (200, {"Content-Type": "text/plain"}, f"User-agent: *\nAllow: /\nSitemap: file://{notes.path}\n"
                                                             f"Sitemap: ftp://127.0.0.1/sitemap.xml\n".encode()),
        "/index.xml": (200, xml, f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{index}"
                                 "</sitemapindex>".encode()),
        "/sitemap.xml": (200, xml, f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urlset}</urlset>".encode()),
        "/feed.xml": (200, xml, "<rss><channel>".encode() + "".join(
            f"<item><link>{u}</link></item>" for u in hostile[:2]).encode() + b"</channel></rss>"),
        "/article/real": (200, {}, article_html("A real article on ASEAN and Russia")),
        "/article/redirect": (302, {"Location": f"file://{notes.path}"}, b""),
    })
    registry = tmp_path / "reg.toml"
    registry.write_text(f'[[outlet]]\nname="loc"\ntitle="Local"\ndomains=["127.0.0.1"]\narticles=["/article/"]\n'
                        f'[outlet.discovery]\nsitemaps=["{base}/index.xml"]\nfeeds=["{base}/feed.xml"]\n')
    store = tmp_path / "store"
    try:
        res = corpus_cmd("crawl", "--registry", registry, "loc", "--allow-private", "--any-topic", "--store", store,
                         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "CORPUS_MAX_ERROR_RATE=1")
    finally:
        site.close()
        opened = notes.close()
    assert res.returncode == 0, res.stderr[-3000:]
    assert not opened, "the local file was opened"
    records = _records(store)
    assert [r["url"] for r in records] == [f"{base}/article/real"] or \
        [r["url"].replace("https://", "http://") for r in records] == [f"{base}/article/real"]
    assert not any(SECRET in json.dumps(r) or "root:" in json.dumps(r) or "file:" in r["url"] for r in records)
    stats = _report(store)["stats"]
    # robots.txt 2, the index 1, the sitemap 6, the feed 2: dropped before any request, counted with a reason
    assert stats["corpus/outlet/loc/refused_scheme"] == 11
    assert [stats[f"corpus/discovery/refused_scheme/{s}"] for s in ("file", "ftp", "data", "s3")] == [7, 2, 1, 1]
    assert stats["corpus/reason/error/refused-redirect-to-scheme-'file'"] == 1
    assert "not requesting file:///etc/passwd" in res.stderr
    assert not [h for h in site.hits if "ftp" in h or "s3" in h]


def test_check_names_the_urls_of_other_schemes(corpus_cmd, tmp_path):
    notes = Tripwire(tmp_path / "notes.html")
    site = Site()
    base = f"http://127.0.0.1:{site.port}"
    locs = ["file:///etc/passwd", f"file://127.0.0.1{notes.path}", f"{base}/article/real"]
    site.pages.update({
        "/robots.txt": (200, {"Content-Type": "text/plain"}, f"Sitemap: file://{notes.path}\n".encode()),
        "/sitemap.xml": (200, {"Content-Type": "application/xml"}, ("<urlset>" + "".join(
            f"<url><loc>{u}</loc></url>" for u in locs) + "</urlset>").encode()),
        "/article/real": (200, {}, article_html("A real article on ASEAN and Russia")),
    })
    registry = tmp_path / "reg.toml"
    registry.write_text(f'[[outlet]]\nname="loc"\ntitle="Local"\ndomains=["127.0.0.1"]\narticles=["/article/"]\n'
                        f'[outlet.discovery]\nsitemaps=["{base}/sitemap.xml"]\n')
    try:
        res = corpus_cmd("check", "--registry", registry, "loc", "--allow-private", "--json",
                         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0")
    finally:
        site.close()
        opened = notes.close()
    assert not opened
    assert res.returncode == 0, res.stderr[-3000:]
    problems = "\n".join(json.loads(res.stdout)["problems"])
    assert (f"loc: sitemap {base}/sitemap.xml lists 2 URLs that are not http(s), not requested (only http and https "
            f"are fetched): file:///etc/passwd, file://127.0.0.1{notes.path}") in problems
    assert f"robots.txt {base}/robots.txt lists 1 URL that is not http(s)" in problems


@pytest.mark.parametrize("url", ["FILE:///etc/passwd", "data:text/html,<p>x</p>"])
def test_fetch_of_another_scheme_is_an_error_of_that_url_never_requested(corpus_cmd, tmp_path, url):
    """Another scheme is that URL's own error (exit 1), so one bad line of a list does not stop the rest."""
    res = corpus_cmd("fetch", "--json", "--store", tmp_path / "s", "https://example.invalid/a", url)
    assert res.returncode == 1, res.stderr[-2000:]
    out = {row["input_url"]: row for row in map(json.loads, res.stdout.splitlines())}
    scheme = url.split(":")[0].lower()
    assert out[url]["outcome"] == f"error: refused scheme '{scheme}' (only http and https are fetched)"
    assert out["https://example.invalid/a"]["outcome"].startswith("error: ")  # tried: no such host
    assert "Traceback" not in res.stderr


def _two_servers_on_one_port():
    """The "internal" server on 127.0.0.1:P and the "public" one on 127.0.0.2:P (the driven DNS's stand-in)."""
    for _ in range(20):
        internal = Site("127.0.0.1")
        try:
            return internal, Site("127.0.0.2", internal.port)
        except OSError:
            internal.close()
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


def test_dns_rebinding_end_to_end_the_second_answer_is_never_connected_to(corpus_cmd, tmp_path):
    internal, public = _two_servers_on_one_port()
    port = public.port
    for site, who in ((public, "public"), (internal, "internal")):
        site.pages.update({"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
                           **{f"/article/{n}": (200, {}, article_html(f"The {who} article {n} on ASEAN and Russia"))
                              for n in ("one", "two")}})
    public.pages["/to-v6"] = (302, {"Location": f"http://[::127.0.0.1]:{port}/article/one"}, b"")
    public.pages["/to-nat64"] = (302, {"Location": f"http://[64:ff9b::7f00:1]:{port}/article/one"}, b"")
    dns = tmp_path / "dns.json"
    dns.write_text(json.dumps({
        "rebind.test": [["127.0.0.2"], ["127.0.0.1"]],          # public first, internal on every later lookup
        "private.test": [["127.0.0.1"]],
        "mixed.test": [["127.0.0.2", "10.0.0.1"]],
        "metadata.test": [["64:ff9b::a9fe:a9fe"]],
        "sixtofour.test": [["2002:7f00:1::1"]],
    }))
    urls = [f"http://rebind.test:{port}/article/one", f"http://rebind.test:{port}/article/two",
            f"http://rebind.test:{port}/to-v6", f"http://rebind.test:{port}/to-nat64",
            f"http://private.test:{port}/article/one", f"http://mixed.test:{port}/article/one",
            f"http://metadata.test:{port}/latest/", f"http://sixtofour.test:{port}/article/one",
            f"http://nowhere.test:{port}/article/one"]
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), "DRIVEN_DNS": str(dns),
           "CORPUS_RETRY_BACKOFF": "0"}
    try:
        res = corpus_cmd("fetch", "--json", "--store", tmp_path / "s", *urls, "-s", "DOWNLOAD_DELAY=0",
                         "-s", "TWISTED_DNS_RESOLVER=driven_dns.DrivenResolver", env=env)
    finally:
        public.close()
        internal.close()
    out = {row["input_url"]: row for row in map(json.loads, res.stdout.splitlines())}
    assert set(out) == set(urls), res.stderr[-3000:]
    assert internal.hits == []  # never connected to the second answer
    assert sorted(public.hits) == sorted(["/robots.txt", "/article/one", "/article/two", "/to-v6", "/to-nat64"])
    assert out[urls[0]]["outcome"] == "new" and out[urls[0]]["title"] == "The public article one on ASEAN and Russia"
    assert out[urls[1]]["outcome"] == "new" and "public" in out[urls[1]]["title"]
    refused = "error: refused non-public address {} for {} (loopback, private or link-local; pass --allow-private to allow)"
    assert out[urls[2]]["outcome"] == refused.format("::7f00:1", "::127.0.0.1")
    assert out[urls[3]]["outcome"] == refused.format("64:ff9b::7f00:1", "64:ff9b::7f00:1")
    assert out[urls[4]]["outcome"] == refused.format("127.0.0.1", "private.test")
    assert out[urls[5]]["outcome"] == refused.format("10.0.0.1", "mixed.test")
    assert out[urls[6]]["outcome"] == refused.format("64:ff9b::a9fe:a9fe", "metadata.test")
    assert out[urls[7]]["outcome"] == refused.format("2002:7f00:1::1", "sixtofour.test")
    assert out[urls[8]]["outcome"] == "error: DNS lookup failed"
    lookups = Path(str(dns) + ".log").read_text().split()
    assert lookups.count("rebind.test") == 1  # one lookup, pinned: checked address == connected address
    assert lookups.count("private.test") == 1 and "nowhere.test" in lookups
    assert res.returncode == 1


def test_the_guard_refuses_to_start_with_a_handler_that_resolves_names_itself():
    from crawler.addon import CorpusAddon
    from crawler.middlewares.private_guard import check_handlers
    from crawler.runner import project_settings

    for overrides in ({}, {"CORPUS_REPLAY_URL": "http://127.0.0.1:9"}):
        settings = project_settings({**overrides, "CORPUS_OUTLET_POLITENESS": False})
        CorpusAddon().update_settings(settings)
        check_handlers(settings)  # Twisted's HTTP/1.1 handler, and the replay handler built on it
    settings = project_settings({"DOWNLOAD_HANDLERS": {"https": "crawler.middlewares.scheme_guard.SchemeGuard"}})
    with pytest.raises(RuntimeError, match="resolves host names itself"):
        check_handlers(settings)


def test_a_redirect_to_a_scheme_without_slashes_or_a_malformed_address_says_why(corpus_cmd, tmp_path):
    """A reviewer's server answered 302 to `javascript:`, `mailto:` and `http://[::1`: Scrapy's redirect
    middleware built a Request from each before any check and the outcome read `error: ValueError: Missing
    scheme in request url: javascript:alert(1)`. Now each says what was refused; nothing else is requested."""
    site = Site()
    base = f"http://127.0.0.1:{site.port}"
    site.pages.update({
        "/js": (302, {"Location": "javascript:alert(1)"}, b""),
        "/mail": (302, {"Location": "mailto:a@example.org"}, b""),
        "/tel": (301, {"Location": "tel:+6512345678"}, b""),
        "/broken": (302, {"Location": "http://[::1"}, b""),
    })
    try:
        res = corpus_cmd("fetch", "--allow-private", "--store", tmp_path / "s", *(f"{base}/{p}" for p in
                                                                                ("js", "mail", "tel", "broken")))
    finally:
        site.close()
    assert res.returncode == 1, res.stderr[-2000:]
    assert "ValueError" not in res.stdout + res.stderr and "Traceback" not in res.stderr
    for scheme in ("javascript", "mailto", "tel"):
        assert f"error: refused redirect to scheme '{scheme}' (only http and https are fetched)" in res.stdout
    assert "error: refused redirect to a malformed address" in res.stdout
    assert set(site.hits) <= {"/js", "/mail", "/tel", "/broken", "/robots.txt"}, site.hits


def test_a_url_with_credentials_is_refused_and_its_password_is_never_kept(corpus_cmd, tmp_path):
    """A reviewer's `corpus fetch http://alice:pa55word@host/...` failed with `ValueError: invalid hostname:
    alice:pa55word@host`, a stats key holding the password (`corpus/reason/error/valueerror:-invalid-hostname:
    -alice:pa55word@...`) in the run report in the store; a redirect to `bob:hunter2@` did the same. Now
    such a URL is an invalid URL, a redirect to one is refused, nothing is requested with them, and no
    output, report or stats key carries a password."""
    site = Site()
    base = f"127.0.0.1:{site.port}"
    site.pages.update({"/redirect": (302, {"Location": f"http://bob:hunter2@{base}/creds/2"}, b""),
                       "/creds/2": (200, {}, article_html("The secret article on ASEAN and Russia"))})
    store, report = tmp_path / "s", tmp_path / "report.json"
    try:
        res = corpus_cmd("fetch", "--allow-private", "--store", store, "--report", report,
                         f"http://alice:pa55word@{base}/creds/1", f"http://{base}/redirect")
        js = corpus_cmd("fetch", "--allow-private", "--json", "--store", tmp_path / "s2",
                        f"http://alice:pa55word@{base}/creds/1")
    finally:
        site.close()
    assert res.returncode == 1, res.stderr[-2000:]
    assert "error: invalid URL (credentials in the URL (user:password@ is never sent))" in res.stdout
    assert "error: refused redirect to a URL with credentials (user:password@ is never sent)" in res.stdout
    assert "/creds/" not in "".join(site.hits), site.hits
    assert f"http://***@{base}/creds/1" in res.stdout
    written = [res.stdout, res.stderr, js.stdout, js.stderr, report.read_text()]
    written += [p.read_text(errors="replace") for p in store.rglob("*") if p.is_file()]
    for text in written:
        assert "pa55word" not in text and "hunter2" not in text
    assert json.loads(js.stdout)["input_url"] == f"http://***@{base}/creds/1"


def test_credentials_are_redacted_from_any_message():
    from pipelines.crawl.urls import redact_credentials, url_problem

    assert redact_credentials("invalid hostname: alice:pa55word@pub.test") == "invalid hostname: ***@pub.test"
    assert redact_credentials("GET https://u:p%40ss@[::1]:8/x failed") == "GET https://***@[::1]:8/x failed"
    for text in ("mail ann@example.org at 10:30", "https://example.org/a@b", "https://example.org/wiki/a:b@c",
                 "http://127.0.0.1:8080/x?to=a:b@c"):
        assert redact_credentials(text) == text
    assert redact_credentials("https://u:p@ss@host/x") == "https://***@host/x"  # the last "@" ends the password
    assert redact_credentials("s3://KEY:se/cr+et@bucket/c failed") == "s3://***@bucket/c failed"
    assert redact_credentials("http://alice:p.w@host/x?q=a@b") == "http://***@host/x?q=a@b"
    assert url_problem("https://ann@example.org/") == "credentials in the URL (user:password@ is never sent)"


def test_credentials_in_the_store_address_are_refused_and_not_echoed(corpus_cmd, tmp_path):
    """`--store s3://KEY:SECRET@bucket/x` (no form S3 knows) echoed the key and secret in the exit-3 line and the
    run report (a reviewer)."""
    for n, secret in enumerate(("s3cr3tv4lue", "wJalr/XUtnFEMI+K7MDENG")):  # AWS secret keys may hold "/"
        report = tmp_path / f"report{n}.json"
        res = corpus_cmd("fetch", "--store", f"s3://AKIAEXAMPLE:{secret}@bucket/corpus", "--report", report,
                         "https://example.invalid/a")
        assert res.returncode == 3, res.stderr[-2000:]
        assert "credentials in the store address 's3://***@bucket/corpus'" in res.stderr
        kept = [p.read_text() for p in Path(os.environ["XDG_STATE_HOME"]).rglob("*.json")]
        for text in (res.stdout, res.stderr, report.read_text(), *kept):
            assert secret not in text and "AKIAEXAMPLE" not in text
    # nor in a usage error
    res = corpus_cmd("crawl", "--store", tmp_path / "s", "--site", "http://alice:pa55word@example.org/")
    assert res.returncode == 2 and "pa55word" not in res.stdout + res.stderr, res.stderr


def test_sub_domains_of_one_site_share_its_politeness_limits(corpus_cmd, tmp_path):
    """A reviewer fetched 4 pages from each of 6 sub-domains of one site (s1.pub.test ... s6.pub.test, one
    server): 24 requests in 4.3 s, up to 7 in one second, since Scrapy keeps a download slot per host name.
    One slot per site (crawler/site_slots.py): its delay holds between any two of its requests; another
    site keeps its own slot, and two users of a hosting platform (a public suffix) are two sites."""
    site = Site("127.0.0.2")
    port = site.port
    robots = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    site.pages["/robots.txt"] = robots
    for n in range(3):
        site.pages[f"/news/{n}"] = (200, {}, article_html(f"Story {n} on ASEAN and Russia"))
    hosts = [f"s{i}.pub.test" for i in range(1, 5)]
    dns = tmp_path / "dns.json"
    dns.write_text(json.dumps({h: [["127.0.0.2"]] for h in [*hosts, "other.test", "a.github.io", "b.github.io"]}))
    urls = [f"http://{h}:{port}/news/{n}" for h in hosts for n in range(3)]
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), "DRIVEN_DNS": str(dns)}
    delay = 0.6
    try:
        res = corpus_cmd("fetch", "--store", tmp_path / "s", *urls, "-s", f"DOWNLOAD_DELAY={delay}",
                         "-s", "RANDOMIZE_DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0",
                         "-s", "TWISTED_DNS_RESOLVER=driven_dns.DrivenResolver", env=env)
    finally:
        site.close()
    assert res.returncode in (0, 1), res.stderr[-3000:]
    times = sorted(t for t, host, path in site.log if path.startswith("/news/"))
    assert len(times) == 12, site.log
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= delay * 0.8, gaps  # one slot: never two of the site's pages at once

    from scrapy.utils.test import get_crawler

    from crawler.site_slots import SiteDownloader

    downloader = SiteDownloader(get_crawler(settings_dict={"CORPUS_REGISTRY": ""}))
    assert downloader.slot_of("s1.pub.test") == downloader.slot_of("s6.pub.test") == "pub.test"
    assert downloader.slot_of("a.github.io") != downloader.slot_of("b.github.io")
    assert downloader.slot_of("news.bbc.co.uk") == downloader.slot_of("www.bbc.co.uk") == "bbc.co.uk"
    assert downloader.slot_of("127.0.0.1") == "127.0.0.1"


def test_a_dead_sub_domain_does_not_cut_off_its_live_siblings(corpus_cmd, tmp_path):
    """A slot is a whole site, but timeouts and closures are a host's: a reviewer's dead.pub.test (accepts,
    never answers) tripped the slow-host breaker for the slot, and live.pub.test's pages ended as "timed
    out (pub.test timed out 3 times in a row; not requested)" without a request."""
    live = Site("127.0.0.2")
    live.pages["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    for n in range(3):
        live.pages[f"/news/{n}"] = (200, {}, article_html(f"Story {n} on ASEAN and Russia relations today"))
    stop = threading.Event()

    class Dead(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/robots.txt":
                body = b"User-agent: *\nAllow: /\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            stop.wait(30)  # never answers in time

    dead = ThreadingHTTPServer(("127.0.0.2", 0), Dead)
    dead.daemon_threads = True
    threading.Thread(target=dead.serve_forever, daemon=True).start()
    dns = tmp_path / "dns.json"
    dns.write_text(json.dumps({h: [["127.0.0.2"]] for h in ("live.pub.test", "dead.pub.test")}))
    urls = ([f"http://dead.pub.test:{dead.server_address[1]}/news/{n}" for n in range(5)]
            + [f"http://live.pub.test:{live.port}/news/{n}" for n in range(3)])
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), "DRIVEN_DNS": str(dns),
           "CORPUS_RETRY_BACKOFF": "0"}
    try:
        res = corpus_cmd("fetch", "--json", "--store", tmp_path / "s", "--timeout", "1", *urls,
                         "-s", "DOWNLOAD_DELAY=0", "-s", "TWISTED_DNS_RESOLVER=driven_dns.DrivenResolver",
                         env=env, timeout=240)
    finally:
        stop.set()
        live.close()
        dead.shutdown()
        dead.server_close()
    out = {row["input_url"]: row["outcome"] for row in map(json.loads, res.stdout.splitlines())}
    assert [out[u] for u in urls[5:]] == ["new"] * 3, (out, res.stderr[-3000:])
    assert all(out[u].startswith("error: timed out") for u in urls[:5]), out
    assert any("dead.pub.test timed out 3 times in a row" in out[u] for u in urls[:5]), out
