"""``corpus fetch URL ...``: fetch pages a person chose, once, through the crawl's pipeline.

The person who found the page knows better than the topic scorer: an
off-topic page is stored all the same, its score kept and the line saying so
(``new (off-topic: score 0.00)``); ``--on-topic-only`` drops it instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from crawler.commands.common import (UsageError, add_common, check_store, finish, report_without_run,
                                     settings_from)
from crawler.storelock import add_wait_option, held


def register(sub) -> None:
    parser = sub.add_parser("fetch", help="fetch URLs once, through the crawl's pipeline")
    parser.add_argument("urls", nargs="*", metavar="URL", help="URLs to fetch; '-' reads URLs from standard input")
    parser.add_argument("-i", "--input-file", metavar="FILE", action="append",
                        help="read URLs from FILE, one per line ('#' starts a comment; '-' is standard input)")
    parser.add_argument("--json", action="store_true", help="print each record as stored, as JSON lines")
    topic = parser.add_mutually_exclusive_group()
    topic.add_argument("--on-topic-only", action="store_true",
                       help="drop pages the topic scorer calls off-topic instead of storing them")
    # --any-topic: kept for old scripts, storing off-topic pages is now the default
    topic.add_argument("--any-topic", action="store_true", help=argparse.SUPPRESS)
    add_common(parser)
    add_wait_option(parser)
    parser.set_defaults(func=run, check_store=False)  # checked only when there is something to fetch


def read_urls(args, stdin=None) -> list[str]:
    """The URLs of the command line and of ``--input-file``s, in order; blank lines and comments skipped."""
    stdin = stdin or sys.stdin
    sources: list[str] = []
    for value in args.urls:
        if value == "-":
            sources.extend(stdin.read().splitlines())
        else:
            sources.append(value)
    for name in args.input_file or []:
        try:
            text = stdin.read() if name == "-" else open(name, encoding="utf-8").read()
        except OSError as exc:
            raise UsageError(f"--input-file: {exc.strerror}: {name}") from None
        sources.extend(text.splitlines())
    # "#" starts a comment at the start of a line or after white space (a URL's own "#" has none before it)
    urls = [u for u in (re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip() for line in sources) if u]
    if not urls:
        raise UsageError("fetch: no URL given (arguments, '-' or --input-file)")
    return urls


def distinct(urls: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the first spelling of each distinct page, every spelling -> that first spelling):
    one page given twice (with and without tracking parameters, ``www.``...) is one outcome."""
    from pipelines.crawl.urls import page_key

    first: dict[str, str] = {}
    alias: dict[str, str] = {}
    for url in urls:
        alias[url] = first.setdefault(page_key(url), url)
    return list(dict.fromkeys(alias.values())), alias


def outcome_line(outcome: str, record: dict | None) -> str:
    """The outcome as the store has it now: a page stored as new that a later original of the same
    story (fetched in the same run) made a duplicate says so, and a duplicate names the final canonical."""
    dup = (record or {}).get("duplicate_of")
    if dup and outcome.startswith("duplicate of "):
        outcome = f"duplicate of {dup}"
    elif dup and outcome in ("new", "updated"):
        outcome = f"{outcome}, duplicate of {dup}"
    topic = (record or {}).get("topic") or {}
    if record and topic.get("relevant") is False and not outcome.startswith(("error", "skipped")):
        return f"{outcome} (off-topic: score {float(topic.get('score') or 0):.2f})"
    return outcome


def stored_record(corpus, record: dict | None) -> dict | None:
    """The record as the store holds it now (a syndicated copy: ``duplicate_of`` set, no text of its own),
    in its JSON form (pipelines/corpus/schema.py), as in ``corpus/docs/<id>.json``."""
    from pipelines.corpus.schema import to_json

    if not record or corpus is None:
        return record and to_json(record)
    try:
        return to_json(corpus.get(record["id"]) or record)
    except Exception:  # noqa: BLE001 - the store failing now is reported by the run; show what we have
        return to_json(record)


def _known(corpus, url: str) -> dict | None:
    """The stored record of ``url``, when there is one (best effort: the store may be failing)."""
    if corpus is None:
        return None
    try:
        from pipelines.crawl.urls import doc_id

        return corpus.get(doc_id(url))
    except Exception:  # noqa: BLE001 - a bad URL, a failing store: no id to show
        return None


def print_results(urls, results, as_json: bool, corpus=None, out=None) -> None:
    from pipelines.crawl.urls import redact_credentials

    out = out or sys.stdout
    for url in urls:
        res = results.get(url) or {"url": url, "outcome": "error: no response", "record": None}
        record = stored_record(corpus, res.get("record")) if not res["outcome"].startswith("error") else None
        outcome = outcome_line(res["outcome"], record)
        shown = redact_credentials(url)  # a URL given with user:password@ (refused): its password is not printed
        if as_json:
            row = dict(record) if record else {"url": shown}
            row["outcome"] = outcome
            row["input_url"] = shown
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            known = record or (_known(corpus, url) if res["outcome"].startswith("error") else None)
            doc = known["id"] if known else "-" * 16  # an error on a stored page (410: now gone) names its id
            title = (known or {}).get("title") or shown
            out.write(f"{doc}  {outcome:<28}  {title}\n")
        out.flush()


def run(args) -> int:
    from crawler import exitcodes
    from crawler.outlets import outlet_lookup
    from crawler.runner import run_spider
    from crawler.spiders.fetch import FetchSpider
    from pipelines.corpus.layout import Corpus
    from pipelines.store import open_store
    from pipelines.crawl.urls import refused_scheme, url_problem

    given = read_urls(args)
    pages, alias = distinct(given)
    # file:, ftp:, data:, s3: are never fetched: each such URL is an error of its own (the spider notes it
    # without a request), so one bad line of a list does not stop the others; "" (no scheme) is invalid
    refused = {url for url in pages if refused_scheme(url)}
    invalid = [(url, why) for url in pages if url not in refused and (why := url_problem(url))]
    results = {url: {"url": url, "outcome": f"error: invalid URL ({why})", "record": None} for url, why in invalid}
    valid = [url for url in pages if url not in results]
    corpus = None
    if valid:
        settings = settings_from(args, **({} if args.on_topic_only else {"CORPUS_TOPIC_FILTER": False}))
        check_store(args.store)
        with held(args, "fetch"):  # one run per store: exit 75 if another holds it (crawler/storelock.py)
            crawler = run_spider(FetchSpider, settings, urls=valid, invalid=invalid, outlets=outlet_lookup())
        if crawler.spider is not None:
            results.update(crawler.spider.results)
        code = finish(crawler)
        corpus = Corpus(open_store(args.store))
    else:  # nothing to fetch: the store is not touched
        code = exitcodes.PAGE_ERRORS
        report_without_run(args, code, f"{len(invalid)} of {len(pages)} pages ended in error (invalid URLs)")
    print_results(pages, results, args.json, corpus=corpus)
    if len(pages) < len(given):
        print(f"corpus: {len(given) - len(pages)} URL(s) named a page already given", file=sys.stderr)
    if not args.json:
        print(f"store: {args.store}", file=sys.stderr)
    if code == exitcodes.OK and any(r["outcome"].startswith("error") for r in results.values()):
        code = exitcodes.PAGE_ERRORS
    return code
