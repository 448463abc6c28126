"""The search outbox: what waits to be indexed, written with the change it indexes.

An entry names a document to bring up to date ("message" and its id, in a workspace) and
holds nothing else: no text, no tokens. The node that drains it reads the record as it is
then and indexes it, or removes its document when the record is gone, so entries may be
applied twice or in any order and the index still ends as the records are.

Entries are spread over `SHARDS` shards by document and over time buckets of
`BUCKET_SECONDS`, so no partition grows without end (a bucket is written only while it is
current) and any node can drain any shard. A node drains a shard while it holds a lease on
it (one claim row per shard and lease slot, inserted if absent), and remembers per shard the
oldest bucket that may still hold entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Row, Table
from persistence.ids import new_id
from persistence.store import Delete, Put, Store
from persistence.timestamps import to_millis

_TEXT = ColumnType.TEXT
_BIGINT = ColumnType.BIGINT

# Fixed for the life of an installation: every node writes and drains the same shards.
SHARDS = 8
BUCKET_SECONDS = 600

# Entries of one shard written in one bucket, oldest first (entry ids are time-ordered).
SEARCH_OUTBOX = Table(
    name="search_outbox",
    partition_key=(Column("shard", _BIGINT), Column("bucket", _BIGINT)),
    clustering=(Column("entry_id", _TEXT),),
    values=(Column("workspace_id", _TEXT), Column("kind", _TEXT), Column("raw_id", _TEXT)),
)

# Per shard, the oldest bucket that may still hold entries: drainers start there.
SEARCH_OUTBOX_CURSORS = Table(
    name="search_outbox_cursors",
    partition_key=(Column("shard", _BIGINT),),
    values=(Column("bucket", _BIGINT),),
)

# One row per shard and lease slot, inserted if absent: the node whose insert landed drains
# the shard during that slot. A node that stops deletes its claims; one that dies leaves
# them, and the shard is free again at the next slot.
SEARCH_OUTBOX_CLAIMS = Table(
    name="search_outbox_claims",
    partition_key=(Column("shard", _BIGINT), Column("slot", _BIGINT)),
    values=(Column("node_id", _TEXT), Column("claimed_at", ColumnType.TIMESTAMP)),
)

SEARCH_OUTBOX_TABLES = (SEARCH_OUTBOX, SEARCH_OUTBOX_CURSORS, SEARCH_OUTBOX_CLAIMS)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    shard: int
    bucket: int
    entry_id: str
    workspace_id: str
    kind: str
    raw_id: str


def shard_of(workspace_id: str, kind: str, raw_id: str) -> int:
    """Every entry of one document goes to one shard, so one node at a time drains it."""
    digest = hashlib.blake2b(f"{workspace_id} {kind} {raw_id}".encode(), digest_size=2)
    return int.from_bytes(digest.digest(), "big") % SHARDS


def bucket_of(at: datetime) -> int:
    return to_millis(at) // (BUCKET_SECONDS * 1000)


def _entry(row: Row) -> OutboxEntry:
    return OutboxEntry(
        shard=row["shard"],
        bucket=row["bucket"],
        entry_id=row["entry_id"],
        workspace_id=row["workspace_id"] or "",
        kind=row["kind"] or "",
        raw_id=row["raw_id"] or "",
    )


class SearchOutboxRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def entry(workspace_id: str, kind: str, raw_id: str, at: datetime) -> Put:
        """The put that queues a document, to write in the batch of the change itself."""
        row = {
            "shard": shard_of(workspace_id, kind, raw_id),
            "bucket": bucket_of(at),
            "entry_id": new_id(at=at),
            "workspace_id": workspace_id,
            "kind": kind,
            "raw_id": raw_id,
        }
        return Put(SEARCH_OUTBOX, row)

    async def add(self, entries: Sequence[Put]) -> None:
        if entries:
            await self._store.batch(entries)

    async def read(
        self, partitions: Sequence[tuple[int, int]], *, limit_per_partition: int
    ) -> list[OutboxEntry]:
        """The oldest entries of each (shard, bucket), in one read."""
        if not partitions:
            return []
        pages = await self._store.scan_many(
            SEARCH_OUTBOX,
            [{"shard": shard, "bucket": bucket} for shard, bucket in partitions],
            limit_per_partition=limit_per_partition,
        )
        return [_entry(row) for page in pages for row in page]

    async def count(self, shard: int, bucket: int, *, limit: int) -> int:
        return await self._store.count(
            SEARCH_OUTBOX, {"shard": shard, "bucket": bucket}, limit=limit
        )

    async def remove(self, entries: Sequence[OutboxEntry]) -> None:
        if entries:
            await self._store.batch(
                [
                    Delete(
                        SEARCH_OUTBOX,
                        {"shard": e.shard, "bucket": e.bucket, "entry_id": e.entry_id},
                    )
                    for e in entries
                ]
            )

    async def cursors(self) -> list[int | None]:
        """Each shard's oldest bucket that may hold entries (None where never recorded)."""
        rows = await self._store.get_many(
            SEARCH_OUTBOX_CURSORS, [{"shard": shard} for shard in range(SHARDS)]
        )
        return [None if row is None else row["bucket"] for row in rows]

    async def set_cursor(self, shard: int, bucket: int) -> None:
        await self._store.put(SEARCH_OUTBOX_CURSORS, {"shard": shard, "bucket": bucket})

    async def claim(self, shard: int, slot: int, node_id: str, at: datetime) -> bool:
        """Take a shard for one lease slot: True for the one node whose insert landed."""
        row = {"shard": shard, "slot": slot, "node_id": node_id, "claimed_at": at}
        return await self._store.put_if_absent(SEARCH_OUTBOX_CLAIMS, row)

    async def release(self, claims: Sequence[tuple[int, int]]) -> None:
        if claims:
            await self._store.batch(
                [
                    Delete(SEARCH_OUTBOX_CLAIMS, {"shard": shard, "slot": slot})
                    for shard, slot in claims
                ]
            )
