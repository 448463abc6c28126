"""The Store contract for get_many and scan_many: every engine must pass these unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.store import Put, Store, StoreError

TEXT, BLOB, BIGINT = ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT
BOOLEAN, TIMESTAMP = ColumnType.BOOLEAN, ColumnType.TIMESTAMP

PROFILES = Table(
    name="profiles",
    partition_key=(Column("id", TEXT),),
    values=(Column("name", TEXT), Column("age", BIGINT)),
)
POSTS_ASC = Table(
    name="posts_asc",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    values=(Column("body", TEXT),),
)
POSTS_DESC = Table(
    name="posts_desc",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    order=Order.DESC,
    values=(Column("body", TEXT),),
)
# A two-column partition key and every type in the key.
PINS = Table(
    name="pins",
    partition_key=(Column("owner", BLOB), Column("shard", BIGINT)),
    clustering=(Column("pinned", BOOLEAN), Column("at", TIMESTAMP)),
    order=Order.DESC,
    values=(Column("note", TEXT),),
)
TABLES = (PROFILES, POSTS_ASC, POSTS_DESC, PINS)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Feeds of different lengths; "s10" sorts before "s2" as text, which the order must keep.
FEEDS = {"f": 12, "g": 3, "h": 1, "empty": 0}


def post(feed: str, n: int) -> dict[str, Any]:
    day, seq = divmod(n, 4)
    return {
        "feed": feed,
        "day": day - 1,
        "seq": ("s1", "s10", "s2", "s\u00e9")[seq],
        "body": f"{n}",
    }


def pin(owner: bytes, shard: int, pinned: bool, ms: int) -> dict[str, Any]:
    at = T0 + timedelta(milliseconds=ms)
    return {"owner": owner, "shard": shard, "pinned": pinned, "at": at, "note": f"{ms}"}


async def fill_posts(store: Store, table: Table) -> None:
    await store.batch(
        [Put(table, post(feed, n)) for feed, size in FEEDS.items() for n in range(size)]
    )


# --- get_many --------------------------------------------------------------------------


async def test_get_many_answers_in_the_order_asked_with_none_for_missing(store: Store) -> None:
    await store.put(PROFILES, {"id": "a", "name": "Ann", "age": 30})
    await store.put(PROFILES, {"id": "b", "name": "Bo"})
    rows = await store.get_many(
        PROFILES, [{"id": "b"}, {"id": "missing"}, {"id": "a"}, {"id": "b"}, {"id": "b"}]
    )
    ann = {"id": "a", "name": "Ann", "age": 30}
    bo = {"id": "b", "name": "Bo", "age": None}
    assert rows == [bo, None, ann, bo, bo]
    # A repeated key gives rows a caller can change apart.
    assert rows[0] is not rows[3]


async def test_get_many_agrees_with_get_on_composite_keys(store: Store) -> None:
    await fill_posts(store, POSTS_DESC)
    keys = [
        {"feed": "f", "day": 0, "seq": "s10"},
        {"feed": "g", "day": -1, "seq": "s1"},
        {"feed": "g", "day": 0, "seq": "s1"},  # no such row
        {"feed": "f", "day": 1, "seq": "s\u00e9"},
        {"feed": "f", "day": 0, "seq": "s10"},
        {"feed": "nobody", "day": 0, "seq": "s1"},
    ]
    expected = [await store.get(POSTS_DESC, key) for key in keys]
    assert await store.get_many(POSTS_DESC, keys) == expected
    assert [row is None for row in expected] == [False, False, True, False, False, True]


async def test_get_many_matches_keys_of_every_type(store: Store) -> None:
    rows = [
        pin(owner, shard, pinned, ms)
        for owner in (b"\x00o", b"p")
        for shard in (-1, 7)
        for pinned in (False, True)
        for ms in (0, 1)
    ]
    await store.batch([Put(PINS, row) for row in rows])
    keys = [{name: row[name] for name in PINS.key_names} for row in rows[::-1]]
    missing = {"owner": b"p", "shard": 7, "pinned": True, "at": T0 + timedelta(hours=1)}
    assert await store.get_many(PINS, [*keys, missing]) == [*rows[::-1], None]
    # Sub-millisecond parts of a timestamp key mean what they mean to get.
    finer = {**keys[0], "at": keys[0]["at"] + timedelta(microseconds=400)}
    assert await store.get_many(PINS, [finer]) == [await store.get(PINS, finer)]


async def test_get_many_of_more_keys_than_one_query_binds(store: Store) -> None:
    await store.batch([Put(PROFILES, {"id": f"u{n}", "age": n}) for n in range(1200)])
    wanted = [n * 7 % 1500 for n in range(2100)]  # repeats, and ids past 1199 are missing
    rows = await store.get_many(PROFILES, [{"id": f"u{n}"} for n in wanted])
    assert rows == [{"id": f"u{n}", "name": None, "age": n} if n < 1200 else None for n in wanted]


async def test_get_many_of_many_composite_keys(store: Store) -> None:
    rows = [pin(b"o", shard, ms % 2 == 0, ms) for shard in range(3) for ms in range(400)]
    await store.batch([Put(PINS, row) for row in rows])
    keys = [{name: row[name] for name in PINS.key_names} for row in rows]
    assert await store.get_many(PINS, keys[::-1]) == rows[::-1]


async def test_get_many_of_no_keys_is_empty_and_reads_nothing(store: Store) -> None:
    assert await store.get_many(PROFILES, []) == []
    await store.close()
    # Nothing to read, so a closed store has nothing to refuse.
    assert await store.get_many(PROFILES, []) == []


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"id": "a", "name": "x"},
        {"other": "a"},
        {"id": None},
        {"id": ""},
        {"id": 1},
        "id",
        ("id", "a"),
    ],
)
async def test_get_many_refuses_any_bad_key_before_reading(store: Store, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await store.get_many(PROFILES, [{"id": "a"}, bad, {"id": "b"}])
    await store.close()
    # Checked before any I/O: a closed store still says what is wrong with the input.
    with pytest.raises((ValueError, TypeError)):
        await store.get_many(PROFILES, [{"id": "a"}, bad])


@pytest.mark.parametrize("keys", [{"id": "a"}, "a", b"a", None])
async def test_get_many_wants_a_sequence_of_keys(store: Store, keys: Any) -> None:
    with pytest.raises(TypeError):
        await store.get_many(PROFILES, keys)


async def test_get_many_refuses_undeclared_tables(store: Store) -> None:
    stranger = Table("stranger", partition_key=(Column("id", TEXT),))
    with pytest.raises(StoreError, match="stranger"):
        await store.get_many(stranger, [{"id": "a"}])


# --- scan_many -------------------------------------------------------------------------


@pytest.mark.parametrize("table", [POSTS_ASC, POSTS_DESC], ids=["asc", "desc"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("limit", [1, 2, 5, 12, 100])
async def test_scan_many_gives_each_partition_what_scan_gives(
    store: Store, table: Table, reverse: bool, limit: int
) -> None:
    await fill_posts(store, table)
    partitions = [{"feed": feed} for feed in ("g", "empty", "f", "nobody", "h", "f")]
    expected = [await store.scan(table, p, limit=limit, reverse=reverse) for p in partitions]
    got = await store.scan_many(table, partitions, limit_per_partition=limit, reverse=reverse)
    assert got == expected
    assert [len(rows) for rows in got] == [min(limit, n) for n in (3, 0, 12, 0, 1, 12)]


async def test_scan_many_keeps_the_declared_order_and_its_reverse(store: Store) -> None:
    await fill_posts(store, POSTS_ASC)
    await fill_posts(store, POSTS_DESC)
    first_three = [post("f", n) for n in range(3)]
    last_three = [post("f", n) for n in (11, 10, 9)]
    for table, forward, backward in [
        (POSTS_ASC, first_three, last_three),
        (POSTS_DESC, last_three, first_three),
    ]:
        assert await store.scan_many(table, [{"feed": "f"}], limit_per_partition=3) == [forward]
        assert await store.scan_many(
            table, [{"feed": "f"}], limit_per_partition=3, reverse=True
        ) == [backward]


async def test_scan_many_with_a_composite_partition_key(store: Store) -> None:
    rows = [
        pin(owner, shard, pinned, ms)
        for owner in (b"a", b"b")
        for shard in (0, 1)
        for pinned in (False, True)
        for ms in range(3)
    ]
    await store.batch([Put(PINS, row) for row in rows])
    partitions = [
        {"owner": b"b", "shard": 0},
        {"owner": b"a", "shard": 1},
        {"owner": b"a", "shard": 2},
        {"owner": b"b", "shard": 0},
    ]
    for reverse in (False, True):
        expected = [await store.scan(PINS, p, limit=4, reverse=reverse) for p in partitions]
        got = await store.scan_many(PINS, partitions, limit_per_partition=4, reverse=reverse)
        assert got == expected
        assert [len(group) for group in got] == [4, 4, 0, 4]


async def test_scan_many_of_more_partitions_than_one_query_covers(store: Store) -> None:
    await store.batch(
        [
            Put(POSTS_ASC, {"feed": f"f{n}", "day": day, "seq": "s", "body": f"{n}/{day}"})
            for n in range(700)
            for day in range(n % 4)
        ]
    )
    feeds = [f"f{n * 3 % 750}" for n in range(1100)]  # repeats, and feeds past f699 are empty
    groups = await store.scan_many(
        POSTS_ASC, [{"feed": feed} for feed in feeds], limit_per_partition=2, reverse=True
    )
    for feed, rows in zip(feeds, groups, strict=True):
        n = int(feed[1:])
        days = list(range(n % 4))[::-1][:2] if n < 700 else []
        assert [(row["feed"], row["day"]) for row in rows] == [(feed, day) for day in days]


async def test_scan_many_of_a_table_without_clustering(store: Store) -> None:
    await store.put(PROFILES, {"id": "a", "age": 1})
    assert await store.scan_many(
        PROFILES, [{"id": "b"}, {"id": "a"}], limit_per_partition=3, reverse=True
    ) == [[], [{"id": "a", "name": None, "age": 1}]]


async def test_scan_many_of_no_partitions_is_empty_and_reads_nothing(store: Store) -> None:
    assert await store.scan_many(POSTS_ASC, [], limit_per_partition=1) == []
    await store.close()
    assert await store.scan_many(POSTS_ASC, [], limit_per_partition=1) == []


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, None])
async def test_scan_many_limit_must_be_a_positive_integer(store: Store, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit_per_partition"):
        await store.scan_many(POSTS_ASC, [{"feed": "f"}], limit_per_partition=limit)
    with pytest.raises(ValueError, match="limit_per_partition"):
        await store.scan_many(POSTS_ASC, [], limit_per_partition=limit)


@pytest.mark.parametrize(
    "bad",
    [{}, {"feed": "f", "day": 1}, {"other": "f"}, {"feed": None}, {"feed": ""}, {"feed": 1}, "f"],
)
async def test_scan_many_refuses_any_bad_partition_before_reading(store: Store, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await store.scan_many(POSTS_ASC, [{"feed": "f"}, bad], limit_per_partition=1)
    await store.close()
    with pytest.raises((ValueError, TypeError)):
        await store.scan_many(POSTS_ASC, [bad, {"feed": "f"}], limit_per_partition=1)


async def test_scan_many_wants_a_sequence_of_partitions(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.scan_many(POSTS_ASC, {"feed": "f"}, limit_per_partition=1)
