"""Versions of each scope's data key, wrapped by the root key: table, record, repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Row, Table
from persistence.store import Store

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

DATA_KEYS = Table(
    name="data_keys",
    partition_key=(Column("scope", _TEXT),),
    clustering=(Column("version", ColumnType.BIGINT),),
    order=Order.DESC,
    values=(Column("wrapped", _BLOB), Column("created_at", _TIME)),
)

DATA_KEY_TABLES = (DATA_KEYS,)


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """One version of a scope's data key, wrapped by the root key."""

    scope: str
    version: int
    wrapped: bytes
    created_at: datetime


_PAGE = 100


def _record(row: Row) -> DataKeyRecord:
    return DataKeyRecord(
        scope=row["scope"],
        version=row["version"],
        wrapped=row["wrapped"],
        created_at=row["created_at"],
    )


class DataKeyRepository:
    """Wrapped data keys by scope (a workspace id, say) and version."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_versions(self, scope: str) -> list[DataKeyRecord]:
        """Every version of the scope's key, newest first."""
        records: list[DataKeyRecord] = []
        after: tuple[int] | None = None
        while True:
            rows = await self._store.scan(DATA_KEYS, {"scope": scope}, limit=_PAGE, after=after)
            records.extend(_record(row) for row in rows)
            if len(rows) < _PAGE:
                return records
            after = (records[-1].version,)

    async def add_if_absent(self, record: DataKeyRecord) -> bool:
        """Store a new key version; False if that version exists (another node made it)."""
        return await self._store.put_if_absent(
            DATA_KEYS,
            {
                "scope": record.scope,
                "version": record.version,
                "wrapped": record.wrapped,
                "created_at": record.created_at,
            },
        )
