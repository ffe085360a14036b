"""``corpus import-warc FILE ...``: bring WARC files of another crawler (``wget --warc-file``, Common
Crawl, ...) into the corpus: copied into the raw archive, their HTML pages stored like a crawl's
(``pipelines/archive/importer.py``)."""

from __future__ import annotations

import sys

from crawler import exitcodes
from crawler.commands.reextract import add_rebuild_options, print_report, rebuild_arguments
from crawler.storelock import held


def register(sub) -> None:
    parser = sub.add_parser("import-warc", help="import WARC files of another crawler into the corpus")
    parser.add_argument("files", nargs="+", metavar="FILE", help="WARC files (.warc or .warc.gz)")
    parser.add_argument("--outlet", metavar="NAME",
                        help="the outlet of every page (default: the registry's outlet for its URL, else its site by the Public Suffix List)")
    add_rebuild_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pipelines.archive.importer import NotAWarc, check_warc, import_warcs
    from pipelines.store import open_store

    bad = []
    for path in args.files:
        try:
            check_warc(path)
        except (NotAWarc, OSError) as exc:
            bad.append(str(exc))
    if bad:
        for line in bad:
            print(f"corpus: {line}", file=sys.stderr)
        print(f"corpus: exit {exitcodes.USAGE} (usage): nothing imported", file=sys.stderr)
        return exitcodes.USAGE
    kwargs = rebuild_arguments(args)
    store = open_store(args.store)
    with held(args, "import-warc"):  # one run per store: exit 75 if another holds it (crawler/storelock.py)
        try:
            copies, report = import_warcs(store, args.files, outlet=args.outlet, **kwargs)
        except NotAWarc as exc:  # damage found while copying (a gzip member cut off): no page was stored
            print(f"corpus: {exc}", file=sys.stderr)
            print(f"corpus: exit {exitcodes.PAGE_ERRORS} ({exitcodes.NAMES[exitcodes.PAGE_ERRORS]}): no page was "
                  "stored (files copied before it stay in corpus/raw/; `corpus reextract` reads them)", file=sys.stderr)
            return exitcodes.PAGE_ERRORS
    for c in copies:
        how = "copied to" if c.copied else "already in the archive as"
        print(f"{c.source}: {how} {c.key}" + (" (recompressed record by record)" if c.recompressed else ""),
              file=sys.stderr if args.json else sys.stdout)
    return print_report(report, args, store=store.describe(),
                        imported=[{"file": c.source, "key": c.key, "copied": c.copied,
                                   "recompressed": c.recompressed} for c in copies])
