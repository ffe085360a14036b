"""A test-only hostile web site on 127.0.0.1: one path per kind of bad day on the web.

Served in the replay web's layout (``http://127.0.0.1:PORT/<host>/<path>``, see
``crawler/replay/server.py``), so ``corpus fetch|crawl --replay URL`` requests the pages under their
public-looking names (``https://hostile.example.net/status/404``) and the private-address guard sees
those names, not 127.0.0.1.  A request without a host segment is answered by its ``Host`` header (a
Host-header based server for ``--allow-private`` runs) and otherwise as ``hostile.example.net``.

``KINDS`` lists every kind: its name, its public URL, how it is tried (``fetch``: one URL given to
``corpus fetch``; ``crawl``: ``corpus crawl --site URL``, the kind is in what the crawl discovers), and
what a correct crawler does with it.  ``/sitemap.xml`` of ``hostile.example.net`` lists every fetch kind
plus ``file://``, ``ftp://`` and ``data:`` URLs.  Every request is logged in ``site.hits``.

Pages that must never reach a record carry a marker (``LEAK_MARKERS``): the fake cloud metadata
answer for ``169.254.169.254``, the local HTML file a redirect points at, the ``data:`` URL's page.
Large bodies are streamed (the 50 MB page, the 1 GiB gzip bomb: its ~1 MB of compressed bytes are
generated once, streaming, and cached under the temp folder).
"""
from __future__ import annotations

import os
import re
import socket
import struct
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from trapsite import TrapSite, article_text

HOST = "hostile.example.net"
REPLAY_WEB = Path(__file__).resolve().parents[1] / "crawler" / "replay" / "web"
ARTICLE_SOURCES = [  # real-looking article pages of the replay web, re-served under HOST
    "rsis.edu.sg/rsis-publication/rsis/asean-and-the-russia-ukraine-war-hedging-in-hard-times/index.html",
    "rsis.edu.sg/rsis-publication/rsis/myanmars-military-and-moscow-a-partnership-of-convenience/index.html",
]
LEAK_MARKERS = ("root:x:0:0", "METADATA-LEAK-7d1f", "LOCAL-FILE-LEAK-51c2", "DATA-URL-LEAK-93ab", "XXE-LEAK")
LATIN1_WORDS = ("São Paulo", "Mañana", "crème brûlée", "Ångström", "façade")
BIG_SIZE = 50 * 1024 * 1024
BOMB_SIZE = 1024 ** 3
LONG_URL_LEN = 2100
CHAIN = 25


class Kind(NamedTuple):
    name: str
    url: str       # public URL (under --replay)
    how: str       # "fetch" or "crawl" (--site URL)
    expect: str    # what a correct crawler does


def _u(path: str, host: str = HOST) -> str:
    return f"https://{host}{path}"


