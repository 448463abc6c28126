"""ScyllaStore: the distributed Store, on ScyllaDB (or Apache Cassandra) via cassandra-driver.

Every statement is prepared (compiled once from the declarations in persistence/scylla/cql.py)
and routed token-aware to a replica of its partition. Reads page by the driver's paging
state. A batch touching one partition is UNLOGGED (applied atomically and in isolation on
each replica); one touching several is LOGGED, so the batchlog applies all of it or, after
a coordinator failure, replays the rest: never half a change. `put_if_absent` is the only
lightweight transaction (Paxos), used by the unique claims: tokens, download claims,
one-time URLs, leases. Plain writes are marked idempotent (the same values, the same client
timestamp), so the driver may retry them on another replica; a lightweight transaction is
not retried, and an unknown outcome is reported as StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cassandra.cluster import Cluster, ResponseFuture, Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from persistence.declare import Row, Table
from persistence.migrations import MIGRATIONS, Migration, check_migrations, declared_tables
from persistence.scylla import cql
from persistence.scylla.codec import decode
from persistence.scylla.merge import fold
from persistence.scylla.schema import RESERVED_TABLES, Schema
from persistence.scylla.session import ScyllaConfig, connect, run, run_page, store_error
from persistence.store import Delete, Put, StoreError, Update
from persistence.table_cursor import unwrap_cursor, wrap_cursor
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

# Rows asked for per page; a scan's limit below this takes one round trip.
PAGE_ROWS = 1000
# Reads one call may have in flight at once (get_many, scan_many).
FAN_OUT = 64
# A statement, its bind values, and the partition it writes (values of the partition key).
_Step = tuple[PreparedStatement, Sequence[Any], tuple[Any, ...]]


def _known(migrations: Sequence[Migration], extra: Sequence[Table]) -> dict[str, Table]:
    check_migrations(migrations)
    known: dict[str, Table] = {}
    for table in (*declared_tables(migrations), *extra):
        if table.name in RESERVED_TABLES:
            raise ValueError(f"table name {table.name!r} is reserved by the ScyllaDB engine")
        if table.name in known and known[table.name] != table:
            raise ValueError(f"table {table.name!r} is declared twice, differently")
        known[table.name] = table
    return known


class ScyllaStore:
    """The Store on a ScyllaDB or Cassandra cluster; open it with `ScyllaStore.open`."""

    def __init__(
        self, cluster: Cluster, session: Session, config: ScyllaConfig, tables: dict[str, Table]
    ) -> None:
        self._cluster = cluster
        self._session = session
        self._config = config
        self._ks = config.keyspace
        self._tables = tables
        self._prepared: dict[str, asyncio.Future[PreparedStatement]] = {}
        self._texts: dict[tuple[Any, ...], str] = {}
        # Statements prepared already: the common path takes no future.
        self._ready: dict[str, PreparedStatement] = {}
        self._closed = False

    @property
    def keyspace(self) -> str:
        return self._ks

    @classmethod
    async def open(
        cls,
        config: ScyllaConfig,
        tables: Sequence[Table] | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
        clock: Callable[[], float] = time.time,
    ) -> ScyllaStore:
        """Connect, create the keyspace if absent, apply pending migrations (one node at a
        time), create `tables` if absent (tests, scratch tables) and check every table."""
        known = _known(migrations, tables or ())
        cluster, session = await asyncio.to_thread(connect, config)
        try:
            schema = Schema(cluster, session, config)
            await schema.ensure_keyspace()
            extra = [table for table in tables or () if table not in declared_tables(migrations)]
            await schema.migrate(migrations, extra, clock)
            await schema.check(list(known.values()))
        except BaseException:
            await asyncio.to_thread(cluster.shutdown)
            raise
        return cls(cluster, session, config, known)

    # --- reads -------------------------------------------------------------------------

    async def get(self, table: Table, key: Mapping[str, Any]) -> Row | None:
        """The row with this full primary key, or None."""
        statement = await self._statement(table, self._cql(cql.select_by_key_cql, table))
        rows = await self._rows(f"get from {table.name}", statement, key_values(table, key), 1)
        return decode(table.columns, rows[0]) if rows else None

    async def get_many(self, table: Table, keys: Sequence[Mapping[str, Any]]) -> list[Row | None]:
        """Each key read by its own token-aware request, concurrently; repeated keys once."""
        self._table(table)
        wanted = many_keys(table, keys)
        if not wanted:
            return []
        statement = await self._statement(table, self._cql(cql.select_by_key_cql, table))
        distinct = list(dict.fromkeys(wanted))

        async def one(values: tuple[Any, ...]) -> Row | None:
            rows = await self._rows(f"get_many from {table.name}", statement, values, 1)
            return decode(table.columns, rows[0]) if rows else None

        found = dict(zip(distinct, await self._gather([one(v) for v in distinct]), strict=True))
        # Repeated keys get rows of their own, which a caller may change apart.
        return [None if (row := found[values]) is None else dict(row) for values in wanted]

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
        self._table(table)
        check_limit(limit)
        parameters = [*_slice(table, partition, after, before), limit]
        text = self._cql(cql.scan_cql, table, after is not None, before is not None, reverse)
        statement = await self._statement(table, text)
        rows = await self._rows(f"scan of {table.name}", statement, parameters, limit)
        return [decode(table.columns, stored) for stored in rows[:limit]]

    async def scan_many(
        self,
        table: Table,
        partitions: Sequence[Mapping[str, Any]],
        *,
        limit_per_partition: int,
        reverse: bool = False,
    ) -> list[list[Row]]:
        """One token-aware scan per distinct partition, concurrently, in the order given."""
        self._table(table)
        check_limit(limit_per_partition, "limit_per_partition")
        wanted = many_partitions(table, partitions)
        if not wanted:
            return []
        text = self._cql(cql.scan_cql, table, False, False, reverse)
        statement = await self._statement(table, text)
        distinct = list(dict.fromkeys(wanted))
        limit = limit_per_partition

        async def one(values: tuple[Any, ...]) -> list[Row]:
            rows = await self._rows(
                f"scan_many of {table.name}", statement, [*values, limit], limit
            )
            return [decode(table.columns, stored) for stored in rows[:limit]]

        found = dict(zip(distinct, await self._gather([one(v) for v in distinct]), strict=True))
        return [[dict(row) for row in found[values]] for values in wanted]

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
        self._table(table)
        check_limit(limit)
        parameters = [*_slice(table, partition, after, before), limit]
        text = self._cql(cql.count_cql, table, after is not None, before is not None)
        statement = await self._statement(table, text)
        rows = await self._rows(f"count in {table.name}", statement, parameters, limit)
        return min(len(rows), limit)

    # --- writes ------------------------------------------------------------------------

    async def put(self, table: Table, row: Mapping[str, Any]) -> None:
        """Insert or overwrite a row; value columns left out become None."""
        statement, values, _ = await self._put(table, row)
        await self._rows(f"put into {table.name}", statement, values)

    async def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Set some value columns of one row, creating it if absent; others keep their values."""
        statement, parameters, _ = await self._update(table, key, values)
        await self._rows(f"update of {table.name}", statement, parameters)

    async def put_if_absent(self, table: Table, row: Mapping[str, Any]) -> bool:
        """A lightweight transaction: insert unless the key exists; True if inserted."""
        values = row_values(table, row)
        statement = await self._statement(table, self._cql(cql.insert_cql, table, True), lwt=True)
        rows = await self._rows(f"insert into {table.name}", statement, values)
        return bool(rows and rows[0][0])

    async def update_if(
        self,
        table: Table,
        key: Mapping[str, Any],
        values: Mapping[str, Any],
        expected: Mapping[str, Any],
    ) -> bool:
        """A lightweight transaction: set some columns of an existing row if `expected` holds."""
        columns, parameters = update_values(table, key, values)
        compared, wanted = expected_values(table, expected)
        keys = len(table.key)
        text = self._cql(cql.update_if_cql, table, columns, compared)
        statement = await self._statement(table, text, lwt=True)
        bound = (*parameters[keys:], *parameters[:keys], *wanted)
        rows = await self._rows(f"conditional update of {table.name}", statement, bound)
        return bool(rows and rows[0][0])

    async def scan_table(
        self, table: Table, *, limit: int, cursor: bytes | None = None
    ) -> tuple[list[Row], bytes | None]:
        """A page of the whole table in token order; the cursor is the driver's paging state."""
        check_limit(limit)
        state = None if cursor is None else unwrap_cursor(table.name, cursor)
        statement = await self._statement(table, self._cql(cql.scan_table_cql, table))
        bound = statement.bind(())
        bound.fetch_size = limit
        self._check_open()

        def start() -> ResponseFuture:
            return self._session.execute_async(bound, paging_state=state)

        rows, following = await run_page(start, f"walk of {table.name}")
        next_cursor = None if following is None else wrap_cursor(table.name, following)
        return [decode(table.columns, stored) for stored in rows], next_cursor

    async def swap_value(
        self, table: Table, key: Mapping[str, Any], column: str, old: Any, new: Any
    ) -> bool:
        """Read the value and its write time; if it is `old`, write `new` one microsecond
        after it: a later write or delete (a later timestamp) always wins over the swap, and
        the swap never revives a deleted row (its tombstone is later too)."""
        target, keys = swap_values(table, key, column, old, new)
        read = await self._statement(table, self._cql(cql.select_written_cql, table, target))
        rows = await self._rows(f"read of {table.name}", read, keys, 1)
        if not rows or rows[0][0] is None or rows[0][1] is None:
            return False
        stored = decode((target,), rows[0][:1])[target.name]
        if stored != old:
            return False
        written = await self._statement(table, self._cql(cql.swap_cql, table, target))
        await self._rows(f"swap in {table.name}", written, (rows[0][1] + 1, new, *keys))
        return True

    async def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        """Delete the row with this full primary key, if any."""
        statement, values, _ = await self._delete(table, key)
        await self._rows(f"delete in {table.name}", statement, values)

    async def delete_partition(self, table: Table, partition: Mapping[str, Any]) -> None:
        """Delete every row of one partition (one partition tombstone)."""
        values = partition_values(table, partition)
        statement = await self._statement(table, self._cql(cql.delete_partition_cql, table))
        await self._rows(f"partition delete in {table.name}", statement, values)

    async def batch(self, ops: Sequence[Put | Delete | Update]) -> None:
        """All of `ops` or none: UNLOGGED within one partition, LOGGED across several."""
        steps: list[tuple[PreparedStatement, Sequence[Any]]] = []
        partitions: set[tuple[str, Sequence[Any]]] = set()
        for op in fold(ops):
            if isinstance(op, Put):
                step = await self._put(op.table, op.row)
            elif isinstance(op, Delete):
                step = await self._delete(op.table, op.key)
            elif isinstance(op, Update):
                step = await self._update(op.table, op.key, op.values)
            else:
                raise TypeError(f"a batch holds Put, Delete and Update, got {type(op).__name__}")
            steps.append((step[0], step[1]))
            partitions.add((op.table.name, step[2]))
        if not steps:
            return
        if len(steps) == 1:
            await self._rows("batch", steps[0][0], steps[0][1])
            return
        kind = BatchType.UNLOGGED if len(partitions) == 1 else BatchType.LOGGED
        batch = BatchStatement(batch_type=kind, consistency_level=self._config.level)
        for statement, values in steps:
            batch.add(statement, values)
        batch.is_idempotent = True
        await self._execute("batch", batch, None)

    async def ping(self) -> None:
        """Return when a node answers a query."""
        self._check_open()
        await run(
            lambda: self._session.execute_async("SELECT release_version FROM system.local"),
            "ping",
        )

    async def close(self) -> None:
        """Close every connection; later calls raise StoreError."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._cluster.shutdown)

    # --- helpers -----------------------------------------------------------------------

    def _table(self, table: Table) -> None:
        known = self._tables.get(table.name)
        if known is None or (known is not table and known != table):
            raise StoreError(f"table {table.name} is not declared in keyspace {self._ks}")

    def _cql(self, compile_: Callable[..., str], table: Table, *flags: Any) -> str:
        """The text of a statement, compiled once per table and variant."""
        key = (compile_, table.name, flags)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = compile_(table, self._ks, *flags)
        return text

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the ScyllaDB store on keyspace {self._ks} is closed")

    async def _statement(self, table: Table, text: str, lwt: bool = False) -> PreparedStatement:
        """The prepared form of `text`, prepared once per store (concurrent first uses share
        one preparation)."""
        self._table(table)
        self._check_open()
        ready = self._ready.get(text)
        if ready is not None:
            return ready
        future = self._prepared.get(text)
        if future is None:
            future = self._prepared[text] = asyncio.ensure_future(self._prepare(text, lwt))
            future.add_done_callback(lambda done: self._forget_failed(text, done))
        return await asyncio.shield(future)

    def _forget_failed(self, text: str, done: asyncio.Future[PreparedStatement]) -> None:
        if done.cancelled() or done.exception() is not None:
            self._prepared.pop(text, None)

    async def _prepare(self, text: str, lwt: bool) -> PreparedStatement:
        try:
            statement = await asyncio.to_thread(self._session.prepare, text)
        except Exception as error:
            raise store_error("prepare", error) from error
        statement.consistency_level = self._config.level
        statement.serial_consistency_level = self._config.serial_level
        # A lightweight transaction retried after a timeout could report "not applied" for
        # its own first attempt: never retried. Plain upserts and reads are.
        statement.is_idempotent = not lwt
        self._ready[text] = statement
        return statement

    async def _put(self, table: Table, row: Mapping[str, Any]) -> _Step:
        values = row_values(table, row)
        statement = await self._statement(table, self._cql(cql.insert_cql, table))
        return statement, values, values[: len(table.partition_key)]

    async def _delete(self, table: Table, key: Mapping[str, Any]) -> _Step:
        values = key_values(table, key)
        statement = await self._statement(table, self._cql(cql.delete_cql, table))
        return statement, values, values[: len(table.partition_key)]

    async def _update(
        self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
    ) -> _Step:
        columns, parameters = update_values(table, key, values)
        # update_values gives the key first; the UPDATE binds the values first.
        keys = len(table.key)
        text = self._cql(cql.update_cql, table, columns)
        statement = await self._statement(table, text)
        partition = tuple(parameters[: len(table.partition_key)])
        return statement, (*parameters[keys:], *parameters[:keys]), partition

    async def _rows(
        self,
        what: str,
        statement: PreparedStatement,
        values: Sequence[Any],
        want: int | None = None,
    ) -> list[Sequence[Any]]:
        bound = statement.bind(values)
        bound.fetch_size = min(want, PAGE_ROWS) if want else PAGE_ROWS
        return await self._execute(what, bound, want)

    async def _execute(self, what: str, statement: Any, want: int | None) -> list[Sequence[Any]]:
        self._check_open()

        def start() -> ResponseFuture:
            return self._session.execute_async(statement)

        return await run(start, what, want)

    async def _gather(self, calls: Sequence[Any]) -> list[Any]:
        limit = asyncio.Semaphore(FAN_OUT)

        async def bounded(call: Any) -> Any:
            async with limit:
                return await call

        return list(await asyncio.gather(*(bounded(call) for call in calls)))


def _slice(
    table: Table,
    partition: Mapping[str, Any],
    after: Sequence[Any] | None,
    before: Sequence[Any] | None,
) -> list[Any]:
    parameters = [*partition_values(table, partition)]
    for bound in (after, before):
        if bound is not None:
            parameters += bound_values(table, bound)
    return parameters
