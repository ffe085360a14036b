"""``corpus export``: the corpus as one JSON Lines or Parquet file, one row per document.

Canonical documents only unless ``--include-duplicates``; ``--one-per-story``: one document per
same-story cluster (the original when selected) and every record alone in its story (not with
``--include-duplicates``); ``--changed-since RUN``: the records whose
stored version changed after that run. The rows have the record schema (pipelines/corpus/schema.py;
README "For consumers"). The work is ``pipelines/corpus/export.py``; this module is its command line.
Exit status: 0; 1 when some records could not be read (each is named on standard error, the others
are exported); 2 for bad arguments (an unknown run, Parquet without ``--out``); 3 when the store is
missing or fails; 74 when the output could not be written (a full disk, a read-only file system, a pipe
closed early: a file is never left half-written, standard output may be).
"""

from __future__ import annotations

import sys

from crawler import exitcodes
from crawler.commands.common import UsageError, add_store, silence_stdout


def register(sub) -> None:
    parser = sub.add_parser("export", help="the corpus as one JSON Lines or Parquet file (one row per document)")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (default) or parquet")
    parser.add_argument("--out", metavar="PATH",
                        help="the file to write (default: standard output for jsonl; required for parquet)")
    parser.add_argument("--include-duplicates", action="store_true",
                        help="also the near-duplicate copies (default: canonical documents only)")
    parser.add_argument("--one-per-story", action="store_true",
                        help="one document per same-story cluster (its original when selected, else its "
                             "first by date) and every document alone in its story; no near-duplicates")
    parser.add_argument("--changed-since", metavar="RUN",
                        help="only records changed after run RUN (an id of corpus/runs/<RUN>.json)")
    parser.add_argument("--outlet", action="append", metavar="NAME", help="only this outlet (repeatable)")
    parser.add_argument("--language", action="append", metavar="CODE", help="only this language (repeatable)")
    parser.add_argument("--since", metavar="DATE", help="only documents published on or after DATE")
    parser.add_argument("--until", metavar="DATE", help="only documents published on or before DATE")
    add_store(parser)
    parser.set_defaults(func=run, check_store=False)  # a missing store is an error here, never created


def run(args) -> int:
    from pipelines.corpus.export import export
    from pipelines.corpus.reader import CorpusError, open_corpus

    if args.format == "parquet" and (not args.out or args.out == "-"):
        raise UsageError("export: --format parquet needs --out PATH")
    if args.one_per_story and args.include_duplicates:
        raise UsageError("export: --one-per-story leaves near-duplicate copies out; "
                         "it cannot go with --include-duplicates")
    try:
        reader = open_corpus(args.store)
    except CorpusError as exc:
        from pipelines.store import StoreError

        raise StoreError(str(exc)) from None
    try:
        result = export(reader, args.out, format=args.format, include_duplicates=args.include_duplicates,
                        one_per_story=args.one_per_story, changed_since=args.changed_since, outlet=args.outlet, language=args.language,
                        since=args.since, until=args.until)
    except CorpusError as exc:
        raise UsageError(f"export: {exc}") from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise UsageError(f"export: cannot write {args.out}: {exc.strerror or exc}") from None
    except OSError as exc:  # a full disk, a read-only file system, a reader that closed the pipe
        if isinstance(exc, BrokenPipeError) or not args.out or args.out == "-":
            silence_stdout()
        where = args.out if args.out and args.out != "-" else "standard output"
        print(f"corpus: exit {exitcodes.OUTPUT} ({exitcodes.NAMES[exitcodes.OUTPUT]}): export: cannot write "
              f"{where}: {exc.strerror or exc}; no complete export was written", file=sys.stderr)
        return exitcodes.OUTPUT
    for key, reason in result.skipped:
        print(f"corpus export: could not read {key}: {reason}", file=sys.stderr)
    print(f"corpus export: {result.summary()}", file=sys.stderr)
    if result.skipped:
        print(f"corpus: exit {exitcodes.PAGE_ERRORS} ({exitcodes.NAMES[exitcodes.PAGE_ERRORS]}): "
              f"{len(result.skipped)} records could not be read (named above); the others were exported",
              file=sys.stderr)
        return exitcodes.PAGE_ERRORS
    return exitcodes.OK
