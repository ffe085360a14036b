"""Incremental crawl state: what is known of every article URL, and when it is due.

Kept in the store beside the corpus: a snapshot ``state/urls.json`` plus an
append-only journal ``state/journal/<run>-<seq>.jsonl`` flushed every few
seconds during a crawl.  Loading merges the snapshot with every journal, so a
crawl killed at any moment resumes with all flushed work known; at most the
last unflushed seconds are fetched again, and then answer ``unchanged``
through conditional GET and the text hash.  ``compact()`` folds the journals
into a new snapshot (written atomically before the journals are deleted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from pipelines.crawl.urls import canonicalize

__all__ = ["CrawlState", "RecheckPolicy", "parse_time"]

SNAPSHOT = "state/urls.json"
JOURNAL = "state/journal/"


def parse_time(value, strict: bool = False) -> datetime | None:
    """A timezone-aware datetime from ISO 8601 (date or datetime), or None. Dates in feeds and sitemaps are
    read leniently (RFC 2822, or the leading YYYY-MM-DD of something odder); ``strict``, for a date a user
    typed (``--since``), reads the whole value or nothing: "2024-01-01T25:00" is no date."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)  # RFC 2822, as in RSS pubDate
        except (TypeError, ValueError, IndexError):
            if strict:
                return None
            try:
                when = datetime.fromisoformat(text[:10])
            except ValueError:
                return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RecheckPolicy:
    """When a known URL is due again: younger articles are re-checked sooner."""

    fresh_days: float = 2.0          # published within this many days ...
    fresh_every_hours: float = 6.0   # ... re-check this often
    recent_days: float = 30.0
    recent_every_days: float = 3.0
    old_every_days: float = 30.0
    error_retry_hours: float = 1.0   # doubles per consecutive failure
    error_retry_max_days: float = 7.0

    def interval(self, entry: dict, now: datetime) -> timedelta:
        failures = int(entry.get("failures") or 0)
        if entry.get("status") == "error":
            hours = self.error_retry_hours * 2 ** max(0, failures - 1)
            return min(timedelta(hours=hours), timedelta(days=self.error_retry_max_days))
        published = parse_time(entry.get("published"))
        age = now - published if published else timedelta(days=365)
        if age <= timedelta(days=self.fresh_days):
            return timedelta(hours=self.fresh_every_hours)
        if age <= timedelta(days=self.recent_days):
            return timedelta(days=self.recent_every_days)
        return timedelta(days=self.old_every_days)


class CrawlState:
    def __init__(self, store, *, run_id: str, policy: RecheckPolicy | None = None, partial: bool = False):
        """``partial``: the state in the store could not be read (the store failed at the start of a run);
        this one knows only what the run marks, and never overwrites the snapshot (`compact`)."""
        self.store = store
        self.run_id = run_id
        self.partial = partial
        self.policy = policy or RecheckPolicy()
        self.urls: dict[str, dict] = {}
        self._pending: list[dict] = []
        self._seq = 0
        self._merged: list[str] = []

    @classmethod
    def load(cls, store, *, run_id: str, policy: RecheckPolicy | None = None) -> "CrawlState":
        state = cls(store, run_id=run_id, policy=policy)
        data = store.read(SNAPSHOT)
        if data:
            state.urls = json.loads(data.decode("utf-8")).get("urls", {})
        for key in store.list(JOURNAL):
            raw = store.read(key) or b""
            for line in raw.decode("utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    state.urls.setdefault(entry["url"], {}).update(entry)
            state._merged.append(key)
        return state

    def get(self, url: str) -> dict | None:
        return self.urls.get(canonicalize(url))

    def due(self, url: str, *, lastmod=None, now: datetime | None = None) -> tuple[bool, str]:
        """(is due, why): ``new``, ``retry-after``, ``lastmod-changed``, ``recheck-due``, ``not-due``.

        A URL whose server named a wait longer than the run gave (``retry_at``, a 429 or 503's
        ``Retry-After``) is due at that time, neither sooner nor at the generic error backoff."""
        entry = self.get(url)
        if entry is None:
            return True, "new"
        now = now or datetime.now(timezone.utc)
        retry_at = parse_time(entry.get("retry_at")) if entry.get("status") == "error" else None
        if retry_at:
            return (True, "retry-after") if now >= retry_at else (False, "not-due")
        announced = parse_time(lastmod)
        if announced:
            reference = parse_time(entry.get("lastmod")) or parse_time(entry.get("fetched_at"))
            if reference is None or announced > reference:
                return True, "lastmod-changed"
        checked = parse_time(entry.get("checked_at") or entry.get("fetched_at"))
        if checked is None or now >= checked + self.policy.interval(entry, now):
            return True, "recheck-due"
        return False, "not-due"

    def mark(self, url: str, **fields) -> dict:
        """Record what happened to ``url`` now (status, id, etag, lastmod, ...)."""
        key = canonicalize(url)
        entry = self.urls.setdefault(key, {"url": key})
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        fields.setdefault("checked_at", now)
        if fields.get("status") == "error":
            fields["failures"] = int(entry.get("failures") or 0) + 1
        elif "status" in fields:
            fields["failures"] = 0
        if "status" in fields and entry.get("retry_at") and not fields.get("retry_at"):
            fields["retry_at"] = ""  # a later outcome ends the server's wait ("": a journal line overrides it)
        entry.update({k: v for k, v in fields.items() if v is not None})
        self._pending.append(dict(entry))
        return entry

    def flush(self) -> str | None:
        """Write the pending entries as one journal object; returns its key."""
        if not self._pending:
            return None
        self._seq += 1
        key = f"{JOURNAL}{self.run_id}-{self._seq:06d}.jsonl"
        data = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in self._pending)
        # flushes run in the crawl's reactor thread: one try, no retry wait (a failed flush keeps its
        # entries pending and the next flush, or compact(), writes them)
        getattr(self.store, "once", self.store).write(key, data.encode("utf-8"), content_type="application/x-ndjson")
        self._merged.append(key)
        self._pending = []
        return key

    def compact(self) -> None:
        """Fold everything into the snapshot, then drop the journals it contains. A partial state (the
        store's could not be read) only writes its journal: its snapshot would erase every URL it never
        read, and the next load merges the journal into the snapshot that is still there."""
        self.flush()
        if self.partial:
            return
        data = json.dumps({"version": 1, "urls": self.urls}, sort_keys=True, ensure_ascii=False)
        self.store.write(SNAPSHOT, data.encode("utf-8"), content_type="application/json")
        for key in self._merged:
            self.store.delete(key)
        self._merged = []
