"""A migration may fill a new table from an older one (re-keying data): both engines copy
every row, converted, and a copy cut short runs again without harm."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from scylla_node import config, cql_session

from persistence.declare import Column, ColumnType, Copy, Order, Row, Table
from persistence.migrations import Migration, check_migrations
from persistence.scylla.engine import ScyllaStore
from persistence.sqlite import SqliteStore
from persistence.store import Store

TEXT, BIGINT = ColumnType.TEXT, ColumnType.BIGINT
OLD = Table(
    name="copy_old",
    partition_key=(Column("feed", TEXT),),
    clustering=(Column("seq", BIGINT),),
    order=Order.DESC,
    values=(Column("body", TEXT),),
)
NEW = Table(
    name="copy_new",
    partition_key=(Column("feed", TEXT), Column("bucket", BIGINT)),
    clustering=(Column("seq", BIGINT),),
    order=Order.DESC,
    values=(Column("body", TEXT),),
)


def bucketed(row: Row) -> Row:
    return {**row, "bucket": row["seq"] // 10}


FIRST = Migration(1, "old", (OLD,))
SECOND = Migration(2, "new, filled from old", (NEW,), (Copy(OLD, NEW, bucketed),))

Opener = Callable[[Sequence[Migration]], Any]


@pytest.fixture(params=["sqlite", "scylla"])
async def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    if request.param == "sqlite":
        yield lambda migrations: SqliteStore.open(tmp_path / "cove.db", migrations=migrations)
        return
    hosts = request.getfixturevalue("scylla_hosts")
    keyspace = f"cove_copy_{secrets.token_hex(4)}"
    yield lambda migrations: ScyllaStore.open(config(hosts, keyspace), migrations=migrations)
    cql_session(hosts).execute(f"DROP KEYSPACE IF EXISTS {keyspace}")


async def test_a_migration_copies_every_row_converted(opener: Opener) -> None:
    store: Store = await opener([FIRST])
    for seq in range(25):
        await store.put(OLD, {"feed": "f", "seq": seq, "body": f"b{seq}"})
    await store.put(OLD, {"feed": "g", "seq": 3, "body": None})
    await store.close()

    store = await opener([FIRST, SECOND])
    try:
        for bucket, seqs in ((0, range(10)), (1, range(10, 20)), (2, range(20, 25))):
            rows = await store.scan(NEW, {"feed": "f", "bucket": bucket}, limit=100)
            assert [(row["seq"], row["body"]) for row in rows] == [
                (seq, f"b{seq}") for seq in reversed(seqs)
            ]
        assert await store.scan(NEW, {"feed": "g", "bucket": 0}, limit=5) == [
            {"feed": "g", "bucket": 0, "seq": 3, "body": None}
        ]
        # The source keeps its rows: nothing is deleted by a copy.
        assert await store.count(OLD, {"feed": "f"}, limit=100) == 25
    finally:
        await store.close()


def test_a_copy_must_read_an_older_table_into_its_own() -> None:
    with pytest.raises(ValueError, match="the source must be older"):
        check_migrations([Migration(1, "both", (OLD, NEW), (Copy(OLD, NEW, bucketed),))])
    with pytest.raises(ValueError, match="the source must be older"):
        check_migrations([FIRST, Migration(2, "elsewhere", (), (Copy(OLD, NEW, bucketed),))])
