"""SqliteStore: the embedded Store, with one writer thread, a pool of reader threads, and
small reads run in place on the event loop's thread."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from persistence.declare import Column, Order, Row, Table
from persistence.migrations import MIGRATIONS, Migration, check_migrations, declared_tables
from persistence.space import Volume, is_out_of_space
from persistence.sqlite.batch_reads import scan_partitions, select_keys
from persistence.sqlite.codec import decode, encode
from persistence.sqlite.compile import (
    Statements,
    compile_table,
    scan_table_sql,
    swap_sql,
    update_if_sql,
    update_sql,
)
from persistence.sqlite.connect import connect_reader, connect_writer, restrict_side_files
from persistence.sqlite.in_place import InPlaceReads, busy
from persistence.sqlite.migrate import MIGRATIONS_TABLE, check_schema, migrate
from persistence.sqlite.threads import ConnectionThreads, run_each
from persistence.store import Delete, Put, StorageFull, StoreError, Update
from persistence.table_cursor import decode_cursor, encode_cursor, unwrap_cursor, wrap_cursor
from persistence.validate import (
    bound_values,
    check_limit,
    expected_values,
    key_values,
    many_keys,
    many_partitions,
    partition_values,
    row_values,
    swap_values,
    update_values,
)

T = TypeVar("T")
Step = tuple[str, tuple[Any, ...]]
# Row values (3.15), upsert clauses (3.24) and pragma functions (3.16) are needed.
_MIN_SQLITE = (3, 24, 0)


@dataclass(frozen=True)
class _Compiled:
    table: Table
    statements: Statements


def _known_tables(
    migrations: Sequence[Migration], extra: Sequence[Table]
) -> tuple[dict[str, _Compiled], tuple[Table, ...]]:
    check_migrations(migrations)
    known: dict[str, _Compiled] = {}
    added: list[Table] = []
    for table in (*declared_tables(migrations), *extra):
        if table.name == MIGRATIONS_TABLE or table.name.startswith("sqlite_"):
            raise ValueError(f"table name {table.name!r} is reserved by the SQLite engine")
        if table.name in known:
            if known[table.name].table != table:
                raise ValueError(f"table {table.name!r} is declared twice, differently")
            continue
        known[table.name] = _Compiled(table, compile_table(table))
        if table in extra:
            added.append(table)
    return known, tuple(added)


@dataclass(frozen=True)
class _Steps:
    """A write of the Store: statements applied all together or not at all. Writes handed to
    the writer together share one transaction (group commit), each in its own savepoint."""

    steps: Sequence[Step]

    def __call__(self, connection: sqlite3.Connection) -> int:
        # Alone (not through the writer's group commit): its own transaction.
        return _group_commit(connection, [self])[0][1]  # type: ignore[no-any-return]


def _apply(connection: sqlite3.Connection, steps: Sequence[Step]) -> int:
    """Run the statements in order, rows of one statement in one executemany; the rows the
    last statement changed."""
    changed, start = 0, 0
    while start < len(steps):
        sql, end = steps[start][0], start + 1
        while end < len(steps) and steps[end][0] == sql:
            end += 1
        if end - start == 1:
            changed = connection.execute(sql, steps[start][1]).rowcount
        else:
            changed = connection.executemany(sql, [p for _, p in steps[start:end]]).rowcount
        start = end
    return changed


def _group_commit(connection: sqlite3.Connection, works: list[Any]) -> list[tuple[bool, Any]]:
    """The writer's calls of one hand-off: consecutive writes in one transaction, each in a
    savepoint (one that fails is undone alone), one commit for them all; other calls
    (migrations, checkpoints) alone, outside any transaction. A write is answered only
    once its transaction has committed."""
    outcomes: list[tuple[bool, Any]] = []
    group: list[int] = []  # positions in `outcomes` of the writes of the open transaction

    def undone(error: Exception) -> None:
        for position in group:
            outcomes[position] = (False, error)
        group.clear()

    def finish() -> None:
        if connection.in_transaction:
            try:
                connection.execute("COMMIT")
            except Exception as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                undone(error)
        group.clear()

    for work in works:
        if not isinstance(work, _Steps):
            finish()
            outcomes += run_each(connection, [work])
            continue
        try:
            if not connection.in_transaction:
                connection.execute("BEGIN IMMEDIATE")
            connection.execute("SAVEPOINT write")
            changed = _apply(connection, work.steps)
            connection.execute("RELEASE write")
        except Exception as error:
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK TO write")
                    connection.execute("RELEASE write")
                except sqlite3.Error:  # no savepoint: BEGIN or SAVEPOINT itself failed
                    pass
            else:  # SQLite rolled the whole transaction back (disk full, I/O)
                undone(error)
            outcomes.append((False, error))
            continue
        outcomes.append((True, changed))
        group.append(len(outcomes) - 1)
    finish()
    return outcomes


class SqliteStore:
    """The embedded engine: one SQLite file in WAL mode, sqlite3 calls run in threads.

    Writes, batches and migrations go through one writer thread and connection, so they
    never wait on each other inside SQLite; writes handed to it together share one
    transaction and one commit (each in its own savepoint, so one that fails fails alone).
    Reads use reader connections that WAL lets run alongside the writer: a read of a few rows
    runs in place on the loop's thread (persistence/sqlite/in_place.py), others in a pool of
    reader threads.
    """

    def __init__(
        self,
        path: Path,
        tables: Mapping[str, _Compiled],
        writer: ConnectionThreads,
        readers: ConnectionThreads,
        *,
        volume: Volume | None = None,
        in_place: InPlaceReads | None = None,
    ) -> None:
        self._path = path
        # The data dir's volume: writes are refused up front while it is full.
        self._volume = volume
        self._tables = dict(tables)
        # Update statements depend on which columns are set: compiled on first use.
        self._updates: dict[tuple[str, tuple[Column, ...]], str] = {}
        self._writer = writer
        self._readers = readers
        self._in_place = in_place
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path,
        tables: Sequence[Table] | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
        *,
        readers: int = 4,
        busy_timeout: float = 5.0,
        volume: Volume | None = None,
        in_place_reads: bool = True,
    ) -> SqliteStore:
        """Open (creating if need be) the database at `path` and apply pending migrations.

        `tables` are created if absent without a migration (tests, scratch tables). A write
        that fails for lack of space raises StorageFull; with `volume` (the data dir's), it
        also marks the volume full, which refuses later writes up front until it has room.
        `in_place_reads=False` hands every read to the reader threads (the tests cover both).
        """
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: Cove needs 3.24+")
        if readers < 1:
            raise ValueError(f"readers must be at least 1, got {readers}")
        path = Path(path)
        known, extra = _known_tables(migrations, tables or ())
        writer = ConnectionThreads(
            partial(connect_writer, path, busy_timeout),
            workers=1,
            name="cove-sqlite-writer",
            run_all=_group_commit,
        )
        reader_threads = ConnectionThreads(
            partial(connect_reader, path, busy_timeout), workers=readers, name="cove-sqlite-reader"
        )
        # Never waits for a lock: a busy read goes to the threads, which do.
        in_place = InPlaceReads(partial(connect_reader, path, 0)) if in_place_reads else None
        store = cls(path, known, writer, reader_threads, volume=volume, in_place=in_place)

        def prepare(connection: sqlite3.Connection) -> None:
            migrate(connection, migrations, extra, time.time_ns() // 1_000_000)
            check_schema(connection, [compiled.table for compiled in known.values()])
            restrict_side_files(path)

        try:
            # Not refused up front on a full volume: a server must start to let deletes in.
            await store._run(writer, "open", prepare)
        except BaseException:
            # The writer connection may be what failed, so skip close()'s last query.
            await asyncio.to_thread(store._shutdown)
            raise
        return store

    async def get(self, table: Table, key: Mapping[str, Any]) -> Row | None:
        """The row with this full primary key, or None."""
        sql = self._statements(table).select
        parameters = encode(table.key, key_values(table, key))

        def read(connection: sqlite3.Connection) -> Row | None:
            stored = connection.execute(sql, parameters).fetchone()
            return None if stored is None else decode(table.columns, stored)

        return await self._read(f"get from {table.name}", read, rows=1)

    async def get_many(self, table: Table, keys: Sequence[Mapping[str, Any]]) -> list[Row | None]:
        """The row for each full primary key, in order (None where there is none), one hop."""
        statements = self._statements(table)  # refuses a table the store was not opened with
        wanted = [encode(table.key, key) for key in many_keys(table, keys)]
        if not wanted:
            return []
        work = partial(select_keys, statements=statements, keys=wanted)
        return await self._read(f"get_many from {table.name}", work, rows=len(wanted))

    async def scan(
        self,
        table: Table,
        partition: Mapping[str, Any],
        *,
        limit: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        reverse: bool = False,
    ) -> list[Row]:
        """Up to `limit` rows of one partition, between exclusive bounds in iteration order."""
        statements = self._statements(table)
        check_limit(limit)
        parameters = [*_slice_parameters(table, partition, after, before), limit]
        ascending = (table.order is Order.ASC) != reverse
        sql = statements.scan(
            after=after is not None, before=before is not None, ascending=ascending
        )

        def read(connection: sqlite3.Connection) -> list[Row]:
            rows = connection.execute(sql, parameters).fetchall()
            return [decode(table.columns, stored) for stored in rows]

        return await self._read(f"scan of {table.name}", read, rows=limit)

    async def scan_many(
        self,
        table: Table,
        partitions: Sequence[Mapping[str, Any]],
        *,
        limit_per_partition: int,
        reverse: bool = False,
    ) -> list[list[Row]]:
        """Up to `limit_per_partition` rows of each partition, in order, in one hop."""
        statements = self._statements(table)
        check_limit(limit_per_partition, "limit_per_partition")
        wanted = [encode(table.partition_key, p) for p in many_partitions(table, partitions)]
        if not wanted:
            return []
        ascending = (table.order is Order.ASC) != reverse
        work = partial(
            scan_partitions,
            statements=statements,
            partitions=wanted,
            limit=limit_per_partition,
            ascending=ascending,
        )
        rows = len(wanted) * limit_per_partition
        return await self._read(f"scan_many of {table.name}", work, rows=rows)

    async def count(
        self,
        table: Table,
        partition: Mapping[str, Any],
        *,
        limit: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
    ) -> int:
        """How many rows of one partition lie between exclusive bounds, counting to `limit`."""
        statements = self._statements(table)
        check_limit(limit)
        parameters = [*_slice_parameters(table, partition, after, before), limit]
        sql = statements.count(after=after is not None, before=before is not None)

        def read(connection: sqlite3.Connection) -> int:
            return int(connection.execute(sql, parameters).fetchone()[0])

        return await self._read(f"count in {table.name}", read, rows=limit)

    async def put(self, table: Table, row: Mapping[str, Any]) -> None:
        """Insert or overwrite a row; value columns left out become None."""
        step = self._put_step(table, row)
        await self._write(f"put into {table.name}", _Steps([step]))

    async def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Set some value columns of one row, creating it if absent; others keep their values."""
        step = self._update_step(table, key, values)
        await self._write(f"update of {table.name}", _Steps([step]))

    async def put_if_absent(self, table: Table, row: Mapping[str, Any]) -> bool:
        """Insert a row unless its key exists (a primary-key conflict); True if inserted."""
        sql = self._statements(table).insert_if_absent
        step = (sql, encode(table.columns, row_values(table, row)))
        changed = await self._write(f"insert into {table.name}", _Steps([step]))
        return changed == 1

    async def update_if(
        self,
        table: Table,
        key: Mapping[str, Any],
        values: Mapping[str, Any],
        expected: Mapping[str, Any],
    ) -> bool:
        """Set some value columns of an existing row if `expected` holds; True if set."""
        self._statements(table)
        columns, parameters = update_values(table, key, values)
        compared, wanted = expected_values(table, expected)
        keys = len(table.key)
        sql = update_if_sql(table, columns, compared)
        step = (
            sql,
            (
                *encode(columns, parameters[keys:]),
                *encode(table.key, parameters[:keys]),
                *encode(compared, wanted),
            ),
        )
        changed = await self._write(f"update of {table.name}", _Steps([step]))
        return changed == 1

    async def scan_table(
        self, table: Table, *, limit: int, cursor: bytes | None = None
    ) -> tuple[list[Row], bytes | None]:
        """A page of the whole table in primary key order; the cursor is the page's last key."""
        self._statements(table)
        check_limit(limit)
        after = (
            []
            if cursor is None
            else decode_cursor(unwrap_cursor(table.name, cursor), len(table.key))
        )
        sql = scan_table_sql(table, after=cursor is not None)
        parameters = [*after, limit]

        def read(connection: sqlite3.Connection) -> list[Row]:
            rows = connection.execute(sql, parameters).fetchall()
            return [decode(table.columns, stored) for stored in rows]

        rows = await self._read(f"walk of {table.name}", read)
        if len(rows) < limit:
            return rows, None
        last = encode(table.key, [rows[-1][c.name] for c in table.key])
        return rows, wrap_cursor(table.name, encode_cursor(last))

    async def swap_value(
        self, table: Table, key: Mapping[str, Any], column: str, old: Any, new: Any
    ) -> bool:
        """Set one column to `new` where it still holds `old` (one UPDATE on the writer)."""
        self._statements(table)
        target, keys = swap_values(table, key, column, old, new)
        parameters = (
            *encode((target,), (new,)),
            *encode(table.key, keys),
            *encode((target,), (old,)),
        )
        step = (swap_sql(table, target), parameters)
        return await self._write(f"swap in {table.name}", _Steps([step])) == 1

    async def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        """Delete the row with this full primary key, if any."""
        step = self._delete_step(table, key)
        await self._write(f"delete in {table.name}", _Steps([step]))

    async def delete_partition(self, table: Table, partition: Mapping[str, Any]) -> None:
        """Delete every row of one partition."""
        sql = self._statements(table).delete_partition
        step = (sql, encode(table.partition_key, partition_values(table, partition)))
        await self._write(f"partition delete in {table.name}", _Steps([step]))

    async def batch(self, ops: Sequence[Put | Delete | Update]) -> None:
        """Apply puts, deletes and updates in one transaction: all of them or none."""
        # Every op is checked before the first runs, so bad input never half-applies.
        steps = []
        for op in ops:
            if isinstance(op, Put):
                steps.append(self._put_step(op.table, op.row))
            elif isinstance(op, Delete):
                steps.append(self._delete_step(op.table, op.key))
            elif isinstance(op, Update):
                steps.append(self._update_step(op.table, op.key, op.values))
            else:
                raise TypeError(f"a batch holds Put, Delete and Update, got {type(op).__name__}")
        if steps:
            await self._write("batch", _Steps(steps))

    async def checkpoint(self) -> None:
        """Copy every WAL frame into the database file and truncate the WAL to zero bytes."""

        def run(connection: sqlite3.Connection) -> bool:
            blocked, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return bool(blocked)

        # A reader still on an older snapshot keeps frames (old row versions) in the WAL;
        # saying so beats a silent partial checkpoint when erasure must be proved.
        if await self._write("checkpoint", run):
            raise StoreError(f"SQLite checkpoint at {self._path} was blocked by a reader")

    async def ping(self) -> None:
        """Return when a reader connection answers a query."""
        await self._read("ping", lambda connection: connection.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        """Finish queued work, then close every connection; later calls raise StoreError."""
        if self._closed:
            return
        self._closed = True
        # Keeps the query planner's statistics fresh for the next open; best effort.
        with suppress(sqlite3.Error):
            await self._writer.run(lambda connection: connection.execute("PRAGMA optimize"))
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._closed = True
        self._readers.shutdown()
        self._writer.shutdown()
        if self._in_place is not None:
            self._in_place.close()

    def _statements(self, table: Table) -> Statements:
        compiled = self._tables.get(table.name)
        if compiled is None or (compiled.table is not table and compiled.table != table):
            raise StoreError(f"table {table.name} is not declared in the store at {self._path}")
        return compiled.statements

    def _put_step(self, table: Table, row: Mapping[str, Any]) -> Step:
        sql = self._statements(table).upsert
        return sql, encode(table.columns, row_values(table, row))

    def _delete_step(self, table: Table, key: Mapping[str, Any]) -> Step:
        sql = self._statements(table).delete
        return sql, encode(table.key, key_values(table, key))

    def _update_step(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> Step:
        self._statements(table)  # refuses a table the store was not opened with
        columns, parameters = update_values(table, key, values)
        sql = self._updates.get((table.name, columns))
        if sql is None:
            sql = self._updates[(table.name, columns)] = update_sql(table, columns)
        return sql, encode((*table.key, *columns), parameters)

    async def _read(
        self, what: str, work: Callable[[sqlite3.Connection], T], *, rows: int | None = None
    ) -> T:
        """Run a read: in place when it returns or counts at most `rows` rows and that is few
        enough, else in a reader thread."""
        in_place = self._in_place
        if rows is not None and in_place is not None and not self._closed:
            try:
                connection = in_place.take(rows)
                if connection is not None:
                    return work(connection)
            except (sqlite3.Error, OSError) as error:
                if not (isinstance(error, sqlite3.Error) and busy(error)):
                    raise self._failed(what, error) from error
                # Locked by a connection that has the file to itself for a moment: a
                # reader thread waits for the lock, the loop does not.
        return await self._run(self._readers, what, work)

    async def _write(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._volume is not None and not self._closed:
            self._volume.check_write()
        return await self._run(self._writer, what, work)

    async def _run(
        self, threads: ConnectionThreads, what: str, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        # Checked and submitted with no await between, so close() cannot slip in.
        if self._closed:
            raise StoreError(f"the SQLite store at {self._path} is closed")
        try:
            return await threads.run(work)
        except (sqlite3.Error, OSError) as error:
            raise self._failed(what, error) from error

    def _failed(self, what: str, error: sqlite3.Error | OSError) -> StoreError:
        if _out_of_space(error):
            # SQLite rolled the transaction back: nothing of the write was applied.
            if self._volume is not None:
                return self._volume.failed(error)
            return StorageFull(f"SQLite {what} at {self._path}: {error}")
        return StoreError(f"SQLite {what} at {self._path} failed: {error}")


def _out_of_space(error: BaseException) -> bool:
    """SQLITE_FULL ("database or disk is full"), or the OS's ENOSPC or EDQUOT."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return bool(code & 0xFF == sqlite3.SQLITE_FULL)
        return "database or disk is full" in str(error)
    return is_out_of_space(error)


def _slice_parameters(
    table: Table,
    partition: Mapping[str, Any],
    after: Sequence[Any] | None,
    before: Sequence[Any] | None,
) -> list[Any]:
    # The partition key, then each bound given: the parameters of a scan or count but its limit.
    parameters = [*encode(table.partition_key, partition_values(table, partition))]
    for bound in (after, before):
        if bound is not None:
            parameters += encode(table.clustering, bound_values(table, bound))
    return parameters
