"""What the sub-commands share: common options, settings from arguments, the run report's exit."""

from __future__ import annotations

import argparse
import os
import sys

from crawler import exitcodes
from crawler.runner import project_settings

DEFAULT_STORE = "./corpus-store"


def add_store(parser: argparse.ArgumentParser, *, env: bool = True) -> None:
    default = os.environ.get("CORPUS_STORE", DEFAULT_STORE) if env else DEFAULT_STORE
    where = "$CORPUS_STORE or " if env else ""
    parser.add_argument("--store", default=default,
                        help=f"local folder or s3://bucket/prefix (default: {where}{DEFAULT_STORE})")


def add_common(parser: argparse.ArgumentParser, *, store_from_env: bool = True) -> None:
    """Options of every command that runs a spider into a store."""
    add_store(parser, env=store_from_env)
    parser.add_argument("--report", metavar="FILE", help="also write the run report (JSON) to FILE")
    add_network(parser)


def add_network(parser: argparse.ArgumentParser) -> None:
    """Options of every command that runs a spider: what it may reach, how, and how it says it."""
    parser.add_argument("--allow-private", action="store_true",
                        help="allow loopback, private and link-local targets")
    parser.add_argument("--replay", default=os.environ.get("CORPUS_REPLAY_URL", ""), metavar="URL",
                        help="answer requests from a replay web at URL (http://127.0.0.1:PORT)")
    parser.add_argument("--timeout", type=positive_seconds, metavar="SECONDS",
                        help="download timeout per request, > 0 (default: 30)")
    parser.add_argument("-s", "--set", action="append", metavar="NAME=VALUE",
                        help="a setting (Scrapy's or CORPUS_*), like the environment variable of that name")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="Scrapy log (-v INFO, -vv DEBUG)")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def seconds_setting(settings, name: str) -> float:
    """A setting that takes a number of seconds over 0 (a lease): its value, or a usage error (exit 2)."""
    value = settings.get(name)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} takes a number of seconds, not {value!r}") from None
    if not seconds > 0:
        raise UsageError(f"{name} must be more than 0 seconds, not {value!r}")
    return seconds


def check_settings(settings, overrides: dict) -> None:
    """Refuse, before anything runs, a CORPUS_* name that does not exist and a value of the wrong type
    (from ``-s`` or from the environment): exit status 2, not a traceback in the middle of a crawl."""
    import difflib

    from scrapy.settings import default_settings

    import crawler.settings as project

    known = {**{k: v for k, v in vars(project).items() if k.isupper()}, **project.corpus_defaults}
    for name in overrides:
        if name.startswith("CORPUS_") and name not in known:
            close = difflib.get_close_matches(name, [k for k in known if k.startswith("CORPUS_")], n=1)
            raise UsageError(f"unknown setting {name}" + (f" (did you mean {close[0]}?)" if close else ""))
    defaults = {**{k: v for k, v in vars(default_settings).items() if k.isupper()}, **known}
    for name, default in defaults.items():
        if name not in overrides and not name.startswith("CORPUS_"):
            continue
        if isinstance(default, bool):
            try:
                settings.getbool(name)
            except ValueError:
                raise UsageError(f"{name} takes true or false, not {settings.get(name)!r}") from None
        elif isinstance(default, (int, float)):
            try:
                float(settings.get(name))
            except (TypeError, ValueError):
                raise UsageError(f"{name} takes a number, not {settings.get(name)!r}") from None


def scrapy_overrides(pairs) -> dict:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"-s takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


class UsageError(Exception):
    """Bad arguments: exit status 2 with this message."""


