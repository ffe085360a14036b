"""``corpus reextract``: rebuild records and texts from the raw archive (WARC) with the current
extractor, topic scorer and near-duplicate index, offline (``pipelines/archive/reextract.py``)."""

from __future__ import annotations

import json
import os
import sys
import time

from crawler import exitcodes
from crawler.commands.common import UsageError, add_store, check_settings, existing_store, scrapy_overrides
from crawler.storelock import add_wait_option, held


def register(sub) -> None:
    parser = sub.add_parser("reextract", help="rebuild records and texts from the raw archive (WARC), offline")
    parser.add_argument("--outlet", metavar="NAME", help="only pages of this outlet")
    parser.add_argument("--since", metavar="DATE", help="only pages fetched at or after DATE (ISO 8601)")
    parser.add_argument("--run", metavar="RUN", help="only the WARC files of this run (its id, latest, import-...; RUN^ the run before RUN)")
    add_rebuild_options(parser)
    parser.set_defaults(func=run, check_store=False)  # a missing store is an error here, never created


def add_rebuild_options(parser) -> None:
    """Options shared with ``corpus import-warc``."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"extraction processes (default: the number of cores, {os.cpu_count()})")
    parser.add_argument("--registry", metavar="FILE", help="outlet registry (outlets, priorities)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--examples", type=int, default=3, metavar="N", help="examples per kind of change (default 3)")
    parser.add_argument("-s", "--set", action="append", metavar="NAME=VALUE",
                        help="a CORPUS_* setting (CORPUS_MIN_WORDS, CORPUS_TOPIC_TERMS, ...), like its environment variable")
    add_store(parser)
    add_wait_option(parser)


def rebuild_arguments(args) -> dict:
    """``reextract`` keyword arguments from the options and the CORPUS_* settings (settings.py,
    environment, ``-s``), as a crawl would read them."""
    from crawler.addon import CorpusAddon
    from crawler.runner import project_settings
    from pipelines.archive.rebuild import RebuildConfig
    from pipelines.crawl.registry import load_registry

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    overrides = scrapy_overrides(args.set)
    settings = project_settings(overrides)
    check_settings(settings, overrides)  # an unknown CORPUS_* name or a wrong type: exit 2
    if args.registry:
        settings.set("CORPUS_REGISTRY", args.registry, priority="cmdline")
    CorpusAddon().update_settings(settings)
    config = RebuildConfig(min_words=settings.getint("CORPUS_MIN_WORDS", 40),
                           listing_filter=settings.getbool("CORPUS_LISTING_FILTER", True),
                           topic_terms=settings.get("CORPUS_TOPIC_TERMS") or None,
                           max_body=settings.getint("DOWNLOAD_MAXSIZE", 16 * 1024 * 1024))
    pool_options = {"timeout": settings.getfloat("CORPUS_EXTRACT_TIMEOUT", 20.0),  # the crawl's budgets per page
                    "max_memory": settings.getint("CORPUS_EXTRACT_MAX_MEMORY", 3 * 2**29),
                    "max_elements": settings.getint("CORPUS_EXTRACT_MAX_ELEMENTS", 20000)}
    return {"config": config, "workers": args.workers, "dedup": settings.getbool("CORPUS_DEDUP", True),
            "pool_options": pool_options,
            "spool_dir": settings.get("CORPUS_WARC_SPOOL") or None,
            "registry": load_registry(settings.get("CORPUS_REGISTRY") or None), "examples": args.examples,
            "progress": _progress() if sys.stderr.isatty() else None}


def _progress():
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2 or done == total:
            last[0] = now
            print(f"\rreextract: {done}/{total} pages", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show


def print_report(report, args, **head) -> int:
    if args.json:
        print(json.dumps({**head, **report.to_dict()}, indent=2, ensure_ascii=False, default=str))
    else:
        print(report.table())
    if report.errors:
        print(f"corpus: exit {exitcodes.PAGE_ERRORS} ({exitcodes.NAMES[exitcodes.PAGE_ERRORS]}): "
              f"{len(report.errors)} archived page(s) could not be rebuilt", file=sys.stderr)
        return exitcodes.PAGE_ERRORS
    return exitcodes.OK


def warc_run(store, run: str) -> str:
    """The run ``--run`` names: one with WARC files in the store, or ``latest`` (the newest of them);
    a usage error otherwise, naming the last few runs there are."""
    from pipelines.archive.reextract import warc_keys

    runs = set()
    for key in warc_keys(store):
        stem = key.rsplit("/", 1)[-1].split(".warc")[0]  # <run>-00001, or import-<digest>
        head, _, tail = stem.rpartition("-")
        runs.add(head if head and tail.isdigit() else stem)
    crawls = sorted(r for r in runs if r[:1].isdigit())  # run ids are times; imports are not runs in time
    runs = sorted(runs)
    base, back = run.rstrip("^"), len(run) - len(run.rstrip("^"))  # RUN^: the run with WARC files before RUN
    if base == "latest" and (crawls or runs):
        base = (crawls or runs)[-1]
    if back and base in crawls and crawls.index(base) >= back:
        return crawls[crawls.index(base) - back]
    if not back and warc_keys(store, base):
        return base
    known = ", ".join(runs[-5:]) if runs else "none"
    raise UsageError(f"--run: no WARC files of run {run!r} under corpus/raw/ (the last runs with some: {known})")


def run(args) -> int:
    from pipelines.archive.reextract import reextract
    from pipelines.crawl.state import parse_time

    if args.since and parse_time(args.since, strict=True) is None:
        raise UsageError(f"--since: not a date: {args.since!r}")
    kwargs = rebuild_arguments(args)
    if args.outlet and args.outlet not in kwargs["registry"].outlets:
        print(f"corpus: note: {args.outlet!r} is not a registry outlet; matching it as a host name", file=sys.stderr)
    store = existing_store(args.store)  # a store that does not exist (or holds no corpus): exit 3, never created
    if args.run:
        args.run = warc_run(store, args.run)
    with held(args, "reextract"):  # one run per store: exit 75 if another holds it (crawler/storelock.py)
        report = reextract(store, outlet=args.outlet, since=args.since, run=args.run, **kwargs)
    if report.warc_files == 0:
        print("corpus: no WARC files under corpus/raw/" + (f" for run {args.run}" if args.run else "")
              + ": nothing to rebuild", file=sys.stderr)
    return print_report(report, args, store=store.describe())
