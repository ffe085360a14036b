"""The run report: what a run was asked, what it did, and the exit status that says so.

``assess()`` is pure (crawl stats in, verdict out) and decides the exit status
(``crawler/exitcodes.py``).  The ``RunReport`` extension calls it when the
spider closes and writes ``corpus/runs/<run>.json`` to the store; when the store
cannot take it (the store is the problem), the report goes to a local file
instead, and always to ``CORPUS_REPORT_FILE`` when that is set.  It also keeps
``state/outlets.json``: how many articles each outlet's discovery found in its
last runs, so an outlet that has gone quiet is flagged.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from scrapy import signals

from crawler import exitcodes
from crawler.summary import per_outlet
from pipelines.crawl.urls import redact_credentials

logger = logging.getLogger(__name__)

HEALTH_KEY = "state/outlets.json"
WRITTEN: str | None = None  # where this process wrote its run's report, once it has
HEALTH_RUNS = 10           # runs of history kept per outlet
QUIET_RUNS = 3             # flagged when discovery found nothing in this many runs in a row
DEFAULT_MAX_ERROR_RATE = 0.1
COMPLETED = ("finished", "closespider_")  # finish reasons of a run that ran to its end (or limit)
STORE_UNAVAILABLE = "store_unavailable"   # finish reason of a run whose store failed at the start
STORE_FAILED = "error: store unavailable"  # outcome of a page the store did not take (spooled)


def count_store_error(stats, exc: Exception) -> None:
    """Count a store failure in the crawl stats, where ``assess()`` finds it (exit status 3)."""
    stats.inc_value("corpus/store/error")
    if not stats.get_value("corpus/store/first_error"):
        stats.set_value("corpus/store/first_error", str(exc)[:300])  # often the cause; later ones its echo
    stats.set_value("corpus/store/last_error", str(exc)[:300])


def _outlet_stat(stats: dict, outlet: str, key: str) -> int:
    value = stats.get(f"corpus/outlet/{outlet}/{key}", 0)
    return value if isinstance(value, int) else 0


def run_stopped(finish_reason: str | None, interrupted_by: str | None) -> bool:
    """Whether a run was stopped before its end: a stop signal, or a finish reason other than COMPLETED's."""
    return bool(interrupted_by) or not str(finish_reason or "unknown").startswith(COMPLETED)


