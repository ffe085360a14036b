"""A test-only web of misbehaving servers on 127.0.0.1, in the replay layout (``/HOST/PATH``).

Use it as ``--replay site.url`` (each host its own download slot, as real outlets) or, for
one-off URLs, ``site.url`` + ``HOST/PATH`` with ``--allow-private``.  What a path does is
read from its first segment, on any host:

  ``/news/SLUG``                 an on-topic article (200)
  ``/throttled/N/SLUG``          429 with ``Retry-After: N`` on the first request of this URL, then the article
  ``/unavailable/N/SLUG``        the same with 503
  ``/limited/K/W/SLUG``          a rate limiter per host: K requests per W seconds, then 429 with
                                 ``Retry-After`` = the seconds left in the window (then the article)
  ``/drip/SLUG``                 headers at once, then one body byte every ``drip_every`` seconds
  ``/stall/SLUG``                accepts the connection and never answers
  ``/reset/SLUG``                headers and half the body, then a TCP reset
  ``/empty/SLUG``                200 with an empty body
  ``/status/CODE/SLUG``          that status (404, 410, 500, ...) with a small HTML body
  ``/loop/a`` ``/loop/b``        redirect to each other (relative ``Location``, so both layouts work)
  ``/chain/N/K``                 redirect to ``/chain/N/K+1`` until K reaches N, then an article
  ``/feed/HOST/P1,P2,...``       an RSS feed listing ``https://HOST/P1`` ... (commas between paths;
                                 ``long-N`` lists ``news/bbb...`` of N characters)
  ``/robots.txt``                allows everything

``site.log`` keeps (monotonic time, host, path, status) of every request answered.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ON_TOPIC = ("Russian Foreign Minister Sergei Lavrov met ASEAN foreign ministers in Vientiane, Laos, "
            "to discuss trade between Russia and Southeast Asia, energy supplies to Vietnam and Indonesia, "
            "and the Moscow-ASEAN dialogue partnership. ")
WORDS = ("ministers trade energy ports rice coal tin nickel palm oil wheat arms visas tourism banks rouble "
         "dong baht rupiah ringgit peso kyat summit talks deal pipeline reactor grain freight rail").split()


def article_html(title: str) -> bytes:
    rng = random.Random(title)  # distinct texts per title: different articles, not near-duplicates
    body = "".join(f"<p>{ON_TOPIC if i == 0 else ''}{' '.join(rng.choice(WORDS) for _ in range(60))}.</p>\n"
                   for i in range(6))
    return (f"<html><head><title>{title}</title><meta property='og:type' content='article'>"
            f"<meta property='article:published_time' content='2024-07-26T10:00:00Z'></head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>").encode()


def feed_path(host: str, paths) -> str:
    """Path (on the fault site) of an RSS feed listing ``https://HOST/P`` for each of ``paths``."""
    return f"/feed/{host}/" + ",".join(p.lstrip("/") for p in paths)


def registry(path: Path, outlets: dict[str, tuple[str, list[str]]]) -> Path:
    """A registry of test outlets: name -> (host, article paths), each with one RSS feed on the fault site."""
    lines = []
    for name, (host, paths) in outlets.items():
        lines += ["[[outlet]]", f'name = "{name}"', f'title = "{name}"', f'domains = ["{host}"]',
                  f"articles = ['^https://{host.replace('.', chr(92) + '.')}/(?!feed/)']", "[outlet.discovery]",
                  f'feeds = ["https://{host}{feed_path(host, paths)}"]', ""]
    path.write_text("\n".join(lines))
    return path


