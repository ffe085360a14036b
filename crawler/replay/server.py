"""Replay web server: serves `<root>/<host>/<path>` files for `http://127.0.0.1:PORT/<host>/<path>?<query>`.

File mapping (first root that has the file wins):
  /<host>/a/b.html         -> <root>/<host>/a/b.html
  /<host>/a/ , /<host>/a   -> <root>/<host>/a/index.html  (when a/ is a folder)
  /<host>/a/?page=2        -> <root>/<host>/a/index.html__page=2  (raw query appended after "__")
Versions: `NAME~vN` replaces `NAME` (version 1) when the server's epoch >= N; the highest N <= epoch wins.
Sidecar `NAME.meta.json` (or `NAME~vN.meta.json`; a version without one inherits NAME's):
  {"status": 301, "headers": {"Location": ...}, "last_modified": "<HTTP date>"}.
Host sidecar `<root>/<host>/.meta.json`: answers EVERY request for that host, `{path}` in a header value
replaced by the requested path and query (a host that redirects to its www. or bare form, as live sites do):
  {"status": 301, "headers": {"Location": "https://www.example.com{path}"}}.
Tracking parameters (`utm_*`, `cid`, ... as `pipelines.urls.TRACKING_PARAMS`) are ignored like a real site
ignores them: `/a/?utm_source=rss` serves `/a/` unless a file for that exact query exists.
"""
from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from pipelines.crawl.urls import TRACKING_PARAMS

__all__ = ["DEFAULT_ROOT", "Hit", "ReplayServer", "Resolved", "content_type_for", "main"]

DEFAULT_ROOT = Path(__file__).parent / "web"
BASE_DATE = 1704067200  # 2024-01-01T00:00:00Z: Last-Modified of version 1 when no sidecar says otherwise
_VERSION_RE = re.compile(r"^(?P<name>.+?)~v(?P<n>\d+)$")
_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8",
    ".json": "application/json", ".css": "text/css", ".js": "application/javascript",
    ".gz": "application/gzip",
}
_NAMED_TYPES = {"feed": "application/rss+xml", "rss": "application/rss+xml", "atom": "application/atom+xml"}


class Hit(NamedTuple):
    """One logged request."""
    method: str
    host: str
    path: str  # path with query, as requested after the host segment
    status: int
    conditional: bool


@dataclass
class Resolved:
    """A file version chosen for a request: body (may be None for a bare redirect) and sidecar meta."""
    name: str  # logical file name (no version, no query suffix) for the content type
    body: bytes | None
    version: int
    meta: dict = field(default_factory=dict)


def content_type_for(name: str) -> str:
    """Content-Type from a logical file name: extension, else a feed-like name, else HTML."""
    base = name.rsplit("/", 1)[-1].split("__", 1)[0]
    suffix = Path(base).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    return _NAMED_TYPES.get(base.lower(), "text/html; charset=utf-8")


def _pick_version(folder: Path, name: str, epoch: int) -> int | None:
    """Highest version <= epoch present for `name` in `folder` (as body or sidecar), or None."""
    if not folder.is_dir():
        return None
    found: set[int] = set()
    for entry in folder.iterdir():
        stem = entry.name[: -len(".meta.json")] if entry.name.endswith(".meta.json") else entry.name
        if stem == name:
            if entry.is_file():
                found.add(1)
            continue
        m = _VERSION_RE.match(stem)
        if m and m.group("name") == name and entry.is_file():
            found.add(int(m.group("n")))
    usable = [v for v in found if v <= epoch]
    return max(usable) if usable else None


def _load(folder: Path, name: str, version: int) -> Resolved:
    fname = name if version == 1 else f"{name}~v{version}"
    body_path, meta_path = folder / fname, folder / f"{fname}.meta.json"
    if not meta_path.is_file():  # a version without its own sidecar inherits the base one
        meta_path = folder / f"{name}.meta.json"
    body = body_path.read_bytes() if body_path.is_file() else None
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
    return Resolved(name=name, body=body, version=version, meta=meta)


