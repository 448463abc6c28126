"""Realtime positions and history on every engine: dense positions whoever claims them, the
history bounded, reads after a position, newest positions in one call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from persistence.migrations import MIGRATIONS, Migration
from persistence.realtime_history import (
    MAX_CLAIM_ATTEMPTS,
    REALTIME_HISTORY,
    REALTIME_HISTORY_TABLES,
    RealtimeHistoryRepository,
)
from persistence.scylla.cql import create_table_cql
from persistence.store import Store

TABLES = REALTIME_HISTORY_TABLES
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_history_is_migration_17_and_compiles_to_cql() -> None:
    assert MIGRATIONS[16] == Migration(17, "realtime positions and history", TABLES)
    assert "PRIMARY KEY ((topic), position)" in create_table_cql(REALTIME_HISTORY, "cove")


async def test_concurrent_publishers_get_dense_positions_each_with_its_row(store: Store) -> None:
    repository = RealtimeHistoryRepository(store)

    async def publish(n: int) -> int:
        return await repository.append("t", lambda p: f"{n}@{p}".encode(), AT, limit=1_000)

    positions = await asyncio.gather(*(publish(n) for n in range(12)))
    assert sorted(positions) == list(range(1, 13))
    rows = await repository.after("t", 0, limit=100)
    assert [row.position for row in rows] == list(range(1, 13))
    # Each row is the one its publisher sealed for the position it got.
    assert all(row.sealed.decode().endswith(f"@{row.position}") for row in rows)
    assert await repository.heads(["t", "other"]) == {"t": 12, "other": 0}


async def test_many_publishers_of_one_topic_at_once_all_get_a_position(store: Store) -> None:
    """Publishers that all read the same head would try the same position, one winning a
    round: with more of them than claim attempts, the last ones would fail."""
    repository = RealtimeHistoryRepository(store)
    publishers = 3 * MAX_CLAIM_ATTEMPTS

    async def publish(n: int) -> int:
        return await repository.append("t", lambda p: f"{n}@{p}".encode(), AT, limit=1_000)

    positions = await asyncio.gather(*(publish(n) for n in range(publishers)))
    assert sorted(positions) == list(range(1, publishers + 1))
    assert repository._claiming == {}  # nothing left behind per topic


async def test_publishers_on_two_nodes_share_one_topic_densely(store: Store) -> None:
    nodes = [RealtimeHistoryRepository(store), RealtimeHistoryRepository(store)]

    async def publish(node: RealtimeHistoryRepository, n: int) -> int:
        return await node.append("t", lambda p: f"{n}@{p}".encode(), AT, limit=1_000)

    positions = await asyncio.gather(*(publish(nodes[n % 2], n) for n in range(80)))
    assert sorted(positions) == list(range(1, 81))
    rows = await nodes[0].after("t", 0, limit=100)
    assert all(row.sealed.decode().endswith(f"@{row.position}") for row in rows)


async def test_the_history_keeps_the_newest_rows_only(store: Store) -> None:
    repository = RealtimeHistoryRepository(store)
    for _ in range(25):
        await repository.append("t", lambda p: b"x", AT, limit=10)
    rows = await repository.after("t", 0, limit=100)
    assert [row.position for row in rows] == list(range(16, 26))
    assert [row.position for row in await repository.after("t", 20, limit=3)] == [21, 22, 23]
    assert await repository.head("t") == 25
