"""The Store contract for count: every engine must pass these unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.store import Put, Store, StoreError

TEXT, BIGINT = ColumnType.TEXT, ColumnType.BIGINT

UNREAD_ASC = Table(
    name="unread_asc",
    partition_key=(Column("channel", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    values=(Column("body", TEXT),),
)
UNREAD_DESC = Table(
    name="unread_desc",
    partition_key=(Column("channel", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    order=Order.DESC,
    values=(Column("body", TEXT),),
)
FLAGS = Table(name="flags", partition_key=(Column("id", TEXT),), values=(Column("state", TEXT),))
TABLES = (UNREAD_ASC, UNREAD_DESC, FLAGS)

# 3 days x 4 sequence numbers; "s10" sorts before "s2" as text, which the order must keep.
KEYS = [(day, seq) for day in (-1, 0, 7) for seq in ("s1", "s10", "s2", "s\u00e9")]


async def fill(store: Store, table: Table, channel: str = "c", days: int = 1) -> None:
    await store.batch(
        [
            Put(table, {"channel": channel, "day": day + 100 * d, "seq": seq})
            for d in range(days)
            for day, seq in KEYS
        ]
    )


@pytest.mark.parametrize("table", [UNREAD_ASC, UNREAD_DESC], ids=["asc", "desc"])
async def test_count_agrees_with_scan_between_any_bounds(store: Store, table: Table) -> None:
    await fill(store, table)
    await fill(store, table, "other")
    order = [
        (row["day"], row["seq"]) for row in await store.scan(table, {"channel": "c"}, limit=99)
    ]
    # Stored keys, and probes between them ("s3" sorts between "s2" and "s\u00e9").
    bounds = [None, order[0], order[2], order[7], order[-1], (0, "s3"), (-5, "a"), (9, "z")]
    for after in bounds:
        for before in bounds:
            scanned = await store.scan(
                table, {"channel": "c"}, limit=99, after=after, before=before
            )
            for limit in (1, 3, 99):
                counted = await store.count(
                    table, {"channel": "c"}, limit=limit, after=after, before=before
                )
                assert counted == min(limit, len(scanned)), (after, before, limit)


async def test_count_stops_at_the_limit(store: Store) -> None:
    await fill(store, UNREAD_DESC, days=10)
    channel = {"channel": "c"}
    assert await store.count(UNREAD_DESC, channel, limit=100) == 100
    assert await store.count(UNREAD_DESC, channel, limit=1_000) == 120
    newest = await store.scan(UNREAD_DESC, channel, limit=1)
    last_read = (newest[0]["day"], newest[0]["seq"])
    assert await store.count(UNREAD_DESC, channel, limit=100, before=last_read) == 0
    assert await store.count(UNREAD_DESC, channel, limit=100, after=last_read) == 100


async def test_count_of_an_empty_partition_is_zero(store: Store) -> None:
    await fill(store, UNREAD_ASC, "other")
    assert await store.count(UNREAD_ASC, {"channel": "c"}, limit=5) == 0
    assert await store.count(FLAGS, {"id": "a"}, limit=5) == 0
    await store.put(FLAGS, {"id": "a"})
    assert await store.count(FLAGS, {"id": "a"}, limit=5) == 1


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, None])
async def test_count_limit_must_be_a_positive_integer(store: Store, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.count(UNREAD_ASC, {"channel": "c"}, limit=limit)


@pytest.mark.parametrize("bound", [(1,), (1, "a", "b"), "ab", (None, "a"), ("1", "a")])
async def test_count_bounds_must_be_whole_clustering_tuples(store: Store, bound: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await store.count(UNREAD_ASC, {"channel": "c"}, limit=5, after=bound)
    with pytest.raises((ValueError, TypeError)):
        await store.count(UNREAD_ASC, {"channel": "c"}, limit=5, before=bound)


@pytest.mark.parametrize("partition", [{}, {"channel": "c", "day": 1}, {"channel": ""}])
async def test_count_refuses_bad_input_before_reading(store: Store, partition: Any) -> None:
    await store.close()
    with pytest.raises(ValueError):
        await store.count(UNREAD_ASC, partition, limit=5)
    with pytest.raises(ValueError, match="no clustering"):
        await store.count(FLAGS, {"id": "a"}, limit=5, after=())
    with pytest.raises(StoreError):
        await store.count(UNREAD_ASC, {"channel": "c"}, limit=5)
