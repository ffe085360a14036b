"""``corpus demo``: the main job on the embedded default, offline.

Starts the bundled replay web on 127.0.0.1 and crawls it with the real spider
through the registry (robots.txt, sitemaps, feeds, listings), at the outlets'
real URLs, into ``./corpus-store`` (or ``--store``; never ``$CORPUS_STORE``,
which names a production store); then prints the summary and where the corpus
is.  Every record it writes says it was replayed.  The replay web has
versions: the n-th demo run on a store replays epoch n, so a second run shows
the incremental crawl (only the article that changed is fetched in full).
"""

from __future__ import annotations

import sys

from crawler.commands.common import add_common, finish
from crawler.commands.crawl import add_crawl_options, report_crawl, run_crawl

DEMO_KEY = "state/demo.json"


def register(sub) -> None:
    parser = sub.add_parser("demo", help="offline demo: crawl the bundled replay web into ./corpus-store")
    add_crawl_options(parser)
    add_common(parser, store_from_env=False)
    parser.set_defaults(func=run)


def run(args) -> int:
    from crawler.replay.server import ReplayServer
    from pipelines.corpus.layout import Corpus
    from pipelines.crawl.registry import load_registry
    from pipelines.store import open_store

    corpus = Corpus(open_store(args.store))
    runs = (corpus.read_json(DEMO_KEY) or {}).get("runs", 0)
    # The replay web is our own server on loopback: no politeness delay needed there.
    args.set = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "CORPUS_OUTLET_POLITENESS=False",
                *(args.set or [])]
    with ReplayServer(epoch=runs + 1) as server:
        print(f"demo run {runs + 1}: replay web of {len(server.hosts)} hosts on {server.url} "
              f"(epoch {runs + 1}); store: {args.store}", file=sys.stderr, flush=True)
        args.replay = server.url
        registry = load_registry(args.registry or None)
        outlets = [o.name for o in registry if any(o.owns(f"https://{h}/") for h in server.hosts)]
        crawler = run_crawl(args, outlets=outlets, since=None, max_pages=None, site=None)
        hits = list(server.requests)
    corpus.write_json(DEMO_KEY, {"runs": runs + 1})
    if crawler.spider is not None:
        report_crawl(crawler, args.store)
    stats = crawler.stats.get_stats()
    fetched = sum(v for k, v in stats.items() if k.startswith("corpus/outlet/") and k.endswith("/fetched"))
    print(f"replay web: {len(hits)} requests, {fetched} article page{'s' if fetched != 1 else ''} fetched "
          f"({stats.get('corpus/not_modified', 0)} of them answered 304 Not Modified)")
    return finish(crawler)
