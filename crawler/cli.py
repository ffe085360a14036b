"""The ``corpus`` command: fetch (one-off), crawl, check, dedup, demo.

A thin layer: each sub-command (``crawler/commands/``) parses its arguments
into ``CORPUS_*`` settings, runs a spider with the project's settings and
prints what happened.  Exit status: ``crawler/exitcodes.py`` (README, "Exit
status").
"""

from __future__ import annotations

import argparse
import sys

from crawler import __version__, exitcodes


def build_parser() -> argparse.ArgumentParser:
    from crawler.commands import COMMANDS

    parser = argparse.ArgumentParser(prog="corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def check_store(spec: str) -> None:
    """Fail fast, with a clear message, when the store cannot be opened or reached."""
    from pipelines.store import open_store

    open_store(spec).check()


def main(argv=None) -> int:
    from crawler.commands.common import UsageError
    from pipelines.crawl.registry import RegistryError
    from pipelines.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "store", None):
            check_store(args.store)
        return args.func(args)
    except StoreError as exc:
        from crawler.runreport import failed_start_report, write_local_report

        report = failed_start_report(args.command, getattr(args, "store", ""), exitcodes.STORE, str(exc))
        where = write_local_report(report, getattr(args, "report", None))
        print(f"corpus: exit {exitcodes.STORE} (store): {exc}" + (f"; run report: {where}" if where else ""),
              file=sys.stderr)
        return exitcodes.STORE
    except (UsageError, RegistryError) as exc:
        print(f"corpus: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    except KeyboardInterrupt:
        print("corpus: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
