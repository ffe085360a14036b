"""The ``corpus`` command: fetch (one-off), crawl, check, dedup, demo.

A thin layer: each sub-command (``crawler/commands/``) parses its arguments
into ``CORPUS_*`` settings, runs a spider with the project's settings and
prints what happened.  Exit status: ``crawler/exitcodes.py`` (README, "Exit
status").
"""

from __future__ import annotations

import argparse
import sys

from crawler import __version__, exitcodes, interrupts


def build_parser() -> argparse.ArgumentParser:
    from crawler.commands import COMMANDS

    parser = argparse.ArgumentParser(prog="corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    # Until Scrapy installs its own handlers, a stop signal is an orderly exit 5, not a traceback or 143.
    interrupts.install()
    try:
        code = _main(argv)
    except (interrupts.Interrupted, KeyboardInterrupt) as exc:
        name = str(exc) if isinstance(exc, interrupts.Interrupted) else "SIGINT"
        print(f"corpus: exit {exitcodes.INTERRUPTED} (interrupted): interrupted by {name} before the run could "
              "report", file=sys.stderr)
        code = exitcodes.INTERRUPTED
    if argv is None:  # the `corpus` program: its status is settled and said; Python's exit restores the
        interrupts.ignore()  # default handlers, and a signal then would turn this status into 143
    return code


def _main(argv=None) -> int:
    from crawler.commands.common import UsageError, check_store, report_without_run, scrapy_overrides
    from pipelines.crawl.registry import RegistryError
    from pipelines.store import StoreError
    from pipelines.store.lock import LockHeld

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "store", None):
            given = scrapy_overrides(getattr(args, "set", None)).get("CORPUS_STORE")
            args.store = given or args.store  # `-s CORPUS_STORE=...` is the store: say so everywhere
            if getattr(args, "check_store", True):
                check_store(args.store)
        return args.func(args)
    except LockHeld as exc:  # another run holds the store (crawler/storelock.py): skipped, nothing requested
        report_without_run(args, exitcodes.LOCKED, str(exc), finish_reason="store_locked", lock_holder=exc.holder)
        return exitcodes.LOCKED
    except StoreError as exc:
        report_without_run(args, exitcodes.STORE, str(exc))
        return exitcodes.STORE
    except (UsageError, RegistryError) as exc:
        print(f"corpus: exit {exitcodes.USAGE} (usage): {exc}", file=sys.stderr)
        return exitcodes.USAGE


if __name__ == "__main__":
    sys.exit(main())
