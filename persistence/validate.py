"""Checks that rows, keys and bounds fit a declaration, before any engine sees them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from persistence.declare import Column, ColumnType, Table

_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1
_TEXT, _BLOB, _BIGINT = ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT
_TIMESTAMP = ColumnType.TIMESTAMP


def check_value(table: Table, column: Column, value: Any) -> None:
    """Refuse a value of the wrong Python type for its column; None passes."""
    # Every row of every write comes here: identity tests, and messages built only to fail.
    if value is None:
        return
    kind = column.type
    if kind is _TEXT:
        ok = isinstance(value, str)
    elif kind is _BLOB:
        ok = isinstance(value, bytes)
    elif kind is _BIGINT:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not _BIGINT_MIN <= value <= _BIGINT_MAX:
            where = f"{table.name}.{column.name}"
            raise ValueError(f"{where}: {value} does not fit a signed 64-bit integer")
    elif kind is _TIMESTAMP:
        ok = isinstance(value, datetime)
        if ok and value.utcoffset() is None:
            where = f"{table.name}.{column.name}"
            raise ValueError(f"{where}: naive datetime {value.isoformat()}; give an aware one")
    else:
        ok = isinstance(value, bool)
    if not ok:
        where = f"{table.name}.{column.name}"
        raise TypeError(f"{where} is {column.type.value}, got {type(value).__name__}")


def _check_key_value(table: Table, column: Column, value: Any, *, partition: bool) -> None:
    if value is None:
        raise ValueError(f"{table.name}.{column.name} is a key column and cannot be None")
    check_value(table, column, value)
    # Cassandra refuses an empty partition key, so no engine may accept one.
    if partition and isinstance(value, str | bytes) and not value:
        raise ValueError(f"{table.name}.{column.name} is a partition key and cannot be empty")


def _check_names(table: Table, given: Iterable[str], expected: Sequence[Column], what: str) -> None:
    names = {column.name for column in expected}
    present = set(given)
    if present != names:
        missing = sorted(names - present)
        extra = sorted(present - names)
        raise ValueError(f"{what} for {table.name} is missing {missing}, has unknown {extra}")


def _key_tuple(
    table: Table, values: Mapping[str, Any], columns: Sequence[Column]
) -> tuple[Any, ...]:
    partition = len(table.partition_key)
    for position, column in enumerate(columns):
        _check_key_value(table, column, values[column.name], partition=position < partition)
    return tuple(values[column.name] for column in columns)


def row_values(table: Table, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A full row's values in column order; value columns left out are None."""
    if not row.keys() <= table.by_name.keys():
        unknown = sorted(set(row) - set(table.by_name))
        raise ValueError(f"row for {table.name} has unknown columns {unknown}")
    missing = [name for name in table.key_names if name not in row]
    if missing:
        raise ValueError(f"row for {table.name} is missing key columns {missing}")
    key = _key_tuple(table, row, table.key)
    values = tuple(row.get(column.name) for column in table.values)
    for column, value in zip(table.values, values, strict=True):
        check_value(table, column, value)
    return key + values


def update_values(
    table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[tuple[Column, ...], tuple[Any, ...]]:
    """The value columns an update sets, in declared order, and key then value parameters."""
    if not values:
        raise ValueError(f"no columns to set in {table.name}")
    not_values = sorted(set(values) - {column.name for column in table.values})
    if not_values:
        raise ValueError(f"only value columns of {table.name} can be set, not {not_values}")
    columns = tuple(column for column in table.values if column.name in values)
    for column in columns:
        check_value(table, column, values[column.name])
    return columns, key_values(table, key) + tuple(values[column.name] for column in columns)


def swap_values(
    table: Table, key: Mapping[str, Any], column: str, old: Any, new: Any
) -> tuple[Column, tuple[Any, ...]]:
    """The value column a swap changes, checked with both values (neither None), and the key."""
    found = next((c for c in table.values if c.name == column), None)
    if found is None:
        raise ValueError(f"{table.name} has no value column {column!r}")
    if old is None or new is None:
        raise ValueError("a swap needs an old and a new value, neither None")
    check_value(table, found, old)
    check_value(table, found, new)
    return found, key_values(table, key)


def expected_values(
    table: Table, expected: Mapping[str, Any]
) -> tuple[tuple[Column, ...], tuple[Any, ...]]:
    """The value columns a conditional update compares, in declared order, and their values."""
    if not expected:
        raise ValueError(f"a conditional update of {table.name} needs an expected value")
    not_values = sorted(set(expected) - {column.name for column in table.values})
    if not_values:
        raise ValueError(f"only value columns of {table.name} can be compared, not {not_values}")
    columns = tuple(column for column in table.values if column.name in expected)
    for column in columns:
        if expected[column.name] is None:
            raise ValueError(f"{table.name}.{column.name}: an expected value cannot be None")
        check_value(table, column, expected[column.name])
    return columns, tuple(expected[column.name] for column in columns)


def key_values(table: Table, key: Mapping[str, Any]) -> tuple[Any, ...]:
    """The full primary key's values in key order."""
    _check_names(table, key, table.key, "key")
    return _key_tuple(table, key, table.key)


def partition_values(table: Table, partition: Mapping[str, Any]) -> tuple[Any, ...]:
    """The partition key's values in key order."""
    _check_names(table, partition, table.partition_key, "partition")
    return _key_tuple(table, partition, table.partition_key)


def bound_values(table: Table, bound: Sequence[Any]) -> tuple[Any, ...]:
    """A clustering bound: one value for every clustering column, in order."""
    if not table.clustering:
        raise ValueError(f"{table.name} has no clustering columns to bound a scan by")
    # Values stay out of the message: keys may be blind indexes or token hashes.
    if isinstance(bound, str | bytes) or len(bound) != len(table.clustering):
        raise ValueError(
            f"a bound for {table.name} is a sequence of {len(table.clustering)} values, "
            f"one per clustering column, not a {type(bound).__name__} of {len(bound)}"
        )
    for column, value in zip(table.clustering, bound, strict=True):
        _check_key_value(table, column, value, partition=False)
    return tuple(bound)


def many_keys(table: Table, keys: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Every full primary key's values, in the order given; one bad key refuses them all."""
    return [key_values(table, key) for key in _mappings(keys, "keys")]


def many_partitions(table: Table, partitions: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Every partition key's values, in the order given; one bad partition refuses them all."""
    return [partition_values(table, partition) for partition in _mappings(partitions, "partitions")]


def _mappings(given: Sequence[Mapping[str, Any]], what: str) -> Sequence[Mapping[str, Any]]:
    # A lone mapping would iterate as its column names and fail with a baffling message.
    if not isinstance(given, Sequence) or isinstance(given, str | bytes):
        raise TypeError(f"{what} must be a sequence of mappings, got {type(given).__name__}")
    for item in given:
        if not isinstance(item, Mapping):
            raise TypeError(f"each of {what} must be a mapping, got {type(item).__name__}")
    return given


# CQL binds LIMIT as a 32-bit int: a larger limit fails on ScyllaDB only, so every engine
# refuses it (a test on SQLite then finds what only a Cassandra node would).
MAX_LIMIT = 2**31 - 1


def check_limit(limit: int, name: str = "limit") -> None:
    """A read returns or counts at least one row per call, and at most MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"{name} must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
