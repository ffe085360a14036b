"""A small threaded TCP proxy on 127.0.0.1 that injects store faults (used in front of moto's S3 server).

    proxy = FaultProxy(("127.0.0.1", moto_port)).start()
    proxy.url                          # http://127.0.0.1:<port>: point AWS_ENDPOINT_URL here
    proxy.set_mode("refuse")           # "pass" | "refuse" | "reset" | "hang"
    proxy.schedule("reset", start=2.0, duration=3.0)   # a fault window: after 2 s, for 3 s
    proxy.stop()

Modes:
  pass    bytes flow both ways.
  refuse  new connections are closed at once (no byte answered; the client sees the connection
          closed), and so are the ones in flight. The listening socket stays up.
  reset   new connections are reset (RST), and so are the ones in flight.
  hang    new connections are accepted and never answered, and the ones in flight stall (the
          client's read timeout decides).
``proxy.trip_on = b"ZCARD"`` switches to ``refuse`` when a client sends those bytes (a Redis command
by name: an outage at one exact step). A scheduled window switches to its mode at ``start`` seconds from now and back to ``pass`` after
``duration``; ``set_mode`` cancels any window not yet over.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
import time

MODES = ("pass", "refuse", "reset", "hang")


def _rst(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class FaultProxy:
    def __init__(self, upstream: tuple[str, int] | str, host: str = "127.0.0.1", port: int = 0):
        if isinstance(upstream, str):  # "http://127.0.0.1:1234"
            hostport = upstream.split("://", 1)[-1].split("/", 1)[0]
            h, _, p = hostport.rpartition(":")
            upstream = (h, int(p))
        self.upstream = upstream
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.bind((host, port))
        self._listen.listen(128)
        self.host, self.port = self._listen.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._mode = "pass"
        self._window: tuple[str, float, float] | None = None   # (mode, start, end) in monotonic time
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.counts = {m: 0 for m in MODES}  # connections handled per mode
        self.trip_on: bytes | None = None  # bytes a client sends that switch the proxy to "refuse" (not passed on)

    # -- control ------------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listen.close()
        except OSError:
            pass
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _rst(conn)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def mode(self) -> str:
        with self._lock:
            window = self._window
            if window is not None:
                mode, start, end = window
                now = time.monotonic()
                if start <= now < end:
                    return mode
                if now >= end:
                    self._window = None
            return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
        with self._lock:
            self._mode, self._window = mode, None
        if mode == "reset":
            self._reset_all()

    def schedule(self, mode: str, *, start: float, duration: float) -> None:
        """Switch to ``mode`` in ``start`` seconds, for ``duration`` seconds, then back to pass."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
        begin = time.monotonic() + max(0.0, start)
        with self._lock:
            self._mode, self._window = "pass", (mode, begin, begin + max(0.0, duration))
        if mode == "reset":  # connections in flight when the window opens are reset too
            threading.Thread(target=self._reset_at, args=(begin,), daemon=True).start()

    def _reset_at(self, when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            self._stopped.wait(delay)
        if not self._stopped.is_set() and self.mode == "reset":
            self._reset_all()

    def _reset_all(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _rst(conn)

    # -- serving ------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        self._listen.settimeout(0.2)  # so stop() is seen at once
        while not self._stopped.is_set():
            try:
                client, _ = self._listen.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            mode = self.mode
            self.counts[mode] += 1
            if mode == "refuse":
                try:
                    client.close()
                except OSError:
                    pass
                continue
            if mode == "reset":
                _rst(client)
                continue
            with self._lock:
                self._conns.add(client)
            target = self._hang if mode == "hang" else self._pipe
            threading.Thread(target=target, args=(client,), daemon=True).start()

    def _hang(self, client: socket.socket) -> None:
        """Read and discard what the client sends; never answer, until the client or the proxy goes."""
        try:
            while not self._stopped.is_set():
                ready, _, _ = select.select([client], [], [], 0.5)
                if ready and not client.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self._drop(client)

    def _pipe(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            self._drop(client, reset=True)
            return
        server.settimeout(None)
        with self._lock:
            self._conns.add(server)
        try:
            socks = [client, server]
            while not self._stopped.is_set():
                ready, _, _ = select.select(socks, [], [], 0.2)
                mode = self.mode
                if mode in ("reset", "refuse"):  # an outage cuts the connections in flight too
                    break
                if mode == "hang":  # in flight, and no byte goes through any more
                    continue
                done = False
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        done = True
                        break
                    if sock is client and self.trip_on and self.trip_on in data:  # a tripwire: the outage
                        self.set_mode("refuse")                                   # begins with this request
                        done = True
                        break
                    (server if sock is client else client).sendall(data)
                if done:
                    break
        except (OSError, ValueError):
            pass
        finally:
            reset = self.mode == "reset"
            self._drop(server, reset=reset)
            self._drop(client, reset=reset)

    def _drop(self, sock: socket.socket, reset: bool = False) -> None:
        with self._lock:
            self._conns.discard(sock)
        if reset:
            _rst(sock)
        else:
            try:
                sock.close()
            except OSError:
                pass
