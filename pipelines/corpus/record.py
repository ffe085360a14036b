"""Build the corpus record of one fetched page from its extracted document.

A *page* is the plain dict a spider hands over (no Scrapy types):
``url`` (final URL), ``requested_url``, ``status``, ``content_type``,
``charset``, ``etag``, ``last_modified``, ``body`` (bytes), ``fetched_at``
(ISO 8601, UTC) and ``outlet``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from pipelines.crawl.urls import canonicalize, doc_id, same_site, site_name
from pipelines.corpus.schema import SCHEMA_VERSION, normalize
from pipelines.extract.words import count_words

__all__ = ["build_record", "canonical_for", "text_sha256", "utc_now", "VOLATILE_FIELDS"]

# Fields that change on every fetch without the article changing ("warc": where this fetch's raw
# response is archived, pipelines/archive/; an unchanged record keeps the location of its first fetch).
VOLATILE_FIELDS = frozenset(
    {"fetched_at", "http_status", "etag", "last_modified", "requested_url", "run_id", "warc",
     "url",  # "url": the address form of this fetch (www., http, tracking); the id is the canonical URL's
     "stored_at", "schema_version"}  # when this version was written; the form it was written in
)


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_for(url: str, declared: str | None) -> str:
    """The URL a record is keyed on.

    A ``<link rel=canonical>`` on the same site folds variants of one page
    (AMP, print, mobile or regional host, tracking); one pointing to another
    site marks a syndicated copy, which keeps its own URL (near-duplicate
    detection links the two, and the declaration decides which is canonical). "Same site" is the
    Public Suffix List's (``same_site``): ``a.github.io`` can never claim ``b.github.io``'s record.
    A declaration that is not an http(s) URL, or cannot be parsed (a bad port), is ignored.
    """
    if declared and same_site(declared, url):
        try:
            folded = canonicalize(declared)
        except ValueError:
            folded = ""
        if folded.startswith("https://"):
            return folded
    return canonicalize(url)


def build_record(page: dict, document, *, extractor: dict, extra: dict | None = None) -> dict:
    """The record of ``page``, whose extraction gave ``document``."""
    canonical = canonical_for(page["url"], document.canonical_url)
    record = {
        "schema_version": SCHEMA_VERSION,  # pipelines/corpus/schema.py: every field, its type, its JSON form
        "id": doc_id(canonical),
        "url": page["url"],
        "requested_url": page.get("requested_url") or page["url"],
        "canonical_url": canonical,
        "declared_canonical": document.canonical_url,
        "outlet": page.get("outlet") or site_name(page["url"]),
        "title": document.title,
        "authors": list(document.authors or []),
        "published": document.published,
        "language": document.language,
        "language_declared": getattr(document, "language_declared", None),
        "description": document.description,
        "sitename": document.sitename,
        "credit": getattr(document, "credit", None),
        "text": document.text,
        "text_sha256": text_sha256(document.text),
        "word_count": count_words(document.text, document.language),
        "fetched_at": page.get("fetched_at") or utc_now(),
        "http_status": page.get("status"),
        "content_type": page.get("content_type"),
        "etag": page.get("etag"),
        "last_modified": page.get("last_modified"),
        "extractor": dict(extractor),
        "duplicate_of": None,
        "also_at": [],
        "same_story": None,      # the same-story cluster and its original: set by the deduplicator
        "story_original": None,
        "replayed": bool(page.get("replayed")),  # answered by a replay web (demo, tests), not the live site
    }
    if extra:
        record.update(extra)
    return normalize(record)  # every field of the schema, in its type (topic, text_kept, warc... unknown: None)
