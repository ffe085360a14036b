"""``corpus crawl``: crawl the registry's outlets (all, or those named), incrementally."""

from __future__ import annotations

import os
import sys

from crawler.commands.common import (UsageError, add_common, finish, scrapy_overrides, settings_from,
                                     warn_default_contact)
from crawler.runreport import DEFAULT_MAX_ERROR_RATE
from crawler.storelock import add_wait_option, held


def register(sub) -> None:
    parser = sub.add_parser("crawl", help="crawl outlets of the registry (all by default), incrementally")
    parser.add_argument("outlets", nargs="*", metavar="OUTLET", help="outlet names (default: all)")
    parser.add_argument("--since", metavar="DATE", help="only articles published after DATE (ISO 8601)")
    parser.add_argument("--max-pages", type=int, metavar="N", help="at most N article requests per outlet")
    parser.add_argument("--site", metavar="URL", help="crawl a site that is not in the registry")
    parser.add_argument("--redis", metavar="URL", default=None,
                        help="one worker of a crawl shared through Redis at URL (redis://HOST:PORT/DB; "
                             "default: $CORPUS_REDIS_URL); run it on as many machines as wanted")
    add_crawl_options(parser)
    add_common(parser)
    parser.set_defaults(func=run)


def add_crawl_options(parser) -> None:
    parser.add_argument("--registry", metavar="FILE", help="outlet registry file (default: crawler/outlets.toml)")
    parser.add_argument("--any-topic", action="store_true", help="store off-topic pages too (scored, not dropped)")
    parser.add_argument("--max-error-rate", type=float, metavar="RATE",
                        help="exit 1 when more than this share of pages end in error "
                             f"(default {DEFAULT_MAX_ERROR_RATE:g})")
    add_wait_option(parser)


def run_crawl(args, **spider_kwargs):
    """Run the outlet spider with progress on; returns the crawler."""
    from crawler.runner import run_spider
    from crawler.spiders.outlet import OutletSpider

    extra = {"CORPUS_PROGRESS": True}
    if args.registry:
        extra["CORPUS_REGISTRY"] = args.registry
    if args.max_error_rate is not None:  # else CORPUS_MAX_ERROR_RATE (-s, environment, settings.py)
        extra["CORPUS_MAX_ERROR_RATE"] = args.max_error_rate
    if args.any_topic:
        extra["CORPUS_TOPIC_FILTER"] = False
    settings = settings_from(args, **extra)
    warn_default_contact(settings)
    url = getattr(args, "redis", None) or (settings.get("CORPUS_REDIS_URL") if args.command == "crawl" else "")
    if not url:
        with held(args, args.command):  # one run per store: exit 75 if another holds it (crawler/storelock.py)
            return run_spider(OutletSpider, settings, registry=args.registry or None, **spider_kwargs)
    from crawler.distributed import joined, worker_lease, worker_settings

    settings.setdict(worker_settings(), priority="cmdline")
    outlets = spider_kwargs.get("outlets")
    outlets = list(outlets) if outlets is not None else None
    only = settings.get("CORPUS_REDIS_JOIN_RUN") or None  # `corpus worker`: that run or none
    with joined(url, args.store, worker_lease(settings), only=only, outlets=outlets) as shared:  # the run on Redis
        if outlets is not None:
            spider_kwargs["outlets"] = outlets  # a joining worker crawls the run's outlets
        with held(args, args.command, shared=shared):  # held in the run's name: its workers share it
            return run_spider(OutletSpider, settings, registry=args.registry or None, shared=shared, **spider_kwargs)


def report_crawl(crawler, store: str) -> None:
    from crawler.summary import per_outlet, table

    print(table(per_outlet(crawler.stats.get_stats())))
    where = os.path.abspath(store) if "://" not in store else store.rstrip("/")
    report = getattr(crawler, "corpus_report", None) or {}
    if report.get("finish_reason") != "store_unavailable":  # (a store that failed at the start holds nothing new)
        print(f"\ncorpus: {where}/corpus/  (INDEX.md: {where}/corpus/INDEX.md)")
    if getattr(crawler, "corpus_report_path", None):
        print(f"report: {crawler.corpus_report_path}")
    for line in report.get("warnings", []):
        print(f"warning: {line}", file=sys.stderr)
    for name in report.get("outlets_found_nothing", []):
        quiet = report.get("outlets_quiet", {}).get(name)
        print(f"warning: discovery found no article for {name}"
              + (f" ({quiet} runs in a row)" if quiet else ""), file=sys.stderr)


def run(args) -> int:
    from pipelines.crawl.state import parse_time
    from pipelines.crawl.registry import load_registry, site_outlet

    args.registry = args.registry or scrapy_overrides(args.set).get("CORPUS_REGISTRY") \
        or os.environ.get("CORPUS_REGISTRY") or None
    registry = load_registry(args.registry)  # RegistryError: a clear message, exit 2
    for name in args.outlets:
        registry.get(name)
    if args.site:
        site_outlet(args.site)
    if args.since and parse_time(args.since, strict=True) is None:
        raise UsageError(f"--since: not a date: {args.since!r}")
    if args.max_pages is not None and args.max_pages < 1:
        raise UsageError(f"--max-pages takes a number of pages, 1 or more, not {args.max_pages}")
    if args.max_error_rate is not None and not 0 <= args.max_error_rate <= 1:
        raise UsageError("--max-error-rate takes a share between 0 and 1")
    from crawler.distributed import RunOver

    try:
        crawler = run_crawl(args, outlets=args.outlets, since=args.since, max_pages=args.max_pages, site=args.site)
    except RunOver as over:  # a standing worker came too late for the run it saw: nothing to do
        print(f"corpus: {over}", file=sys.stderr)
        return 0
    if crawler.spider is not None:
        report_crawl(crawler, args.store)
    return finish(crawler)