def assess(stats: dict, *, finish_reason: str | None, outlets=(), interrupted_by: str | None = None,
           max_error_rate: float = DEFAULT_MAX_ERROR_RATE, any_error_fails: bool = False,
           discovery_failures: dict | None = None) -> dict:
    """The verdict of a run from its stats: ``exit_code``, one-line ``reason``, every ``problem``.

    ``outlets``: the outlets the run was asked to crawl (empty for a fetch);
    ``any_error_fails``: one page error fails the run (``corpus fetch``), else
    the error rate must pass ``max_error_rate``.
    """
    problems: list[tuple[int, str]] = []
    store_errors = stats.get("corpus/store/error", 0)
    if store_errors:
        first, last = stats.get("corpus/store/first_error"), stats.get("corpus/store/last_error")
        said = first or last or "see the log"
        if first and last and last != first:
            said = f"first: {first}; last: {last}"
        problems.append((exitcodes.STORE, f"the store failed {store_errors} time(s) during the run ({said})"))
    pending = stats.get("corpus/pending/spooled", 0)
    if pending:
        problems.append((exitcodes.STORE, f"{pending} fetched page(s) could not be stored: kept in "
                                          f"{stats.get('corpus/pending/folder', 'the pending spool')}, "
                                          "stored when the next run on this store starts"))
    lost = stats.get("corpus/pending/lost", 0)
    if lost:
        problems.append((exitcodes.STORE, f"{lost} fetched page(s) could neither be stored nor spooled"))
    reason = finish_reason or "unknown"
    stopped = run_stopped(reason, interrupted_by)
    if reason == STORE_UNAVAILABLE and store_errors and not interrupted_by:
        pass  # closed because the store failed at the start: said above
    elif stopped:
        by = f" by {interrupted_by}" if interrupted_by else ""
        problems.append((exitcodes.INTERRUPTED, f"the run was interrupted{by} (finish_reason {reason})"))
    failures = discovery_failures or {}
    dead, warnings = [], []
    if reason == STORE_UNAVAILABLE and outlets:
        # the run closed before discovery began: no outlet failed, none was tried
        warnings.append(f"discovery was not tried for {len(outlets)} outlet(s): the store failed at the start")
        outlets = ()
    for outlet in outlets:
        routes = _outlet_stat(stats, outlet, "discovery_routes")
        ok = _outlet_stat(stats, outlet, "discovery_ok")
        failed = _outlet_stat(stats, outlet, "discovery_failed")
        if stopped and routes and not ok and failed < routes:
            # the run stopped before every route of the outlet was answered (some never sent): unfinished,
            # not failed; its routes are due again next run
            warnings.append(f"{outlet}: discovery did not finish ({routes - failed} of {routes} route(s) "
                            "unanswered when the run stopped)")
            warnings += [f"{outlet}: discovery route {url} failed ({what})" for url, what in failures.get(outlet, [])]
        elif routes and not ok:
            why = "; ".join(f"{url}: {what}" for url, what in failures.get(outlet, [])[:3])
            dead.append(outlet)
            problems.append((exitcodes.DISCOVERY, f"every discovery route of {outlet} failed"
                                                  + (f" ({why})" if why else "")))
        elif not routes:
            dead.append(outlet)
            problems.append((exitcodes.DISCOVERY, f"{outlet} has no discovery route (no sitemap, feed or "
                                                  "listing, and robots.txt names no sitemap)"))
        else:  # the outlet works, but a route of it is broken: worth a look, not a failed run
            warnings += [f"{outlet}: discovery route {url} failed ({what})" for url, what in failures.get(outlet, [])]
    if len(dead) > 1:  # one line for the scheduler that names them all
        names = ", ".join(sorted(dead)[:10]) + (f" and {len(dead) - 10} more" if len(dead) > 10 else "")
        problems.insert(0, (exitcodes.DISCOVERY, f"discovery failed for {len(dead)} outlets: {names}"))
    broken = stats.get("corpus/pending/broken", 0)
    if broken:
        warnings.append(f"{broken} spooled page(s) could not be stored and were set aside as *.broken in "
                        f"{stats.get('corpus/pending/folder_replayed', 'the pending spool')}")
    errors = stats.get("corpus/outcome/error", 0)
    attempted = sum(v for k, v in stats.items() if k.startswith("corpus/outcome/") and isinstance(v, int))
    rate = errors / attempted if attempted else 0.0
    if errors and (any_error_fails or rate > max_error_rate):
        limit = "" if any_error_fails else f", over --max-error-rate {max_error_rate:g}"
        problems.append((exitcodes.PAGE_ERRORS, f"{errors} of {attempted} pages ended in error ({rate:.0%}{limit})"))
    code = exitcodes.worst(c for c, _ in problems)
    first = next((text for c, text in problems if c == code), "ok")
    return {"exit_code": code, "exit_name": exitcodes.NAMES.get(code, "?"), "reason": first,
            "problems": [text for _, text in problems], "warnings": warnings, "finish_reason": reason,
            "interrupted_by": interrupted_by, "pages_attempted": attempted, "page_errors": errors,
            "error_rate": round(rate, 4), "max_error_rate": None if any_error_fails else max_error_rate}


def unreadable_warning(unreadable: list[tuple[str, str]]) -> str:
    """One line naming record files that could not be read (the first three, with why)."""
    named = "; ".join(f"{key} ({why})" for key, why in unreadable[:3])
    more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
    return (f"{len(unreadable)} record file(s) in the store could not be read and were skipped: {named}{more}"
            " (a fetch or re-extraction of the page replaces them, the old bytes kept in the history; then "
            "`corpus dedup --rebuild` relinks their near-duplicate copies)")