class FaultSite:
    """``with FaultSite() as site:`` serves on ``site.url`` (ends with ``/``)."""

    def __init__(self, drip_every: float = 1.0):
        self.drip_every = drip_every
        self.log: list[tuple[float, str, str, int]] = []
        self.seen: set[str] = set()
        self.windows: dict[str, tuple[float, int]] = {}  # host -> (window start, requests in it)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                try:
                    site.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a reset is what these servers do
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()

    def times(self, host: str, prefix: str = "/", status: int | None = None) -> list[float]:
        """Monotonic times of the answers to ``host`` under ``prefix`` (of that status)."""
        return [t for t, h, p, s in self.log if h == host and p.startswith(prefix) and status in (None, s)]

    def hits(self, host: str, prefix: str = "/") -> int:
        return len(self.times(host, prefix))

    # -- answers -----------------------------------------------------------------------
    def _article_head(self, req, host: str, path: str) -> bytes:
        """Note the hit, send a 200's status and headers (with the length) and return the article body."""
        body = article_html(f"{host} {path}")
        self._note(host, path, 200)
        req.send_response(200)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        return body

    def _note(self, host, path, status):
        with self.lock:
            self.log.append((time.monotonic(), host, path, status))

    def answer(self, req: BaseHTTPRequestHandler) -> None:
        host, _, path = req.path.lstrip("/").partition("/")
        path = "/" + path
        segs = [s for s in path.split("?")[0].split("/") if s]
        kind = segs[0] if segs else ""
        key = f"{host}{path}"
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)

        def send(status, body=b"", ctype="text/html; charset=utf-8", headers=()):
            self._note(host, path, status)
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                req.send_header(name, value)
            req.end_headers()
            req.wfile.write(body)

        if path == "/robots.txt":
            return send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if kind == "news":
            return send(200, article_html(f"{host} {path}"))
        if kind in ("throttled", "unavailable") and len(segs) >= 3:
            if first:
                status = 429 if kind == "throttled" else 503
                return send(status, b"<p>slow down</p>", headers=[("Retry-After", segs[1])])
            return send(200, article_html(f"{host} {path}"))
        if kind == "limited" and len(segs) >= 4 and segs[1].isdigit() and segs[2].isdigit():
            limit, window = int(segs[1]), int(segs[2])
            now = time.monotonic()
            with self.lock:
                start, count = self.windows.get(host, (now, 0))
                if now - start >= window:
                    start, count = now, 0
                count += 1
                self.windows[host] = (start, count)
            if count > limit:
                left = max(1, int(start + window - now + 0.999))
                return send(429, b"<p>slow down</p>", headers=[("Retry-After", str(left))])
            return send(200, article_html(f"{host} {path}"))
        if kind == "drip":
            body = self._article_head(req, host, path)
            for byte in body:
                if self.stop.wait(self.drip_every):
                    return
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
            return
        if kind == "stall":
            self._note(host, path, 0)
            self.stop.wait(600)
            return
        if kind == "reset":
            body = self._article_head(req, host, path)
            req.wfile.write(body[: len(body) // 2])
            req.wfile.flush()
            req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            req.connection.close()  # SO_LINGER 0: close sends RST
            req.close_connection = True
            return
        if kind == "empty":
            return send(200, b"")
        if kind == "status" and len(segs) >= 2 and segs[1].isdigit():
            return send(int(segs[1]), f"<p>status {segs[1]}</p>".encode())
        if kind == "loop" and len(segs) == 2:
            other = "b" if segs[1] == "a" else "a"
            return send(302, b"", headers=[("Location", other)])
        if kind == "chain" and len(segs) == 3 and segs[1].isdigit() and segs[2].isdigit():
            n, k = int(segs[1]), int(segs[2])
            if k < n:
                return send(301, b"", headers=[("Location", str(k + 1))])
            return send(200, article_html(f"{host} chain {n}"))
        if kind == "feed" and len(segs) >= 3:
            target = segs[1]
            paths = ["news/" + "b" * (int(p[5:]) - 5) if p.startswith("long-") and p[5:].isdigit() else p
                     for p in path.split("/", 3)[3].split(",")]
            items = "".join(f"<item><title>s{i}</title><link>https://{target}/{p}</link></item>"
                            for i, p in enumerate(paths))
            return send(200, f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>".encode(),
                        "application/rss+xml")
        return send(404, b"<p>not found</p>")