KINDS: list[Kind] = [
    Kind("http-404", _u("/status/404"), "fetch", "error: HTTP 404"),
    Kind("http-410", _u("/status/410"), "fetch", "error: HTTP 410"),
    Kind("http-500", _u("/status/500"), "fetch", "error: HTTP 500 after retries"),
    Kind("http-503", _u("/status/503"), "fetch", "error: HTTP 503 after retries"),
    Kind("http-429-retry-after-30", _u("/status/429"), "fetch",
         "error naming 429; fetched with 3 pages of another outlet (calm.example.org), which do not wait "
         "for the 429's Retry-After (done < 10 s after the first 429)"),
    Kind("stall", _u("/stall"), "fetch", "error: timeout (headers never come), at most 2 tries"),
    Kind("drip-1-byte-per-s", _u("/drip"), "fetch", "error: timeout, at most 2 tries (not 4 x 30 s)"),
    Kind("reset-mid-body", _u("/reset"), "fetch", "error: connection lost"),
    Kind("redirect-loop", _u("/redirect/loop-a"), "fetch", "error naming redirects; exit 1"),
    Kind("redirect-chain-25", _u("/redirect/chain/0"), "fetch", "error: too many redirects (> 20)"),
    Kind("redirect-to-file", _u("/redirect/file-passwd"), "fetch", "error: scheme refused; nothing read"),
    Kind("redirect-to-local-html", _u("/redirect/file-html"), "fetch", "error: scheme refused; nothing stored"),
    Kind("redirect-to-metadata", _u("/redirect/metadata"), "fetch",
         "error: refused non-public address; 169.254.169.254 never asked"),
    Kind("page-50mb", _u("/big/50mb"), "fetch", "error: over the download size limit; bounded memory"),
    Kind("page-50mb-no-length", _u("/big/50mb-no-length"), "fetch",
         "error: over the download size limit while streaming; bounded memory"),
    Kind("gzip-bomb-1gib", _u("/gzip-bomb"), "fetch", "error naming the size limit; bounded memory"),
    Kind("pdf-as-html", _u("/pdf-as-html"), "fetch", "error/skipped: not HTML"),
    Kind("broken-html", _u("/broken-html"), "fetch", "new (article text despite unclosed, truncated tags)"),
    Kind("empty-200", _u("/empty"), "fetch", "error/skipped: empty page"),
    Kind("nul-byte", _u("/nul-byte"), "fetch", "new (one NUL does not make it 'not HTML')"),
    Kind("control-char-ref", _u("/control-char"), "fetch", "new (&#1; does not drop the article)"),
    Kind("latin1-no-charset", _u("/latin1"), "fetch", "new, text decoded as Latin-1 (São, Mañana)"),
    Kind("nested-2mb", _u("/nested-2mb"), "fetch",
         "skipped (no article) or error: extraction budget exceeded; < 30 s, < 1 GB"),
    Kind("flat-2mb", _u("/flat-2mb"), "fetch", "skipped (no article) or error: extraction budget exceeded; bounded"),
    Kind("xss-title", _u("/xss-title"), "fetch", "new; INDEX.md carries the title escaped"),
    Kind("canonical-takeover", _u("/story/", "attacker.github.io"), "fetch",
         "victim.github.io's record keeps its own text (public suffix: different sites)"),
    Kind("url-over-2083", _u("/long?q=" + "a" * LONG_URL_LEN), "fetch", "error naming the URL length"),
    Kind("article", _u("/articles/1/"), "fetch", "new"),
    Kind("article-2", _u("/articles/2/"), "fetch", "new"),
    Kind("article-3", _u("/articles/3/"), "fetch", "new"),
    Kind("sitemap-schemes", _u("/", "schemes." + HOST), "crawl",
         "only the http(s) article stored; file:, ftp:, data: never requested"),
    Kind("sitemap-xml-bomb", _u("/", "xmlbomb." + HOST), "crawl", "no expansion: bounded memory, no crash"),
    Kind("sitemap-xxe", _u("/", "xxe." + HOST), "crawl", "no external entity read or fetched"),
    Kind("calendar-trap", _u("/", "trap.example.net"), "crawl", "trap stopped: bounded calendar requests"),
    Kind("whole-site-crawl", _u("/"), "crawl",
         "every kind above from /sitemap.xml in one crawl: the 3 articles (+ the good pages) stored, "
         "the rest counted by reason, exit 1 (page errors over the rate), no crash"),
]
KIND_BY_NAME = {k.name: k for k in KINDS}


def _html(title: str, body: str, head: str = "", charset: str = "utf-8") -> str:
    meta = f"<meta charset={charset}>" if charset else ""
    return (f"<!doctype html><html><head>{meta}<title>{title}</title>"
            f'<meta property="og:type" content="article">{head}</head>'
            f"<body><main><article><h1>{title}</h1><p class=byline>By Staff, July 28, 2024</p>{body}"
            f"</article></main></body></html>")


def _paras(key: str, n: int = 5) -> str:
    return "".join(f"<p>{p}</p>" for p in article_text(key, n))


