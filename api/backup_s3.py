"""Backup archives in an S3 bucket (`backup_s3_bucket`), through the blob store's S3 engine.

Archives are kept under `cove-backups/<name>`. An upload is a multipart upload that S3 makes
visible whole or not at all, so no half archive ever appears under an archive's key; the
endpoint and credentials are the `s3_*` settings of the blob store.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from api.backup import BackupError, archive_time
from api.backup_prune import to_keep
from api.settings import Settings
from integrations.blobs.base import BlobError
from integrations.blobs.s3 import S3BlobStore

PREFIX = "cove-backups/"
SCHEME = "s3://"
_CHUNK = 8 * 1024 * 1024


def _store(settings: Settings, bucket: str | None = None) -> S3BlobStore:
    name = bucket or settings.backup_s3_bucket
    if not name:
        raise BackupError("set backup_s3_bucket")
    return S3BlobStore(
        name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        connect_timeout=settings.s3_timeout_seconds,
    )


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, _CHUNK):
            yield chunk


async def upload(settings: Settings, archive: Path) -> str:
    """Copy a finished archive into the bucket; return its `s3://` address."""
    store = _store(settings)
    try:
        await store.put_stream(PREFIX + archive.name, _chunks(archive))
    except BlobError as exc:
        raise BackupError(f"upload to bucket {store.bucket} failed: {exc}") from None
    finally:
        await store.close()
    return f"{SCHEME}{store.bucket}/{PREFIX}{archive.name}"


async def listing(settings: Settings) -> list[tuple[datetime, str, int]]:
    """The bucket's archives, newest first: time, address, size."""
    store = _store(settings)
    try:
        found = []
        async for key in store.keys(PREFIX):
            when = archive_time(key.removeprefix(PREFIX))
            if when is not None and "/" not in key.removeprefix(PREFIX):
                found.append((when, f"{SCHEME}{store.bucket}/{key}", await store.size(key)))
        return sorted(found, reverse=True)
    except BlobError as exc:
        raise BackupError(f"cannot list bucket {store.bucket}: {exc}") from None
    finally:
        await store.close()


async def prune(settings: Settings, daily: int, monthly: int, *, dry_run: bool) -> list[str]:
    """Delete the bucket's archives the keep policy does not keep; return their addresses."""
    found = await listing(settings)
    kept = to_keep((when for when, _, _ in found), daily, monthly)
    doomed = [address for when, address, _ in found if when not in kept]
    if not dry_run and doomed:
        store = _store(settings)
        try:
            for address in doomed:
                await store.delete(address.split("/", 3)[3])
        finally:
            await store.close()
    return doomed


async def download(settings: Settings, address: str, directory: Path) -> Path:
    """Fetch `s3://bucket/key` into a new private file in the folder `directory`."""
    bucket, _, key = address.removeprefix(SCHEME).partition("/")
    if not bucket or not key:
        raise BackupError(f"{address}: expected s3://bucket/key")
    store = _store(settings, bucket)
    target = directory / f".download-{os.getpid()}-{key.rpartition('/')[2]}"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            size = await store.size(key)
            async for chunk in await store.read_range(key, 0, size):
                await asyncio.to_thread(sink.write, chunk)
    except BlobError as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"{address}: cannot fetch: {exc}") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        await store.close()
    return target
