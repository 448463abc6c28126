"""Rows as cassandra-driver returns them, as the Store's Python values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from persistence.declare import Column, ColumnType, Row


def decode(columns: Sequence[Column], stored: Sequence[Any]) -> Row:
    """A row in column order as values by name: aware UTC timestamps, bytes for blobs."""
    row: Row = {}
    for column, value in zip(columns, stored, strict=True):
        if value is None:
            row[column.name] = None
        elif column.type is ColumnType.TIMESTAMP:
            # The driver gives naive UTC datetimes; the Store contract gives aware ones.
            row[column.name] = value.replace(tzinfo=UTC)
        elif column.type is ColumnType.BLOB:
            row[column.name] = bytes(value)
        else:
            row[column.name] = value
    return row
