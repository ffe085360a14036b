"""Debian's redis-server on 127.0.0.1, started by the tests and benchmarks that need it.

``RedisServer().start()`` runs ``redis-server`` (found on PATH, or /usr/bin, /usr/sbin) on a free port of
127.0.0.1 with no persistence, in a temporary directory, and waits until it answers PING.  The project's
``scripts/bootstrap.sh --test`` installs the package where it is missing (Debian ``redis-server``).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process bound to 127.0.0.1 (``url``: ``redis://127.0.0.1:PORT/0``)."""

    def __init__(self, maxmemory: str = "512mb") -> None:
        self.binary = redis_binary()
        if self.binary is None:
            raise FileNotFoundError("redis-server not found: scripts/bootstrap.sh --test installs it")
        self.maxmemory = maxmemory
        self.port = 0
        self.url = ""
        self._dir: tempfile.TemporaryDirectory | None = None
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "RedisServer":
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        for _ in range(5):  # a port taken between the probe and the bind: try another
            self.port = _free_port()
            self._proc = subprocess.Popen(
                [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                 "--dir", self._dir.name, "--maxmemory", self.maxmemory, "--protected-mode", "yes",
                 "--loglevel", "warning", "--logfile", str(Path(self._dir.name) / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._proc.poll() is None:
                if self._ping():
                    self.url = f"redis://127.0.0.1:{self.port}/0"
                    return self
                time.sleep(0.02)
            self._proc.kill()
            self._proc.wait()
        raise RuntimeError(f"redis-server did not start: {self.log()[-500:]}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        try:
            return (Path(self._dir.name) / "redis.log").read_text(errors="replace") if self._dir else ""
        except OSError:
            return ""

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
