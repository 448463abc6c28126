"""An S3 blob store in a backup: its objects referenced by version (not copied), and put back
by version on restore. The bucket must keep versions (S3 versioning) at least as long as the
archives are kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.settings import Settings
from integrations.blobs.base import BlobError, BlobNotFound
from integrations.blobs.s3 import S3BlobStore

ENTRY = "blobs-s3.json"


class S3ReferenceError(ValueError):
    """The bucket cannot be referenced, or a referenced version cannot be put back."""


def _store(settings: Settings) -> S3BlobStore:
    if not settings.s3_bucket:
        raise S3ReferenceError("set s3_bucket")
    return S3BlobStore(
        settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        connect_timeout=settings.s3_timeout_seconds,
    )


def references(settings: Settings) -> bytes:
    """The `blobs-s3.json` entry: the bucket, and each object's key, version id and size."""
    return asyncio.run(_references(settings))


async def _references(settings: Settings) -> bytes:
    store = _store(settings)
    try:
        if not await store.versioning_enabled():
            raise S3ReferenceError(
                f"bucket {store.bucket} does not keep versions: enable S3 versioning so "
                "backups can reference its objects"
            )
        objects: list[dict[str, Any]] = []
        async for key in store.keys():
            try:
                version, size = await store.version(key)
            except BlobNotFound:
                continue  # deleted since it was listed
            if not version or version == "null":
                raise S3ReferenceError(f"object {key} has no version id")
            objects.append({"key": key, "version_id": version, "size": size})
    except BlobError as exc:
        raise S3ReferenceError(f"bucket {store.bucket}: {exc}") from None
    finally:
        await store.close()
    return json.dumps({"bucket": store.bucket, "objects": objects}, indent=0).encode()


def put_back(settings: Settings, entry: bytes) -> int:
    """Make every referenced version current in `s3_bucket`; return how many were copied."""
    return asyncio.run(_put_back(settings, json.loads(entry)))


async def _put_back(settings: Settings, listed: dict[str, Any]) -> int:
    if settings.blob_store != "s3":
        raise S3ReferenceError("this backup references S3 objects: restore with blob_store = s3")
    store = _store(settings)
    copied = 0
    try:
        for item in listed["objects"]:
            try:
                copied += await store.restore_version(
                    item["key"], item["version_id"], listed["bucket"]
                )
            except BlobNotFound:
                raise S3ReferenceError(
                    f"entry {ENTRY}: version {item['version_id']} of {item['key']} is gone "
                    f"from bucket {listed['bucket']}"
                ) from None
    except BlobError as exc:
        raise S3ReferenceError(f"bucket {store.bucket}: {exc}") from None
    finally:
        await store.close()
    return copied
