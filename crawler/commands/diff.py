"""``corpus diff RUN_A RUN_B``: what changed in the corpus between two runs, from their manifests.

A run is named by its id (``corpus/runs/<run>.json``, ``corpus manifest --list``) or ``latest``;
a trailing ``^`` steps back one run (``latest^`` is the run before the latest). Only the manifest
shards that differ between the two runs are read.
"""

from __future__ import annotations

import json
import sys

from crawler.commands.common import UsageError, add_store, existing_store

KINDS = ("added", "changed", "gone", "removed", "relinked")


def register(sub) -> None:
    parser = sub.add_parser("diff", help="documents added, changed, gone, removed, relinked between two runs")
    parser.add_argument("run_a", metavar="RUN_A", help="a run id, or latest (RUN^: the run before RUN)")
    parser.add_argument("run_b", metavar="RUN_B", nargs="?", default="latest", help="a run id (default: latest)")
    parser.add_argument("--json", action="store_true", help="print the differences as one JSON object")
    add_store(parser)
    parser.set_defaults(func=run, check_store=False)  # a missing store is an error here, never created


def describe(item: dict, kind: str) -> str:
    if kind == "changed":
        return ", ".join(item.get("fields") or [])
    if kind == "gone":
        return f"HTTP {item.get('http_status')}"
    if kind == "relinked":
        return f"{item.get('before')} -> {item.get('after')}"
    if kind == "removed":
        return "record removed"
    return item.get("outlet") or ""


def format_text(result: dict) -> str:
    counts = ", ".join(f"{len(result[k])} {k}" for k in KINDS)
    lines = [f"{result['from']} -> {result['to']}: {counts}"]
    for kind in KINDS:
        for item in result[kind]:
            title = item.get("title") or item.get("url") or ""
            lines.append(f"{kind:<9} {item['id']}  {describe(item, kind):<40}  {title}")
    return "\n".join(lines)


def run(args) -> int:
    from pipelines.corpus.manifest import ManifestDamaged, ManifestError, diff, resolve
    from pipelines.store import StoreError

    store = existing_store(args.store)  # a store that does not exist: exit 3, never created
    try:
        a, b = resolve(store, args.run_a), resolve(store, args.run_b)
        result = diff(store, a, b)
    except ManifestDamaged as exc:  # the store's manifest is broken: a store error, not a usage error
        raise StoreError(f"diff: {exc}") from None
    except ManifestError as exc:
        raise UsageError(f"diff: {exc}") from None
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        print(format_text(result))
    return 0
