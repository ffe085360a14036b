"""Rebuild records and texts from the raw archive with the current extractor, offline.

``reextract(store)`` reads the WARC files under ``corpus/raw/`` (all, or those of one run, or
given keys), takes the newest archived response of each URL (optionally only of one outlet, or
fetched since a date), extracts and scores every page in the crawl's extraction pool
(``pipelines/extract/workers.py``: both cores by default, each page under the same budget of time and
memory, on the same capped markup, from the same preloaded forkserver), and stores the results in the parent, in fetch order, through the same code as the crawl's Store
stage (``pipelines/corpus/ingest.py``: ``build_record``, ``Deduplicator.resolve``, ``Corpus.put``).
A record whose rebuilt content is the same writes nothing, so a second run changes nothing.

What it never does: delete a record.  A stored record whose page no longer extracts (or is now
called off-topic) is left as it is (off-topic: rebuilt, its score updated) and counted; records no
WARC backs (fetched before the archive existed) are left as they are and counted.  A page whose
stored record comes from a newer fetch than the archived one is not rolled back.

The report (``ReextractReport``) says what changed: records new, updated, unchanged; texts longer or
shorter, titles, dates, clusters; with a few examples of each.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator

from pipelines.archive import spool
from pipelines.archive.reader import HTML_TYPES, Capture, NotAWarc, index_warc
from pipelines.archive.rebuild import RebuildConfig, Rebuilt, Worker
from pipelines.archive.writer import RAW_PREFIX
from pipelines.corpus.ingest import ingest
from pipelines.corpus.layout import Corpus
from pipelines.corpus.record import canonical_for
from pipelines.crawl.state import parse_time
from pipelines.extract.words import count_words
from pipelines.crawl.urls import canonicalize, doc_id, site_name
from pipelines.extract import extractor as extraction
from pipelines.extract.listing import LISTING_REASON
from pipelines.extract.topic import load_config, score
from pipelines.extract.workers import ExtractPool

__all__ = ["reextract", "ReextractReport", "warc_keys", "CHANGE_KINDS"]

log = logging.getLogger(__name__)

CHUNK = 8  # pages read from the WARC files at a time
CHANGE_KINDS = ("text-longer", "text-shorter", "text-edited", "title", "published", "cluster", "topic", "other")


@dataclass
class ReextractReport:
    warc_files: int = 0
    recovered: int = 0                  # spool files a killed crawl left, published first
    responses: int = 0                  # HTML 2xx responses found in those files
    selected: int = 0                   # newest per URL, after the filters
    outcomes: Counter = field(default_factory=Counter)     # new / updated / unchanged
    relinked: Counter = field(default_factory=Counter)     # other cluster members rewritten
    changes: Counter = field(default_factory=Counter)      # CHANGE_KINDS of updated records
    skipped: Counter = field(default_factory=Counter)      # reason -> archived records not stored
    kept_unchanged: Counter = field(default_factory=Counter)  # stored records left as they are, by why
    now_off_topic: int = 0              # stored records the topic scorer now calls off-topic (kept)
    errors: list[str] = field(default_factory=list)
    examples: dict = field(default_factory=dict)           # kind -> [{id, url, before, after}]
    seconds: float = 0.0
    store_seconds: float = 0.0          # of which storing (dedup, record writes) in this process
    workers: int = 1

    @property
    def changed(self) -> int:
        """Records written: new, updated, and other cluster members relinked."""
        return (self.outcomes["new"] + self.outcomes["updated"]
                + sum(n for outcome, n in self.relinked.items() if outcome != "unchanged"))

    @property
    def pages_per_second(self) -> float:
        return self.selected / self.seconds if self.seconds else 0.0

    def example(self, kind: str, limit: int, **fields) -> None:
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < limit:
            bucket.append(fields)

    def to_dict(self) -> dict:
        return {
            "changed": self.changed, "warc_files": self.warc_files, "recovered": self.recovered,
            "responses": self.responses,
            "selected": self.selected, "outcomes": dict(self.outcomes), "relinked": dict(self.relinked),
            "changes": dict(self.changes), "skipped": dict(self.skipped),
            "kept_unchanged": dict(self.kept_unchanged), "now_off_topic": self.now_off_topic,
            "errors": list(self.errors), "examples": self.examples, "seconds": round(self.seconds, 3),
            "store_seconds": round(self.store_seconds, 3),
            "workers": self.workers, "pages_per_second": round(self.pages_per_second, 2),
        }

    def table(self) -> str:
        rows = [("WARC files read", self.warc_files)]
        if self.recovered:
            rows.append(("  of them recovered from a killed run", self.recovered))
        rows += [("archived HTML responses", self.responses),
                ("pages rebuilt (newest per URL)", self.selected)]
        rows += [(f"records {k}", self.outcomes[k]) for k in ("new", "updated", "unchanged")]
        rows += [(f"  {k.replace('-', ' ')}", self.changes[k]) for k in CHANGE_KINDS if self.changes[k]]
        rows += [(f"cluster members relinked ({k})", n) for k, n in sorted(self.relinked.items())]
        if self.now_off_topic:
            rows.append(("stored, now scored off-topic (kept)", self.now_off_topic))
        rows += [(f"left as they are: {k}", n) for k, n in sorted(self.kept_unchanged.items())]
        rows += [(f"not stored: {k}", n) for k, n in sorted(self.skipped.items())]
        if self.errors:
            rows.append(("errors", len(self.errors)))
        width = max(len(r[0]) for r in rows)
        lines = [f"{name:<{width}}  {value:>7}" for name, value in rows]
        lines.append(f"{self.changed} changed ({self.selected} pages in {self.seconds:.1f} s, "
                     f"{self.pages_per_second:.1f} pages/s, {self.workers} worker{'s' if self.workers != 1 else ''})")
        for kind, items in self.examples.items():
            lines.append(f"{kind}:")
            for ex in items:
                what = (f" {ex['before']!r} -> {ex.get('after')!r}" if "before" in ex
                        else f": {ex['after']}" if ex.get("after") is not None else "")
                lines.append(f"  {ex.get('id') or ''} {ex.get('url')}{what}"[:240])
        lines += [f"error: {e}" for e in self.errors[:20]]
        return "\n".join(lines)


def warc_keys(store, run: str | None = None) -> list[str]:
    """The WARC files of ``store`` (of one run: ``<run>-<n>.warc.gz``, or an imported file's name)."""
    keys = []
    for key in store.list(RAW_PREFIX):
        name = key.rsplit("/", 1)[-1]
        if not name.endswith((".warc.gz", ".warc")):
            continue
        if run and not (name.startswith(f"{run}-") or name.split(".warc")[0] == run):
            continue
        keys.append(key)
    return keys


def _newer(a: str | None, b: str | None) -> bool:
    """Whether time ``a`` is after time ``b`` (unknown times are never newer)."""
    ta, tb = parse_time(a), parse_time(b)
    return bool(ta and tb and ta > tb)


def _words(text: str | None, language: str | None = None) -> int:
    return count_words(text, language)


def _cluster(rec: dict) -> tuple:
    return rec.get("duplicate_of"), tuple(sorted(a.get("id") for a in rec.get("also_at") or []))


def _compare(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """(kind, before, after) of what differs between two versions of a record."""
    out = []
    if old.get("text_sha256") != new.get("text_sha256") and (old.get("text") or new.get("text")):
        before, after = _words(old.get("text"), old.get("language")), _words(new.get("text"), new.get("language"))
        if new.get("duplicate_of") and not new.get("text"):
            pass  # a duplicate's text is dropped when the canonical covers it: a cluster change
        else:
            out.append(("text-longer" if after > before else "text-shorter" if after < before else "text-edited",
                        f"{before} words", f"{after} words"))
    for name in ("title", "published"):
        if (old.get(name) or None) != (new.get(name) or None):
            out.append((name, old.get(name), new.get(name)))
    if _cluster(old) != _cluster(new):
        out.append(("cluster", old.get("duplicate_of") or f"{len(old.get('also_at') or [])} copies",
                    new.get("duplicate_of") or f"{len(new.get('also_at') or [])} copies"))
    if bool((old.get("topic") or {}).get("relevant")) != bool((new.get("topic") or {}).get("relevant")):
        out.append(("topic", (old.get("topic") or {}).get("score"), (new.get("topic") or {}).get("score")))
    return out


def _results(chunks: Iterable[list], workers: int, cfg: RebuildConfig,
             extract: Callable | None, pool_options: dict | None = None) -> Iterator[Rebuilt]:
    """Rebuilt pages, in task order: in this process (``extract`` given: a custom extractor, no
    budget), or in the extraction pool of ``workers`` processes (``pool_options``: its budgets)."""
    if extract is not None:
        worker = Worker(cfg, extract)
        try:
            for chunk in chunks:
                yield from worker.run(chunk)
        finally:
            worker.close()
        return
    reader = Worker(cfg)  # only its open WARC files: pages are read here, extracted in the pool
    topic_cfg = None
    window: deque = deque()
    with ExtractPool(workers, **(pool_options or {})) as pool:
        try:
            for chunk in chunks:
                for task in chunk:
                    window.append(_submit(pool, reader, cfg, task))
                    while len(window) > workers * 8:
                        done, topic_cfg = _rebuilt(window.popleft(), cfg, topic_cfg)
                        yield done
            while window:
                done, topic_cfg = _rebuilt(window.popleft(), cfg, topic_cfg)
                yield done
        finally:
            reader.close()
            for _, _, future in window:
                if future is not None:
                    future.cancel()


def _submit(pool: ExtractPool, reader: Worker, cfg: RebuildConfig, task) -> tuple[Rebuilt, dict | None, object]:
    """(the page's Rebuilt so far, its page with the body, the pool's future or None when settled here)."""
    from pipelines.archive.reader import read_page

    index, path, offset, length = task
    try:
        page = read_page(reader._fh(path), offset, length, max_body=cfg.max_body)
    except Exception as exc:  # noqa: BLE001 - a corrupt record is counted, not fatal
        return Rebuilt(index=index, error=f"unreadable WARC record ({type(exc).__name__}: {exc})"[:240]), None, None
    out = Rebuilt(index=index, page={k: v for k, v in page.items() if k != "body"})
    ctype = page.get("content_type")
    if ctype not in HTML_TYPES:
        out.dropped = f"not an article page ({ctype})"
        return out, None, None
    listing = cfg.listing_filter and ctype != "text/plain"
    return out, page, pool.submit(page["body"], page["url"], page.get("charset"), cfg.min_words, listing,
                                  cfg.topic_terms or "", page.get("fetched_at"))


def _rebuilt(entry, cfg: RebuildConfig, topic_cfg) -> tuple[Rebuilt, object]:
    """The pool's result of a page as a Rebuilt (the steps of ``rebuild.rebuild_page``)."""
    out, page, future = entry
    if future is None:
        return out, topic_cfg
    try:
        result = future.result()
    except Exception as exc:  # noqa: BLE001 - the pool itself failed: this page's error
        out.error = f"extraction failed ({type(exc).__name__}: {str(exc)[:120]})"
        return out, topic_cfg
    if result.listing:
        out.dropped = LISTING_REASON
    elif result.budget:
        out.error = result.error
    elif result.error is not None:
        out.error = f"extraction failed ({result.error})"
    elif result.document is None:
        out.dropped = f"no article ({result.reason})"
    else:
        out.document = result.document
        out.topic = result.topic
        if out.topic is None:  # scoring failed in the worker: here, with its error if it fails again
            topic_cfg = topic_cfg or load_config(cfg.topic_terms or None)
            out.topic = score(result.document.title, result.document.text, topic_cfg).to_dict()
    return out, topic_cfg


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def reextract(store, *, keys: list[str] | None = None, run: str | None = None, outlet: str | None = None,
              since: str | None = None, assign_outlet: str | None = None, workers: int | None = None,
              config: RebuildConfig | None = None, extract: Callable | None = None, dedup: bool = True,
              registry=None, extractor_info: dict | None = None, examples: int = 3,
              progress: Callable[[int, int], None] | None = None, spool_dir=None,
              pool_options: dict | None = None) -> ReextractReport:
    """Rebuild the records of ``store`` from its WARC files (see the module docstring).

    ``keys``: these WARC files only (``corpus import-warc``); ``assign_outlet``: the outlet of every
    page (else the WARC's ``WARC-Corpus-Outlet``, the registry, the host); ``extract``: an extractor
    with ``try_extract``'s signature (then pages are extracted in this process, without budgets);
    ``pool_options``: the extraction pool's budgets (``ExtractPool``'s ``timeout``, ``max_memory``,
    ``max_elements``: the crawl's ``CORPUS_EXTRACT_*``); ``spool_dir``: where a crawl
    keeps unpublished WARC files (default ``spool.default_spool_dir``), whose leftovers are published first.
    """
    from pipelines.crawl.registry import load_registry
    from pipelines.dedup.deduplicator import Deduplicator

    started = time.monotonic()
    cfg = config or RebuildConfig()
    registry = registry if registry is not None else load_registry()
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    since_time = parse_time(since, strict=True) if since else None
    if since and since_time is None:
        raise ValueError(f"since: not a date: {since!r}")
    extractor_info = extractor_info or {"name": extraction.EXTRACTOR_NAME, "version": extraction.EXTRACTOR_VERSION}
    report = ReextractReport(workers=workers)
    corpus = Corpus(store)
    # a crawl killed halfway left a spool file: its pages are stored records, so it is published first
    report.recovered = len(spool.recover(store, spool_dir or spool.default_spool_dir(store)))

    def outlet_of(capture: Capture) -> str | None:
        if assign_outlet:
            return assign_outlet
        if capture.outlet:
            return capture.outlet
        known = registry.for_url(capture.url)
        return known.name if known else None

    with tempfile.TemporaryDirectory(prefix="corpus-reextract-") as tmp:
        keys = list(keys) if keys is not None else warc_keys(store, run)
        paths: dict[str, str] = {}
        newest: dict[str, tuple] = {}
        for order, key in enumerate(keys):
            path = os.fspath(spool.local_copy(store, key, tmp))
            paths[key] = path
            try:
                with open(path, "rb") as fh:
                    index = index_warc(fh, key)
            except NotAWarc as exc:  # cut off inside its first record, or no WARC at all
                report.errors.append(str(exc))
                continue
            report.warc_files += 1
            if index.skipped.get("unreadable rest of file"):  # the pages after the cut are not rebuilt
                report.errors.append(f"{key}: cut off or corrupt after its first {index.records} record(s)")
            report.skipped.update({f"{k} (in the WARC)": n for k, n in index.skipped.items()})
            for capture in index.captures:
                report.responses += 1
                capture.outlet = outlet_of(capture)
                if outlet and (capture.outlet or site_name(capture.url)) != outlet:
                    continue
                when = parse_time(capture.date)
                if since_time and (when is None or when < since_time):
                    continue
                rank = (when.timestamp() if when else 0.0, order, capture.offset)
                url = canonicalize(capture.url)
                if url not in newest or rank > newest[url][0]:
                    newest[url] = (rank, capture)
        selected = [c for _, c in sorted(newest.values(), key=lambda rc: rc[0])]
        report.selected = len(selected)

        existing: dict[str, dict] = {}
        for rec in corpus.iter_records(with_text=False):
            existing[rec["id"]] = {"outlet": rec.get("outlet"), "warc": bool(rec.get("warc")),
                                   "fetched_at": rec.get("fetched_at")}
        dd = Deduplicator(corpus, priority=registry.priority).load() if dedup else None
        rebuilt: set[str] = set()
        tasks = [(i, paths[c.file], c.offset, c.length) for i, c in enumerate(selected)]
        for n, result in enumerate(_results(_chunks(tasks, CHUNK), workers if len(tasks) > CHUNK else 1,
                                            cfg, extract, pool_options), 1):
            capture = selected[result.index]
            began = time.monotonic()
            _one(result, capture, corpus, dd, existing, rebuilt, report, extractor_info, examples)
            report.store_seconds += time.monotonic() - began
            if progress:
                progress(n, len(selected))
        if dd is not None:
            dd.save()
        corpus.write_index()

    for key, why in corpus.unreadable:  # broken record files no archived page replaced
        rid = key.rsplit("/", 1)[-1][:-len(".json")]
        if rid not in rebuilt:
            report.errors.append(f"{key} could not be read ({why}) and no archived page rebuilt it")
    for rid, meta in existing.items():
        if rid in rebuilt or (outlet and meta.get("outlet") != outlet):
            continue
        why = "no WARC (fetched before the archive)" if not meta["warc"] else "not in the selected WARC files"
        report.kept_unchanged[why] += 1
    report.seconds = time.monotonic() - started
    return report


def _one(result: Rebuilt, capture: Capture, corpus, dd, existing: dict, rebuilt: set, report: ReextractReport,
         extractor_info: dict, examples: int) -> None:
    if result.error:
        report.errors.append(f"{capture.url} ({capture.file}@{capture.offset}): {result.error}")
        return
    page = dict(result.page, outlet=capture.outlet)
    if result.document is None:
        guess = doc_id(canonicalize(page["url"]))
        if guess in existing:
            report.kept_unchanged[f"no longer extracts: {result.dropped}"] += 1
            report.example("no longer extracts", examples, id=guess, url=page["url"], after=result.dropped)
            rebuilt.add(guess)
        else:
            report.skipped[result.dropped] += 1
        return
    document = result.document
    rid = doc_id(canonical_for(page["url"], document.canonical_url))
    known = existing.get(rid)
    if known and _newer(known.get("fetched_at"), page.get("fetched_at")):
        report.skipped["a newer fetch is stored"] += 1
        rebuilt.add(rid)
        return
    topic = result.topic or {}
    if not topic.get("relevant", True):
        if known:
            report.now_off_topic += 1
            report.example("now off-topic (kept)", examples, id=rid, url=page["url"], after=topic.get("score"))
        elif not capture.keep_off_topic:
            report.skipped[f"off-topic ({topic.get('reason')})"] += 1
            return
    old = corpus.get(rid) if known else None
    done = ingest(corpus, dd, page, document, extractor=extractor_info,
                  extra={"topic": topic, "warc": capture.location()})
    record = done.record
    rebuilt.add(rid)
    existing[rid] = {"outlet": record.get("outlet"), "warc": True, "fetched_at": record.get("fetched_at")}
    report.outcomes[done.outcome] += 1
    for outcome in done.relinked:
        report.relinked[outcome] += 1
    if done.outcome == "new":
        report.example("new", examples, id=rid, url=page["url"], after=record.get("title"))
    elif done.outcome == "updated" and old is not None:
        diffs = _compare(old, record)
        for kind, before, after in diffs:
            report.changes[kind] += 1
            report.example(kind, examples, id=rid, url=page["url"], before=before, after=after)
        if not diffs:
            report.changes["other"] += 1
            report.example("other", examples, id=rid, url=page["url"])
