"""The `store` fixture: every engine under the same tests (SQLite, and ScyllaDB's engine on a
real Cassandra node)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from persistence.declare import Table
from persistence.scylla.engine import ScyllaStore
from persistence.sqlite import SqliteStore
from persistence.store import Store
from tests.scylla_node import config, empty_keyspace

# `sqlite-threads`: SQLite with every read handed to a reader thread, none run in place.
ENGINES = ["sqlite", "sqlite-threads", "scylla"]
# One keyspace for the run: each test's tables are emptied when it ends.
KEYSPACE = "cove_contract"


async def open_store(
    engine: str, directory: Path, tables: Sequence[Table], hosts: str | None = None
) -> Store:
    """A fresh, migrated store of `engine` that also holds `tables`."""
    if engine == "sqlite":
        return await SqliteStore.open(directory / "cove.db", tables)
    if engine == "sqlite-threads":
        return await SqliteStore.open(directory / "cove.db", tables, in_place_reads=False)
    if engine == "scylla" and hosts is not None:
        return await ScyllaStore.open(config(hosts, KEYSPACE), tables)
    raise AssertionError(f"unknown engine {engine}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    """A store with the account tables and the test module's own `TABLES`, if any."""
    hosts = request.getfixturevalue("scylla_hosts") if engine == "scylla" else None
    opened = await open_store(engine, tmp_path, getattr(request.module, "TABLES", ()), hosts)
    try:
        yield opened
    finally:
        await opened.close()
        if hosts is not None:
            await asyncio.to_thread(empty_keyspace, hosts, KEYSPACE)
