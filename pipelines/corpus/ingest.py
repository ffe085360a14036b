"""Build a page's record and store it: the core of the crawl's Store stage, shared with
``corpus reextract`` and ``corpus import-warc`` (``pipelines/archive/``).

``ingest`` builds the record (``record.build_record``), places it in its near-duplicate cluster
(``Deduplicator.resolve``, when a deduplicator is given) and writes it and every other cluster
member whose links changed (``Corpus.put``), holding the deduplicator's ``exclusive()`` lock around
both when it has one (``pipelines/dedup/shared.py``).  A record whose content is unchanged writes nothing,
except that a stored record without a ``warc`` location (fetched before the raw archive existed)
gets the location of this fetch.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from pipelines.corpus.layout import DOCS
from pipelines.corpus.record import build_record

__all__ = ["Ingested", "ingest"]


@dataclass
class Ingested:
    record: dict
    outcome: str                                        # "new" | "updated" | "unchanged"
    relinked: list[str] = field(default_factory=list)   # put outcomes of the other cluster members
    others: list[dict] = field(default_factory=list)    # those members

    @property
    def display(self) -> str:
        """The page's outcome as ``corpus fetch`` shows it (``duplicate of ID`` for a new copy)."""
        if self.record.get("duplicate_of") and self.outcome != "unchanged":
            return f"duplicate of {self.record['duplicate_of']}"
        return self.outcome


def ingest(corpus, dedup, page: dict, document, *, extractor: dict, extra: dict | None = None) -> Ingested:
    record = build_record(page, document, extractor=extractor, extra=extra)
    # a deduplicator shared by several workers (pipelines/dedup/shared.py) holds its lock from the
    # decision to the last record write, so no other worker decides on a half-written cluster
    hold = getattr(dedup, "exclusive", None)
    with hold() if hold is not None else nullcontext():
        records = dedup.resolve(record) if dedup is not None else [record]
        outcome = corpus.put(record)
        others = records[1:]
        relinked = [corpus.put(other) for other in others]  # members of its cluster whose links changed
        if outcome == "unchanged" and record.get("warc"):
            _locate(corpus, record)
    return Ingested(record=record, outcome=outcome, relinked=relinked, others=others)


def _locate(corpus, record: dict) -> None:
    key = f"{DOCS}{record['id']}.json"
    stored = corpus.read_json(key)
    if stored is not None and not (stored.get("warc") or {}).get("file"):  # none, or the JSON form of none
        stored["warc"] = record["warc"]
        corpus.write_json(key, stored)
