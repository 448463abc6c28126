"""How the SQLite engine reads many keys or partitions: one thread hop, a query per chunk."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.sqlite import SqliteStore, engine
from persistence.sqlite import compile as compiler
from persistence.sqlite.batch_reads import (
    MAX_COMPOUND_SELECTS,
    MAX_PARAMETERS,
    keys_per_query,
    partitions_per_query,
)
from persistence.sqlite.compile import compile_table, get_many_sql, scan_many_sql
from persistence.sqlite.connect import connect_reader
from persistence.store import Put, Update

TEXT, BLOB, BIGINT = ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT
BOOLEAN, TIMESTAMP = ColumnType.BOOLEAN, ColumnType.TIMESTAMP

ITEMS = Table(name="items", partition_key=(Column("id", TEXT),), values=(Column("n", BIGINT),))
LINES = Table(
    name="lines",
    partition_key=(Column("book", TEXT), Column("shelf", BIGINT)),
    clustering=(Column("page", BIGINT), Column("line", BIGINT)),
    order=Order.DESC,
    values=(Column("text", TEXT),),
)
# Integer, blob, boolean and timestamp key columns: the affinities a plan can trip on.
MARKS = Table(
    name="marks",
    partition_key=(Column("owner", BLOB),),
    clustering=(Column("shard", BIGINT), Column("pinned", BOOLEAN), Column("at", TIMESTAMP)),
)
TABLES = [ITEMS, LINES, MARKS]


def line(book: str, shelf: int, page: int, line: int) -> dict[str, Any]:
    return {"book": book, "shelf": shelf, "page": page, "line": line, "text": f"{page}.{line}"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    # Every read in a reader thread, where the hops are counted (the statements a read runs
    # are the same in place: tests/persistence/test_sqlite_in_place_reads.py).
    opened = await SqliteStore.open(tmp_path / "cove.db", TABLES, in_place_reads=False)
    yield opened
    await opened.close()


class Recorder:
    """Counts reader-thread hops and the statements each runs, by wrapping the reader pool."""

    def __init__(self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hops = 0
        self.statements: list[str] = []
        readers = store._readers
        run = readers.run

        async def recording(work: Callable[[sqlite3.Connection], Any]) -> Any:
            self.hops += 1

            def traced(connection: sqlite3.Connection) -> Any:
                connection.set_trace_callback(self.statements.append)
                try:
                    return work(connection)
                finally:
                    connection.set_trace_callback(None)

            return await run(traced)

        monkeypatch.setattr(readers, "run", recording)

    def selects(self) -> int:
        return sum(statement.lstrip().startswith("SELECT") for statement in self.statements)


async def test_get_many_takes_one_hop_and_one_query_per_chunk(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.batch([Put(ITEMS, {"id": f"i{n}", "n": n}) for n in range(1500)])
    recorder = Recorder(store, monkeypatch)
    # 1,300 distinct keys, each asked twice: duplicates are not bound twice.
    keys = [{"id": f"i{n % 1300}"} for n in range(2600)]
    rows = await store.get_many(ITEMS, keys)
    assert [row and row["n"] for row in rows] == [n % 1300 for n in range(2600)]
    assert recorder.hops == 1
    assert recorder.selects() == math.ceil(1300 / keys_per_query(ITEMS)) == 3
    # The chunks read one snapshot: a transaction around them.
    assert recorder.statements[0] == "BEGIN"
    assert recorder.statements[-1] == "COMMIT"


async def test_scan_many_takes_one_hop_and_one_query_per_chunk(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.batch([Put(LINES, line(f"b{n}", 0, 1, n % 3)) for n in range(900)])
    recorder = Recorder(store, monkeypatch)
    partitions = [{"book": f"b{n}", "shelf": 0} for n in range(900)]
    groups = await store.scan_many(LINES, partitions, limit_per_partition=2)
    assert [len(group) for group in groups] == [1] * 900
    assert recorder.hops == 1
    assert recorder.selects() == math.ceil(900 / partitions_per_query(LINES)) == 3


async def test_one_chunk_needs_no_transaction(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(store, monkeypatch)
    await store.get_many(ITEMS, [{"id": "a"}, {"id": "b"}])
    await store.scan_many(LINES, [{"book": "b", "shelf": 1}], limit_per_partition=3)
    await store.count(LINES, {"book": "b", "shelf": 1}, limit=3)
    assert recorder.hops == 3
    assert recorder.selects() == len(recorder.statements) == 3


async def test_batches_of_any_size_share_a_few_statement_shapes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    def recording(compile_sql: Callable[..., str]) -> Callable[..., str]:
        def record(table: Table, count: int, **options: Any) -> str:
            sizes.append(count)
            return compile_sql(table, count, **options)

        return record

    monkeypatch.setattr(compiler, "get_many_sql", recording(compiler.get_many_sql))
    monkeypatch.setattr(compiler, "scan_many_sql", recording(compiler.scan_many_sql))
    await store.batch([Put(ITEMS, {"id": f"i{n}", "n": n}) for n in range(64)])
    for size in range(1, 65):
        # Padded statements must still answer exactly what was asked.
        keys = [{"id": f"i{n}"} for n in range(size)]
        assert [row and row["n"] for row in await store.get_many(ITEMS, keys)] == list(range(size))
        groups = await store.scan_many(ITEMS, keys, limit_per_partition=2)
        assert [[row["n"] for row in group] for group in groups] == [[n] for n in range(size)]
    # Each shape compiled once for the store (a get_many and a scan_many of each size).
    assert sorted(sizes) == sorted(2 * [1, 2, 4, 8, 16, 32, 64])


async def test_chunks_fit_the_lowest_limits_of_any_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def limited_reader(path: Path, busy_timeout: float) -> sqlite3.Connection:
        connection = connect_reader(path, busy_timeout)
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_PARAMETERS)
        connection.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, MAX_COMPOUND_SELECTS)
        return connection

    monkeypatch.setattr(engine, "connect_reader", limited_reader)
    store = await SqliteStore.open(tmp_path / "cove.db", TABLES)
    try:
        await store.batch([Put(LINES, line("b", shelf, 1, 1)) for shelf in range(1200)])
        keys = [{"book": "b", "shelf": shelf, "page": 1, "line": 1} for shelf in range(1200)]
        assert [row is not None for row in await store.get_many(LINES, keys)] == [True] * 1200
        partitions = [{"book": "b", "shelf": shelf} for shelf in range(1200)]
        groups = await store.scan_many(LINES, partitions, limit_per_partition=1)
        assert [len(group) for group in groups] == [1] * 1200
        at = datetime(2026, 1, 1, tzinfo=UTC)
        marks = [
            {"owner": b"o", "shard": n, "pinned": True, "at": at + timedelta(milliseconds=n)}
            for n in range(600)
        ]
        assert await store.get_many(MARKS, marks) == [None] * 600
    finally:
        await store.close()


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_statements_bind_no_more_than_sqlite_allows(table: Table) -> None:
    keys = keys_per_query(table)
    assert get_many_sql(table, keys).count("?") == keys * len(table.key) <= MAX_PARAMETERS
    partitions = partitions_per_query(table)
    scan = scan_many_sql(table, partitions, ascending=True)
    assert scan.count("?") <= MAX_PARAMETERS
    assert scan.count("SELECT") == 2 * partitions <= 2 * MAX_COMPOUND_SELECTS
    # Chunks big enough to be worth it.
    assert min(keys, partitions) >= 200


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
async def test_every_batched_read_searches_the_primary_key(
    store: SqliteStore, table: Table
) -> None:
    # Each statement, and how many key columns its searches must pin with "=".
    key, partition = len(table.key), len(table.partition_key)
    statements = {
        get_many_sql(table, 1): key,
        get_many_sql(table, 7): key,
        scan_many_sql(table, 1, ascending=True): partition,
        scan_many_sql(table, 7, ascending=False): partition,
        **{sql: partition for sql in compile_table(table).counts.values()},
    }

    def plans(connection: sqlite3.Connection) -> dict[str, list[str]]:
        return {
            sql: [
                str(row[-1])
                for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", [1] * sql.count("?"))
            ]
            for sql in statements
        }

    for sql, lines in (await store._read("plans", plans)).items():
        searches = [detail for detail in lines if detail.startswith(f"SEARCH {table.name} ")]
        assert searches, (sql, lines)
        for detail in searches:
            assert "USING PRIMARY KEY" in detail, (sql, detail)
            assert detail.count("=") >= statements[sql], (sql, detail)
        assert not [detail for detail in lines if detail.startswith(f"SCAN {table.name}")]


async def test_a_batched_update_is_rolled_back_when_the_database_fails_midway(
    store: SqliteStore,
) -> None:
    key = {"book": "b", "shelf": 0, "page": 1, "line": 1}
    await store.put(LINES, line("b", 0, 1, 1))

    def refuse(connection: sqlite3.Connection) -> None:
        # A trigger stands in for any failure SQLite reports after the first write.
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON lines WHEN NEW.text = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        )

    await store._write("trigger", refuse)
    with pytest.raises(Exception, match="refused by trigger"):
        await store.batch(
            [
                Update(LINES, key, {"text": "changed"}),
                Put(LINES, line("b", 0, 2, 2) | {"text": "boom"}),
            ]
        )
    assert await store.get(LINES, key) == line("b", 0, 1, 1)
