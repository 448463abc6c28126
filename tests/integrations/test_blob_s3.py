"""What only the S3 store does: parts of the configured size, bucket setup, a dead endpoint."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis_server import free_port

from integrations.blobs import BlobStoreUnavailable, S3BlobStore
from integrations.blobs.s3 import MIN_PART_SIZE
from tests.integrations.blob_fixtures import DUMMY_CREDENTIALS


async def stream(data: bytes, chunk: int = 99_991) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), chunk):
        yield data[offset : offset + chunk]


def make_store(endpoint_url: str, bucket: str, session: Any, **options: Any) -> S3BlobStore:
    return S3BlobStore(
        bucket, endpoint_url=endpoint_url, session=session, **DUMMY_CREDENTIALS, **options
    )


async def test_objects_over_a_part_go_up_in_parts_of_the_part_size(
    s3_endpoint_url: str, s3_bucket: str, s3_client: Any, boto3_session: Any
) -> None:
    store = make_store(s3_endpoint_url, s3_bucket, boto3_session, part_size=MIN_PART_SIZE)
    await store.put_stream("small", stream(b"s" * MIN_PART_SIZE))
    await store.put_stream("big", stream(b"b" * (MIN_PART_SIZE + 1)))
    await store.close()
    # A multipart object's ETag ends in -<number of parts>; a PutObject's has no dash.
    assert "-" not in s3_client.head_object(Bucket=s3_bucket, Key="small")["ETag"]
    assert s3_client.head_object(Bucket=s3_bucket, Key="big")["ETag"].endswith('-2"')
    sizes = [
        s3_client.head_object(Bucket=s3_bucket, Key="big", PartNumber=n)["ContentLength"]
        for n in (1, 2)
    ]
    assert sizes == [MIN_PART_SIZE, 1]


def test_parts_under_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3BlobStore("bucket", part_size=MIN_PART_SIZE - 1)


async def test_a_missing_bucket_fails_ping_unless_the_store_may_create_it(
    s3_endpoint_url: str, s3_client: Any, boto3_session: Any
) -> None:
    plain = make_store(s3_endpoint_url, "cove-missing", boto3_session)
    with pytest.raises(BlobStoreUnavailable, match="cove-missing"):
        await plain.ping()
    await plain.close()
    creating = make_store(
        s3_endpoint_url, "cove-made", boto3_session, region="eu-west-1", create_bucket=True
    )
    await creating.ping()
    await creating.put_stream("doc", stream(b"sealed"))
    await creating.close()
    location = s3_client.get_bucket_location(Bucket="cove-made")["LocationConstraint"]
    assert location == "eu-west-1"
    assert s3_client.get_object(Bucket="cove-made", Key="doc")["Body"].read() == b"sealed"


async def test_a_dead_endpoint_is_unavailable_within_seconds(boto3_session: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = make_store(
        dead, "bucket", boto3_session, connect_timeout=0.5, read_timeout=0.5, max_attempts=2
    )
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable, match="did not answer"):
        await store.ping()
    with pytest.raises(BlobStoreUnavailable):
        await store.put_stream("doc", stream(b"sealed"))
    with pytest.raises(BlobStoreUnavailable):
        await store.size("doc")
    assert time.monotonic() - started < 5
    await store.close()
