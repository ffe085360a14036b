"""Blob store in an S3 bucket (boto3, imported lazily). PutObject is atomic by nature.

Configuration is standard AWS: env vars, profiles, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3
(honoured by botocore itself) for S3-compatible servers such as MinIO or moto.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator

from pipelines.store.base import BlobStore, StoreError, check_key, guess_content_type

# botocore's DEBUG log prints request headers, Authorization (the access key id) included:
# keep the AWS libraries at WARNING whatever the application's log level.
QUIET_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


def quiet_aws_logs() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

MISSING_CODES = {"404", "NoSuchKey", "NotFound"}   # a missing key; NoSuchBucket is a store error
BUCKET_MISSING_CODES = {"NoSuchBucket"}
BUCKET_CHECK_SECONDS = 30.0  # exists() confirms the bucket behind a 404 at most this often
EXISTS_CODES = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}


@dataclass
class S3Config:
    """Client settings; None means "use the standard AWS configuration"."""

    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    max_attempts: int = 3  # total attempts per call, first one included
    addressing_style: str | None = None  # "path" | "virtual" | None (auto)


def parse_s3_url(spec: str) -> tuple[str, str]:
    """"s3://bucket/some/prefix" -> ("bucket", "some/prefix")."""
    if not spec.startswith("s3://"):
        raise StoreError(f"not an s3:// URL: {spec!r}")
    bucket, _, prefix = spec[5:].partition("/")
    if not bucket:
        raise StoreError(f"no bucket in {spec!r}")
    return bucket, prefix.strip("/")


class S3Store(BlobStore):
    """Keys live under s3://bucket/prefix/."""

    def __init__(self, bucket: str, prefix: str = "", config: S3Config | None = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.config = config or S3Config()
        self._client: Any = None
        self._bucket_seen = float("-inf")  # when the bucket was last seen to exist (exists() asks)

    @classmethod
    def from_url(cls, spec: str, config: S3Config | None = None) -> "S3Store":
        return cls(*parse_s3_url(spec), config=config)

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3

                quiet_aws_logs()
                from botocore.config import Config
            except ImportError as exc:  # pragma: no cover - boto3 is a dependency
                raise StoreError("S3 store needs boto3: pip install boto3") from exc
            cfg = self.config
            s3_opts = {"addressing_style": cfg.addressing_style} if cfg.addressing_style else {}
            bconf = Config(
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
                retries={"total_max_attempts": cfg.max_attempts, "mode": "standard"},
                s3=s3_opts or None,
            )
            try:
                self._client = boto3.session.Session().client(
                    "s3", endpoint_url=cfg.endpoint_url, region_name=cfg.region, config=bconf
                )
            except Exception as exc:
                raise StoreError(f"cannot set up S3 client for {self.describe()}: {exc}") from exc
        return self._client

    @property
    def endpoint_url(self) -> str:
        return self.client.meta.endpoint_url

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        """Turn a botocore exception into a StoreError with a clear message."""
        from botocore import exceptions as bex

        where = f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}{key}"  # key may be a prefix
        if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError,
                            bex.ConnectionClosedError)):
            msg = f"cannot reach S3 endpoint {self.endpoint_url} (bucket {self.bucket}): {exc}"
        elif isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
            msg = f"no usable AWS credentials to {action} {where}: {exc}"
        elif self._code(exc) in BUCKET_MISSING_CODES:
            msg = f"S3 bucket {self.bucket!r} does not exist at {self.endpoint_url} (NoSuchBucket, {action} {where})"
        elif isinstance(exc, bex.ClientError):
            err = exc.response.get("Error", {})
            msg = (f"S3 refused to {action} {where} at {self.endpoint_url}: "
                   f"{err.get('Code', '?')} {err.get('Message', '')}".rstrip())
        else:
            msg = f"S3 {action} {where} failed at {self.endpoint_url}: {type(exc).__name__}: {exc}"
        error = StoreError(msg)
        error.transient = _transient(exc)
        return error

    @staticmethod
    def _code(exc: Exception) -> str:
        resp = getattr(exc, "response", None) or {}
        return str(resp.get("Error", {}).get("Code", "")) or str(
            resp.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))

    def read(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            if self._code(exc) in MISSING_CODES:
                return None
            raise self._fail("read", key, exc) from exc

    def write(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data),
                                   ContentType=content_type or guess_content_type(key))
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def write_if_absent(self, key: str, data: bytes, *, content_type: str | None = None) -> bool:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data),
                                   ContentType=content_type or guess_content_type(key), IfNoneMatch="*")
            return True
        except Exception as exc:
            if self._code(exc) in EXISTS_CODES:
                return False
            raise self._fail("create", key, exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except Exception as exc:
            if self._code(exc) in MISSING_CODES:
                # a 404 to HEAD has no body: it says the same for a missing key and a missing bucket
                if time.monotonic() - self._bucket_seen > BUCKET_CHECK_SECONDS:
                    self.check()
                return False
            raise self._fail("check", key, exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if self._code(exc) not in MISSING_CODES:
                raise self._fail("delete", key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                keys.extend(o["Key"][len(root):] for o in page.get("Contents", ()))
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        return iter(sorted(k for k in keys if k and not k.endswith("/")))

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self._bucket_seen = time.monotonic()
        except Exception as exc:
            if self._code(exc) in ("404", "NoSuchBucket", "NotFound"):
                error = StoreError(f"S3 bucket {self.bucket!r} does not exist at {self.endpoint_url}")
                error.transient = False
                raise error from exc
            error = self._fail("open bucket", "", exc)
            if self._code(exc) in ("403", "Forbidden", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                # a HEAD's 403 has no body to say why: the credentials, or a bucket of someone else
                error.args = (f"{error} (check the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                              "AWS_PROFILE, and that they may read this bucket)",)
            raise error from exc

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def _transient(exc: Exception) -> bool:
    """Whether trying again may help: the endpoint unreachable, a timeout, a cut connection, a 5xx or
    throttling; not a missing bucket, denied access or missing credentials."""
    from botocore import exceptions as bex

    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return False
    if isinstance(exc, bex.ClientError):
        code = S3Store._code(exc)
        status = (exc.response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or status == 429 or code in {"SlowDown", "Throttling", "RequestTimeout",
                                                           "InternalError", "ServiceUnavailable"}
    from http.client import HTTPException  # IncompleteRead of a body cut short
    from urllib3.exceptions import HTTPError as TransportError  # ProtocolError: a body read cut by a reset

    return isinstance(exc, (bex.BotoCoreError, OSError, TransportError, HTTPException))
