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
    names, converted = _decoding(columns)
    row = dict(zip(names, stored, strict=True))
    for name, convert in converted:
        value = row[name]
        if value is not None:
            row[name] = convert(value)
    return row


# How each sequence of columns decodes (its names; the columns whose values convert), by the
# sequence's identity: a table's columns are one tuple for its life. The sequence is kept
# beside its entry, so an identity is never reused while its entry stands; entries made for
# passing sequences are dropped once there are many.
_Decoding = tuple[tuple[str, ...], tuple[tuple[str, Convert], ...]]
_decodings: dict[int, tuple[Sequence[Column], _Decoding]] = {}
_MOST_DECODINGS = 1024


def _decoding(columns: Sequence[Column]) -> _Decoding:
    known = _decodings.get(id(columns))
    if known is not None and known[0] is columns:
        return known[1]
    decoding = (
        tuple(column.name for column in columns),
        tuple(
            (column.name, _DECODERS[column.type]) for column in columns if column.type not in _AS_IS
        ),
    )
    if len(_decodings) >= _MOST_DECODINGS:
        _decodings.clear()
    _decodings[id(columns)] = (columns, decoding)
    return decoding
