"""``corpus manifest``: the run manifests of a store (``pipelines/corpus/manifest.py``).

``corpus manifest [RUN]`` summarises a run's manifest (default: the latest), ``--json`` prints its
root and every entry, ``--list`` lists the runs that have one, and ``--rebuild`` builds a new one
from the records (reads every record, rewrites INDEX.md): for a store whose records were written
or removed by hand, or to start the manifest of a store from before manifests. ``--rebuild`` holds the
store's lock (``crawler/storelock.py``): while a crawl runs it exits 75, as ``dedup --rebuild`` does.
"""

from __future__ import annotations

import json
import sys

from crawler.commands.common import UsageError, add_store, existing_store, unreadable_status
from crawler.storelock import add_wait_option, held


def register(sub) -> None:
    parser = sub.add_parser("manifest", help="run manifests: show, list, rebuild from the records")
    parser.add_argument("run", metavar="RUN", nargs="?", default="latest", help="a run id (default: latest)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--rebuild", action="store_true", help="build a new manifest from every record")
    what.add_argument("--list", action="store_true", help="list the runs that have a manifest")
    parser.add_argument("--json", action="store_true", help="print the manifest root and every entry as JSON")
    parser.add_argument("--shard-digits", type=int, metavar="N",
                        help="with --rebuild: shard by the first N hex digits of the id (16^N shards; default: "
                             "as the latest manifest, else 1)")
    add_store(parser)
    add_wait_option(parser)  # (--rebuild writes: it holds the store's lock, exit 75 while another run does)
    parser.set_defaults(func=run, check_store=False)  # a missing store is an error here, never created


def summary(root: dict) -> str:
    from pipelines.corpus.manifest import KINDS

    counts = root.get("counts") or {}
    changes = root.get("changes") or {}
    lines = [f"run {root['run']} ({root.get('command')}, {root.get('created_at')}); "
             f"previous: {root.get('previous') or '-'}",
             f"{counts.get('documents', 0)} documents: {counts.get('canonical', 0)} canonical, "
             f"{counts.get('duplicate', 0)} duplicates, {counts.get('gone', 0)} gone; "
             f"{len(root.get('shards') or {})} shards"]
    if root.get("rebuilt"):
        lines.append(f"built from the records: {root['rebuilt']}")
    lines.append("changes: " + ", ".join(f"{len(changes.get(kind) or [])} {kind}" for kind in KINDS))
    return "\n".join(lines)


def run(args) -> int:
    from pipelines.corpus.layout import Corpus
    from pipelines.corpus.manifest import KINDS, ManifestDamaged, ManifestError, list_runs, rebuild, resolve
    from pipelines.store import StoreError

    if args.shard_digits is not None and not (args.rebuild and 0 <= args.shard_digits <= 4):
        raise UsageError("--shard-digits: 0 to 4, with --rebuild")
    store = existing_store(args.store)  # a store that does not exist: exit 3, never created
    if args.list:
        for name in list_runs(store):
            print(name)
        return 0
    try:
        corpus = Corpus(store)
        if args.rebuild:
            # one run per store: a rebuild during a crawl cleared the crawl's open-run marker, and a kill of
            # the crawl then left a manifest short of its records for good (a review); exit 75 instead
            with held(args, "manifest --rebuild"):
                done = rebuild(corpus, "manifest --rebuild", shard_digits=args.shard_digits)
            print(f"manifest {done['run']} built from the records (INDEX.md rewritten); changes against "
                  f"{done['base'] or 'no manifest'}: " + ", ".join(f"{len(done['changes'][k])} {k}" for k in KINDS),
                  file=sys.stderr)
            args.run = done["run"]
        man = resolve(store, args.run)
        if args.json:
            out = dict(man.root, entries=man.load(store))
            sys.stdout.write(json.dumps(out, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            print(summary(man.root))
    except ManifestDamaged as exc:  # the store's manifest is broken: a store error, not a usage error
        raise StoreError(f"manifest: {exc}") from None
    except ManifestError as exc:
        raise UsageError(f"manifest: {exc}") from None
    return unreadable_status("manifest", corpus, "the manifest lists the others")
