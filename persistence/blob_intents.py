"""Upload intents: a blob key some process means to write, held by a lease it keeps renewing.

An intent is written before any byte of the object is, renewed while the upload runs, and
deleted once the version row naming the object is written. The sweep (resolvers/sweeper.py)
thereby tells the leftovers of a process that died (an intent whose lease has lapsed, or an
object with neither intent nor version row) from uploads still running on any node.

Intents are partitioned by an hour the caller derives from the key itself (the hour the
drive's version id was made), so one is read back by key alone, and the sweep lists those
left by uploads that crashed before their object existed one hour's partition at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Table
from persistence.rows import from_row, to_row
from persistence.store import Store

BLOB_INTENTS = Table(
    name="blob_intents",
    partition_key=(Column("hour", ColumnType.BIGINT),),
    clustering=(Column("blob_key", ColumnType.TEXT),),
    values=(Column("owner", ColumnType.TEXT), Column("alive_until", ColumnType.TIMESTAMP)),
)

BLOB_INTENT_TABLES = (BLOB_INTENTS,)


@dataclass(frozen=True, slots=True)
class BlobIntentRecord:
    """`owner` (a node's process id, for the logs) means to write `blob_key` until at least
    `alive_until`, unless it renews the lease."""

    hour: int
    blob_key: str
    owner: str
    alive_until: datetime


class BlobIntentRepository:
    """Writes, renews, reads and deletes upload intents."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def hold(self, intent: BlobIntentRecord) -> None:
        """Write the intent, or renew it: an upsert, so a retry of the same key takes it over."""
        await self._store.put(BLOB_INTENTS, to_row(intent))

    async def get(self, hour: int, blob_key: str) -> BlobIntentRecord | None:
        row = await self._store.get(BLOB_INTENTS, {"hour": hour, "blob_key": blob_key})
        return None if row is None else from_row(BlobIntentRecord, row)

    async def forget(self, hour: int, blob_key: str) -> None:
        await self._store.delete(BLOB_INTENTS, {"hour": hour, "blob_key": blob_key})

    async def in_hour(
        self, hour: int, *, limit: int, after: str | None = None
    ) -> list[BlobIntentRecord]:
        """Up to `limit` intents of one hour's partition in key order, after the key given."""
        rows = await self._store.scan(
            BLOB_INTENTS, {"hour": hour}, limit=limit, after=None if after is None else (after,)
        )
        return [from_row(BlobIntentRecord, row) for row in rows]
