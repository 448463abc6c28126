"""Registered GraphQL documents, by the SHA-256 of their text (`cove queries register`).

They are the operator's clients' own documents, not user data, so they are stored in clear.
"""

from __future__ import annotations

from datetime import datetime

from persistence.declare import Column, ColumnType, Table
from persistence.store import Store

PERSISTED_QUERIES = Table(
    name="persisted_queries",
    partition_key=(Column("sha256", ColumnType.TEXT),),
    values=(Column("document", ColumnType.TEXT), Column("registered_at", ColumnType.TIMESTAMP)),
)

PERSISTED_QUERY_TABLES = (PERSISTED_QUERIES,)


class PersistedQueryRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, sha256: str) -> str | None:
        row = await self._store.get(PERSISTED_QUERIES, {"sha256": sha256})
        return None if row is None else str(row["document"])

    async def register(self, sha256: str, document: str, at: datetime) -> bool:
        """Store a document; False when that hash was registered already."""
        row = {"sha256": sha256, "document": document, "registered_at": at}
        return await self._store.put_if_absent(PERSISTED_QUERIES, row)
