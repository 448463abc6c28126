"""Versions of each scope's data key, wrapped by the root key, over any Store."""

from __future__ import annotations

from persistence.declare import Row
from persistence.records import DataKeyRecord
from persistence.store import Store
from persistence.tables import DATA_KEYS

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
