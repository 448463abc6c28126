"""A Cassandra node for the ScyllaDB engine's tests, and emptying its keyspaces between tests.

`COVE_TEST_SCYLLA_HOSTS` (host:port list) points the tests at a running cluster; otherwise,
in `make test-scylla` (`COVE_TEST_STORE=scylla`), a node is started once per run from Maven
Central's `cassandra-all` (tools/cassandra.py) on free loopback ports, and stopped at the
end. `make test` skips what needs a node.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassandra.cluster import Cluster, Session
from redis_server import free_port

from persistence.scylla.engine import ScyllaStore
from persistence.scylla.hosts import parse_hosts
from persistence.scylla.schema import RESERVED_TABLES
from persistence.scylla.session import ScyllaConfig
from tools.cassandra import Node, down, up

ROOT = Path(__file__).resolve().parents[1]
HOSTS_VARIABLE = "COVE_TEST_SCYLLA_HOSTS"
# `COVE_TEST_STORE=scylla` runs the server tests on the node (`make test-scylla`).
STORE_VARIABLE = "COVE_TEST_STORE"
# Set by the run that started the node: its folder, for the canary scans.
NODE_DIR_VARIABLE = "COVE_TEST_SCYLLA_DIR"
E2E_KEYSPACE = "cove_e2e"
# The session-wide shared server's keyspace: never emptied (its tests use fresh addresses).
SHARED_KEYSPACE = "cove_shared"


def java_and_maven() -> bool:
    return shutil.which("mvn") is not None and shutil.which("java") is not None


@pytest.fixture(scope="session")
def scylla_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a node that answers CQL, for the whole run."""
    given = os.environ.get(HOSTS_VARIABLE)
    if given:
        yield given
        return
    if os.environ.get(STORE_VARIABLE) != "scylla":
        pytest.skip("runs on a Cassandra node: make test-scylla")
    if not java_and_maven():
        pytest.skip("a Cassandra node needs Java and Maven (the polyglot machine has both)")
    directory = tmp_path_factory.mktemp("cassandra")
    node = Node(
        directory / "node", port=free_port(), storage_port=free_port(), jmx_port=free_port()
    )
    up(node, ROOT / ".cassandra")
    os.environ[NODE_DIR_VARIABLE] = str(node.directory)
    try:
        yield f"{node.address}:{node.port}"
    finally:
        os.environ.pop(NODE_DIR_VARIABLE, None)
        close_sessions()
        down(node)


# Stores open on each keyspace, in this process (servers under test run in its threads).
OPEN_STORES: Counter[str] = Counter()
_fresh_data_dirs: set[Path] = set()


def count_open_stores() -> None:
    """Count every ScyllaStore opened and not yet closed, by keyspace."""
    original_open = ScyllaStore.open.__func__  # type: ignore[attr-defined]
    if getattr(ScyllaStore, "_counted", False):
        return

    async def counted_open(
        cls: type[ScyllaStore], config: ScyllaConfig, *args: Any, **kwargs: Any
    ) -> ScyllaStore:
        store = await original_open(cls, config, *args, **kwargs)
        OPEN_STORES[config.keyspace] += 1
        original_close = store.close

        async def close() -> None:
            if not store._closed:
                OPEN_STORES[config.keyspace] -= 1
            await original_close()

        store.close = close  # type: ignore[method-assign]
        return store

    ScyllaStore.open = classmethod(counted_open)  # type: ignore[method-assign, assignment]
    ScyllaStore._counted = True  # type: ignore[attr-defined]


def migrate_keyspaces(hosts: str, *keyspaces: str) -> None:
    """Create and migrate the run's keyspaces before any server starts (about 8 s each on a
    fresh node, longer than a test server is given to start)."""

    async def migrate() -> None:
        for keyspace in keyspaces:
            store = await ScyllaStore.open(config(hosts, keyspace))
            await store.close()

    asyncio.run(migrate())


def start_database(hosts: str, keyspace: str, data_dir: Path) -> None:
    """What a fresh data dir means with SQLite, a fresh database, on the shared keyspace: it
    is emptied when settings name a data dir not seen before and no store is open on it
    (a server of a module-wide fixture keeps its rows)."""
    if data_dir in _fresh_data_dirs:
        return
    _fresh_data_dirs.add(data_dir)
    if OPEN_STORES[keyspace] == 0:
        empty_keyspace(hosts, keyspace)


def config(hosts: str, keyspace: str) -> ScyllaConfig:
    """A one-replica keyspace on the test node."""
    return ScyllaConfig(hosts=parse_hosts(hosts), keyspace=keyspace, replication=1)


# The run's own driver sessions, one per cluster: connecting costs the node a handshake and the
# control connection's queries, and `make test-scylla` empties the keyspace before most tests.
_sessions: dict[str, Session] = {}


def cql_session(hosts: str) -> Session:
    """A driver session on the test cluster for CQL the tests run themselves, opened once per
    run. Its timeouts are the engine's and longer (`ScyllaConfig`): the driver's default gives
    the control connection's first queries 2 s, less than a node busy flushing or collecting
    takes now and then on a two-core machine, and a refused connection fails the test."""
    session = _sessions.get(hosts)
    if session is None:
        pairs = parse_hosts(hosts)
        cluster = Cluster(
            [host for host, _ in pairs],
            port=pairs[0][1],
            protocol_version=5,
            connect_timeout=30,
            control_connection_timeout=30,
            # Tests create and drop keyspaces all run long: no schema mirrored here.
            schema_metadata_enabled=False,
        )
        session = cluster.connect()
        # TRUNCATE waits for every replica to flush; the node allows it a minute.
        session.default_timeout = 60
        _sessions[hosts] = session
    return session


@atexit.register
def close_sessions() -> None:
    """Shut the run's sessions down (before its node stops, so the driver does not retry)."""
    while _sessions:
        _, session = _sessions.popitem()
        session.cluster.shutdown()


def empty_keyspace(hosts: str, keyspace: str) -> None:
    """Truncate every table of `keyspace` that holds a row, so the next test starts empty
    (much faster than a fresh keyspace: about 8 s to create Cove's tables)."""
    session = cql_session(hosts)
    names = [
        row.table_name
        for row in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [keyspace]
        )
        if row.table_name not in RESERVED_TABLES
    ]
    probes = [
        (name, session.execute_async(f"SELECT * FROM {keyspace}.{name} LIMIT 1")) for name in names
    ]
    for name, probe in probes:
        if probe.result().one() is not None:
            session.execute(f"TRUNCATE {keyspace}.{name}")
