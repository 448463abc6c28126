"""The cursor of a whole-table walk (`Store.scan_table`): each engine's position (SQLite: the
last key of a page; ScyllaDB: the driver's paging state) in a checked wrapper.

Cursors are stored by maintenance jobs to resume after a restart. The wrapper names the
table and carries a checksum, so a damaged cursor, or one of another table, is refused here
rather than sent on (a Cassandra node closes the connection on a malformed paging state).
The SQLite position is plain JSON (never pickle) of the key's SQLite values: text, integers
and bytes (as hex), each tagged with its kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

_MAX_BYTES = 64 * 1024
_MAGIC = b"cove-walk/1:"
_CHECK_BYTES = 16


def _check(table: str, position: bytes) -> bytes:
    return hashlib.sha256(table.encode() + b"\x00" + position).digest()[:_CHECK_BYTES]


def wrap_cursor(table: str, position: bytes) -> bytes:
    """A cursor for `table` holding an engine's position."""
    return _MAGIC + _check(table, position) + position


def unwrap_cursor(table: str, cursor: bytes) -> bytes:
    """The engine's position in a cursor of `table`; ValueError for anything else."""
    if not isinstance(cursor, bytes) or len(cursor) > _MAX_BYTES or not cursor.startswith(_MAGIC):
        raise ValueError("not a table cursor")
    check, position = (
        cursor[len(_MAGIC) : len(_MAGIC) + _CHECK_BYTES],
        cursor[len(_MAGIC) + _CHECK_BYTES :],
    )
    if not position or check != _check(table, position):
        raise ValueError(f"not a cursor of {table}, or a damaged one")
    return position


def encode_cursor(values: Sequence[Any]) -> bytes:
    """The cursor after a row whose key has these SQLite values."""
    tagged: list[list[Any]] = []
    for value in values:
        if isinstance(value, bytes):
            tagged.append(["b", value.hex()])
        elif isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"a key value of type {type(value).__name__} has no cursor form")
        else:
            tagged.append(["i" if isinstance(value, int) else "s", value])
    return json.dumps(tagged, separators=(",", ":")).encode()


def decode_cursor(cursor: bytes, columns: int) -> list[Any]:
    """The key values a cursor holds; ValueError for anything else (a cursor of another
    table, a damaged one)."""
    if not isinstance(cursor, bytes) or len(cursor) > _MAX_BYTES:
        raise ValueError("not a table cursor")
    try:
        tagged = json.loads(cursor)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("not a table cursor") from None
    if not isinstance(tagged, list) or len(tagged) != columns:
        raise ValueError(f"a table cursor here holds {columns} key values")
    values: list[Any] = []
    for item in tagged:
        match item:
            case ["b", str(text)]:
                values.append(bytes.fromhex(text))
            case ["i", int(number)] if not isinstance(number, bool):
                values.append(number)
            case ["s", str(text)]:
                values.append(text)
            case _:
                raise ValueError("not a table cursor")
    return values
