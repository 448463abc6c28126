"""Each realtime topic's positions and bounded history, shared by every node through the store.

A notice's position is the clustering key of its history row: publishing claims the next
position by inserting that row if absent, so positions are dense (1, 2, 3...) whichever node
publishes, a claimed position always holds its row, and a row is claimed only after the one
before it exists. Rows hold the notice sealed (crypto/realtime.py `seal_history`), never
plaintext. The oldest rows are deleted as new ones come, keeping about `limit` per topic (a plain
delete of a row claimed long before; should one be lost, readers see a hole and resync).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Table
from persistence.store import Store, StoreError

REALTIME_HISTORY = Table(
    name="realtime_history",
    partition_key=(Column("topic", ColumnType.TEXT),),
    clustering=(Column("position", ColumnType.BIGINT),),
    order=Order.ASC,
    values=(Column("sealed", ColumnType.BLOB), Column("at", ColumnType.TIMESTAMP)),
)

REALTIME_HISTORY_TABLES = (REALTIME_HISTORY,)

# Claims lost to other publishers of the same topic before giving up: each loss means another
# notice took the position, so this many concurrent publishers of one topic are served.
MAX_CLAIM_ATTEMPTS = 64


@dataclass(frozen=True, slots=True)
class HistoryRow:
    topic: str
    position: int
    sealed: bytes
    at: datetime


class RealtimeHistoryRepository:
    """Claims positions, reads history after a position, finds each topic's newest position.

    This node's publishers of one topic claim one after the other (a lock per topic while
    any is claiming): claiming together, they would all read the same head and try the same
    position, one winning each round, and under a steady load one of them could lose every
    round. Publishers on other nodes may still take a position first: the loser reads the
    head again and tries after it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        # Each topic being claimed on this node, by event loop (a lock serves one loop): its
        # lock, and how many publishers hold or wait for it (the entry goes with the last).
        self._claiming: dict[
            tuple[str, asyncio.AbstractEventLoop], tuple[asyncio.Lock, list[int]]
        ] = {}

    async def head(self, topic: str) -> int:
        """The topic's newest position, 0 if it has none."""
        rows = await self._store.scan(REALTIME_HISTORY, {"topic": topic}, limit=1, reverse=True)
        return int(rows[0]["position"]) if rows else 0

    async def heads(self, topics: Sequence[str]) -> dict[str, int]:
        """The newest position of each topic (0 for none), in one round trip."""
        found = await self._store.scan_many(
            REALTIME_HISTORY, [{"topic": t} for t in topics], limit_per_partition=1, reverse=True
        )
        return {
            topic: int(rows[0]["position"]) if rows else 0
            for topic, rows in zip(topics, found, strict=True)
        }

    async def append(
        self, topic: str, seal: Callable[[int], bytes], at: datetime, *, limit: int
    ) -> int:
        """Claim the topic's next position with the row `seal(position)` makes, delete the
        row `limit` places older, and answer the position."""
        key = (topic, asyncio.get_running_loop())
        claiming = self._claiming.get(key)
        if claiming is None:
            claiming = self._claiming[key] = (asyncio.Lock(), [0])
        lock, users = claiming
        users[0] += 1
        try:
            async with lock:
                position = await self._claim(topic, seal, at)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._claiming[key]
        if position > limit:
            await self._store.delete(
                REALTIME_HISTORY, {"topic": topic, "position": position - limit}
            )
        return position

    async def _claim(self, topic: str, seal: Callable[[int], bytes], at: datetime) -> int:
        position = await self.head(topic) + 1
        for _ in range(MAX_CLAIM_ATTEMPTS):
            row = {"topic": topic, "position": position, "sealed": seal(position), "at": at}
            if await self._store.put_if_absent(REALTIME_HISTORY, row):
                return position
            # Taken by another node's publisher: try after the newest position there is.
            position = max(position, await self.head(topic)) + 1
        raise StoreError(f"no free history position after {MAX_CLAIM_ATTEMPTS} attempts")

    async def after(self, topic: str, position: int, *, limit: int) -> list[HistoryRow]:
        """Up to `limit` rows after `position`, oldest first."""
        rows = await self._store.scan(
            REALTIME_HISTORY, {"topic": topic}, limit=limit, after=(position,)
        )
        return [HistoryRow(r["topic"], int(r["position"]), r["sealed"], r["at"]) for r in rows]
