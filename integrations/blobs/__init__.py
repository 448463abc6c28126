"""Blob stores for sealed file objects: a local directory (the default) or an S3 bucket."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations.blobs.base import (
    BlobError,
    BlobKeyError,
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    LiveCheck,
)
from integrations.blobs.keys import check_key
from integrations.blobs.local import LocalBlobStore
from integrations.breaker import CircuitBreaker
from persistence.space import Volume

if TYPE_CHECKING:
    from integrations.blobs.s3 import S3BlobStore

__all__ = [
    "BlobError",
    "BlobKeyError",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreUnavailable",
    "LiveCheck",
    "LocalBlobStore",
    "S3BlobStore",
    "blob_store_from_config",
    "check_key",
]

KINDS = ("local", "s3")


def __getattr__(name: str) -> Any:
    # boto3 loads large service models: only processes that use S3 pay for them.
    if name == "S3BlobStore":
        from integrations.blobs.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(name)


def blob_store_from_config(
    kind: str,
    *,
    root: Path | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    create_bucket: bool = False,
    timeout_seconds: float = 5.0,
    breaker: CircuitBreaker | None = None,
    volume: Volume | None = None,
) -> BlobStore:
    """The store the settings name; a missing or contradictory setting raises ValueError.

    "local" needs `root`, and takes the `volume` it lies on (uploads are refused up front
    while it is full); "s3" needs `bucket`, and takes `access_key_id` with
    `secret_access_key` or neither (then boto3's usual chain: environment, profile, IAM role).
    """
    if kind == "local":
        if root is None:
            raise ValueError("the local blob store needs root (the directory for objects)")
        return LocalBlobStore(root, volume=volume)
    if kind == "s3":
        if not bucket:
            raise ValueError("the s3 blob store needs bucket")
        if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
            # The URL itself stays out of the message, like every setting that may hold secrets.
            raise ValueError("the s3 blob store's endpoint_url must start with http:// or https://")
        if (access_key_id is None) != (secret_access_key is None):
            missing = "secret_access_key" if secret_access_key is None else "access_key_id"
            raise ValueError(
                f"the s3 blob store needs {missing} too: give both access keys or neither"
            )
        from integrations.blobs.s3 import S3BlobStore

        return S3BlobStore(
            bucket,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            create_bucket=create_bucket,
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            max_attempts=2,
            breaker=breaker,
        )
    raise ValueError(f"the blob store kind must be one of {', '.join(KINDS)}; got {kind!r}")
