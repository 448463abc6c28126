"""Whole-table walks (`scan_table`) and value swaps (`swap_value`), on every engine: what a
maintenance job such as a workspace key rotation relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.store import Put, Store, StoreError

TEXT, BLOB, BIGINT = ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT

FEED = Table(
    name="walk_feed",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    order=Order.DESC,
    values=(Column("body", BLOB), Column("note", TEXT)),
)
# Every kind of key value a cursor must carry: bytes, integers, booleans and times.
TYPED = Table(
    name="walk_typed",
    partition_key=(Column("owner", BLOB), Column("shard", BIGINT)),
    clustering=(Column("pinned", ColumnType.BOOLEAN), Column("at", ColumnType.TIMESTAMP)),
    values=(Column("body", BLOB),),
)
TABLES = (FEED, TYPED)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def walk(store: Store, table: Table, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: bytes | None = None
    for _ in range(1000):  # bounded: a cursor that never ends fails the test
        page, cursor = await store.scan_table(table, limit=limit, cursor=cursor)
        assert len(page) <= limit
        rows += page
        if cursor is None:
            return rows
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("limit", [1, 3, 7, 500])
async def test_a_walk_visits_every_row_of_every_partition_once(store: Store, limit: int) -> None:
    wanted = {(f"f{f}", day, f"s{s}") for f in range(5) for day in (-3, 0, 2) for s in range(3)}
    await store.batch(
        [
            Put(FEED, {"feed": f, "day": d, "seq": s, "body": b"x", "note": None})
            for f, d, s in wanted
        ]
    )
    seen = [(row["feed"], row["day"], row["seq"]) for row in await walk(store, FEED, limit)]
    assert sorted(seen) == sorted(wanted)
    assert len(seen) == len(set(seen))


async def test_a_walk_of_keys_of_every_type_resumes_from_a_stored_cursor(store: Store) -> None:
    wanted = []
    for owner in (b"\x00", b"\xff\x00", b"abc"):
        for shard in (-(2**63), 0, 2**62):
            for pinned in (False, True):
                at = T0 + timedelta(milliseconds=len(wanted))
                wanted.append((owner, shard, pinned, at))
    await store.batch(
        [Put(TYPED, {"owner": o, "shard": s, "pinned": p, "at": a}) for o, s, p, a in wanted]
    )
    first, cursor = await store.scan_table(TYPED, limit=5)
    assert cursor is not None and isinstance(cursor, bytes)
    rest = await walk_from(store, cursor)
    seen = [(r["owner"], r["shard"], r["pinned"], r["at"]) for r in first + rest]
    assert sorted(seen) == sorted(wanted)


async def walk_from(store: Store, cursor: bytes) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    next_cursor: bytes | None = cursor
    while next_cursor is not None:
        page, next_cursor = await store.scan_table(TYPED, limit=4, cursor=next_cursor)
        rows += page
    return rows


async def test_an_empty_table_walks_to_nothing(store: Store) -> None:
    assert await store.scan_table(FEED, limit=10) == ([], None)


@pytest.mark.parametrize(
    "cursor", [b"", b"not a cursor", b'[["b","zz"]]', b"\xff" * 40, b"cove-walk/1:" + b"\x00" * 20]
)
async def test_a_damaged_cursor_is_refused(store: Store, cursor: bytes) -> None:
    await store.put(FEED, {"feed": "f", "day": 1, "seq": "a", "body": b"x"})
    with pytest.raises((ValueError, StoreError)):
        await store.scan_table(FEED, limit=10, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 2**31])
async def test_a_walk_limit_is_checked(store: Store, limit: int) -> None:
    with pytest.raises(ValueError):
        await store.scan_table(FEED, limit=limit)


KEY = {"feed": "f", "day": 1, "seq": "a"}


async def test_a_swap_replaces_the_value_it_names(store: Store) -> None:
    await store.put(FEED, {**KEY, "body": b"old", "note": "kept"})
    assert await store.swap_value(FEED, KEY, "body", b"old", b"new")
    assert await store.get(FEED, KEY) == {**KEY, "body": b"new", "note": "kept"}


async def test_a_swap_of_a_value_changed_since_is_refused(store: Store) -> None:
    await store.put(FEED, {**KEY, "body": b"old", "note": None})
    await store.update(FEED, KEY, {"body": b"edited"})
    assert not await store.swap_value(FEED, KEY, "body", b"old", b"new")
    assert (await store.get(FEED, KEY) or {})["body"] == b"edited"


async def test_a_write_after_a_swap_wins(store: Store) -> None:
    await store.put(FEED, {**KEY, "body": b"old", "note": None})
    assert await store.swap_value(FEED, KEY, "body", b"old", b"new")
    await store.update(FEED, KEY, {"body": b"edited"})
    assert (await store.get(FEED, KEY) or {})["body"] == b"edited"
    await store.put(FEED, {**KEY, "body": b"whole row", "note": None})
    assert (await store.get(FEED, KEY) or {})["body"] == b"whole row"


async def test_a_swap_never_revives_a_deleted_row(store: Store) -> None:
    await store.put(FEED, {**KEY, "body": b"old", "note": None})
    await store.delete(FEED, KEY)
    assert not await store.swap_value(FEED, KEY, "body", b"old", b"new")
    assert await store.get(FEED, KEY) is None
    assert not await store.swap_value(FEED, {**KEY, "seq": "never"}, "body", b"old", b"new")
    assert await store.scan_table(FEED, limit=10) == ([], None)


async def test_a_delete_after_a_swap_removes_the_row(store: Store) -> None:
    await store.put(FEED, {**KEY, "body": b"old", "note": None})
    assert await store.swap_value(FEED, KEY, "body", b"old", b"new")
    await store.delete(FEED, KEY)
    assert await store.get(FEED, KEY) is None


@pytest.mark.parametrize(
    ("column", "old", "new"),
    [
        ("seq", "a", "b"),
        ("nothing", b"a", b"b"),
        ("body", None, b"b"),
        ("body", b"a", None),
        ("body", "text", b"b"),
        ("note", "a", 1),
    ],
)
async def test_a_malformed_swap_is_refused(store: Store, column: str, old: Any, new: Any) -> None:
    await store.put(FEED, {**KEY, "body": b"a", "note": "a"})
    with pytest.raises((ValueError, TypeError)):
        await store.swap_value(FEED, KEY, column, old, new)
    assert await store.get(FEED, KEY) == {**KEY, "body": b"a", "note": "a"}


async def test_a_cursor_of_another_table_is_refused(store: Store) -> None:
    await store.batch(
        [Put(FEED, {"feed": "f", "day": d, "seq": "a", "body": b"x"}) for d in range(4)]
    )
    _, cursor = await store.scan_table(FEED, limit=2)
    assert cursor is not None
    with pytest.raises(ValueError):
        await store.scan_table(TYPED, limit=2, cursor=cursor)
