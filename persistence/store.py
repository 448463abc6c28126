"""The one protocol every storage engine implements, in the access patterns it allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from persistence.declare import Row, Table

__all__ = [
    "Delete",
    "Put",
    "Row",
    "StorageFull",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Update",
]


class StoreError(Exception):
    """The engine failed or refused: unreachable, locked, closed, or a schema mismatch."""


class StoreUnavailable(StoreError):
    """The database could not answer now (nodes down, too few replicas, a timeout): the
    operation may or may not have been applied, and trying again later may succeed. Clients
    see `UNAVAILABLE` with reason `STORE_UNAVAILABLE`."""


class StorageFull(StoreError):
    """A write the record store or the local blob store refused for lack of space (a full or
    over-quota volume): nothing of it was applied, and it may succeed once space is freed.
    Clients see `UNAVAILABLE` with reason `STORAGE_FULL` (HTTP 507 on the file routes)."""


@dataclass(frozen=True)
class Put:
    """Upsert `row` into `table`, as part of a batch."""

    table: Table
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    """Delete the row with primary key `key` from `table`, as part of a batch."""

    table: Table
    key: Mapping[str, Any]


@dataclass(frozen=True)
class Update:
    """Set some value columns of one row, creating it if absent (`Store.update`), in a batch."""

    table: Table
    key: Mapping[str, Any]
    values: Mapping[str, Any]


class Store(Protocol):
    """Rows of declared tables, read by key or by partition slice: no joins, no filtering.

    Malformed input (unknown or missing columns, wrong types, naive datetimes) raises
    ValueError or TypeError before anything is written; engine failures raise StoreError.
    """

    async def get(self, table: Table, key: Mapping[str, Any]) -> Row | None:
        """The row with this full primary key, or None."""
        ...

    async def get_many(self, table: Table, keys: Sequence[Mapping[str, Any]]) -> list[Row | None]:
        """The row for each full primary key, in the order given (None where there is none);
        keys may repeat. Every key is checked before any is read."""
        ...

    async def scan(
        self,
        table: Table,
        partition: Mapping[str, Any],
        *,
        limit: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        reverse: bool = False,
    ) -> list[Row]:
        """Up to `limit` rows of one partition in clustering order (reversed if asked).

        `after` and `before` are exclusive bounds on the whole clustering tuple, in the
        order rows come back: `after` the last row of a page gives the next page.
        """
        ...

    async def scan_many(
        self,
        table: Table,
        partitions: Sequence[Mapping[str, Any]],
        *,
        limit_per_partition: int,
        reverse: bool = False,
    ) -> list[list[Row]]:
        """For each partition, in the order given, what `scan` would return with this limit
        and no bounds; partitions may repeat."""
        ...

    async def count(
        self,
        table: Table,
        partition: Mapping[str, Any],
        *,
        limit: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
    ) -> int:
        """How many rows `scan` (not reversed) would return with these bounds, up to `limit`:
        the limit keeps counts such as "99+" cheap."""
        ...

    async def scan_table(
        self, table: Table, *, limit: int, cursor: bytes | None = None
    ) -> tuple[list[Row], bytes | None]:
        """A page of every row of a table, across partitions, in the engine's own order, and
        the cursor of the next page (None after the last). For maintenance jobs that must
        visit every row (a workspace key rotation), never for a request: the cost grows with
        the table. A page may hold fewer than `limit` rows before the end. A row written
        during a walk may or may not be seen; one present throughout is seen at least once.
        The cursor is opaque, may be stored, and resumes the walk after a restart."""
        ...

    async def swap_value(
        self, table: Table, key: Mapping[str, Any], column: str, old: Any, new: Any
    ) -> bool:
        """Replace one value column's `old` value by `new`, an equivalent form of it (a value
        sealed again under a newer key), without ever undoing a later write: False when the
        row no longer holds `old`. Safe on rows made by any kind of write. On ScyllaDB the
        new value carries the old one's write time plus one microsecond, so any later write
        or delete of the row wins over it."""
        ...

    async def put(self, table: Table, row: Mapping[str, Any]) -> None:
        """Insert or overwrite a row; value columns left out become None."""
        ...

    async def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Set some value columns of one row, creating the row if absent; the other columns
        keep what they held (CQL UPDATE semantics), so writers of different columns of one
        row never undo each other."""
        ...

    async def put_if_absent(self, table: Table, row: Mapping[str, Any]) -> bool:
        """Insert a row unless its key exists; True when it was inserted."""
        ...

    async def update_if(
        self,
        table: Table,
        key: Mapping[str, Any],
        values: Mapping[str, Any],
        expected: Mapping[str, Any],
    ) -> bool:
        """Set some value columns of an existing row only if its `expected` value columns hold
        the values given (none of them None); True when it was set. A compare-and-set, for
        counts several nodes change (a lightweight transaction on ScyllaDB): mix it only with
        `put_if_absent` and other `update_if` calls on the same row, never plain writes."""
        ...

    async def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        """Delete the row with this full primary key, if any."""
        ...

    async def delete_partition(self, table: Table, partition: Mapping[str, Any]) -> None:
        """Delete every row of one partition."""
        ...

    async def batch(self, ops: Sequence[Put | Delete | Update]) -> None:
        """Apply puts, deletes and updates all together or not at all."""
        ...

    async def ping(self) -> None:
        """Return when the backend answers; raise StoreError when it does not."""
        ...

    async def close(self) -> None:
        """Finish pending work and release connections; later calls raise StoreError."""
        ...
