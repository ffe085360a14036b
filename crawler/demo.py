"""``corpus demo``: the main job on the embedded default, offline.

Starts the bundled replay web on 127.0.0.1 and crawls it with the real spider
through the registry (robots.txt, sitemaps, feeds, listings), at the outlets'
real URLs, into the store (default ``./corpus-store``); then prints the
summary and where the corpus is.  The replay web has versions: the n-th demo
run on a store replays epoch n, so a second run shows the incremental crawl
(only the article that changed is fetched in full).
"""

from __future__ import annotations

import sys

DEMO_KEY = "state/demo.json"


def run_demo(args) -> int:
    from crawler.cli import report_crawl, run_crawl
    from crawler.replay.server import ReplayServer
    from pipelines.corpus import Corpus
    from pipelines.store import open_store

    corpus = Corpus(open_store(args.store))
    runs = (corpus.read_json(DEMO_KEY) or {}).get("runs", 0)
    # The replay web is our own server on loopback: no politeness delay needed there.
    args.set = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", *(args.set or [])]
    with ReplayServer(epoch=runs + 1) as server:
        print(f"demo run {runs + 1}: replay web of {len(server.hosts)} hosts on {server.url} "
              f"(epoch {runs + 1}); store: {args.store}", file=sys.stderr)
        args.replay = server.url
        crawler = run_crawl(args, outlets=None, since=None, max_pages=None, site=None)
        full = sum(1 for hit in server.requests if hit.status == 200 and hit.path.endswith((".html", "/"))
                   and not hit.conditional)
    corpus.write_json(DEMO_KEY, {"runs": runs + 1})
    report_crawl(crawler, args.store)
    print(f"replay requests: {len(server.requests)} ({full} pages sent in full)")
    return 0


if __name__ == "__main__":
    from crawler.cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))
