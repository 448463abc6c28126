"""Python values to SQLite values and back: bools as 0/1, timestamps as milliseconds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from persistence.declare import Column, ColumnType, Row
from persistence.timestamps import from_millis, to_millis

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _to_int(value: Any) -> Any:
    return None if value is None else int(value)


def _to_bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _to_millis(value: Any) -> Any:
    return None if value is None else to_millis(value)


def _from_millis(value: Any) -> Any:
    return None if value is None else from_millis(value)


_ENCODERS: dict[ColumnType, Convert] = {
    ColumnType.TEXT: _same,
    ColumnType.BLOB: _same,
    ColumnType.BIGINT: _same,
    ColumnType.BOOLEAN: _to_int,
    ColumnType.TIMESTAMP: _to_millis,
}
_DECODERS: dict[ColumnType, Convert] = {
    ColumnType.TEXT: _same,
    ColumnType.BLOB: _same,
    ColumnType.BIGINT: _same,
    ColumnType.BOOLEAN: _to_bool,
    ColumnType.TIMESTAMP: _from_millis,
}


_AS_IS = (ColumnType.TEXT, ColumnType.BLOB, ColumnType.BIGINT)


def encode(columns: Sequence[Column], values: Sequence[Any]) -> tuple[Any, ...]:
    """Checked Python values, in column order, as SQLite parameters."""
    text, blob, bigint = _AS_IS
    return tuple(
        value
        if value is None or (kind := column.type) is text or kind is blob or kind is bigint
        else _ENCODERS[kind](value)
        for column, value in zip(columns, values, strict=True)
    )


def decode(columns: Sequence[Column], stored: Sequence[Any]) -> Row:
    """A row as SQLite returns it, in column order, as Python values by name."""
    return {
        column.name: _DECODERS[column.type](value)
        for column, value in zip(columns, stored, strict=True)
    }
