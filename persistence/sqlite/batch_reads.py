"""Reads of many keys or partitions in one thread hop: a query per chunk, rows put in order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from persistence.declare import Row, Table
from persistence.sqlite.codec import decode
from persistence.sqlite.compile import Statements

Key = tuple[Any, ...]
# SQLite's defaults before 3.32 (999 bound parameters) and still (500 SELECTs in a
# UNION ALL); staying under them keeps every chunk valid on any SQLite Cove accepts.
MAX_PARAMETERS = 999
MAX_COMPOUND_SELECTS = 500


def keys_per_query(table: Table) -> int:
    """How many full primary keys one get_many query binds."""
    return min(MAX_COMPOUND_SELECTS, MAX_PARAMETERS // len(table.key))


def partitions_per_query(table: Table) -> int:
    """How many partitions one scan_many query covers: each binds its key and a limit."""
    return min(MAX_COMPOUND_SELECTS, MAX_PARAMETERS // (len(table.partition_key) + 1))


def select_keys(
    connection: sqlite3.Connection, statements: Statements, keys: Sequence[Key]
) -> list[Row | None]:
    """The row for each encoded full primary key, in order, None where there is none."""
    table = statements.table
    width = len(table.key)
    found: dict[Key, Sequence[Any]] = {}
    most = keys_per_query(table)
    chunks = _chunks(list(dict.fromkeys(keys)), most)
    with _snapshot(connection, len(chunks)):
        for chunk in chunks:
            size = _shape(len(chunk), most)
            # Padding repeats a key, which IN ignores.
            padded = [*chunk, *[chunk[-1]] * (size - len(chunk))]
            parameters = [value for key in padded for value in key]
            for stored in connection.execute(statements.get_many(size), parameters):
                found[tuple(stored[:width])] = stored
    # Decoded per occurrence, so a key asked twice gives two rows a caller may change apart.
    return [
        None if (stored := found.get(key)) is None else decode(table.columns, stored)
        for key in keys
    ]


def scan_partitions(
    connection: sqlite3.Connection,
    statements: Statements,
    partitions: Sequence[Key],
    *,
    limit: int,
    ascending: bool,
) -> list[list[Row]]:
    """Up to `limit` rows of each encoded partition key, in order, in iteration order each."""
    table = statements.table
    width = len(table.partition_key)
    unique = list(dict.fromkeys(partitions))
    found: dict[Key, list[Sequence[Any]]] = {partition: [] for partition in unique}
    most = partitions_per_query(table)
    chunks = _chunks(unique, most)
    with _snapshot(connection, len(chunks)):
        for chunk in chunks:
            size = _shape(len(chunk), most)
            # Padding scans a partition again with LIMIT 0, which returns nothing.
            scans = [(*partition, limit) for partition in chunk]
            scans += [(*chunk[-1], 0)] * (size - len(chunk))
            parameters = [value for scan in scans for value in scan]
            sql = statements.scan_many(size, ascending=ascending)
            for stored in connection.execute(sql, parameters):
                found[tuple(stored[:width])].append(stored)
    return [
        [decode(table.columns, stored) for stored in found[partition]] for partition in partitions
    ]


def _shape(count: int, most: int) -> int:
    # Statements sized in powers of two: a few shapes per table stay in each connection's
    # statement cache, where one per batch size would keep evicting the rest.
    return min(most, 1 << (count - 1).bit_length())


def _chunks(items: list[Key], size: int) -> list[list[Key]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@contextmanager
def _snapshot(connection: sqlite3.Connection, queries: int) -> Iterator[None]:
    # Queries outside a transaction may each see a different commit; one read transaction
    # makes the chunks of one call agree.
    if queries == 1:
        yield
        return
    connection.execute("BEGIN")
    try:
        yield
    finally:
        if connection.in_transaction:
            connection.execute("COMMIT")
