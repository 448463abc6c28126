"""The Store contract: every engine must pass these tests unchanged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.store import Delete, Put, Store, StoreError, Update

TEXT, BLOB, BIGINT = ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT
BOOLEAN, TIMESTAMP = ColumnType.BOOLEAN, ColumnType.TIMESTAMP

EVERY_TYPE = Table(
    name="every_type",
    partition_key=(Column("id", TEXT),),
    values=(
        Column("text_value", TEXT),
        Column("blob_value", BLOB),
        Column("bigint_value", BIGINT),
        Column("boolean_value", BOOLEAN),
        Column("timestamp_value", TIMESTAMP),
    ),
)
FEED_ASC = Table(
    name="feed_asc",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    values=(Column("body", TEXT),),
)
FEED_DESC = Table(
    name="feed_desc",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("day", BIGINT), Column("seq", TEXT)),
    order=Order.DESC,
    values=(Column("body", TEXT),),
)
# Every type in the key: a two-column partition key, boolean and timestamp clustering.
TYPED_KEYS = Table(
    name="typed_keys",
    partition_key=(Column("owner", BLOB), Column("shard", BIGINT)),
    clustering=(Column("pinned", BOOLEAN), Column("at", TIMESTAMP)),
    order=Order.DESC,
)
TABLES = (EVERY_TYPE, FEED_ASC, FEED_DESC, TYPED_KEYS)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# 3 days x 4 sequence numbers; "s10" sorts before "s2" as text, which the order must keep.
FEED_KEYS = [(day, seq) for day in (-1, 0, 7) for seq in ("s1", "s10", "s2", "s\u00e9")]


def full_row(id_: str = "a", **changes: Any) -> dict[str, Any]:
    row = {
        "id": id_,
        "text_value": "zo\u00eb \U0001f426 \u0000 \u4e2d\u6587",
        "blob_value": b"\x00\xff\x00nul\x00",
        "bigint_value": -(2**63),
        "boolean_value": False,
        "timestamp_value": datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=UTC),
    }
    return {**row, **changes}


async def fill_feed(store: Store, table: Table, feed: str = "f") -> None:
    await store.batch(
        [
            Put(table, {"feed": feed, "day": day, "seq": seq, "body": f"{day}/{seq}"})
            for day, seq in FEED_KEYS
        ]
    )


def keys(rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(row["day"], row["seq"]) for row in rows]


# --- put and get -----------------------------------------------------------------------


async def test_every_type_round_trips(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    assert await store.get(EVERY_TYPE, {"id": "a"}) == full_row()


@pytest.mark.parametrize(
    "changes",
    [
        {"bigint_value": 2**63 - 1, "boolean_value": True},
        {"text_value": "", "blob_value": b""},
        {"timestamp_value": datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)},
    ],
)
async def test_edge_values_round_trip(store: Store, changes: dict[str, Any]) -> None:
    await store.put(EVERY_TYPE, full_row(**changes))
    assert await store.get(EVERY_TYPE, {"id": "a"}) == full_row(**changes)


async def test_none_and_left_out_values_read_back_as_none(store: Store) -> None:
    await store.put(EVERY_TYPE, {"id": "a", "text_value": None})
    assert await store.get(EVERY_TYPE, {"id": "a"}) == {
        "id": "a",
        "text_value": None,
        "blob_value": None,
        "bigint_value": None,
        "boolean_value": None,
        "timestamp_value": None,
    }


async def test_timestamps_come_back_utc_at_millisecond_precision(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    written = datetime(2026, 6, 1, 14, 0, 0, 123456, tzinfo=paris)
    await store.put(EVERY_TYPE, full_row(timestamp_value=written))
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    read = row["timestamp_value"]
    assert read == datetime(2026, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)


async def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert await store.get(EVERY_TYPE, {"id": "nobody"}) is None
    assert await store.get(FEED_ASC, {"feed": "f", "day": 1, "seq": "x"}) is None


async def test_put_overwrites_the_whole_row(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    await store.put(EVERY_TYPE, {"id": "a", "bigint_value": 5})
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    assert row["bigint_value"] == 5
    assert row["text_value"] is None


async def test_put_if_absent_inserts_once(store: Store) -> None:
    assert await store.put_if_absent(EVERY_TYPE, full_row(bigint_value=1)) is True
    assert await store.put_if_absent(EVERY_TYPE, full_row(bigint_value=2)) is False
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    assert row["bigint_value"] == 1


async def test_put_if_absent_lets_exactly_one_concurrent_writer_win(store: Store) -> None:
    results = await asyncio.gather(
        *(store.put_if_absent(EVERY_TYPE, full_row(bigint_value=n)) for n in range(20))
    )
    assert results.count(True) == 1
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    assert row["bigint_value"] == results.index(True)


async def test_typed_keys_address_distinct_rows(store: Store) -> None:
    base = {"owner": b"\x00o", "shard": 1, "pinned": True, "at": T0}
    variants = [
        base,
        {**base, "owner": b"\x00p"},
        {**base, "shard": -1},
        {**base, "pinned": False},
        {**base, "at": T0 + timedelta(milliseconds=1)},
    ]
    for row in variants:
        await store.put(TYPED_KEYS, row)
    for row in variants:
        assert await store.get(TYPED_KEYS, row) == row


# --- delete ----------------------------------------------------------------------------


async def test_delete_removes_one_row(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row("a"))
    await store.put(EVERY_TYPE, full_row("b"))
    await store.delete(EVERY_TYPE, {"id": "a"})
    await store.delete(EVERY_TYPE, {"id": "never-there"})
    assert await store.get(EVERY_TYPE, {"id": "a"}) is None
    assert await store.get(EVERY_TYPE, {"id": "b"}) == full_row("b")


async def test_delete_partition_leaves_other_partitions(store: Store) -> None:
    await fill_feed(store, FEED_ASC, "f")
    await fill_feed(store, FEED_ASC, "g")
    await store.delete_partition(FEED_ASC, {"feed": "f"})
    assert await store.scan(FEED_ASC, {"feed": "f"}, limit=100) == []
    assert keys(await store.scan(FEED_ASC, {"feed": "g"}, limit=100)) == sorted(FEED_KEYS)


# --- scan ------------------------------------------------------------------------------


async def test_scan_follows_the_declared_order(store: Store) -> None:
    await fill_feed(store, FEED_ASC)
    await fill_feed(store, FEED_DESC)
    ascending = sorted(FEED_KEYS)
    assert keys(await store.scan(FEED_ASC, {"feed": "f"}, limit=100)) == ascending
    assert keys(await store.scan(FEED_DESC, {"feed": "f"}, limit=100)) == ascending[::-1]


async def test_scan_reverse_flips_the_order(store: Store) -> None:
    await fill_feed(store, FEED_ASC)
    await fill_feed(store, FEED_DESC)
    ascending = sorted(FEED_KEYS)
    assert (
        keys(await store.scan(FEED_ASC, {"feed": "f"}, limit=100, reverse=True))
        == (ascending[::-1])
    )
    assert keys(await store.scan(FEED_DESC, {"feed": "f"}, limit=100, reverse=True)) == ascending


async def test_scan_returns_whole_rows_of_one_partition_up_to_limit(store: Store) -> None:
    await fill_feed(store, FEED_ASC, "f")
    await fill_feed(store, FEED_ASC, "g")
    rows = await store.scan(FEED_ASC, {"feed": "g"}, limit=2)
    assert rows == [
        {"feed": "g", "day": -1, "seq": "s1", "body": "-1/s1"},
        {"feed": "g", "day": -1, "seq": "s10", "body": "-1/s10"},
    ]
    assert await store.scan(FEED_ASC, {"feed": "empty"}, limit=5) == []


@pytest.mark.parametrize("table", [FEED_ASC, FEED_DESC], ids=["asc", "desc"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("size", [1, 3, 5, 12, 13])
async def test_keyset_pages_cover_the_partition_once(
    store: Store, table: Table, reverse: bool, size: int
) -> None:
    await fill_feed(store, table)
    expected = keys(await store.scan(table, {"feed": "f"}, limit=100, reverse=reverse))
    seen: list[tuple[int, str]] = []
    after: tuple[int, str] | None = None
    while True:
        page = await store.scan(table, {"feed": "f"}, limit=size, after=after, reverse=reverse)
        assert len(page) <= size
        if not page:
            break
        seen += keys(page)
        after = keys(page)[-1]
    assert seen == expected
    assert len(expected) == len(FEED_KEYS)


@pytest.mark.parametrize("table", [FEED_ASC, FEED_DESC], ids=["asc", "desc"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
async def test_bounds_are_exclusive_in_iteration_order(
    store: Store, table: Table, reverse: bool
) -> None:
    await fill_feed(store, table)
    order = keys(await store.scan(table, {"feed": "f"}, limit=100, reverse=reverse))
    first, last = order[2], order[8]

    async def scan(**bounds: Any) -> list[tuple[int, str]]:
        return keys(await store.scan(table, {"feed": "f"}, limit=100, reverse=reverse, **bounds))

    assert await scan(after=first) == order[3:]
    assert await scan(before=last) == order[:8]
    assert await scan(after=first, before=last) == order[3:8]
    assert await scan(after=last, before=first) == []
    # A bound need not be a stored key: "s3" sorts between "s2" and "s\u00e9".
    probe = (0, "s3")
    forward = order == sorted(order)
    assert await scan(after=probe) == [key for key in order if (key > probe) == forward]
    assert await scan(before=probe) == [key for key in order if (key < probe) == forward]


async def test_bounds_on_boolean_and_timestamp_clustering(store: Store) -> None:
    owner = {"owner": b"o", "shard": 0}
    rows = [
        {**owner, "pinned": pinned, "at": T0 + timedelta(milliseconds=ms)}
        for pinned in (False, True)
        for ms in (0, 1, 2)
    ]
    await store.batch([Put(TYPED_KEYS, row) for row in rows])
    descending = sorted(rows, key=lambda row: (row["pinned"], row["at"]), reverse=True)
    assert await store.scan(TYPED_KEYS, owner, limit=10) == descending
    after = (True, T0)
    assert await store.scan(TYPED_KEYS, owner, limit=10, after=after) == descending[3:]


async def test_scan_of_a_table_without_clustering(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    assert await store.scan(EVERY_TYPE, {"id": "a"}, limit=5) == [full_row()]
    assert await store.scan(EVERY_TYPE, {"id": "a"}, limit=5, reverse=True) == [full_row()]
    with pytest.raises(ValueError, match="no clustering"):
        await store.scan(EVERY_TYPE, {"id": "a"}, limit=5, after=())


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, 2**31, 2**62])
async def test_scan_limit_must_be_a_positive_integer(store: Store, limit: Any) -> None:
    """...that a CQL `int` holds: a larger one fails on ScyllaDB only, so SQLite refuses it
    too (a root key rotation once counted with 2**62 and failed on the Cassandra node only)."""
    with pytest.raises(ValueError, match="limit"):
        await store.scan(FEED_ASC, {"feed": "f"}, limit=limit)
    with pytest.raises(ValueError, match="limit"):
        await store.count(FEED_ASC, {"feed": "f"}, limit=limit)


@pytest.mark.parametrize("bound", [(1,), (1, "a", "b"), "ab", (None, "a"), ("1", "a")])
async def test_scan_bounds_must_be_whole_clustering_tuples(store: Store, bound: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await store.scan(FEED_ASC, {"feed": "f"}, limit=5, after=bound)


# --- batch -----------------------------------------------------------------------------


async def test_batch_applies_puts_and_deletes_together(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row("old"))
    await store.batch(
        [
            Put(EVERY_TYPE, full_row("new")),
            Delete(EVERY_TYPE, {"id": "old"}),
            Put(FEED_ASC, {"feed": "f", "day": 1, "seq": "a"}),
        ]
    )
    assert await store.get(EVERY_TYPE, {"id": "old"}) is None
    assert await store.get(EVERY_TYPE, {"id": "new"}) == full_row("new")
    assert await store.get(FEED_ASC, {"feed": "f", "day": 1, "seq": "a"}) is not None
    await store.batch([])


@pytest.mark.parametrize(
    "bad",
    [
        Put(EVERY_TYPE, {"text_value": "no key"}),
        Put(EVERY_TYPE, full_row("b", timestamp_value=datetime(2026, 1, 1))),
        Put(EVERY_TYPE, full_row("b", bigint_value="1")),
        Put(EVERY_TYPE, full_row("b", unknown=1)),
        Delete(FEED_ASC, {"feed": "f", "day": 1}),
    ],
    ids=["missing-key", "naive-datetime", "wrong-type", "unknown-column", "partial-key"],
)
async def test_a_batch_with_one_bad_op_writes_nothing(store: Store, bad: Put | Delete) -> None:
    await store.put(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"})
    with pytest.raises((ValueError, TypeError)):
        await store.batch(
            [
                Put(EVERY_TYPE, full_row("a")),
                bad,
                Delete(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"}),
            ]
        )
    assert await store.get(EVERY_TYPE, {"id": "a"}) is None
    assert await store.get(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"}) is not None


# --- refusals --------------------------------------------------------------------------


async def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        await store.put(EVERY_TYPE, full_row(timestamp_value=naive))
    with pytest.raises(ValueError, match="naive"):
        await store.get(TYPED_KEYS, {"owner": b"o", "shard": 0, "pinned": True, "at": naive})
    assert await store.get(EVERY_TYPE, {"id": "a"}) is None


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (full_row(text_value=b"bytes"), TypeError),
        (full_row(blob_value="text"), TypeError),
        (full_row(bigint_value=True), TypeError),
        (full_row(bigint_value=2**63), ValueError),
        (full_row(boolean_value=1), TypeError),
        (full_row(timestamp_value=1), TypeError),
        (full_row(id=None), ValueError),
        (full_row(id=""), ValueError),
        (full_row(extra="x"), ValueError),
    ],
)
async def test_malformed_rows_are_refused(
    store: Store, row: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await store.put(EVERY_TYPE, row)
    with pytest.raises(error):
        await store.put_if_absent(EVERY_TYPE, row)


@pytest.mark.parametrize("key", [{}, {"id": "a", "text_value": "x"}, {"other": "a"}])
async def test_keys_must_name_exactly_the_primary_key(store: Store, key: Any) -> None:
    with pytest.raises(ValueError):
        await store.get(EVERY_TYPE, key)
    with pytest.raises(ValueError):
        await store.delete(EVERY_TYPE, key)


async def test_partitions_must_name_exactly_the_partition_key(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.scan(FEED_ASC, {"feed": "f", "day": 1}, limit=5)
    with pytest.raises(ValueError):
        await store.delete_partition(TYPED_KEYS, {"owner": b"o"})


async def test_undeclared_tables_are_refused(store: Store) -> None:
    stranger = Table("stranger", partition_key=(Column("id", TEXT),))
    with pytest.raises(StoreError, match="stranger"):
        await store.put(stranger, {"id": "a"})
    impostor = Table("every_type", partition_key=(Column("id", BLOB),))
    with pytest.raises(StoreError, match="every_type"):
        await store.get(impostor, {"id": b"a"})


# --- lifecycle -------------------------------------------------------------------------


async def test_ping_answers_until_closed(store: Store) -> None:
    await store.ping()
    await store.close()
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()
    with pytest.raises(StoreError):
        await store.put(EVERY_TYPE, full_row())


async def test_concurrent_reads_and_writes(store: Store) -> None:
    await asyncio.gather(*(store.put(EVERY_TYPE, full_row(f"u{n}")) for n in range(50)))
    reads = await asyncio.gather(*(store.get(EVERY_TYPE, {"id": f"u{n}"}) for n in range(50)))
    assert reads == [full_row(f"u{n}") for n in range(50)]


async def test_update_sets_only_the_named_columns(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    await store.update(EVERY_TYPE, {"id": "a"}, {"bigint_value": 7})
    await store.update(EVERY_TYPE, {"id": "a"}, {"text_value": "new", "boolean_value": True})
    assert await store.get(EVERY_TYPE, {"id": "a"}) == full_row(
        bigint_value=7, text_value="new", boolean_value=True
    )


async def test_concurrent_updates_of_different_columns_both_land(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    await asyncio.gather(
        *(store.update(EVERY_TYPE, {"id": "a"}, {"bigint_value": n}) for n in range(10)),
        store.update(EVERY_TYPE, {"id": "a"}, {"text_value": "kept"}),
    )
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    assert row["text_value"] == "kept"
    assert row["blob_value"] == full_row()["blob_value"]


async def test_update_of_a_missing_row_creates_it_with_only_those_columns(store: Store) -> None:
    await store.update(EVERY_TYPE, {"id": "new"}, {"bigint_value": 1})
    assert await store.get(EVERY_TYPE, {"id": "new"}) == {
        "id": "new",
        "text_value": None,
        "blob_value": None,
        "bigint_value": 1,
        "boolean_value": None,
        "timestamp_value": None,
    }


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"id": "b"},
        {"nope": 1},
        {"bigint_value": "seven"},
        {"timestamp_value": datetime(2026, 1, 1)},
    ],
)
async def test_update_refuses_bad_input_and_writes_nothing(
    store: Store, values: dict[str, Any]
) -> None:
    await store.put(EVERY_TYPE, full_row())
    with pytest.raises((ValueError, TypeError)):
        await store.update(EVERY_TYPE, {"id": "a"}, values)
    assert await store.get(EVERY_TYPE, {"id": "a"}) == full_row()


# --- updates in a batch ----------------------------------------------------------------


async def test_a_batched_update_sets_only_its_columns_beside_puts_and_deletes(
    store: Store,
) -> None:
    await store.put(EVERY_TYPE, full_row("kept"))
    await store.put(EVERY_TYPE, full_row("gone"))
    await store.batch(
        [
            Update(EVERY_TYPE, {"id": "kept"}, {"bigint_value": 7, "text_value": None}),
            Update(EVERY_TYPE, {"id": "new"}, {"boolean_value": True}),
            Delete(EVERY_TYPE, {"id": "gone"}),
            Put(FEED_ASC, {"feed": "f", "day": 1, "seq": "a"}),
            Update(FEED_ASC, {"feed": "f", "day": 1, "seq": "a"}, {"body": "set after the put"}),
        ]
    )
    assert await store.get(EVERY_TYPE, {"id": "kept"}) == full_row(
        "kept", bigint_value=7, text_value=None
    )
    assert await store.get(EVERY_TYPE, {"id": "new"}) == {
        "id": "new",
        "text_value": None,
        "blob_value": None,
        "bigint_value": None,
        "boolean_value": True,
        "timestamp_value": None,
    }
    assert await store.get(EVERY_TYPE, {"id": "gone"}) is None
    feed = await store.get(FEED_ASC, {"feed": "f", "day": 1, "seq": "a"})
    assert feed is not None
    assert feed["body"] == "set after the put"


async def test_batched_updates_of_different_columns_both_land(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row())
    await asyncio.gather(
        *(store.batch([Update(EVERY_TYPE, {"id": "a"}, {"bigint_value": n})]) for n in range(10)),
        store.batch([Update(EVERY_TYPE, {"id": "a"}, {"text_value": "kept"})]),
    )
    row = await store.get(EVERY_TYPE, {"id": "a"})
    assert row is not None
    assert row["text_value"] == "kept"
    assert row["blob_value"] == full_row()["blob_value"]


@pytest.mark.parametrize(
    "bad",
    [
        Update(EVERY_TYPE, {"id": "a"}, {}),
        Update(EVERY_TYPE, {"id": "a"}, {"id": "b"}),
        Update(EVERY_TYPE, {"id": "a"}, {"nope": 1}),
        Update(EVERY_TYPE, {"id": "a"}, {"bigint_value": "seven"}),
        Update(EVERY_TYPE, {"id": "a"}, {"timestamp_value": datetime(2026, 1, 1)}),
        Update(EVERY_TYPE, {}, {"bigint_value": 1}),
        Update(FEED_ASC, {"feed": "f", "day": 1}, {"body": "partial key"}),
    ],
    ids=["no-columns", "key-column", "unknown", "wrong-type", "naive", "no-key", "partial-key"],
)
async def test_a_batch_with_one_bad_update_writes_nothing(store: Store, bad: Update) -> None:
    await store.put(EVERY_TYPE, full_row("a"))
    await store.put(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"})
    with pytest.raises((ValueError, TypeError)):
        await store.batch(
            [
                Update(EVERY_TYPE, {"id": "a"}, {"bigint_value": 1}),
                Put(EVERY_TYPE, full_row("b")),
                bad,
                Delete(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"}),
            ]
        )
    assert await store.get(EVERY_TYPE, {"id": "a"}) == full_row("a")
    assert await store.get(EVERY_TYPE, {"id": "b"}) is None
    assert await store.get(FEED_ASC, {"feed": "f", "day": 1, "seq": "kept"}) is not None


async def test_a_batch_refuses_what_is_not_an_op(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.batch([Put(EVERY_TYPE, full_row("a")), ("update", EVERY_TYPE)])  # type: ignore[list-item]
    assert await store.get(EVERY_TYPE, {"id": "a"}) is None


# --- update_if: a compare-and-set ------------------------------------------------------


async def test_update_if_sets_only_when_the_expected_values_hold(store: Store) -> None:
    await store.put(EVERY_TYPE, full_row("cas", bigint_value=10))
    assert not await store.update_if(
        EVERY_TYPE, {"id": "cas"}, {"bigint_value": 11}, {"bigint_value": 9}
    )
    assert (await store.get(EVERY_TYPE, {"id": "cas"}))["bigint_value"] == 10  # type: ignore[index]
    assert await store.update_if(
        EVERY_TYPE, {"id": "cas"}, {"bigint_value": 11, "text_value": None}, {"bigint_value": 10}
    )
    assert await store.get(EVERY_TYPE, {"id": "cas"}) == full_row(
        "cas", bigint_value=11, text_value=None
    )


async def test_update_if_never_creates_a_row(store: Store) -> None:
    assert not await store.update_if(
        EVERY_TYPE, {"id": "absent"}, {"bigint_value": 1}, {"bigint_value": 0}
    )
    assert await store.get(EVERY_TYPE, {"id": "absent"}) is None


async def test_racing_compare_and_sets_lose_no_increment(store: Store) -> None:
    await store.put(EVERY_TYPE, {"id": "count", "bigint_value": 0})

    async def add_one() -> int:
        attempts = 0
        while True:
            attempts += 1
            row = await store.get(EVERY_TYPE, {"id": "count"})
            assert row is not None
            now = row["bigint_value"]
            if await store.update_if(
                EVERY_TYPE, {"id": "count"}, {"bigint_value": now + 1}, {"bigint_value": now}
            ):
                return attempts
            await asyncio.sleep(0.001 * attempts)

    await asyncio.gather(*(add_one() for _ in range(8)))
    assert (await store.get(EVERY_TYPE, {"id": "count"}))["bigint_value"] == 8  # type: ignore[index]


@pytest.mark.parametrize("expected", [{}, {"bigint_value": None}, {"id": "cas"}, {"nope": 1}])
async def test_update_if_refuses_a_malformed_expectation(
    store: Store, expected: dict[str, Any]
) -> None:
    await store.put(EVERY_TYPE, full_row("cas"))
    with pytest.raises(ValueError):
        await store.update_if(EVERY_TYPE, {"id": "cas"}, {"bigint_value": 1}, expected)
