"""The `store` fixture: every engine under the same tests (only SQLite so far)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from persistence.declare import Table
from persistence.sqlite import SqliteStore
from persistence.store import Store

ENGINES = ["sqlite"]


async def open_store(engine: str, directory: Path, tables: Sequence[Table]) -> Store:
    """A fresh, migrated store of `engine` that also holds `tables`."""
    if engine == "sqlite":
        return await SqliteStore.open(directory / "cove.db", tables)
    raise AssertionError(f"unknown engine {engine}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    """A store with the account tables and the test module's own `TABLES`, if any."""
    opened = await open_store(engine, tmp_path, getattr(request.module, "TABLES", ()))
    yield opened
    await opened.close()
