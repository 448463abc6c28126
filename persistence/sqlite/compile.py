"""SQLite DDL and statements compiled from table declarations.

Only identifiers from declarations (checked against ^[a-z][a-z0-9_]*$ when declared, and
quoted) are interpolated; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from persistence.declare import Column, ColumnType, Order, Table

SQL_TYPES = {
    ColumnType.TEXT: "TEXT",
    ColumnType.BLOB: "BLOB",
    ColumnType.BIGINT: "INTEGER",
    ColumnType.BOOLEAN: "INTEGER",  # 0 or 1
    ColumnType.TIMESTAMP: "INTEGER",  # milliseconds since the Unix epoch
}


def _names(columns: Sequence[Column]) -> str:
    return ", ".join(f'"{column.name}"' for column in columns)


def _check_count(count: int, what: str) -> None:
    if count < 1:
        raise ValueError(f"a statement for {count} {what} would select nothing")


def _marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


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


def update_if_sql(table: Table, columns: Sequence[Column], expected: Sequence[Column]) -> str:
    """Set `columns` of an existing row whose `expected` columns hold given values.
    Parameters: the values, the key, then the expected values."""
    sets = ", ".join(f'"{column.name}" = ?' for column in columns)
    where = " AND ".join(f'"{column.name}" = ?' for column in (*table.key, *expected))
    return f'UPDATE "{table.name}" SET {sets} WHERE {where}'  # noqa: S608


def scan_table_sql(table: Table, *, after: bool) -> str:
    """A page of a whole table in primary key order, LIMIT ?; after a key if asked.
    Parameters: the last key of the previous page (if `after`), then the limit."""
    where = _compare(table.key, ">") if after else "1"
    order = ", ".join(f'"{column.name}"' for column in table.key)
    return _select(table, where, f" ORDER BY {order} LIMIT ?")


def swap_sql(table: Table, column: Column) -> str:
    """Set one value column of a row if it still holds a given value.
    Parameters: the new value, the key, then the old value."""
    where = " AND ".join(f'"{c.name}" = ?' for c in (*table.key, column))
    return f'UPDATE "{table.name}" SET "{column.name}" = ? WHERE {where}'  # noqa: S608


def select_all_sql(table: Table) -> str:
    """Every row of a table, every column: only a migration's copy reads a whole table."""
    return f'SELECT {_names(table.columns)} FROM "{table.name}"'  # noqa: S608


def _slice(table: Table, *, after: bool, before: bool, ascending: bool) -> str:
    # The WHERE of one partition between exclusive bounds, in iteration order.
    if not table.clustering and (after or before):
        raise ValueError(f"{table.name} has no clustering columns to bound a scan by")
    where = [_equal(table.partition_key)]
    # "after" means later in iteration order: greater when ascending, smaller otherwise.
    if after:
        where.append(_compare(table.clustering, ">" if ascending else "<"))
    if before:
        where.append(_compare(table.clustering, "<" if ascending else ">"))
    return " AND ".join(where)


def _order(table: Table, *, ascending: bool) -> str:
    direction = "ASC" if ascending else "DESC"
    return ", ".join(f'"{column.name}" {direction}' for column in table.clustering)


def scan_sql(table: Table, *, after: bool, before: bool, ascending: bool) -> str:
    """SELECT one partition's rows between exclusive bounds, in iteration order, LIMIT ?.

    Parameters: the partition key, then `after`'s tuple, `before`'s tuple, the limit.
    """
    where = _slice(table, after=after, before=before, ascending=ascending)
    order = _order(table, ascending=ascending)
    tail = f" ORDER BY {order} LIMIT ?" if order else " LIMIT ?"
    return _select(table, where, tail)


def count_sql(table: Table, *, after: bool, before: bool) -> str:
    """COUNT up to LIMIT ? rows of one partition between exclusive bounds, in declared order.

    Parameters: the partition key, then `after`'s tuple, `before`'s tuple, the limit.
    """
    ascending = table.order is Order.ASC
    where = _slice(table, after=after, before=before, ascending=ascending)
    # The inner LIMIT stops the count early; COUNT(*) ... LIMIT would limit the one result row.
    return f'SELECT COUNT(*) FROM (SELECT 1 FROM "{table.name}" WHERE {where} LIMIT ?)'  # noqa: S608


def get_many_sql(table: Table, keys: int) -> str:
    """SELECT the rows with any of `keys` full primary keys. Parameters: each key in turn."""
    _check_count(keys, "keys")
    if len(table.key) == 1:
        return _select(table, f'"{table.key[0].name}" IN ({_marks(keys)})')
    rows = ", ".join(f"({_marks(len(table.key))})" for _ in range(keys))
    # Row values IN (VALUES ...) scan the whole table (SQLite 3.40); IN a subquery they search
    # the primary key, once casts give each column its affinity (a no-op on checked values).
    casts = ", ".join(
        f'CAST("column{n}" AS {SQL_TYPES[column.type]})' for n, column in enumerate(table.key, 1)
    )
    subquery = f"SELECT {casts} FROM (VALUES {rows})"  # noqa: S608
    return _select(table, f"({_names(table.key)}) IN ({subquery})")


def scan_many_sql(table: Table, partitions: int, *, ascending: bool) -> str:
    """Up to LIMIT ? rows of each of `partitions` partitions, in iteration order per partition.

    Parameters: each partition key followed by the limit, in turn.
    """
    _check_count(partitions, "partitions")
    # One LIMITed primary-key search per partition: a ROW_NUMBER() window over an IN list
    # would read and sort every row of every partition before dropping all but the first few.
    scan = scan_sql(table, after=False, before=False, ascending=ascending)
    union = " UNION ALL ".join(f"SELECT * FROM ({scan})" for _ in range(partitions))  # noqa: S608
    order = _order(table, ascending=ascending)
    return f"{union} ORDER BY {order}" if order else union


@dataclass(frozen=True)
class Statements:
    """Every statement the store runs against one table, compiled once."""

    upsert: str
    insert_if_absent: str
    select: str
    delete: str
    delete_partition: str
    scans: Mapping[tuple[bool, bool, bool], str]
    counts: Mapping[tuple[bool, bool], str]
    table: Table
    # Batched reads, by shape, compiled on first use: (keys, None) or (partitions, ascending).
    _many: dict[tuple[int, bool | None], str] = field(default_factory=dict, compare=False)

    def get_many(self, keys: int) -> str:
        """`get_many_sql` for `keys` keys, compiled once per store."""
        sql = self._many.get((keys, None))
        if sql is None:
            sql = self._many[keys, None] = get_many_sql(self.table, keys)
        return sql

    def scan_many(self, partitions: int, *, ascending: bool) -> str:
        """`scan_many_sql` for `partitions` partitions, compiled once per store."""
        sql = self._many.get((partitions, ascending))
        if sql is None:
            sql = self._many[partitions, ascending] = scan_many_sql(
                self.table, partitions, ascending=ascending
            )
        return sql

    def scan(self, *, after: bool, before: bool, ascending: bool) -> str:
        """The scan statement for this combination of bounds and direction."""
        return self.scans[after, before, ascending]

    def count(self, *, after: bool, before: bool) -> str:
        """The count statement for this combination of bounds."""
        return self.counts[after, before]


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
        counts={
            (after, before): count_sql(table, after=after, before=before)
            for after in bounds
            for before in bounds
        },
        table=table,
    )
