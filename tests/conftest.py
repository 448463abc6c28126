"""Shared fixtures: settings in a temporary data dir and a real Cove server on loopback."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from scylla_node import (
    E2E_KEYSPACE,
    HOSTS_VARIABLE,
    SHARED_KEYSPACE,
    STORE_VARIABLE,
    count_open_stores,
    migrate_keyspaces,
)

from api.settings import Settings
from support import Server, make_settings, serve, store_under_test

_emails = itertools.count()

# The real-server tier: whole servers over HTTP and sockets, processes and browsers.
_SERVER_TIER = ("api", "realtime")
# Fixtures and engine parameters that start a process (redis-server, moto's S3 server).
_PROCESS_FIXTURES = frozenset(
    {"shared_redis", "own_redis", "redis_url", "moto_server", "scylla_hosts"}
)
_PROCESS_ENGINES = frozenset({"redis", "s3", "scylla"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `slow` what `make test-fast` leaves out: the real-server tier (tests/api,
    tests/realtime) and any test that starts an outside process. The rest runs in process
    on real SQLite stores, in under a minute."""
    root = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(root).parts
        params = getattr(item, "callspec", None)
        values = params.params.values() if params is not None else ()
        engines = {value for value in values if isinstance(value, str)}
        needs_process = bool(_PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))) or bool(
            _PROCESS_ENGINES & engines
        )
        if parts[0] in _SERVER_TIER or needs_process:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _scylla_under_test(request: pytest.FixtureRequest) -> None:
    """With `COVE_TEST_STORE=scylla`, the node every server of the run uses."""
    if os.environ.get(STORE_VARIABLE) == "scylla":
        hosts = request.getfixturevalue("scylla_hosts")
        os.environ[HOSTS_VARIABLE] = hosts
        migrate_keyspaces(hosts, E2E_KEYSPACE, SHARED_KEYSPACE)
        count_open_stores()
        # `cove` commands a test runs (audit, queries register) read the same keyspace.
        for name, value in store_under_test(Path("/nonexistent")).items():
            os.environ[f"COVE_{name.upper()}"] = str(value)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the many tests that need no special settings (on ScyllaDB, in a keyspace
    of its own that is never emptied: its tests use fresh addresses)."""
    shared = {"scylla_keyspace": SHARED_KEYSPACE} if os.environ.get(STORE_VARIABLE) else {}
    with serve(make_settings(tmp_path_factory.mktemp("shared") / "data", **shared)) as server:
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

# One Cassandra node for the whole run, for the ScyllaDB engine's tests.
from tests.scylla_node import scylla_hosts  # noqa: E402, F401
