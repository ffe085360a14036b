"""``corpus dedup --rebuild``: recompute every near-duplicate cluster and same-story cluster of a store from its records."""

from __future__ import annotations

import sys

from crawler.commands.common import add_store, existing_store, unreadable_status
from crawler.storelock import add_wait_option, held


def register(sub) -> None:
    parser = sub.add_parser("dedup", help="near-duplicate and same-story clusters of a store")
    parser.add_argument("--rebuild", action="store_true", help="recompute all clusters and stories from the records")
    parser.add_argument("--registry", metavar="FILE", help="outlet registry (outlet priorities)")
    add_store(parser)
    add_wait_option(parser)
    parser.set_defaults(func=run, check_store=False)


def run(args) -> int:
    from pipelines.corpus.layout import Corpus
    from pipelines.dedup.deduplicator import Deduplicator
    from pipelines.crawl.registry import load_registry
    if not args.rebuild:
        print("corpus dedup: nothing to do (use --rebuild)", file=sys.stderr)
        return 2
    store = existing_store(args.store)  # a store that does not exist (or holds no corpus): exit 3, never created
    with held(args, "dedup --rebuild"):  # one run per store: exit 75 if another holds it (crawler/storelock.py)
        corpus = Corpus(store)
        dedup = Deduplicator(corpus, priority=load_registry(args.registry or None).priority)
        changed = dedup.rebuild()
        outcomes = [corpus.put(rec) for rec in changed]
        dedup.save()
        corpus.write_index()
    records = list(corpus.iter_records(with_text=False))
    dups = sum(1 for r in records if r.get("duplicate_of"))
    clusters = sum(1 for r in records if r.get("also_at"))
    stories = {r["same_story"] for r in records if r.get("same_story")}
    in_stories = sum(1 for r in records if r.get("same_story"))
    print(f"{len(records)} records: {clusters} cluster{'s' if clusters != 1 else ''}, {dups} duplicates; "
          f"{len(stories)} same-story cluster{'s' if len(stories) != 1 else ''} of {in_stories} records; "
          f"{sum(o != 'unchanged' for o in outcomes)} records relinked")
    return unreadable_status("dedup", corpus, "the others were clustered")
