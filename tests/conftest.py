"""Shared fixtures: settings in a temporary data dir and a real Cove server on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from support import Server, make_settings, serve

_emails = itertools.count()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the many tests that need no special settings."""
    with serve(make_settings(tmp_path_factory.mktemp("shared") / "data")) as server:
        yield server


@pytest.fixture
def email() -> str:
    """A fresh address per test, so tests sharing a server never collide."""
    return f"user{next(_emails)}@example.org"


# One moto S3 server for the whole run, for the blob store tests and the drive over S3.
from tests.integrations.blob_fixtures import (  # noqa: E402, F401
    boto3_session,
    moto_server,
    s3_bucket,
    s3_client,
    s3_endpoint_url,
)
