"""Which SQLite reads run in place on the event loop's thread, and what keeps the loop turning.

The store contract suite runs every read both ways (engines `sqlite` and `sqlite-threads`);
these tests pin down the choice between them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Order, Table
from persistence.sqlite import SqliteStore
from persistence.sqlite.connect import connect_reader
from persistence.sqlite.in_place import MOST_ROWS, ROWS_PER_TURN
from persistence.store import Put, StoreError

TEXT, BIGINT = ColumnType.TEXT, ColumnType.BIGINT
LINES = Table(
    name="lines",
    partition_key=(Column("book", TEXT),),
    clustering=(Column("n", BIGINT),),
    order=Order.ASC,
    values=(Column("text", TEXT),),
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "cove.db", [LINES])
    await opened.batch([Put(LINES, {"book": "b", "n": n, "text": f"line {n}"}) for n in range(600)])
    yield opened
    await opened.close()


class Hops:
    """Counts the reads handed to a reader thread, and the threads that ran each read."""

    def __init__(self, store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.threads: set[str] = set()
        run = store._readers.run

        async def counted(work: Callable[[sqlite3.Connection], Any]) -> Any:
            self.count += 1

            def named(connection: sqlite3.Connection) -> Any:
                self.threads.add(threading.current_thread().name)
                return work(connection)

            return await run(named)

        monkeypatch.setattr(store._readers, "run", counted)


async def test_reads_of_a_few_rows_run_in_place_and_larger_ones_in_a_reader_thread(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = Hops(store, monkeypatch)
    assert (await store.get(LINES, {"book": "b", "n": 7}) or {})["text"] == "line 7"
    keys = [{"book": "b", "n": n} for n in range(50)]
    assert [row and row["n"] for row in await store.get_many(LINES, keys)] == list(range(50))
    page = await store.scan(LINES, {"book": "b"}, limit=50, after=[100])
    assert [row["n"] for row in page] == list(range(101, 151))
    assert await store.count(LINES, {"book": "b"}, limit=10) == 10
    assert [
        len(rows) for rows in await store.scan_many(LINES, [{"book": "b"}], limit_per_partition=5)
    ] == [5]
    assert hops.count == 0
    # Past MOST_ROWS rows a read goes to a reader thread, whatever it actually finds.
    assert len(await store.scan(LINES, {"book": "b"}, limit=MOST_ROWS + 1)) == MOST_ROWS + 1
    assert await store.count(LINES, {"book": "b"}, limit=1000) == 600
    many = [{"book": "b", "n": n} for n in range(MOST_ROWS + 1)]
    assert len(await store.get_many(LINES, many)) == MOST_ROWS + 1
    assert hops.count == 3
    assert all(name.startswith("cove-sqlite-reader") for name in hops.threads)


async def test_a_task_reading_in_a_tight_loop_still_lets_the_loop_turn(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = Hops(store, monkeypatch)
    reads = 3 * ROWS_PER_TURN

    async def read_all() -> None:
        for n in range(reads):
            await store.get(LINES, {"book": "b", "n": n % 600})

    reader = asyncio.create_task(read_all())
    ticks = 0
    while not reader.done():
        ticks += 1
        await asyncio.sleep(0)
    await reader
    # Every ROWS_PER_TURN rows read in place, the next read waits in a thread: the loop turns.
    assert hops.count >= reads // (ROWS_PER_TURN + 1)
    assert ticks >= hops.count
    # Most reads still ran in place.
    assert hops.count < reads // 100


async def test_a_busy_read_is_handed_to_a_reader_thread_which_waits_for_the_lock(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection used in place never waits for a lock: SQLITE_BUSY sends the read to a
    thread (which has a busy timeout), so the loop does not wait and the caller gets rows."""
    refusals = 2

    class Busy(sqlite3.Connection):
        def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
            nonlocal refusals
            if refusals:
                refusals -= 1
                error = sqlite3.OperationalError("database is locked")
                error.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY  # type: ignore[attr-defined]
                raise error
            return super().execute(*args, **kwargs)

    def busy_reader(path: Path, busy_timeout: float) -> sqlite3.Connection:
        if busy_timeout:  # a reader thread's connection, which waits for locks
            return connect_reader(path, busy_timeout)
        # The connection used in place: it must not wait, and it is refused as busy.
        connection = sqlite3.connect(
            path, isolation_level=None, timeout=0, check_same_thread=False, factory=Busy
        )
        sqlite3.Connection.execute(connection, "PRAGMA query_only = ON")
        return connection

    monkeypatch.setattr("persistence.sqlite.engine.connect_reader", busy_reader)
    busy = await SqliteStore.open(store._path, [LINES])
    try:
        hops = Hops(busy, monkeypatch)
        refusals = 2
        assert (await busy.get(LINES, {"book": "b", "n": 3}) or {})["n"] == 3
        assert [row["n"] for row in await busy.scan(LINES, {"book": "b"}, limit=2)] == [0, 1]
        assert hops.count == 2
        assert (await busy.get(LINES, {"book": "b", "n": 4}) or {})["n"] == 4
        assert hops.count == 2  # not busy any more: in place again
    finally:
        await busy.close()


async def test_other_errors_in_place_are_store_errors(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="no such table"):
        await store._read("lost", lambda c: c.execute("SELECT * FROM nowhere"), rows=1)
    with pytest.raises(StoreError, match=r"readonly|read-only"):
        await store._read("write attempt", lambda c: c.execute("DELETE FROM lines"), rows=1)
    assert await store.count(LINES, {"book": "b"}, limit=5) == 5


async def test_each_event_loop_thread_reads_in_place_on_a_connection_of_its_own(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def recorded(path: Path, busy_timeout: float) -> sqlite3.Connection:
        opened.append(threading.current_thread().name)
        return connect_reader(path, busy_timeout)

    assert store._in_place is not None
    monkeypatch.setattr(store._in_place, "_connect", lambda: recorded(store._path, 0))
    hops = Hops(store, monkeypatch)

    def other_loop() -> Any:
        return asyncio.run(store.get(LINES, {"book": "b", "n": 9}))

    here = await store.get(LINES, {"book": "b", "n": 8})
    there = await asyncio.to_thread(other_loop)
    again = await store.get(LINES, {"book": "b", "n": 10})
    assert [row and row["n"] for row in (here, there, again)] == [8, 9, 10]
    assert hops.count == 0
    # One connection for this loop's thread, used twice, and one for the other loop's.
    assert len(opened) == 2 and opened[0] == threading.current_thread().name != opened[1]


async def test_closing_closes_the_connections_used_in_place(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "cove.db", [LINES])
    await store.get(LINES, {"book": "b", "n": 1})
    assert store._in_place is not None
    connections = list(store._in_place._connections)
    assert len(connections) == 1
    await store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        connections[0].execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        await store.get(LINES, {"book": "b", "n": 1})


async def test_turned_off_every_read_goes_to_a_reader_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await SqliteStore.open(tmp_path / "cove.db", [LINES], in_place_reads=False)
    try:
        hops = Hops(store, monkeypatch)
        await store.get(LINES, {"book": "b", "n": 1})
        await store.scan(LINES, {"book": "b"}, limit=5)
        assert hops.count == 2
    finally:
        await store.close()
