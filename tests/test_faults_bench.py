"""The hostile site serves each kind as specified, and bench/faults.py measures and judges real runs."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hostile_site import BIG_SIZE, BOMB_SIZE, CHAIN, KIND_BY_NAME, KINDS, LATIN1_WORDS, HostileSite

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site():
    with HostileSite() as s:
        yield s


def get(site, public_url: str, timeout: float = 10):
    """(connection, response) for the replay-layout address of ``public_url``."""
    u = urlsplit(site.direct_url(public_url))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("GET", u.path + (f"?{u.query}" if u.query else ""))
    return conn, conn.getresponse()


def fetch(site, name_or_url: str) -> tuple[int, dict, bytes]:
    url = KIND_BY_NAME[name_or_url].url if name_or_url in KIND_BY_NAME else name_or_url
    conn, resp = get(site, url)
    try:
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_statuses_redirects_and_bodies(site):
    for code in (404, 410, 500, 503):
        assert fetch(site, f"http-{code}")[0] == code
    status, headers, _ = fetch(site, "http-429-retry-after-30")
    assert status == 429 and headers["retry-after"] == "30"
    # a loop of two, and a chain of 25 redirects that ends on a page
    assert fetch(site, "redirect-loop")[1]["location"] == "/redirect/loop-b"
    assert fetch(site, "https://hostile.example.net/redirect/loop-b")[1]["location"] == "/redirect/loop-a"
    url, hops = KIND_BY_NAME["redirect-chain-25"].url, 0
    while (r := fetch(site, url))[0] == 302:
        url, hops = "https://hostile.example.net" + r[1]["location"], hops + 1
    assert hops == CHAIN and r[0] == 200
    assert fetch(site, "redirect-to-file")[1]["location"] == "file:///etc/passwd"
    assert fetch(site, "redirect-to-local-html")[1]["location"] == f"file://{site.local_html}"
    assert urlsplit(fetch(site, "redirect-to-metadata")[1]["location"]).hostname == "169.254.169.254"
    # odd bodies
    status, headers, body = fetch(site, "pdf-as-html")
    assert body.startswith(b"%PDF-") and headers["content-type"].startswith("text/html")
    assert fetch(site, "empty-200")[:3:2] == (200, b"")
    assert b"</html>" not in fetch(site, "broken-html")[2]
    assert b"\x00" in fetch(site, "nul-byte")[2]
    assert b"&#1;" in fetch(site, "control-char-ref")[2]
    status, headers, body = fetch(site, "latin1-no-charset")
    assert "charset" not in headers["content-type"] and b"charset" not in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert all(w in body.decode("latin-1") for w in LATIN1_WORDS)
    for name in ("nested-2mb", "flat-2mb"):
        body = fetch(site, name)[2]
        assert 1.9e6 < len(body) < 2.2e6 and body.count(b"<div><span>a</span><a href='/x'>b</a>") > 40000
    assert b"<title>Summit news &lt;img src=x onerror=alert(1)&gt;</title>" in fetch(site, "xss-title")[2]
    assert b'rel="canonical" href="https://victim.github.io/story/"' in fetch(site, "canonical-takeover")[2]
    assert b"ATTACKER" not in fetch(site, "https://victim.github.io/story/")[2]
    assert len(KIND_BY_NAME["url-over-2083"].url) > 2083 and fetch(site, "url-over-2083")[0] == 200
    for name in ("article", "article-2", "article-3"):
        status, _, body = fetch(site, name)
        assert status == 200 and b'og:type" content="article"' in body and len(body) > 3000
    assert b'href="https://hostile.example.net/articles/1/"' in fetch(site, "article")[2]  # its own canonical
    assert b"METADATA-LEAK" in fetch(site, "http://169.254.169.254/latest/meta-data/")[2]


def test_sitemaps(site):
    body = fetch(site, "https://hostile.example.net/sitemap.xml")[2].decode()
    for kind in KINDS:
        if kind.how == "fetch" and urlsplit(kind.url).hostname == "hostile.example.net":
            assert kind.url.replace("&", "&amp;") in body
    assert all(s in body for s in ("file:///etc/passwd", "ftp://127.0.0.1", "data:text/html"))
    robots = fetch(site, "https://schemes.hostile.example.net/robots.txt")[2].decode()
    assert "Sitemap: https://schemes.hostile.example.net/sitemap.xml" in robots and "file:///etc/passwd" in robots
    bomb = fetch(site, "https://xmlbomb.hostile.example.net/sitemap.xml")[2].decode()
    assert "<!ENTITY lol9" in bomb and "&lol9;" in bomb
    xxe = fetch(site, "https://xxe.hostile.example.net/sitemap.xml")[2].decode()
    assert 'SYSTEM "file:///etc/passwd"' in xxe and f"127.0.0.1:{site.port}/xxe-callback" in xxe
    home = fetch(site, "https://trap.example.net/")[2].decode()
    assert "/calendar/2024-07/" in home
    cal = fetch(site, "https://trap.example.net/calendar/2024-07/")[2].decode()
    assert "/calendar/2024-08/" in cal  # next month, forever


def test_slow_and_broken_connections(site):
    conn, _ = None, None
    with pytest.raises((socket.timeout, TimeoutError)):  # headers never come
        get(site, KIND_BY_NAME["stall"].url, timeout=1.5)
    conn, resp = get(site, KIND_BY_NAME["drip-1-byte-per-s"].url)
    t0 = time.monotonic()
    assert resp.status == 200 and len(resp.read(3)) == 3
    assert time.monotonic() - t0 >= 1.8  # one byte a second
    conn.close()
    conn, resp = get(site, KIND_BY_NAME["reset-mid-body"].url)
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        resp.read()
    conn.close()


def test_big_bodies_are_streamed(site):
    for name, has_length in (("page-50mb", True), ("page-50mb-no-length", False)):
        conn, resp = get(site, KIND_BY_NAME[name].url)
        assert (resp.getheader("Content-Length") == str(BIG_SIZE)) is has_length
        total = 0
        while chunk := resp.read(1 << 20):
            total += len(chunk)
        conn.close()
        assert total == BIG_SIZE
    conn, resp = get(site, KIND_BY_NAME["gzip-bomb-1gib"].url)
    assert resp.getheader("Content-Encoding") == "gzip"
    packed = resp.read()
    conn.close()
    assert len(packed) < 2 * 1024 * 1024
    inflate, inflated, buf = zlib.decompressobj(31), 0, packed
    while buf:  # inflate in bounded steps: 1 GiB in all
        inflated += len(inflate.decompress(buf, 1 << 24))
        buf = inflate.unconsumed_tail
    assert inflated == BOMB_SIZE


def test_bench_measures_memory_and_limits_address_space(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("faults_bench", REPO / "bench" / "faults.py")
    faults = importlib.util.module_from_spec(spec)
    saved_path = list(sys.path)
    sys.modules["faults_bench"] = faults
    try:
        spec.loader.exec_module(faults)
    finally:
        sys.path[:] = saved_path
    grow = "x = b'1' * (300 * 1024 * 1024)"
    r = faults.run(["-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grow!r}])"],
                   faults.clean_env(), tmp_path, timeout=60, exe=sys.executable)
    assert r.rc == 0 and r.peak_mb > 290  # the grandchild's peak is seen
    r = faults.run(["-c", "bytearray(8 * 1024 ** 3)"], faults.clean_env(), tmp_path, timeout=60, exe=sys.executable)
    assert r.rc == 1 and "MemoryError" in r.err and faults.crashed(r)


def test_bench_hostile_part_reports_real_outcomes():
    """bench/faults.py --quick on three kinds: a real `corpus fetch` each, outcome and verdict printed."""
    res = subprocess.run([sys.executable, str(REPO / "bench" / "faults.py"), "--quick", "--parts", "hostile",
                          "--kinds", "http-404", "redirect-to-metadata", "article"],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={k: v for k, v in os.environ.items() if not k.startswith(("CORPUS_", "AWS_"))})
    assert res.returncode == 0, res.stderr[-2000:]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in res.stdout.splitlines() if line.startswith("| ") and not line.startswith("| kind")}
    assert set(rows) == {"http-404", "redirect-to-metadata", "article"}
    assert rows["http-404"][:2] == ["error: HTTP 404", "1"] and rows["http-404"][-1] == "ok"
    assert rows["redirect-to-metadata"][0].startswith("error: refused") and rows["redirect-to-metadata"][1] == "1"
    assert rows["article"][0].startswith("new") and rows["article"][1] == "0"
    assert all(float(r[2]) > 0 and float(r[3]) > 20 for r in rows.values())  # seconds, peak MB measured
