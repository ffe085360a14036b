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
    except SystemExit as exc:  # argparse: a usage error (2), --help or --version (0); settled like any status
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (interrupts.Interrupted, KeyboardInterrupt):
        # (the signal's name as noted, not str(exc): an exception raised inside a codec or an import comes
        # back wrapped, "encoding with 'idna' codec failed (Interrupted: SIGTERM)")
        code = _early_stop(argv)
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
        sys.stdout = out = _Stdout(sys.stdout)
        try:
            code = args.func(args)
        finally:
            sys.stdout = out.real
        if out.broken and code == exitcodes.OK:  # the command did its work; its output did not all arrive
            return _output_closed(args.command)
        return code  # (a command that failed keeps its own status and line: the store's failure outranks the pipe)
    except LockHeld as exc:  # another run holds the store (crawler/storelock.py): skipped, nothing requested
        report_without_run(args, exitcodes.LOCKED, str(exc), finish_reason="store_locked", lock_holder=exc.holder)
        return exitcodes.LOCKED
    except StoreError as exc:
        report_without_run(args, exitcodes.STORE, str(exc))
        return exitcodes.STORE
    except BrokenPipeError:  # a reader that closed the pipe, written to past the wrapper (`sys.stdout.buffer`)
        from crawler.commands.common import silence_stdout

        silence_stdout()
        return _output_closed(args.command)
    except (UsageError, RegistryError) as exc:
        from pipelines.crawl.urls import redact_credentials

        print(f"corpus: exit {exitcodes.USAGE} (usage): {redact_credentials(str(exc))}", file=sys.stderr)
        return exitcodes.USAGE
    except (interrupts.Interrupted, KeyboardInterrupt):
        # stopped before the run had a report of its own (starting up, loading state): one of its own, as
        # for any status but 2; further signals wait until it is written
        from crawler import runreport

        if runreport.WRITTEN:  # the run had reported (its status is in it): the stop came after
            print(f"corpus: exit {exitcodes.INTERRUPTED} (interrupted): interrupted by {_signal_name()} after "
                  f"the run reported; run report: {runreport.WRITTEN}", file=sys.stderr)
            return exitcodes.INTERRUPTED
        return _interrupted_report(args)


def _output_closed(command: str) -> int:
    """Exit 74 for a command whose reader closed the pipe (`corpus manifest --json | head`): one line, no traceback."""
    print(f"corpus: exit {exitcodes.OUTPUT} (output): {command}: standard output was closed (broken pipe)",
          file=sys.stderr)
    return exitcodes.OUTPUT


class _Stdout:
    """``sys.stdout`` for a command: a reader gone (a broken pipe: `corpus crawl | head`) is noted, not raised,
    so the command finishes and its own exit status stands (a review saw a crawl whose store failed exit 74 for
    the pipe, its exit 3 and reason lost); later output goes to /dev/null."""

    def __init__(self, real):
        self.real = real
        self.broken = False

    def _gone(self) -> None:
        from crawler.commands.common import silence_stdout

        self.broken = True
        silence_stdout()

    def write(self, text):
        if not self.broken:
            try:
                return self.real.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.real.flush()
            except BrokenPipeError:
                self._gone()

    def __getattr__(self, name):
        return getattr(self.real, name)


def _signal_name() -> str:
    return interrupts.received() or "SIGINT"


def _early_stop(argv) -> int:
    """Exit 5 for a stop signal before the arguments were read (Python still importing): the one line, and a
    run report from what the command line says (its command, ``--store``, ``--report``) where one can be
    written."""
    import argparse

    words = list(sys.argv[1:] if argv is None else argv)

    def value(flag: str) -> str | None:
        for i, word in enumerate(words):
            if word == flag and i + 1 < len(words):
                return words[i + 1]
            if word.startswith(flag + "="):
                return word.split("=", 1)[1]
        return None

    return _interrupted_report(argparse.Namespace(command=next((w for w in words if not w.startswith("-")), ""),
                                                  store=value("--store") or "", report=value("--report")))


def _interrupted_report(args) -> int:
    """Exit 5 for a run stopped before it had a report of its own: the one line and a local run report
    (further signals wait until it is written); the line alone when no report can be written."""
    name = _signal_name()
    reason = f"interrupted by {name} before the run could report"
    try:
        with _no_signals():
            from crawler.commands.common import report_without_run

            report_without_run(args, exitcodes.INTERRUPTED, reason, finish_reason="shutdown", interrupted_by=name)
    except BaseException:  # noqa: BLE001 - the line is what matters
        print(f"corpus: exit {exitcodes.INTERRUPTED} (interrupted): {reason}", file=sys.stderr)
    return exitcodes.INTERRUPTED


class _no_signals:
    """Stop signals ignored inside the block (the interrupted run's own report is being written)."""

    def __enter__(self):
        import signal

        self.saved = [(s, signal.signal(s, signal.SIG_IGN)) for s in interrupts.STOP_SIGNALS]

    def __exit__(self, *exc):
        import signal

        for s, handler in self.saved:
            signal.signal(s, handler)
        return False


if __name__ == "__main__":
    sys.exit(main())