def outlet_health(history: dict, found: dict[str, int], run_id: str) -> tuple[dict, dict[str, int]]:
    """(new history, quiet outlets): append this run's discovered count per outlet; an outlet is quiet
    when its discovery found nothing in each of its last ``QUIET_RUNS`` runs (value: how many in a row)."""
    runs = {k: list(v) for k, v in (history.get("outlets") or {}).items()}
    for outlet, n in found.items():
        runs.setdefault(outlet, []).append({"run": run_id, "discovered": n})
        runs[outlet] = runs[outlet][-HEALTH_RUNS:]
    quiet = {}
    for outlet in found:
        streak = 0
        for entry in reversed(runs[outlet]):
            if entry["discovered"]:
                break
            streak += 1
        if streak >= QUIET_RUNS:
            quiet[outlet] = streak
    return {"version": 1, "outlets": runs}, quiet


def local_report_dir() -> Path:
    """Where a report goes when the store cannot take it."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "asean-russia-corpus" / "runs"


def write_local_report(report: dict, report_file: str | None = None) -> str | None:
    """Write a report that the store cannot take (to ``report_file``, else the local state folder)."""
    path = Path(report_file) if report_file else local_report_dir() / f"{report['run_id']}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        logger.error("could not write the run report to %s: %s", path, exc)
        return None
    return str(path)


def failed_start_report(command: str, store: str, code: int, reason: str, *,
                        finish_reason: str = "not_started") -> dict:
    """The report of a run that could not start (the store is missing or unreachable)."""
    now = datetime.now(timezone.utc)
    reason = redact_credentials(reason)
    return {"run_id": now.strftime("%Y%m%dT%H%M%S%fZ"), "spider": command,
            "store": redact_credentials(str(store or "")),
            "started_at": now.replace(microsecond=0).isoformat(), "finished_at": now.replace(microsecond=0).isoformat(),
            "exit_code": code, "exit_name": exitcodes.NAMES.get(code, "?"), "reason": reason, "problems": [reason],
            "finish_reason": finish_reason, "interrupted_by": None, "summary": {}, "stats": {}}


def _report(crawler, spider, raw: dict, verdict: dict) -> dict:
    """The report's common part: the run, its times, ``verdict`` (``assess``), per-outlet summary and stats."""
    finished = datetime.now(timezone.utc)
    started = raw.get("start_time")
    stats = _json_stats(raw)
    return {"run_id": getattr(spider, "run_id", None) or finished.strftime("%Y%m%dT%H%M%S%fZ"),
            "spider": getattr(spider, "name", None) or crawler.spidercls.name,
            "store": redact_credentials(str(crawler.settings.get("CORPUS_STORE") or "")) or None,
            "started_at": started.isoformat() if started else None,
            "finished_at": finished.replace(microsecond=0).isoformat(),
            "elapsed_seconds": round((finished - started).total_seconds(), 3) if started else None,
            **verdict, "outlets_found_nothing": [], "outlets_quiet": {},
            "summary": per_outlet(stats), "stats": stats}


def write_report(corpus, run_id: str, report: dict, report_file: str | None) -> str | None:
    """Write a run report into the corpus (when given), to the local state folder when the store could not take
    it, and to ``report_file`` (when given: a copy); where it is, for the user."""
    where = None
    if corpus is not None:
        try:
            key = corpus.write_run_stats(run_id, report)
            where = f"{corpus.store.describe().rstrip('/')}/{key}"
        except Exception as exc:  # noqa: BLE001 - a dead store must not lose the report
            logger.error("could not write the run report to the store: %s", exc)
    if where is None:  # the store could not take it: the local state folder keeps it, --report or not
        where = write_local_report(report)
    if report_file:  # a copy where the user asked (a scheduler's next run may overwrite it)
        copy = write_local_report(report, report_file)
        where = where or copy
    global WRITTEN
    WRITTEN = where or WRITTEN
    return where