def gzip_bomb_path(cache_dir: Path | None = None) -> Path:
    """The compressed bytes of 1 GiB of zeros (gzip), generated once, streaming, and cached."""
    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "hostile-site-cache")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gzip-bomb-1gib.gz"
    if not path.exists():
        tmp = folder / f".gzip-bomb-{os.getpid()}.part"
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = bytes(1024 * 1024)
        with open(tmp, "wb") as out:
            for _ in range(BOMB_SIZE // len(chunk)):
                out.write(comp.compress(chunk))
            out.write(comp.flush())
        os.replace(tmp, path)
    return path


class HostileSite:
    """``with HostileSite() as site:`` serves on ``site.url``; ``site.hits`` logs (host, path) of every request."""

    def __init__(self, cache_dir: Path | None = None):
        self.cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "hostile-site-cache")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.local_html = self.cache_dir / "notes.html"
        self.local_html.write_text(_html("Private notes LOCAL-FILE-LEAK-51c2", _paras("local-notes")))
        self.hits: list[tuple[str, str]] = []
        self.log: list[tuple[float, str, str]] = []   # (time.monotonic(), host, path) of every request
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.trap = TrapSite(traps=("calendar",))   # reuse its page maker; its own server is not run
        self.trap.server.server_close()
        self._cache: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                site._serve(self)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HostileSite":
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> "HostileSite":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    def direct_url(self, public_url: str) -> str:
        """The replay-layout address of a public URL on this server (for plain HTTP clients)."""
        parts = urlsplit(public_url)
        return f"{self.url}/{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    def hits_for(self, host: str, prefix: str = "") -> list[str]:
        with self.lock:
            return [p for h, p in self.hits if h == host and p.startswith(prefix)]

    # -- bodies ---------------------------------------------------------------------------
    def _cached(self, key: str, make) -> bytes:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def article(self, n: int, host: str = HOST) -> bytes:
        src = (REPLAY_WEB / ARTICLE_SOURCES[(n - 1) % len(ARTICLE_SOURCES)]).read_text("utf-8")
        if n > len(ARTICLE_SOURCES):   # a third article of its own text
            return _html(f"Russia and ASEAN deepen energy ties, part {n}", _paras(f"article-{n}", 7)).encode()
        own = f"https://{host}/articles/{n}/"
        src = re.sub(r'(<link rel="canonical" href=")[^"]*', r"\g<1>" + own, src)
        return re.sub(r'(<meta property="og:url" content=")[^"]*', r"\g<1>" + own, src).encode()

    def sitemap(self) -> bytes:
        locs = [k.url for k in KINDS if k.how == "fetch" and urlsplit(k.url).hostname == HOST]
        return _urlset(locs + self.bad_scheme_urls())

    def bad_scheme_urls(self) -> list[str]:
        data_page = quote(_html("DATA-URL-LEAK-93ab", _paras("data-url")), safe="")
        return ["file:///etc/passwd", f"file://{self.local_html}", f"ftp://127.0.0.1:{self.port}/pub/file.html",
                f"data:text/html,{data_page}"]

    # -- dispatch -------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        segs = split.path.lstrip("/").split("/", 1)
        if "." in segs[0] or ":" in segs[0]:
            host, path = segs[0].lower(), "/" + (segs[1] if len(segs) > 1 else "")
        else:
            host = (h.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            host = HOST if host in ("", "127.0.0.1", "localhost", "[::1]") else host
            path = split.path
        full = path + (f"?{split.query}" if split.query else "")
        with self.lock:
            self.hits.append((host, full))
            self.log.append((time.monotonic(), host, full))
        try:
            self._route(h, host, path, full)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            pass

    def _send(self, h, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
              headers: dict | None = None) -> None:
        h.send_response(status)
        if ctype:
            h.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _route(self, h, host: str, path: str, full: str) -> None:
        if host == "169.254.169.254":
            return self._send(h, 200, _html("METADATA-LEAK-7d1f", "<p>AccessKeyId SecretAccessKey</p>"
                                            + _paras("metadata")).encode())
        if host == "trap.example.net":
            status, body = self.trap.render(full)
            return self._send(h, status, body)
        if host in ("attacker.github.io", "victim.github.io"):
            return self._github(h, host, path)
        if host == "calm.example.org":   # a second, well-behaved outlet
            m = re.fullmatch(r"/articles/(\d+)/", path)
            if m and 1 <= int(m.group(1)) <= 3:
                return self._send(h, 200, self.article(int(m.group(1)), host))
            return self._send(h, 404, b"not found")
        if host.endswith("." + HOST):
            return self._sitemap_host(h, host.split(".", 1)[0], path)
        if path == "/xxe-callback" or path.startswith("/xxe-callback"):
            return self._send(h, 200, b"XXE-LEAK", "text/plain")
        return self._main(h, path, full)

    def _main(self, h, path: str, full: str) -> None:
        send = lambda *a, **k: self._send(h, *a, **k)  # noqa: E731
        if path == "/robots.txt":
            return send(200, f"User-agent: *\nAllow: /\nSitemap: https://{HOST}/sitemap.xml\n".encode(),
                        "text/plain")
        if path == "/sitemap.xml":
            return send(200, self.sitemap(), "application/xml")
        if path == "/":
            links = "".join(f'<li><a href="/articles/{n}/">Article {n}</a></li>' for n in (1, 2, 3))
            return send(200, f"<!doctype html><html><head><meta charset=utf-8><title>Hostile</title></head>"
                             f"<body><ul>{links}</ul></body></html>".encode())
        m = re.fullmatch(r"/status/(\d{3})", path)
        if m:
            code = int(m.group(1))
            extra = {"Retry-After": "30"} if code == 429 else {}
            return send(code, _html(f"Error {code}", "<p>Try again later.</p>").encode(), headers=extra)
        m = re.fullmatch(r"/articles/(\d+)/", path)
        if m and 1 <= int(m.group(1)) <= 3:
            return send(200, self.article(int(m.group(1))))
        if path == "/stall":
            return self._stall(h)
        if path == "/drip":
            return self._drip(h)
        if path == "/reset":
            return self._reset(h)
        if path.startswith("/redirect/"):
            return self._redirect(h, path)
        if path in ("/big/50mb", "/big/50mb-no-length"):
            return self._big(h, with_length=path.endswith("50mb"))
        if path == "/gzip-bomb":
            return self._gzip_bomb(h)
        if path == "/pdf-as-html":
            return send(200, self._cached("pdf", _pdf), "text/html; charset=utf-8")
        if path == "/broken-html":
            body = _html("Broken markup on ASEAN and Russia", _paras("broken", 6))
            body = body.replace("</p>", "").replace("</article>", "<div><span><b>unclosed")
            return send(200, body[: int(len(body) * 0.9)].encode())
        if path == "/empty":
            return send(200, b"")
        if path == "/nul-byte":
            body = _html("A page with one NUL byte", _paras("nul", 6)).replace("</p>", "\x00</p>", 1)
            return send(200, body.encode())
        if path == "/control-char":
            body = _html("A page with a control character reference", _paras("ctl", 6))
            return send(200, body.replace("</p>", " &#1; </p>", 1).encode())
        if path == "/latin1":
            paras = article_text("latin1", 6)
            paras = [f"{p} {LATIN1_WORDS[i % len(LATIN1_WORDS)]}." for i, p in enumerate(paras)]
            body = _html("Moscow and Manila: a Latin-1 page", "".join(f"<p>{p}</p>" for p in paras), charset="")
            return send(200, body.encode("latin-1"), "text/html")
        if path == "/nested-2mb":
            return send(200, self._cached("nested", lambda: _pathological(nested=True)))
        if path == "/flat-2mb":
            return send(200, self._cached("flat", lambda: _pathological(nested=False)))
        if path == "/xss-title":
            title = "Summit news &lt;img src=x onerror=alert(1)&gt;"   # the text of the title is the markup
            return send(200, _html(title, _paras("xss", 6), head=f'<meta property="og:title" content="{title}">')
                        .encode())
        if path == "/long":
            return send(200, _html("A very long address", _paras("long", 6)).encode())
        return send(404, _html("Not found", "<p>Not found.</p>").encode())

    # -- slow and broken connections ------------------------------------------------------
    def _wait_client_gone(self, h, seconds: float) -> None:
        """Hold the connection (sending nothing) until the client closes it, or ``seconds``."""
        sock = h.connection
        sock.settimeout(1.0)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.closing.is_set():
            try:
                if sock.recv(1024) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def _stall(self, h) -> None:
        self._wait_client_gone(h, 600)
        h.close_connection = True

    def _drip(self, h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.flush()
        body = _html("Drip", _paras("drip")).encode()
        for i in range(600):
            if self.closing.is_set():
                break
            h.wfile.write(body[i % len(body): i % len(body) + 1])
            h.wfile.flush()
            time.sleep(1.0)
        h.close_connection = True

    def _reset(self, h) -> None:
        body = _html("Reset", _paras("reset", 40)).encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body) * 4))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        h.wfile.flush()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()   # RST: the connection dies mid-body
        h.close_connection = True

    def _redirect(self, h, path: str) -> None:
        targets = {
            "/redirect/loop-a": "/redirect/loop-b",
            "/redirect/loop-b": "/redirect/loop-a",
            "/redirect/file-passwd": "file:///etc/passwd",
            "/redirect/file-html": f"file://{self.local_html}",
            "/redirect/metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        }
        m = re.fullmatch(r"/redirect/chain/(\d+)", path)
        if m:
            n = int(m.group(1))
            if n >= CHAIN:
                return self._send(h, 200, _html("End of a long redirect chain", _paras("chain", 6)).encode())
            location = f"/redirect/chain/{n + 1}"
        elif path in targets:
            location = targets[path]
        else:
            return self._send(h, 404, b"not found")
        self._send(h, 302, b"", headers={"Location": location})

    def _big(self, h, with_length: bool) -> None:
        unit = ("<p>" + " ".join(article_text("big", 1)) + "</p>\n").encode()
        head = b"<!doctype html><html><head><meta charset=utf-8><title>Fifty megabytes</title></head><body>"
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        if with_length:
            h.send_header("Content-Length", str(BIG_SIZE))
        h.end_headers()
        h.wfile.write(head)
        sent, block = len(head), unit * (65536 // len(unit))
        while sent < BIG_SIZE and not self.closing.is_set():
            chunk = block[: BIG_SIZE - sent]
            h.wfile.write(chunk)
            sent += len(chunk)
        h.close_connection = True

    def _gzip_bomb(self, h) -> None:
        path = gzip_bomb_path(self.cache_dir)
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(path.stat().st_size))
        h.end_headers()
        with open(path, "rb") as f:
            while chunk := f.read(65536):
                h.wfile.write(chunk)

    # -- other hosts ----------------------------------------------------------------------
    def _github(self, h, host: str, path: str) -> None:
        if path != "/story/":
            return self._send(h, 404, b"not found")
        if host == "victim.github.io":
            body = _html("The victim's own story on Russia and ASEAN", _paras("victim", 6))
        else:
            head = '<link rel="canonical" href="https://victim.github.io/story/">'
            body = _html("ATTACKER TEXT replacing the victim", "<p>ATTACKER-TAKEOVER</p>" + _paras("attacker", 6),
                         head=head)
        self._send(h, 200, body.encode())

    def _sitemap_host(self, h, kind: str, path: str) -> None:
        host = f"{kind}.{HOST}"
        if path == "/robots.txt":
            extra = "Sitemap: file:///etc/passwd\n" if kind == "schemes" else ""
            return self._send(h, 200, f"User-agent: *\nAllow: /\nSitemap: https://{host}/sitemap.xml\n{extra}"
                              .encode(), "text/plain")
        if path == "/":
            return self._send(h, 200, b"<!doctype html><html><head><meta charset=utf-8><title>Home</title>"
                                      b"</head><body><p>Nothing here.</p></body></html>")
        if path == "/sitemap.xml":
            if kind == "schemes":
                body = _urlset([f"https://{host}/articles/1/", *self.bad_scheme_urls()])
            elif kind == "xmlbomb":
                body = _xml_bomb(host)
            elif kind == "xxe":
                body = _xxe(host, self.port)
            else:
                body = _urlset([])
            return self._send(h, 200, body, "application/xml")
        m = re.fullmatch(r"/articles/(\d+)/", path)
        if m and 1 <= int(m.group(1)) <= 3:
            return self._send(h, 200, self.article(int(m.group(1)), host))
        self._send(h, 404, b"not found")


def _urlset(locs: list[str]) -> bytes:
    from xml.sax.saxutils import escape

    items = "".join(f"<url><loc>{escape(u)}</loc><lastmod>2024-07-28</lastmod></url>" for u in locs)
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>').encode()


def _xml_bomb(host: str) -> bytes:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">'
                                     for i in range(1, 10)]
    return (f'<?xml version="1.0"?><!DOCTYPE urlset [{"".join(ents)}]>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>https://{host}/articles/1/?x=&lol9;</loc></url></urlset>").encode()


def _xxe(host: str, port: int) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
            f'<!ENTITY cb SYSTEM "http://127.0.0.1:{port}/xxe-callback">]>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>https://{host}/articles/1/?leak=&xxe;</loc></url>"
            f"<url><loc>https://{host}/articles/2/?cb=&cb;</loc></url>"
            f"<url><loc>https://{host}/articles/3/</loc></url></urlset>").encode()


def _pathological(nested: bool, size: int = 2 * 1024 * 1024) -> bytes:
    unit = "<div><span>a</span><a href='/x'>b</a>"
    n = size // (len(unit) + 6)
    head = "<!doctype html><html><head><meta charset=utf-8><title>Pathological markup</title></head><body>"
    if nested:
        body = unit * n + "</div>" * n
    else:
        body = (unit + "</div>") * n
    return (head + body + "</body></html>").encode()


def _pdf() -> bytes:
    """A small but valid one-page PDF (served as text/html)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"]
    stream = b"BT /F1 24 Tf 72 720 Td (ASEAN Russia report) Tj ET"
    objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    with HostileSite() as s:
        print(s.url)
        for k in KINDS:
            print(f"{k.name:26} {k.how:5} {k.url[:100]}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
