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
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="download timeout per request (default: 30)")
    parser.add_argument("-s", "--set", action="append", metavar="NAME=VALUE",
                        help="a setting (Scrapy's or CORPUS_*), like the environment variable of that name")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="Scrapy log (-v INFO, -vv DEBUG)")


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
    overrides.update(scrapy_overrides(getattr(args, "set", None)))
    return project_settings(overrides)


def finish(crawler) -> int:
    """Exit status of a finished spider run; prints the one-line reason when it is not 0."""
    report = getattr(crawler, "corpus_report", None)
    if report is None:  # the run never reached its report: the engine did not start
        print("corpus: the crawl did not run (see the log above)", file=sys.stderr)
        return exitcodes.INTERNAL
    code = report["exit_code"]
    if code != exitcodes.OK:
        where = getattr(crawler, "corpus_report_path", None)
        print(f"corpus: exit {code} ({exitcodes.NAMES.get(code, '?')}): {report['reason']}"
              + (f"; run report: {where}" if where else ""), file=sys.stderr)
    return code
