"""Exit status of the ``corpus`` command: distinct codes for distinct causes.

A scheduler (cron, a systemd timer, a Kubernetes CronJob) reads these; 0 only
when the run did what it was asked.  When several causes apply, the first in
``PRECEDENCE`` wins; the run report lists every one of them.
"""

from __future__ import annotations

OK = 0            # the run did what it was asked
PAGE_ERRORS = 1   # fetch: any URL ended in error; crawl: page errors above --max-error-rate
USAGE = 2         # bad arguments, registry or settings: nothing was attempted
STORE = 3         # the store is missing, unreachable or failed during the run
DISCOVERY = 4     # crawl: every discovery route of an outlet failed; check: an outlet yields no article
INTERRUPTED = 5   # stopped before the end: SIGTERM, SIGINT (Ctrl-C), or an unclean engine stop
INTERNAL = 70     # a bug: an unexpected exception (EX_SOFTWARE)
OUTPUT = 74       # export: its output could not be written (disk full, read-only, closed pipe) (EX_IOERR)
LOCKED = 75       # skipped: another run holds the store's lock (EX_TEMPFAIL); nothing was requested

NAMES = {OK: "ok", PAGE_ERRORS: "page-errors", USAGE: "usage", STORE: "store", DISCOVERY: "discovery",
         INTERRUPTED: "interrupted", INTERNAL: "internal-error", OUTPUT: "output", LOCKED: "locked"}
PRECEDENCE = (STORE, LOCKED, INTERRUPTED, INTERNAL, OUTPUT, DISCOVERY, PAGE_ERRORS)


def worst(codes) -> int:
    """The code that wins among ``codes`` (``OK`` when there is none)."""
    codes = set(codes) - {OK}
    for code in PRECEDENCE:
        if code in codes:
            return code
    return min(codes) if codes else OK
