"""``corpus demo``: the main job on the embedded default, offline.

Starts the bundled replay web on 127.0.0.1, fetches the seed articles at the
outlets' real URLs through the same spider, middlewares and item pipelines as
any fetch, into the store (default ``./corpus-store``), and prints what it
stored and where.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crawler.item_pipelines import REPO_SEEDS
from pipelines.seeds import read_index


def seed_urls(seeds_dir: Path = REPO_SEEDS) -> list[str]:
    return [row["url"] for row in read_index(seeds_dir / "INDEX.md")]


def run_demo(args) -> int:
    from crawler.cli import print_results, settings_from
    from crawler.outlets import outlet_lookup
    from crawler.replay.server import ReplayServer
    from crawler.runner import run_spider
    from crawler.spiders.fetch import FetchSpider

    urls = seed_urls()
    with ReplayServer() as server:
        print(f"replay web on {server.url} ({len(server.hosts)} hosts); store: {args.store}")
        args.replay = server.url
        crawler = run_spider(FetchSpider, settings_from(args), urls=urls, outlets=outlet_lookup())
    errors = print_results(urls, crawler.spider.results, as_json=False)
    where = Path(args.store).resolve() if "://" not in args.store else args.store
    print(f"\ncorpus: {where}/corpus/ (records in docs/, clean text in text/)")
    print(f"index:  {where}/corpus/INDEX.md")
    return 1 if errors else 0


if __name__ == "__main__":
    from crawler.cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))
