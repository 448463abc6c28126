"""Folding a batch's operations on one row into one, before they go to the cluster.

Every statement of a CQL batch carries the batch's one write timestamp, and at equal
timestamps a deletion beats a value: a Put then an Update of the same row in one batch would
keep the Put's nulls, a Delete then a Put would leave no row. Folding each row's operations
in order gives the outcome the Store contract promises (the last operation wins, as it does
in a SQLite transaction) with one statement per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persistence.declare import Table
from persistence.store import Delete, Put, Update
from persistence.validate import key_values, row_values, update_values

Op = Put | Delete | Update


def _key(op: Op) -> tuple[str, tuple[Any, ...]]:
    # Every operation is checked here, so one that a later one replaces is refused too.
    if isinstance(op, Put):
        return op.table.name, row_values(op.table, op.row)[: len(op.table.key)]
    if isinstance(op, Delete):
        return op.table.name, key_values(op.table, op.key)
    if isinstance(op, Update):
        update_values(op.table, op.key, op.values)
        return op.table.name, key_values(op.table, op.key)
    raise TypeError(f"a batch holds Put, Delete and Update, got {type(op).__name__}")


def _row_key(table: Table, key: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(table.key_names, key, strict=True))


def _then(first: Op, second: Op, key: tuple[Any, ...]) -> Op:
    """What `first` followed by `second`, on the same row, amounts to."""
    if isinstance(second, Put | Delete):
        return second  # a Put writes every column; a Delete removes them all
    if isinstance(first, Put):
        return Put(first.table, {**first.row, **second.values})
    if isinstance(first, Delete):
        # The row is gone, then some columns are set: the others are None.
        return Put(second.table, {**_row_key(second.table, key), **second.values})
    return Update(first.table, first.key, {**first.values, **second.values})


def _cheap_key(op: Op) -> tuple[str, tuple[Any, ...]]:
    # Unchecked: only to see whether two operations name one row.
    given = op.row if isinstance(op, Put) else op.key
    return op.table.name, tuple(given.get(name) for name in op.table.key_names)


def fold(ops: Sequence[Op]) -> list[Op]:
    """One operation per row, in the order rows first appear, each the sum of its row's.

    Most batches touch each row once: they go back as they came, and the engine checks each
    operation as it compiles it (once). Only a batch naming a row twice is checked here."""
    try:
        if len({_cheap_key(op) for op in ops}) == len(ops):
            return list(ops)
    except (AttributeError, TypeError):
        pass  # not an operation, or an unhashable key value: the checks below say which
    folded: dict[tuple[str, tuple[Any, ...]], Op] = {}
    for op in ops:
        key = _key(op)
        earlier = folded.get(key)
        if earlier is not None and earlier.table != op.table:
            raise ValueError(f"table {op.table.name!r} appears twice in a batch, differently")
        folded[key] = op if earlier is None else _then(earlier, op, key[1])
    return list(folded.values())
