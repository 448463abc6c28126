"""Blob store fixtures: every engine under the same tests, and a real moto S3 server process.

The S3 engine talks HTTP to `moto_server` (moto's S3 API, the same wire protocol as AWS, MinIO
or Swift's s3api) on a free loopback port, started once per session. Each test gets a bucket
or a directory of its own. Registered in conftest.py, which imports the fixtures below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from redis_server import free_port

from integrations.blobs import BlobStore, LocalBlobStore, S3BlobStore
from integrations.blobs.local import PARTIAL_DIR
from integrations.blobs.s3 import MIN_PART_SIZE

BLOB_ENGINES = ["local", "s3"]
MOTO_SERVER = Path(sys.executable).with_name("moto_server")
DUMMY_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}
# S3 refuses parts under 5 MiB but the last, and moto enforces it too: the S3 engine's parts
# are as small as S3 allows. The local engine's part is only a write buffer, so it stays small.
PART_SIZES = {"local": 64 * 1024, "s3": MIN_PART_SIZE}
READ_SIZE = 64 * 1024
STALE_AGE = 7200.0


class MotoServer:
    """A moto_server process on loopback, answering S3 over HTTP."""

    def __init__(self, directory: Path) -> None:
        if not MOTO_SERVER.exists():
            pytest.fail("moto_server is missing: install the dev extras (make install)")
        self.directory = directory
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)]
        with (self.directory / "moto.log").open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self._answers():  # bounded by the deadline; polls every 50 ms
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError((self.directory / "moto.log").read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint_url, timeout=0.5) as answer:
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class BlobBackend:
    """A store under test, and a look at its backend from outside the store."""

    engine: str
    store: BlobStore
    part_size: int
    read_size: int
    make_store: Callable[..., BlobStore]
    """Another store on the same directory or bucket; keyword arguments override defaults."""
    partial_sizes: Callable[[], list[int]]
    """The bytes each unfinished upload holds in the backend (partial files, uploaded parts)."""
    leave_partial: Callable[[str], None]
    """Leaves what a process that crashed mid-upload would: a stale partial upload."""

    def pending_partials(self) -> int:
        return len(self.partial_sizes())


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto S3 server for the session; tests isolate themselves with their own buckets."""
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint_url(moto_server: MotoServer) -> str:
    return moto_server.endpoint_url


@pytest.fixture(scope="session")
def boto3_session() -> Any:
    """One boto3 session for the tests' stores: loading botocore's S3 model once saves seconds."""
    return boto3.session.Session()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint_url: str, boto3_session: Any) -> Any:
    """A plain boto3 client on the moto server, to set up and inspect what the store did."""
    return boto3_session.client(
        "s3",
        endpoint_url=s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["secret_access_key"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new, empty bucket for this test alone."""
    bucket = f"cove-test-{uuid.uuid4().hex}"
    s3_client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=BLOB_ENGINES)
def blob_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def blob_backend(
    blob_engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[BlobBackend]:
    """The engine under test on a fresh directory or bucket; closes every store it made after."""
    made: list[BlobStore] = []
    part_size = PART_SIZES[blob_engine]

    if blob_engine == "local":
        root = tmp_path / "blobs"

        def make_local(**overrides: Any) -> BlobStore:
            options = {"part_size": part_size, "read_size": READ_SIZE} | overrides
            made.append(LocalBlobStore(root, **options))
            return made[-1]

        backend = BlobBackend(
            blob_engine,
            make_local(),
            part_size,
            READ_SIZE,
            make_local,
            lambda: _partial_file_sizes(root),
            lambda key: _leave_partial_file(root),
        )
    else:
        client = request.getfixturevalue("s3_client")
        bucket = str(request.getfixturevalue("s3_bucket"))
        endpoint_url = str(request.getfixturevalue("s3_endpoint_url"))
        session = request.getfixturevalue("boto3_session")

        def make_s3(**overrides: Any) -> BlobStore:
            options: dict[str, Any] = {
                "endpoint_url": endpoint_url,
                "part_size": part_size,
                "read_size": READ_SIZE,
                "session": session,
                **DUMMY_CREDENTIALS,
            } | overrides
            made.append(S3BlobStore(bucket, **options))
            return made[-1]

        backend = BlobBackend(
            blob_engine,
            make_s3(),
            part_size,
            READ_SIZE,
            make_s3,
            lambda: _uploaded_part_sizes(client, bucket),
            lambda key: _leave_multipart_upload(client, bucket, key),
        )
    yield backend
    for store in made:
        await store.close()


@pytest.fixture
def blob_store(blob_backend: BlobBackend) -> BlobStore:
    return blob_backend.store


def _partial_file_sizes(root: Path) -> list[int]:
    partial = root / PARTIAL_DIR
    return [entry.stat().st_size for entry in partial.iterdir()] if partial.exists() else []


def _leave_partial_file(root: Path) -> None:
    partial = root / PARTIAL_DIR
    partial.mkdir(parents=True, exist_ok=True)
    left = partial / f"{uuid.uuid4().hex}.part"
    left.write_bytes(b"half an upload")
    then = time.time() - STALE_AGE
    os.utime(left, (then, then))


def _uploaded_part_sizes(client: Any, bucket: str) -> list[int]:
    """One entry per pending multipart upload: the bytes its uploaded parts hold."""
    sizes = []
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        sizes.append(sum(part["Size"] for part in parts.get("Parts", [])))
    return sizes


def _leave_multipart_upload(client: Any, bucket: str, key: str) -> None:
    # moto reports every upload as initiated in 2010, so this one is stale at once.
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    client.upload_part(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"half an upload"
    )
