"""Tokens forgotten by the hour they expire in: each expiry table is partitioned by that hour
and clustered by (kind, token_hash), so a sweep empties one hour's partition at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from persistence.declare import Row, Table
from persistence.store import Delete, Put, Store, Update

_PAGE = 500


def expiry_hour(moment: datetime) -> int:
    """The hour (since the epoch) a moment falls in: an expiry table's partition."""
    return int(moment.timestamp() // 3600)


async def forget_hour(
    store: Store, table: Table, hour: int, deletes: Callable[[Row], list[Delete]]
) -> int:
    """Empty `table`'s partition for `hour`, deleting with each row what `deletes` names for
    it (the token and its claims); returns how many tokens went."""
    forgotten = 0
    while True:  # each round deletes what it read, so the partition empties
        rows = await store.scan(table, {"hour": hour}, limit=_PAGE)
        if not rows:
            return forgotten
        ops: list[Put | Delete | Update] = []
        for row in rows:
            ops += deletes(row)
            key = {"hour": hour, "kind": row["kind"], "token_hash": row["token_hash"]}
            ops.append(Delete(table, key))
        await store.batch(ops)
        forgotten += len(rows)
