"""S3 blob store through boto3: AWS, MinIO, Swift's S3 API or any S3-speaking server.

Objects up to one part go up in one PutObject; bigger ones as a multipart upload of
`part_size` parts (S3 wants at least 5 MiB but for the last), holding one part in memory, and
become visible only when the upload is completed. A failed or cancelled upload is aborted;
`cleanup_partials` aborts those that a crashed process left (past a grace, those whose key
its `live` check does not hold), so give the store a bucket of its own. boto3 blocks: its
calls run on the store's own threads, through one thread-safe client with bounded timeouts
and retries. With a `breaker`, a bucket that keeps failing (refusing, or
not answering within the timeouts) is refused at once until a trial call succeeds again.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from integrations.blobs.base import (
    DEFAULT_READ_SIZE,
    BlobNotFound,
    BlobStoreUnavailable,
    LiveCheck,
    MiB,
    check_part_sizes,
    check_range,
    log,
    require_bytes,
)
from integrations.blobs.keys import check_key, check_prefix
from integrations.blobs.threads import Threads
from integrations.breaker import CircuitBreaker

T = TypeVar("T")

DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
DEFAULT_REGION = "us-east-1"
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_REPLACED = {"412", "PreconditionFailed"}
_BUCKET_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


class S3BlobStore:
    """Stores each object under its key in one bucket."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
        part_size: int = DEFAULT_PART_SIZE,
        read_size: int = DEFAULT_READ_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        max_threads: int = 8,
        session: boto3.session.Session | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Make the client, without any request; `session` lets stores share loaded models."""
        if not bucket:
            raise ValueError("the S3 bucket name must not be empty")
        check_part_sizes(part_size, read_size, minimum=MIN_PART_SIZE)
        self._bucket = bucket
        self._region = region or DEFAULT_REGION
        self._part_size = part_size
        self._read_size = read_size
        self._threads = Threads(max_threads, "cove-blob-s3")
        self._breaker = breaker
        options: dict[str, Any] = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            # Attempts in all, the first included (botocore's `max_attempts` counts retries only).
            "retries": {"total_max_attempts": max_attempts, "mode": "standard"},
            "max_pool_connections": max_threads,
            # Checksums only where the API demands them: Swift's s3api and older MinIO refuse
            # the ones newer botocore adds by default; the AEAD inside the bytes guards them.
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        if endpoint_url is not None:
            options["s3"] = {"addressing_style": "path"}  # what MinIO and Swift expect
        # Never boto3's default session, which is not safe to share between threads; a session
        # given here must be used from one thread at a time, as the event loop's thread does.
        self._client: Any = (session or boto3.session.Session()).client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=self._region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(**options),
        )
        self._create_bucket = create_bucket
        self._bucket_ready = not create_bucket
        # Upload ids this store is running, which cleanup_partials spares.
        self._in_flight: set[str] = set()
        self._closed = False

    @property
    def name(self) -> str:
        return "s3"

    @property
    def bucket(self) -> str:
        """The bucket holding the objects."""
        return self._bucket

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """PutObject if the stream fits one part, else a multipart upload, aborted on failure."""
        check_key(key)
        await self._ready()
        buffer = bytearray()
        written = 0
        upload: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += require_bytes(chunk)
                written += len(chunk)
                # Only more than a part is sent, so the last part is never empty.
                while len(buffer) > self._part_size:
                    if upload is None:
                        upload = await self._begin(key)
                    part = bytes(buffer[: self._part_size])
                    del buffer[: self._part_size]
                    parts.append(await self._upload_part(key, upload, len(parts) + 1, part))
            if upload is None:
                body = bytes(buffer)
                call = functools.partial(
                    self._client.put_object, Bucket=self._bucket, Key=key, Body=body
                )
            else:
                parts.append(await self._upload_part(key, upload, len(parts) + 1, bytes(buffer)))
                call = functools.partial(
                    self._client.complete_multipart_upload,
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload,
                    MultipartUpload={"Parts": parts},
                )
            await self._guarded(self._threads.finish(call), key)
        except BaseException:
            if upload is not None:
                await self._threads.finish(functools.partial(self._abort_quietly, key, upload))
            raise
        finally:
            if upload is not None:
                self._in_flight.discard(upload)
        return written

    async def read_range(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        """HEAD the object and check the range; the iterator GETs that range of that version."""
        check_key(key)
        head = await self._call(key, self._client.head_object, Bucket=self._bucket, Key=key)
        check_range(start, length, int(head["ContentLength"]))
        return self._read(key, str(head["ETag"]), start, length)

    async def size(self, key: str) -> int:
        check_key(key)
        head = await self._call(key, self._client.head_object, Bucket=self._bucket, Key=key)
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call(key, self._client.delete_object, Bucket=self._bucket, Key=key)

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """ListObjectsV2, one page per thread call."""
        check_prefix(prefix)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        async for page in self._pages(pages):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    async def cleanup_partials(
        self, older_than_seconds: float, *, live: LiveCheck | None = None
    ) -> int:
        """Abort multipart uploads initiated before the cutoff that this store is not running
        and whose key `live` (if given) does not say is still being uploaded elsewhere."""
        if older_than_seconds < 0:
            raise ValueError("older_than_seconds must not be negative")
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self._bucket)
        removed = 0
        async for page in self._pages(pages):
            for upload in page.get("Uploads", []):
                upload_id, key = str(upload["UploadId"]), str(upload["Key"])
                if upload_id in self._in_flight or upload["Initiated"] >= cutoff:
                    continue
                if live is not None and await live(key):
                    continue
                aborted = functools.partial(self._abort_stale, key, upload_id)
                if await self._threads_run("", aborted):
                    removed += 1
        return removed

    # --- versions: backups reference objects by version instead of copying them

    async def versioning_enabled(self) -> bool:
        """Whether the bucket keeps every version of its objects."""
        answer = await self._call("", self._client.get_bucket_versioning, Bucket=self._bucket)
        return bool(answer.get("Status") == "Enabled")

    async def version(self, key: str) -> tuple[str, int]:
        """The current version id and size of the object under `key`."""
        check_key(key)
        head = await self._call(key, self._client.head_object, Bucket=self._bucket, Key=key)
        return str(head.get("VersionId") or ""), int(head["ContentLength"])

    async def restore_version(self, key: str, version_id: str, source_bucket: str = "") -> bool:
        """Make version `version_id` of `key` in `source_bucket` (default this bucket) this
        bucket's current object, by a server-side copy; False if it already is. BlobNotFound
        when that version is gone."""
        check_key(key)
        source = source_bucket or self._bucket
        params = {"Bucket": source, "Key": key, "VersionId": version_id}
        await self._call(key, self._client.head_object, **params)
        if source == self._bucket:
            try:
                if (await self.version(key))[0] == version_id:
                    return False
            except BlobNotFound:
                pass  # deleted since: a delete marker is the current version
        await self._call(
            key, self._client.copy_object, Bucket=self._bucket, Key=key, CopySource=params
        )
        return True

    async def ping(self) -> None:
        """HEAD the bucket (after creating it, if the store was asked to)."""
        try:
            await self._call("", self._client.head_bucket, Bucket=self._bucket)
        except BlobStoreUnavailable as exc:
            raise BlobStoreUnavailable(f"bucket {self._bucket!r}: {exc}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._threads.close()
        self._client.close()

    # --- helpers

    async def _guarded(self, call: Awaitable[T], key: str) -> T:
        """`_translated`, through the breaker: refused at once while it is open."""
        breaker = self._breaker
        if breaker is None:
            return await _translated(call, key)
        if not breaker.allow():
            if inspect.iscoroutine(call):
                call.close()  # never started: nothing runs on a thread
            raise BlobStoreUnavailable(
                f"S3 is failing: refused for {breaker.retry_after:.0f} s more"
            )
        try:
            result = await _translated(call, key)
        except BlobStoreUnavailable:
            breaker.failure()
            raise
        except BlobNotFound:
            breaker.success()  # S3 answered
            raise
        breaker.success()
        return result

    async def _ready(self) -> None:
        if self._closed:
            raise BlobStoreUnavailable("the blob store is closed")
        if not self._bucket_ready:
            # Two first calls may both get here; creating a bucket one owns is harmless.
            await self._guarded(self._threads.run(self._ensure_bucket), "")
            self._bucket_ready = True

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if _code(exc) not in _MISSING and _code(exc) != "NoSuchBucket":
                raise
        options: dict[str, Any] = {"Bucket": self._bucket}
        if self._region != DEFAULT_REGION:
            options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        try:
            self._client.create_bucket(**options)
            log.info("created the blob bucket", extra={"bucket": self._bucket})
        except ClientError as exc:
            if _code(exc) not in _BUCKET_EXISTS:
                raise

    async def _call(self, key: str, method: Callable[..., T], **params: Any) -> T:
        await self._ready()
        return await self._guarded(self._threads.run(functools.partial(method, **params)), key)

    async def _begin(self, key: str) -> str:
        def abort(response: dict[str, Any]) -> None:
            self._abort_quietly(key, str(response["UploadId"]))

        response = await self._threads_run(
            key,
            functools.partial(self._client.create_multipart_upload, Bucket=self._bucket, Key=key),
            undo=abort,
        )
        upload = str(response["UploadId"])
        self._in_flight.add(upload)
        return upload

    async def _upload_part(self, key: str, upload: str, number: int, data: bytes) -> dict[str, Any]:
        if number > MAX_PARTS:
            raise ValueError(
                f"a blob may have at most {MAX_PARTS} parts of {self._part_size} bytes"
            )
        response = await self._threads_run(
            key,
            functools.partial(
                self._client.upload_part,
                Bucket=self._bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                Body=data,
            ),
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    async def _threads_run(
        self,
        key: str,
        call: Callable[[], T],
        *,
        undo: Callable[[T], object] | None = None,
    ) -> T:
        return await self._guarded(self._threads.run(call, undo=undo), key)

    def _abort_stale(self, key: str, upload: str) -> bool:
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload)
        except ClientError as exc:
            if _code(exc) in {"NoSuchUpload", "404"}:
                return False  # completed or aborted meanwhile
            raise
        return True

    def _abort_quietly(self, key: str, upload: str) -> None:
        try:
            self._abort_stale(key, upload)
        except (ClientError, BotoCoreError) as exc:
            # Left to cleanup_partials; only the key and id are logged, never object bytes.
            log.warning(
                "could not abort a multipart upload",
                extra={"key": key, "upload_id": upload, "error": f"{type(exc).__name__}: {exc}"},
            )

    async def _read(self, key: str, etag: str, start: int, length: int) -> AsyncIterator[bytes]:
        if length == 0:
            return
        await self._ready()
        get = functools.partial(
            self._client.get_object,
            Bucket=self._bucket,
            Key=key,
            Range=f"bytes={start}-{start + length - 1}",
            IfMatch=etag,  # the object that was checked, not one that replaced it since
        )
        response = await self._threads_run(key, get, undo=lambda got: got["Body"].close())
        body = response["Body"]
        try:
            remaining = length
            while remaining:  # each turn reads at least one byte or raises
                size = min(self._read_size, remaining)
                chunk: bytes = await self._threads_run(key, functools.partial(body.read, size))
                if not chunk:
                    raise BlobStoreUnavailable(f"S3 ended blob {key!r} early")
                remaining -= len(chunk)
                yield chunk
        finally:
            body.close()  # no thread is reading here: each read was awaited to its end

    async def _pages(self, pages: Any) -> AsyncIterator[dict[str, Any]]:
        await self._ready()
        iterator = iter(pages)
        while True:  # ends with the paginator, which stops at the last page
            page: dict[str, Any] | None = await self._threads_run(
                "", functools.partial(next, iterator, None)
            )
            if page is None:
                return
            yield page


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def _translated(call: Awaitable[T], key: str) -> T:
    """boto3's errors as the store's: missing objects, and a backend that failed us."""
    try:
        return await call
    except ClientError as exc:
        code = _code(exc)
        if key and code in _MISSING:
            raise BlobNotFound(f"no blob under {key!r}") from None
        if key and code in _REPLACED:
            raise BlobNotFound(f"blob {key!r} was replaced while being read") from None
        raise BlobStoreUnavailable(f"S3 refused the request: {code or exc}") from exc
    except (BotoCoreError, OSError) as exc:
        raise BlobStoreUnavailable(f"S3 did not answer: {exc}") from exc
