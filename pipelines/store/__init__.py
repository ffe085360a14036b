"""Blob stores: a local folder or an S3 bucket behind one small interface."""
from __future__ import annotations

import os

from pipelines.store.base import BlobStore, StoreError, guess_content_type
from pipelines.store.local import LocalStore
from pipelines.store.retry import RetryingStore, RetryPolicy, with_retries
from pipelines.store.s3 import S3Config, S3Store

__all__ = ["BlobStore", "LocalStore", "RetryPolicy", "RetryingStore", "S3Config", "S3Store", "StoreError",
           "guess_content_type", "open_store", "open_store_from", "with_retries"]


def open_store(spec: str | os.PathLike, *, s3_config: S3Config | None = None, retries: int | None = None,
               retry_seconds: float | None = None) -> BlobStore:
    """"./corpus-store", "/abs/path", "file:///abs/path" or "s3://bucket/prefix" -> a BlobStore.
    With ``retries`` (> 0), transient failures are tried again (``pipelines/store/retry.py``)."""
    store = _open(spec, s3_config)
    return store if retries is None else with_retries(store, retries, retry_seconds)


def open_store_from(settings, spec: str | None = None) -> BlobStore:
    """The store a run's settings name (``CORPUS_STORE``), with its retries (``CORPUS_STORE_RETRIES``,
    ``CORPUS_STORE_RETRY_SECONDS``). ``settings``: anything with ``get``."""
    spec = spec or settings.get("CORPUS_STORE") or "./corpus-store"
    retries = settings.get("CORPUS_STORE_RETRIES")
    seconds = settings.get("CORPUS_STORE_RETRY_SECONDS")
    return open_store(spec, retries=8 if retries in (None, "") else int(retries),
                      retry_seconds=30.0 if seconds in (None, "") else float(seconds))


def _open(spec, s3_config):
    text = os.fspath(spec)
    if not isinstance(text, str) or not text.strip():
        raise StoreError(f"empty store spec {spec!r}")
    if text.startswith("s3://"):
        head = text[5:].split("@", 1)[0] if "@" in text else ""
        if ":" in head.split("/", 1)[0] or "@" in text[5:].split("/", 1)[0]:
            # s3://KEY:SECRET@bucket (a secret may hold "/"; a bucket name never holds ":" or "@"): not a form S3
            # knows, and neither the key nor the secret is echoed
            shown = "s3://***@" + text[5 + len(head) + 1:]
            raise StoreError(f"credentials in the store address {shown!r}: give them as "
                             "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, never in the address")
        return S3Store.from_url(text, config=s3_config)
    if text.startswith("file://"):
        text = text[7:]
    elif "://" in text:
        raise StoreError(f"unsupported store URL {text!r}: use a folder path or s3://bucket/prefix")
    return LocalStore(text)
