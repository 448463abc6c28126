"""SQLite DDL and statements compiled from table declarations.

Only identifiers from declarations (checked against ^[a-z][a-z0-9_]*$ when declared, and
quoted) are interpolated; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from persistence.declare import Column, ColumnType, Table

SQL_TYPES = {
    ColumnType.TEXT: "TEXT",
    ColumnType.BLOB: "BLOB",
    ColumnType.BIGINT: "INTEGER",
    ColumnType.BOOLEAN: "INTEGER",  # 0 or 1
    ColumnType.TIMESTAMP: "INTEGER",  # milliseconds since the Unix epoch
}


def _names(columns: Sequence[Column]) -> str:
    return ", ".join(f'"{column.name}"' for column in columns)


def _equal(columns: Sequence[Column]) -> str:
    return " AND ".join(f'"{column.name}" = ?' for column in columns)


def _compare(columns: Sequence[Column], operator: str) -> str:
    # One column compares as itself; several compare as a row value, in tuple order.
    if len(columns) == 1:
        return f'"{columns[0].name}" {operator} ?'
    return f"({_names(columns)}) {operator} ({', '.join('?' for _ in columns)})"


# S608 below warns of interpolated values; only declared identifiers are interpolated.
def _select(table: Table, where: str, tail: str = "") -> str:
    return f'SELECT {_names(table.columns)} FROM "{table.name}" WHERE {where}{tail}'  # noqa: S608


def _insert(table: Table, verb: str, tail: str = "") -> str:
    marks = ", ".join("?" for _ in table.columns)
    return f'{verb} INTO "{table.name}" ({_names(table.columns)}) VALUES ({marks}){tail}'


def _delete(table: Table, where: str) -> str:
    return f'DELETE FROM "{table.name}" WHERE {where}'  # noqa: S608


def create_table_sql(table: Table, *, if_not_exists: bool = False) -> str:
    """The CREATE TABLE for one declaration: its key as a WITHOUT ROWID primary key."""
    key = set(table.key_names)
    columns = ", ".join(
        f'"{column.name}" {SQL_TYPES[column.type]}' + (" NOT NULL" if column.name in key else "")
        for column in table.columns
    )
    exists = "IF NOT EXISTS " if if_not_exists else ""
    return (
        f'CREATE TABLE {exists}"{table.name}" ({columns}, '
        f"PRIMARY KEY ({_names(table.key)})) WITHOUT ROWID"
    )


def update_sql(table: Table, columns: Sequence[Column]) -> str:
    """Set `columns` of one row, inserting it if absent. Parameters: the key, then the values."""
    into = (*table.key, *columns)
    marks = ", ".join("?" for _ in into)
    sets = ", ".join(f'"{column.name}" = excluded."{column.name}"' for column in columns)
    conflict = f"ON CONFLICT ({_names(table.key)}) DO UPDATE SET {sets}"
    return f'INSERT INTO "{table.name}" ({_names(into)}) VALUES ({marks}) {conflict}'  # noqa: S608


def scan_sql(table: Table, *, after: bool, before: bool, ascending: bool) -> str:
    """SELECT one partition's rows between exclusive bounds, in iteration order, LIMIT ?.

    Parameters: the partition key, then `after`'s tuple, `before`'s tuple, the limit.
    """
    if not table.clustering and (after or before):
        raise ValueError(f"{table.name} has no clustering columns to bound a scan by")
    where = [_equal(table.partition_key)]
    # "after" means later in iteration order: greater when ascending, smaller otherwise.
    if after:
        where.append(_compare(table.clustering, ">" if ascending else "<"))
    if before:
        where.append(_compare(table.clustering, "<" if ascending else ">"))
    direction = "ASC" if ascending else "DESC"
    order = ", ".join(f'"{column.name}" {direction}' for column in table.clustering)
    tail = f" ORDER BY {order} LIMIT ?" if order else " LIMIT ?"
    return _select(table, " AND ".join(where), tail)


@dataclass(frozen=True)
class Statements:
    """Every statement the store runs against one table, compiled once."""

    upsert: str
    insert_if_absent: str
    select: str
    delete: str
    delete_partition: str
    scans: Mapping[tuple[bool, bool, bool], str]

    def scan(self, *, after: bool, before: bool, ascending: bool) -> str:
        """The scan statement for this combination of bounds and direction."""
        return self.scans[after, before, ascending]


def compile_table(table: Table) -> Statements:
    """Compile every statement for `table`."""
    bounds = (False, True) if table.clustering else (False,)
    return Statements(
        upsert=_insert(table, "INSERT OR REPLACE"),
        insert_if_absent=_insert(table, "INSERT", f" ON CONFLICT ({_names(table.key)}) DO NOTHING"),
        select=_select(table, _equal(table.key)),
        delete=_delete(table, _equal(table.key)),
        delete_partition=_delete(table, _equal(table.partition_key)),
        scans={
            (after, before, ascending): scan_sql(
                table, after=after, before=before, ascending=ascending
            )
            for after in bounds
            for before in bounds
            for ascending in (True, False)
        },
    )