def hard_stop_report(crawler, signame: str) -> tuple[dict, str | None]:
    """(report, where it is) of a run a second signal stopped at once: its spider never closed, so
    ``RunReport`` never ran, but what the run did is in its stats. The report is written where a closed run's
    goes when that is quick: the corpus's ``runs/`` in a local store (a stop asked twice waits for no S3
    retries), else the local state folder; and to ``CORPUS_REPORT_FILE`` when that is set."""
    spider = getattr(crawler, "spider", None)
    raw = crawler.stats.get_stats() if getattr(crawler, "stats", None) is not None else {}
    verdict = assess(raw, finish_reason="killed", interrupted_by=signame)
    said = f"the run was interrupted by {signame} and stopped without closing (a second signal)"
    verdict["problems"] = [said if p.startswith("the run was interrupted") else p for p in verdict["problems"]]
    if verdict["exit_code"] == exitcodes.INTERRUPTED:
        verdict["reason"] = said
    report = _report(crawler, spider, raw, verdict)
    report.update(changes={}, manifest=None)
    corpus = getattr(spider, "corpus", None)
    local = corpus is not None and not corpus.store.describe().startswith("s3://")
    where = write_report(corpus if local else None, report["run_id"], report,
                         crawler.settings.get("CORPUS_REPORT_FILE") or None)
    return report, where


def _json_stats(raw: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.items()}


class RunReport:
    """Writes the run report when the spider closes and leaves it on the crawler (``corpus_report``)."""

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.max_error_rate = settings.getfloat("CORPUS_MAX_ERROR_RATE", DEFAULT_MAX_ERROR_RATE)
        self.report_file = settings.get("CORPUS_REPORT_FILE") or ""
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, spider, reason):
        crawler = self.crawler
        raw = crawler.stats.get_stats()
        selected = [o.name for o in getattr(spider, "selected", [])]
        verdict = assess(raw, finish_reason=reason, outlets=selected,
                         interrupted_by=getattr(crawler, "corpus_interrupted_by", None),
                         max_error_rate=self.max_error_rate,
                         any_error_fails=getattr(spider, "any_error_fails", False),
                         discovery_failures=getattr(spider, "discovery_failures", {}))
        report = _report(crawler, spider, raw, verdict)
        run_id, summary = report["run_id"], report["summary"]
        manifest = getattr(spider, "corpus_manifest", None) or {}  # the store stage's (pipelines/corpus/manifest.py)
        report.update(changes=manifest.get("changes") or {}, manifest=manifest.get("manifest"))
        corpus = getattr(spider, "corpus", None)
        unreadable = list(getattr(corpus, "unreadable", None) or [])
        if unreadable:  # record files a full read skipped (pipelines/corpus/layout.py): not this run's failure
            report["warnings"].append(unreadable_warning(unreadable))
            report["stats"]["corpus/store/unreadable_records"] = len(unreadable)
        stopped = run_stopped(reason, getattr(crawler, "corpus_interrupted_by", None))
        if selected and reason != STORE_UNAVAILABLE and not stopped:
            # (closed before discovery: no outlet found nothing; an interrupted run found what it had time
            # for, which says nothing of an outlet's health: neither counts towards outlets_quiet)
            found = {name: summary.get(name, {}).get("discovered", 0) for name in selected}
            report["outlets_found_nothing"] = sorted(n for n, v in found.items() if not v)
            shared = getattr(spider, "shared", None)  # a worker of a crawl shared through Redis (crawler/distributed.py)
            if shared is None or shared.is_last:  # one history entry per shared run: by its last worker
                report["outlets_quiet"] = self._health(corpus, found, run_id)
        crawler.corpus_report = report
        crawler.corpus_report_path = write_report(corpus, run_id, report, self.report_file or None)

    def _health(self, corpus, found, run_id) -> dict:
        if corpus is None:
            return {}
        try:
            history, quiet = outlet_health(corpus.read_json(HEALTH_KEY) or {}, found, run_id)
            corpus.write_json(HEALTH_KEY, history)
            return quiet
        except Exception as exc:  # noqa: BLE001 - the store is failing: the report says so already
            logger.error("could not update %s: %s", HEALTH_KEY, exc)
            return {}
