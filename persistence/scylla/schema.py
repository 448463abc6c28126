"""The keyspace, its numbered migrations and the check that its tables match declarations.

Only the keyspace name (checked as an identifier) and fixed table names are interpolated in
the statements below (hence the S608 waivers); every value is a bind marker.

Schema changes on ScyllaDB and Cassandra are not transactional, and two nodes creating the
same table at once can leave replicas disagreeing on it. So one node at a time migrates:
it claims a lock row with a lightweight transaction (with a TTL, so a node that dies
holding it frees it), creates each migration's tables, waits until every node agrees on
the schema, and only then records the migration in `cove_migrations`. A migration cut
short is simply run again: every CREATE is IF NOT EXISTS.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

from persistence.declare import Copy, Table, check_name
from persistence.migrations import Migration, pending
from persistence.scylla.codec import decode
from persistence.scylla.cql import CQL_TYPES, create_table_cql, insert_cql
from persistence.scylla.session import DRIVER_ERRORS, ScyllaConfig, run, store_error
from persistence.store import StoreError
from persistence.validate import row_values

log = logging.getLogger("cove.store")

MIGRATIONS_TABLE = "cove_migrations"
LOCK_TABLE = "cove_schema_lock"
RESERVED_TABLES = frozenset({MIGRATIONS_TABLE, LOCK_TABLE})
LOCK_TTL_SECONDS = 300
LOCK_WAIT_SECONDS = 180.0
AGREEMENT_SECONDS = 60.0
# Rows a migration's copy reads per page and writes at once.
COPY_PAGE_ROWS = 500


def keyspace_cql(config: ScyllaConfig, datacenter: str, scylla: bool) -> str:
    check_name(config.keyspace, "keyspace")
    replication = f"{{'class': 'NetworkTopologyStrategy', '{datacenter}': {config.replication}}}"
    # ScyllaDB's tablets (the default for new keyspaces since 6.0) do not serve lightweight
    # transactions in every release; the vnode layout does, so Cove asks for it.
    tablets = " AND tablets = {'enabled': false}" if scylla else ""
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {config.keyspace} WITH replication = {replication}"
        f" AND durable_writes = true{tablets}"
    )


class Schema:
    """Keyspace and table management for one session (run before the Store serves)."""

    def __init__(self, cluster: Cluster, session: Session, config: ScyllaConfig) -> None:
        self._cluster = cluster
        self._session = session
        self._config = config
        self._ks = config.keyspace

    async def execute(self, cql: str, parameters: Sequence[Any] = (), what: str = "schema") -> Any:
        return await run(lambda: self._session.execute_async(cql, parameters), what)

    async def is_scylla(self) -> bool:
        """ScyllaDB has a `system.scylla_local` table; Cassandra does not."""
        try:
            await self.execute("SELECT key FROM system.scylla_local LIMIT 1", (), "probe")
        except StoreError:
            return False
        return True

    async def ensure_keyspace(self) -> None:
        hosts = self._cluster.metadata.all_hosts()
        datacenter = self._config.datacenter or next(
            (host.datacenter for host in hosts if host.datacenter), "datacenter1"
        )
        if self._cluster.metadata.keyspaces.get(self._ks) is None:
            in_dc = sum(1 for host in hosts if host.datacenter == datacenter)
            if self._config.replication > in_dc:
                raise StoreError(
                    f"scylla_replication is {self._config.replication} but datacenter "
                    f"{datacenter!r} has {in_dc} node(s): writes at "
                    f"{self._config.consistency} would fail; lower scylla_replication or "
                    "add nodes"
                )
            await self.execute(keyspace_cql(self._config, datacenter, await self.is_scylla()))
        await self.execute(
            f"CREATE TABLE IF NOT EXISTS {self._ks}.{LOCK_TABLE} "
            "(name text PRIMARY KEY, holder text)"
        )
        await self.execute(
            f"CREATE TABLE IF NOT EXISTS {self._ks}.{MIGRATIONS_TABLE} "
            "(scope text, number bigint, name text, applied_at timestamp, "
            "PRIMARY KEY (scope, number))"
        )
        await self.agree()

    async def agree(self) -> None:
        """Wait until every live node reports the same schema version."""
        deadline = time.monotonic() + AGREEMENT_SECONDS
        control = self._cluster.control_connection
        while not await asyncio.to_thread(control.wait_for_schema_agreement, wait_time=5):
            if time.monotonic() > deadline:
                raise StoreError("the nodes did not agree on the schema within a minute")

    async def migrate(
        self, migrations: Sequence[Migration], extra: Sequence[Table], clock: Callable[[], float]
    ) -> tuple[Migration, ...]:
        """Apply pending migrations and create `extra` tables, one node at a time."""
        holder = secrets.token_hex(8)
        await self._lock(holder)
        try:
            rows = await self.execute(
                f"SELECT number, name FROM {self._ks}.{MIGRATIONS_TABLE} WHERE scope = 'cove'"  # noqa: S608
            )
            todo = pending(migrations, [(int(number), str(name)) for number, name in rows])
            for migration in todo:
                log.info("applying migration %d: %s", migration.number, migration.name)
                for table in migration.creates:
                    await self.execute(create_table_cql(table, self._ks))
                await self.agree()
                for copy in migration.copies:
                    await self._copy(copy)
                await self.execute(
                    f"INSERT INTO {self._ks}.{MIGRATIONS_TABLE} (scope, number, name, "  # noqa: S608
                    "applied_at) VALUES ('cove', %s, %s, %s)",
                    (migration.number, migration.name, int(clock() * 1000)),
                )
            for table in extra:
                await self.execute(create_table_cql(table, self._ks))
            if extra:
                await self.agree()
        finally:
            await self.execute(
                f"DELETE FROM {self._ks}.{LOCK_TABLE} WHERE name = 'migrations' IF holder = %s",  # noqa: S608
                (holder,),
            )
        return todo

    async def _copy(self, copy: Copy) -> None:
        """Every row of the source, converted and upserted into the target: a paged scan of
        the whole table, which only a migration may do (it runs once, under the lock). The
        driver's blocking paging runs in a worker thread."""
        try:
            await asyncio.to_thread(self._copy_pages, copy)
        except DRIVER_ERRORS as error:
            raise store_error(f"copy of {copy.source.name}", error) from error

    def _copy_pages(self, copy: Copy) -> None:
        source, target = copy.source, copy.target
        columns = ", ".join(column.name for column in source.columns)
        scan = SimpleStatement(
            f"SELECT {columns} FROM {self._ks}.{source.name}",  # noqa: S608
            fetch_size=COPY_PAGE_ROWS,
        )
        upsert = self._session.prepare(insert_cql(target, self._ks))
        pending: list[tuple[Any, ...]] = []
        for stored in self._session.execute(scan):
            pending.append(row_values(target, copy.convert(decode(source.columns, stored))))
            if len(pending) == COPY_PAGE_ROWS:
                execute_concurrent_with_args(self._session, upsert, pending, concurrency=64)
                pending = []
        if pending:
            execute_concurrent_with_args(self._session, upsert, pending, concurrency=64)

    async def _lock(self, holder: str) -> None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        statement = (
            f"INSERT INTO {self._ks}.{LOCK_TABLE} (name, holder) VALUES ('migrations', %s) "  # noqa: S608
            f"IF NOT EXISTS USING TTL {LOCK_TTL_SECONDS}"
        )
        while True:
            rows = await self.execute(statement, (holder,))
            if rows and rows[0][0]:
                return
            if time.monotonic() > deadline:
                raise StoreError(
                    "another Cove node has held the schema lock for three minutes; if none "
                    f"is migrating, delete the row from {self._ks}.{LOCK_TABLE}"
                )
            await asyncio.sleep(0.5)

    async def check(self, tables: Sequence[Table]) -> None:
        """Refuse tables whose columns, types or key differ from their declarations."""
        rows = await self.execute(
            "SELECT table_name, column_name, type, kind, position FROM system_schema.columns "
            "WHERE keyspace_name = %s",
            (self._ks,),
        )
        found: dict[str, set[tuple[str, str, str, int]]] = {}
        for table_name, column, type_, kind, position in rows:
            found.setdefault(table_name, set()).add((column, type_, kind, position))
        for table in tables:
            expected = {
                (column.name, CQL_TYPES[column.type], "partition_key", index)
                for index, column in enumerate(table.partition_key)
            }
            expected |= {
                (column.name, CQL_TYPES[column.type], "clustering", index)
                for index, column in enumerate(table.clustering)
            }
            expected |= {
                (column.name, CQL_TYPES[column.type], "regular", -1) for column in table.values
            }
            if found.get(table.name) != expected:
                raise StoreError(
                    f"table {self._ks}.{table.name} does not match its declaration (found "
                    f"{sorted(found.get(table.name, ()))}, declared {sorted(expected)}): a "
                    "migration is missing"
                )