def settings_from(args, **extra):
    """Settings for a spider run: the project's, then the command's options, then ``-s`` pairs."""
    level = {0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG")
    overrides = {"CORPUS_STORE": args.store, "LOG_LEVEL": level}
    if args.allow_private:
        overrides["CORPUS_ALLOW_PRIVATE"] = True
    if args.replay:
        overrides["CORPUS_REPLAY_URL"] = args.replay
    if getattr(args, "report", None):
        overrides["CORPUS_REPORT_FILE"] = args.report
    if getattr(args, "timeout", None):
        overrides["DOWNLOAD_TIMEOUT"] = args.timeout
    overrides.update(extra)
    given = scrapy_overrides(getattr(args, "set", None))
    overrides.update(given)
    settings = project_settings(overrides)
    check_settings(settings, given)
    return settings


def warn_default_contact(settings) -> None:
    """On the real web, the User-Agent should name who runs the crawler, not the project's default page."""
    import crawler.settings as project

    if not settings.get("CORPUS_REPLAY_URL") and \
            settings.get("CORPUS_CONTACT_URL") == project.corpus_defaults["CORPUS_CONTACT_URL"]:
        print("corpus: CORPUS_CONTACT_URL is not set: the User-Agent names the project's default contact "
              "page; set it to a page that says who runs this crawler", file=sys.stderr)


def check_store(spec: str) -> None:
    """Fail fast, with a clear message, when the store cannot be opened or reached."""
    from pipelines.store import open_store

    open_store(spec).check()


def report_without_run(args, code: int, reason: str, *, finish_reason: str = "not_started", **extra) -> str | None:
    """One line and a local run report for a run that had nothing to run (or could not start)."""
    from crawler.runreport import failed_start_report, write_report

    report = failed_start_report(args.command, getattr(args, "store", ""), code, reason, finish_reason=finish_reason)
    reason = report["reason"]  # as the report has it: no user:password@
    report.update(extra)
    where = write_report(None, report["run_id"], report, getattr(args, "report", None))  # state folder + copy
    print(f"corpus: exit {code} ({exitcodes.NAMES[code]}): {reason}" + (f"; run report: {where}" if where else ""),
          file=sys.stderr)
    return where


def finish(crawler) -> int:
    """Exit status of a finished spider run; prints the one-line reason when it is not 0."""
    report = getattr(crawler, "corpus_report", None)
    signame = getattr(crawler, "corpus_interrupted_by", None)
    if report is None and signame:  # stopped hard (a second signal): the spider never closed
        from crawler.runreport import hard_stop_report

        report, crawler.corpus_report_path = hard_stop_report(crawler, signame)
        crawler.corpus_report = report
    if report is None:  # the run never reached its report: the engine did not start
        print(f"corpus: exit {exitcodes.INTERNAL} (internal-error): the crawl did not start (see the log above)",
              file=sys.stderr)
        return exitcodes.INTERNAL
    code = report["exit_code"]
    if code != exitcodes.OK:
        where = getattr(crawler, "corpus_report_path", None)
        print(f"corpus: exit {code} ({exitcodes.NAMES.get(code, '?')}): {report['reason']}"
              + (f"; run report: {where}" if where else ""), file=sys.stderr)
    return code


def unreadable_status(command: str, corpus, done: str) -> int:
    """Exit status of a command that read every record: 1 (named, one line each, then one line of why) when
    some record files could not be read and were skipped (``Corpus.unreadable``), else 0."""
    skipped = list(getattr(corpus, "unreadable", None) or [])
    if not skipped:
        return exitcodes.OK
    for key, reason in skipped:
        print(f"corpus {command}: could not read {key}: {reason}", file=sys.stderr)
    print(f"corpus: exit {exitcodes.PAGE_ERRORS} ({exitcodes.NAMES[exitcodes.PAGE_ERRORS]}): {len(skipped)} record "
          f"file(s) could not be read (named above) and were skipped; {done}", file=sys.stderr)
    return exitcodes.PAGE_ERRORS


def existing_store(spec: str):
    """The store ``spec`` names, which must hold a corpus: a store that does not exist is a store error
    (exit 3), never created (commands that only read or rebuild what is there)."""
    from pipelines.corpus.reader import CorpusError, open_corpus
    from pipelines.store import StoreError, open_store

    try:
        open_corpus(spec)
    except CorpusError as exc:
        raise StoreError(str(exc)) from None
    return open_store(spec)


def silence_stdout() -> None:
    """Standard output is gone (a closed pipe): point it at /dev/null, so that the interpreter's last flush
    does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
