"""Rows and records convert by name: a record's field names equal its table's column names."""

from __future__ import annotations

from dataclasses import asdict, fields
from functools import cache
from typing import Any, TypeVar

from persistence.declare import Row

R = TypeVar("R")


def from_row(cls: type[R], row: Row, **extra: Any) -> R:
    """Build a record from a row (and values the row's table does not hold)."""
    values = {name: row[name] for name in _field_names(cls) if name in row}  # type: ignore[arg-type]
    return cls(**{**values, **extra})


@cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    # Read once per record class: a page converts dozens of rows of one class.
    return tuple(f.name for f in fields(cls))


def to_row(record: Any, *names: str) -> Row:
    """The named fields of a record as a row (all of them when no names are given)."""
    values: Row = asdict(record)
    return {name: values[name] for name in names} if names else values
