"""``corpus check [OUTLET ...]``: is each outlet still crawlable?

Sites change their layout, feeds and sitemaps without notice; a crawler that
keeps running and quietly finds nothing is the common failure of news
crawlers.  ``corpus check`` probes each outlet's discovery routes and a few
sample articles, politely (the crawl's settings and middlewares: robots.txt,
throttling, User-Agent), prints what works and what is broken, and writes
nothing: no store is opened, no run report written.
"""

from __future__ import annotations

import argparse
import json
import sys

from crawler import exitcodes
from crawler.commands.common import UsageError, add_network, settings_from, warn_default_contact

EPILOG = f"""\
what it probes, per outlet: robots.txt (status, Sitemap lines); every sitemap and news sitemap of the
registry and of robots.txt (of a sitemap index, its three newest sub-sitemaps); every feed; the first page of
every listing. Per route: HTTP status or error, entries (URLs, items, links to the site), how many pass
the outlet's article patterns, the newest date announced. Then the newest N article URLs of each outlet
(--samples) are fetched and extracted (title, date, words, topic score).

exit status:
  {exitcodes.OK}   every checked outlet yields at least one article that extracts
  {exitcodes.DISCOVERY}   an outlet yields no article: no route gives an article URL, or no sample extracts
      (with --samples 0, only the article URLs count)
  {exitcodes.USAGE}   bad arguments or registry: nothing was probed
  {exitcodes.INTERRUPTED}   interrupted (SIGINT, SIGTERM) before the end
  {exitcodes.INTERNAL}  a bug: the check could not run
  (no store is used: exit {exitcodes.STORE} never happens; a broken route of an outlet that still yields
  articles is reported, but does not fail the check)
"""


def register(sub) -> None:
    parser = sub.add_parser(
        "check", help="is each outlet still crawlable? probe routes and sample articles, write nothing",
        description=__doc__.splitlines()[0].replace("``", ""), epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outlets", nargs="*", metavar="OUTLET", help="outlet names (default: all)")
    parser.add_argument("--registry", metavar="FILE", help="outlet registry file (default: crawler/outlets.toml)")
    parser.add_argument("--site", metavar="URL", help="check a site that is not in the registry")
    parser.add_argument("--samples", type=int, default=3, metavar="N",
                        help="sample articles fetched and extracted per outlet, newest first (default: 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    # no --store: a check needs no store (and `corpus` checks the store of any command that has one)
    add_network(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from crawler import checkreport
    from crawler.runner import run_spider
    from crawler.spiders.check import CheckSpider
    from pipelines.crawl.registry import load_registry, site_outlet

    registry = load_registry(args.registry or None)  # RegistryError: a clear message, exit 2
    for name in args.outlets:
        registry.get(name)
    if args.site:
        if args.outlets:
            raise UsageError("check: give OUTLET names or --site, not both")
        site_outlet(args.site)
    if args.samples < 0:
        raise UsageError("--samples takes a number >= 0")
    # settings_from() names a store; this command has none, and nothing here opens one
    settings = settings_from(argparse.Namespace(**vars(args), store=""), CORPUS_REGISTRY=args.registry or "")
    warn_default_contact(settings)
    crawler = run_spider(CheckSpider, settings, outlets=args.outlets, site=args.site,
                         registry=args.registry or None, samples=args.samples)
    spider = crawler.spider
    if spider is None or spider.finish_reason is None and not getattr(crawler, "corpus_interrupted_by", None):
        print("corpus: the check did not run (see the log above)", file=sys.stderr)
        return exitcodes.INTERNAL
    checks = spider.results()
    verdict = checkreport.assess(checks, args.samples, finish_reason=spider.finish_reason,
                                 interrupted_by=getattr(crawler, "corpus_interrupted_by", None))
    if args.json:
        print(json.dumps(checkreport.as_json(checks, verdict), indent=2, ensure_ascii=False))
    else:
        print(checkreport.table(checks, verdict))
    code = verdict["exit_code"]
    if code != exitcodes.OK:
        print(f"corpus: exit {code} ({verdict['exit_name']}): {verdict['reason']}", file=sys.stderr)
    return code
