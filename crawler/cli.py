"""The ``corpus`` command: demo, fetch (one-off), crawl, dedup.

A thin layer: it parses arguments into ``CORPUS_*`` settings, runs a spider
with the project's settings and prints what happened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from crawler.runner import project_settings, run_spider


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=os.environ.get("CORPUS_STORE", "./corpus-store"),
                        help="local folder or s3://bucket/prefix (default: $CORPUS_STORE or ./corpus-store)")
    parser.add_argument("--allow-private", action="store_true",
                        help="allow loopback, private and link-local targets")
    parser.add_argument("--replay", default=os.environ.get("CORPUS_REPLAY_URL", ""), metavar="URL",
                        help="answer requests from a replay web at URL (http://127.0.0.1:PORT)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="Scrapy log (-v INFO, -vv DEBUG)")


def _crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", metavar="FILE", help="outlet registry file (default: crawler/outlets.toml)")
    parser.add_argument("--any-topic", action="store_true", help="store off-topic pages too (scored, not dropped)")
    parser.add_argument("-s", "--set", action="append", metavar="NAME=VALUE", help="a Scrapy setting")


def settings_from(args, **extra):
    level = {0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG")
    overrides = {
        "CORPUS_STORE": args.store,
        "CORPUS_ALLOW_PRIVATE": args.allow_private,
        "CORPUS_REPLAY_URL": args.replay,
        "LOG_LEVEL": level,
    }
    overrides.update(extra)
    return project_settings(overrides)


def print_results(urls, results, as_json: bool, out=sys.stdout) -> int:
    """One line (or JSON line) per URL; returns the number of errors."""
    errors = 0
    for url in urls:
        res = results.get(url) or {"url": url, "outcome": "error: no response", "record": None}
        outcome, record = res["outcome"], res.get("record")
        errors += outcome.startswith("error")
        if as_json:
            row = dict(record) if record else {"url": url}
            row["outcome"] = outcome
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            doc = record["id"] if record else "-" * 16
            title = (record or {}).get("title") or url
            out.write(f"{doc}  {outcome:<28}  {title}\n")
    return errors


def cmd_fetch(args) -> int:
    from crawler.outlets import outlet_lookup
    from crawler.spiders.fetch import FetchSpider
    from pipelines.urls import url_problem

    results = {url: {"url": url, "outcome": f"error: invalid URL ({why})", "record": None}
               for url in args.urls if (why := url_problem(url))}
    valid = [url for url in args.urls if url not in results]
    if valid:
        extra = {"CORPUS_TOPIC_FILTER": False} if args.any_topic else {}
        crawler = run_spider(FetchSpider, settings_from(args, **extra), urls=valid, outlets=outlet_lookup())
        results.update(crawler.spider.results)
    errors = print_results(args.urls, results, args.json)
    if not args.json:
        print(f"store: {args.store}", file=sys.stderr)
    return 1 if errors else 0


def _scrapy_overrides(pairs) -> dict:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"corpus: -s takes NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


def run_crawl(args, **spider_kwargs):
    """Run the outlet spider with progress on; returns the crawler."""
    from crawler.spiders.outlet import OutletSpider

    if not args.replay and "CORPUS_CONTACT_URL" not in os.environ and not any(
            s.startswith("CORPUS_CONTACT_URL=") for s in args.set or []):
        print("corpus: CORPUS_CONTACT_URL is not set: the User-Agent names the project's default contact "
              "page; set it to a page that says who runs this crawler", file=sys.stderr)
    extra = {"CORPUS_PROGRESS": True, "CORPUS_REGISTRY": args.registry or ""}
    if args.any_topic:
        extra["CORPUS_TOPIC_FILTER"] = False
    extra.update(_scrapy_overrides(args.set))
    settings = settings_from(args, **extra)
    return run_spider(OutletSpider, settings, registry=args.registry or None, **spider_kwargs)


def report_crawl(crawler, store: str) -> None:
    from crawler.summary import per_outlet, table

    print(table(per_outlet(crawler.stats.get_stats())))
    where = os.path.abspath(store) if "://" not in store else store.rstrip("/")
    key = getattr(crawler, "corpus_stats_key", None)
    print(f"\ncorpus: {where}/corpus/  (INDEX.md: {where}/corpus/INDEX.md)")
    if key:
        print(f"stats:  {where}/{key}")


def cmd_crawl(args) -> int:
    from pipelines.crawlstate import parse_time
    from pipelines.registry import load_registry, site_outlet

    registry = load_registry(args.registry or None)  # RegistryError: a clear message, exit 2
    for name in args.outlets:
        registry.get(name)
    if args.site:
        site_outlet(args.site)
    if args.since and parse_time(args.since) is None:
        print(f"corpus: --since: not a date: {args.since!r}", file=sys.stderr)
        return 2
    crawler = run_crawl(args, outlets=args.outlets, since=args.since, max_pages=args.max_pages, site=args.site)
    if crawler.spider is None:
        return 2
    report_crawl(crawler, args.store)
    return 0


def cmd_dedup(args) -> int:
    from pipelines.corpus import Corpus
    from pipelines.duplicates import Deduplicator
    from pipelines.registry import load_registry
    from pipelines.store import open_store

    if not args.rebuild:
        print("corpus dedup: nothing to do (use --rebuild)", file=sys.stderr)
        return 2
    corpus = Corpus(open_store(args.store))
    dedup = Deduplicator(corpus, priority=load_registry(args.registry or None).priority)
    changed = dedup.rebuild()
    outcomes = [corpus.put(rec) for rec in changed]
    dedup.save()
    corpus.write_index()
    records = list(corpus.iter_records(with_text=False))
    dups = sum(1 for r in records if r.get("duplicate_of"))
    clusters = sum(1 for r in records if r.get("also_at"))
    print(f"{len(records)} records: {clusters} cluster{'s' if clusters != 1 else ''}, {dups} duplicates; "
          f"{sum(o != 'unchanged' for o in outcomes)} records relinked")
    return 0


def cmd_demo(args) -> int:
    from crawler.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpus", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="fetch URLs once, through the crawl's pipeline")
    fetch.add_argument("urls", nargs="+", metavar="URL")
    fetch.add_argument("--json", action="store_true", help="print the records as JSON lines")
    fetch.add_argument("--any-topic", action="store_true", help="store off-topic pages too (scored, not dropped)")
    _common(fetch)
    fetch.set_defaults(func=cmd_fetch)

    crawl = sub.add_parser("crawl", help="crawl outlets of the registry (all by default), incrementally")
    crawl.add_argument("outlets", nargs="*", metavar="OUTLET", help="outlet names (default: all)")
    crawl.add_argument("--since", metavar="DATE", help="only articles published after DATE (ISO 8601)")
    crawl.add_argument("--max-pages", type=int, metavar="N", help="at most N article requests per outlet")
    crawl.add_argument("--site", metavar="URL", help="crawl a site that is not in the registry")
    _crawl_options(crawl)
    _common(crawl)
    crawl.set_defaults(func=cmd_crawl)

    dedup = sub.add_parser("dedup", help="near-duplicate clusters of a store")
    dedup.add_argument("--rebuild", action="store_true", help="recompute all clusters from the records")
    dedup.add_argument("--registry", metavar="FILE", help="outlet registry (outlet priorities)")
    dedup.add_argument("--store", default=os.environ.get("CORPUS_STORE", "./corpus-store"))
    dedup.set_defaults(func=cmd_dedup)

    demo = sub.add_parser("demo", help="offline demo: crawl the bundled replay web into the store")
    _crawl_options(demo)
    _common(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def check_store(spec: str) -> None:
    """Fail fast, with a clear message, when the store cannot be opened or reached."""
    from pipelines.store import open_store

    store = open_store(spec)
    store.exists("seeds/INDEX.md")


def main(argv=None) -> int:
    from pipelines.registry import RegistryError
    from pipelines.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "store", None):
            check_store(args.store)
        return args.func(args)
    except (StoreError, RegistryError) as exc:
        print(f"corpus: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
