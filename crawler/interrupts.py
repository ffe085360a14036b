"""Stop signals (SIGTERM, SIGINT) before Scrapy's own handlers are in place: an orderly exit 5.

``install()`` makes a stop signal raise ``Interrupted`` where the program is, which ``corpus``'s
``main`` turns into its one-line reason. Inside ``held()`` (building the crawler: Scrapy loads
the add-ons, middlewares and pipelines there and wraps or logs what they raise) the signal is only
noted, and raised when the block ends, so it never surfaces as some other error. ``Interrupted``
is a ``BaseException``, like ``KeyboardInterrupt``: ``except Exception`` does not swallow it.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_held = False
_pending: str | None = None
_received: str | None = None  # the first stop signal seen, even one whose exception Python dropped


class Interrupted(BaseException):
    """A stop signal before Scrapy's own handlers are in place (or after they are gone)."""


def _handler(signum, frame):
    global _pending, _received
    name = signal.Signals(signum).name
    _received = _received or name
    if _held:
        _pending = _pending or name
        return
    raise Interrupted(name)


def received() -> str | None:
    """The first stop signal's name (``SIGTERM``), or None."""
    return _received


def install() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _handler)


def ignore() -> None:
    """Ignore stop signals from here on (the run is over and its status said)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def check() -> None:
    """Raise ``Interrupted`` for a stop signal already received whose exception was lost: one that lands
    while Python runs a weakref callback or a ``__del__`` (an import's module-lock callback, say) is printed
    as "Exception ignored" and the program goes on, so the run would start as if never stopped."""
    if _received:
        raise Interrupted(_received)


@contextmanager
def held():
    """Note stop signals inside the block instead of raising them there; raise the first at its end (or one
    received before the block whose exception was lost, see ``check``)."""
    global _held, _pending
    check()
    _held = True
    try:
        yield
    finally:
        _held = False
    if _pending:
        name, _pending = _pending, None
        raise Interrupted(name)
