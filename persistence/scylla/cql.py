"""CQL compiled from table declarations, for prepared statements; pure, with no driver.

Only identifiers from declarations (checked when declared) are interpolated; every value
is a bind marker. Every read names its partitions (one, or an IN list of them), so no
statement filters rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from persistence.declare import Column, ColumnType, Order, Table, check_name

# ScyllaDB's default max_partition_key_restrictions_per_query: longer IN lists are refused,
# so the engine splits scan_many into statements of at most this many partitions.
MAX_IN_PARTITIONS = 100

CQL_TYPES = {
    ColumnType.TEXT: "text",
    ColumnType.BLOB: "blob",
    ColumnType.BIGINT: "bigint",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.TIMESTAMP: "timestamp",
}


def _names(columns: Sequence[Column]) -> str:
    return ", ".join(column.name for column in columns)


def _equal(columns: Sequence[Column]) -> str:
    return " AND ".join(f"{column.name} = ?" for column in columns)


def _compare(columns: Sequence[Column], operator: str) -> str:
    # Several clustering columns make a multi-column slice, compared in tuple order.
    if len(columns) == 1:
        return f"{columns[0].name} {operator} ?"
    return f"({_names(columns)}) {operator} ({', '.join('?' for _ in columns)})"


def _qualified(table: Table, keyspace: str) -> str:
    check_name(keyspace, "keyspace")
    return f"{keyspace}.{table.name}"


def create_table_cql(table: Table, keyspace: str) -> str:
    """CREATE TABLE IF NOT EXISTS, with the partition key and clustering order declared."""
    columns = ", ".join(f"{column.name} {CQL_TYPES[column.type]}" for column in table.columns)
    key = ", ".join((f"({_names(table.partition_key)})", *(c.name for c in table.clustering)))
    statement = (
        f"CREATE TABLE IF NOT EXISTS {_qualified(table, keyspace)} ({columns}, PRIMARY KEY ({key}))"
    )
    if table.clustering:
        order = ", ".join(f"{column.name} {table.order.value}" for column in table.clustering)
        statement += f" WITH CLUSTERING ORDER BY ({order})"
    return statement


# S608 below warns of interpolated values; only declared identifiers are interpolated.
def _select(table: Table, keyspace: str, where: str, tail: str = "") -> str:
    columns = _names(table.columns)
    return f"SELECT {columns} FROM {_qualified(table, keyspace)} WHERE {where}{tail}"  # noqa: S608


def _delete(table: Table, keyspace: str, where: str) -> str:
    return f"DELETE FROM {_qualified(table, keyspace)} WHERE {where}"  # noqa: S608


def insert_cql(table: Table, keyspace: str, if_not_exists: bool = False) -> str:
    """INSERT of every column (an upsert), or a lightweight transaction if asked."""
    marks = ", ".join("?" for _ in table.columns)
    tail = " IF NOT EXISTS" if if_not_exists else ""
    into = f"{_qualified(table, keyspace)} ({_names(table.columns)})"
    return f"INSERT INTO {into} VALUES ({marks}){tail}"  # noqa: S608


def update_cql(table: Table, keyspace: str, columns: Sequence[Column]) -> str:
    """UPDATE of some value columns (an upsert of just those). Binds: the values, then the key."""
    sets = ", ".join(f"{column.name} = ?" for column in columns)
    where = _equal(table.key)
    return f"UPDATE {_qualified(table, keyspace)} SET {sets} WHERE {where}"  # noqa: S608


def update_if_cql(
    table: Table, keyspace: str, columns: Sequence[Column], expected: Sequence[Column]
) -> str:
    """A lightweight transaction: UPDATE some value columns of an existing row IF `expected`
    columns equal given values. Binds: the values, the key, then the expected values."""
    sets = ", ".join(f"{column.name} = ?" for column in columns)
    where = _equal(table.key)
    condition = " AND ".join(f"{column.name} = ?" for column in expected)
    return f"UPDATE {_qualified(table, keyspace)} SET {sets} WHERE {where} IF {condition}"  # noqa: S608


def scan_table_cql(table: Table, keyspace: str) -> str:
    """SELECT every row of a table, paged by the driver's paging state (token order): for
    maintenance walks only (`Store.scan_table`). No binds."""
    return f"SELECT {_names(table.columns)} FROM {_qualified(table, keyspace)}"  # noqa: S608


def select_written_cql(table: Table, keyspace: str, column: Column) -> str:
    """SELECT one value column and its write time (microseconds) by full key. Binds: the key."""
    what = f"{column.name}, WRITETIME({column.name})"
    return f"SELECT {what} FROM {_qualified(table, keyspace)} WHERE {_equal(table.key)}"  # noqa: S608


def swap_cql(table: Table, keyspace: str, column: Column) -> str:
    """UPDATE one value column with a given write time. Binds: the time, the value, the key."""
    where = _equal(table.key)
    into = f"{_qualified(table, keyspace)} USING TIMESTAMP ?"
    return f"UPDATE {into} SET {column.name} = ? WHERE {where}"  # noqa: S608


def select_by_key_cql(table: Table, keyspace: str) -> str:
    """SELECT every column of the row with a full primary key.

    get_many runs it once per key, concurrently: token-aware routing sends each to a replica
    of its row, where one multi-partition IN would load a single coordinator with them all.
    """
    return _select(table, keyspace, _equal(table.key))


def _slice(table: Table, bound_after: bool, bound_before: bool, ascending: bool) -> str:
    # The WHERE of one partition between exclusive bounds, in iteration order.
    if not table.clustering and (bound_after or bound_before):
        raise ValueError(f"{table.name} has no clustering columns to bound a scan by")
    where = [_equal(table.partition_key)]
    # "after" means later in iteration order: greater when ascending, smaller otherwise.
    if bound_after:
        where.append(_compare(table.clustering, ">" if ascending else "<"))
    if bound_before:
        where.append(_compare(table.clustering, "<" if ascending else ">"))
    return " AND ".join(where)


def _order(table: Table, ascending: bool) -> str:
    direction = "ASC" if ascending else "DESC"
    order = ", ".join(f"{column.name} {direction}" for column in table.clustering)
    return f" ORDER BY {order}" if order else ""


def scan_cql(
    table: Table, keyspace: str, bound_after: bool, bound_before: bool, reverse: bool
) -> str:
    """SELECT one partition's rows between exclusive bounds, in iteration order, LIMIT ?.

    Bind: the partition key, then the `after` tuple, the `before` tuple, the limit.
    """
    ascending = (table.order is Order.ASC) != reverse
    where = _slice(table, bound_after, bound_before, ascending)
    return _select(table, keyspace, where, f"{_order(table, ascending)} LIMIT ?")


def scan_many_cql(table: Table, keyspace: str, partitions: int, reverse: bool) -> str:
    """SELECT up to PER PARTITION LIMIT ? rows of each of `partitions` partitions.

    Bind: each partition key, then the limit. Run unpaged: with an IN on the partition key
    Scylla and Cassandra refuse ORDER BY on a paged query; partitions x limit bound the rows.
    """
    if len(table.partition_key) != 1:
        # CQL has no multi-column IN on partition key columns ("Multi-column relations can
        # only be applied to clustering columns"), and per-column INs would cross-multiply.
        raise ValueError(f"{table.name} has a composite partition key: scan each partition")
    if not 1 <= partitions <= MAX_IN_PARTITIONS:
        raise ValueError(
            f"scan_many_cql covers 1 to {MAX_IN_PARTITIONS} partitions, not {partitions}"
        )
    marks = ", ".join("?" for _ in range(partitions))
    where = f"{table.partition_key[0].name} IN ({marks})"
    # Rows of different partitions may interleave; the engine groups them by partition key.
    ascending = (table.order is Order.ASC) != reverse
    return _select(table, keyspace, where, f"{_order(table, ascending)} PER PARTITION LIMIT ?")


def count_cql(table: Table, keyspace: str, bound_after: bool, bound_before: bool) -> str:
    """SELECT the keys of up to LIMIT ? rows of one partition between exclusive bounds
    (declared order); the engine counts them. Bind: as scan_cql."""
    # COUNT(*) would ignore LIMIT (it limits the one result row) and read the whole slice.
    where = _slice(table, bound_after, bound_before, table.order is Order.ASC)
    keys = _names(table.key)
    return f"SELECT {keys} FROM {_qualified(table, keyspace)} WHERE {where} LIMIT ?"  # noqa: S608


def delete_cql(table: Table, keyspace: str) -> str:
    """DELETE the row with a full primary key."""
    return _delete(table, keyspace, _equal(table.key))


def delete_partition_cql(table: Table, keyspace: str) -> str:
    """DELETE every row of one partition."""
    return _delete(table, keyspace, _equal(table.partition_key))
