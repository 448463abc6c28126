"""Applying migrations to a SQLite database, and checking its tables match declarations."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from persistence.declare import Copy, Table
from persistence.migrations import Migration, pending
from persistence.sqlite.codec import decode, encode
from persistence.sqlite.compile import SQL_TYPES, compile_table, create_table_sql, select_all_sql
from persistence.store import StoreError
from persistence.validate import row_values

MIGRATIONS_TABLE = "cove_migrations"
_CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS cove_migrations "
    "(number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)


def migrate(
    connection: sqlite3.Connection,
    migrations: Sequence[Migration],
    extra_tables: Sequence[Table],
    now_millis: int,
) -> tuple[Migration, ...]:
    """Apply pending migrations and create `extra_tables` in one transaction; return applied."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_CREATE_MIGRATIONS)
        applied = connection.execute("SELECT number, name FROM cove_migrations").fetchall()
        todo = pending(migrations, [(number, name) for number, name in applied])
        for migration in todo:
            for table in migration.creates:
                connection.execute(create_table_sql(table))
            for copy in migration.copies:
                _copy(connection, copy)
            connection.execute(
                "INSERT INTO cove_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (migration.number, migration.name, now_millis),
            )
        for table in extra_tables:
            connection.execute(create_table_sql(table, if_not_exists=True))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return todo


def _copy(connection: sqlite3.Connection, copy: Copy) -> None:
    """Every row of the source, converted, upserted into the target (in the migration's
    transaction; a migration runs once, at a start, so reading the whole table is fine)."""
    source, target = copy.source, copy.target
    upsert = compile_table(target).upsert
    rows = connection.execute(select_all_sql(source))
    while batch := rows.fetchmany(1000):
        converted = [
            encode(target.columns, row_values(target, copy.convert(decode(source.columns, row))))
            for row in batch
        ]
        connection.executemany(upsert, converted)


def check_schema(connection: sqlite3.Connection, tables: Sequence[Table]) -> None:
    """Refuse to run on tables whose columns or key differ from their declarations."""
    for table in tables:
        found = connection.execute(
            "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", (table.name,)
        ).fetchall()
        expected = [
            (column.name, SQL_TYPES[column.type], table.key.index(column) + 1)
            if column in table.key
            else (column.name, SQL_TYPES[column.type], 0)
            for column in table.columns
        ]
        if [tuple(row) for row in found] != expected:
            raise StoreError(
                f"table {table.name} in the database does not match its declaration "
                f"(found {found}, declared {expected}): a migration is missing"
            )