def resolve(roots: list[Path], host: str, rest: str, query: str, epoch: int) -> Resolved | None:
    """Find the file version serving `/<host>/<rest>?<query>` at `epoch`, or None."""
    parts = [p for p in rest.split("/") if p]
    if any(p in (".", "..") or p.endswith(".meta.json") or _VERSION_RE.match(p) for p in parts):
        return None
    if not host or host.startswith(".") or "/" in host:
        return None
    untracked = "&".join(p for p in query.split("&") if p and not TRACKING_PARAMS.match(unquote(p.split("=", 1)[0])))
    queries = [query] if untracked == query else [query, untracked]
    for root in roots:
        base = root / host
        if not base.is_dir():
            continue
        if (base / ".meta.json").is_file():  # the whole host answers one way (a redirect)
            meta = json.loads((base / ".meta.json").read_text("utf-8"))
            path = "/" + rest + (f"?{query}" if query else "")
            meta["headers"] = {k: str(v).replace("{path}", path) for k, v in meta.get("headers", {}).items()}
            return Resolved(name="", body=None, version=1, meta=meta)
        for q in queries:
            qs = f"__{q}" if q else ""
            candidates = []
            if parts and not rest.endswith("/"):
                candidates.append((base.joinpath(*parts[:-1]), parts[-1] + qs))
            candidates.append((base.joinpath(*parts), "index.html" + qs))
            for folder, name in candidates:
                version = _pick_version(folder, name, epoch)
                if version is not None:
                    return _load(folder, name, version)
    return None


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _not_found(path: str) -> bytes:
    return (f"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
            f"<p>The requested URL {path} was not found on this server.</p></body></html>").encode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "ReplayWeb/1.0"
    protocol_version = "HTTP/1.1"
    replay: "ReplayServer"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.replay.verbose:
            sys.stderr.write("replay: " + (format % args) + "\n")

    def _serve(self, head: bool) -> None:
        split = urlsplit(self.path)
        segs = split.path.lstrip("/").split("/", 1)
        host = unquote(segs[0]).lower()
        rest = unquote(segs[1]) if len(segs) > 1 else ""
        shown = "/" + (segs[1] if len(segs) > 1 else "") + (f"?{split.query}" if split.query else "")
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        found = resolve(self.replay.roots, host, rest, split.query, self.replay.epoch)
        if found is None:
            status, headers, body = 404, {"Content-Type": "text/html; charset=utf-8"}, _not_found(split.path)
        else:
            status, headers, body = self._respond(found)
        self.replay._log(Hit(self.command, host, shown, status, conditional))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)

    def _respond(self, found: Resolved) -> tuple[int, dict[str, str], bytes]:
        meta = found.meta
        body = found.body or b""
        status = int(meta.get("status", 200))
        headers = {"Content-Type": content_type_for(found.name)}
        lm = meta.get("last_modified") or _http_date(BASE_DATE + 86400 * (found.version - 1))
        headers["Last-Modified"] = lm
        etag = '"%s"' % hashlib.sha1(body).hexdigest()
        headers["ETag"] = etag
        headers.update({str(k): str(v) for k, v in meta.get("headers", {}).items()})
        if status == 200 and self._not_modified(etag, headers["Last-Modified"]):
            return 304, {k: v for k, v in headers.items() if k != "Content-Type"}, b""
        return status, headers, body

    def _not_modified(self, etag: str, last_modified: str) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm:
            tags = {t.strip() for t in inm.split(",")}
            return "*" in tags or etag in tags or f"W/{etag}" in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
                current = email.utils.parsedate_to_datetime(last_modified)
            except (TypeError, ValueError):
                return False
            return current <= since
        return False


class ReplayServer:
    """Serve replay-web roots on 127.0.0.1 from a daemon thread; `requests` logs every hit."""

    def __init__(self, roots: list[Path] | Path = DEFAULT_ROOT, *, epoch: int = 1,
                 host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        self.roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        self.epoch = epoch
        self.verbose = verbose
        self.requests: list[Hit] = []
        self._bind = (host, port)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def hosts(self) -> set[str]:
        """Hosts with at least one folder in some root."""
        return {p.name for r in self.roots if r.is_dir() for p in r.iterdir()
                if p.is_dir() and not p.name.startswith((".", "_"))}

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def url_for(self, url: str) -> str:
        """Replay URL for a real one: https://host/p?q -> http://127.0.0.1:PORT/host/p?q."""
        parts = urlsplit(url)
        return f"{self.url}/{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    def _log(self, hit: Hit) -> None:
        with self._lock:
            self.requests.append(hit)

    def start(self) -> "ReplayServer":
        handler = type("ReplayHandler", (_Handler,), {"replay": self})
        self._httpd = ThreadingHTTPServer(self._bind, handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-web", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m crawler.replay.server [--port N] [--epoch N] [ROOT...]`: serve until Ctrl-C."""
    ap = argparse.ArgumentParser(prog="python -m crawler.replay.server", description=main.__doc__)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--epoch", type=int, default=1)
    ap.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    ap.add_argument("roots", nargs="*", type=Path, default=[DEFAULT_ROOT])
    args = ap.parse_args(argv)
    server = ReplayServer(args.roots, epoch=args.epoch, port=args.port, verbose=not args.quiet).start()
    print(f"replay web on {server.url} (epoch {server.epoch}) hosts: {', '.join(sorted(server.hosts))}",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
