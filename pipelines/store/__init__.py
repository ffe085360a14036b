"""Blob stores: a local folder or an S3 bucket behind one small interface."""
from __future__ import annotations

import os

from pipelines.store.base import BlobStore, StoreError, guess_content_type
from pipelines.store.local import LocalStore
from pipelines.store.s3 import S3Config, S3Store

__all__ = ["BlobStore", "LocalStore", "S3Config", "S3Store", "StoreError", "guess_content_type", "open_store"]


def open_store(spec: str | os.PathLike, *, s3_config: S3Config | None = None) -> BlobStore:
    """"./corpus-store", "/abs/path", "file:///abs/path" or "s3://bucket/prefix" -> a BlobStore."""
    text = os.fspath(spec)
    if not isinstance(text, str) or not text.strip():
        raise StoreError(f"empty store spec {spec!r}")
    if text.startswith("s3://"):
        return S3Store.from_url(text, config=s3_config)
    if text.startswith("file://"):
        text = text[7:]
    elif "://" in text:
        raise StoreError(f"unsupported store URL {text!r}: use a folder path or s3://bucket/prefix")
    return LocalStore(text)
