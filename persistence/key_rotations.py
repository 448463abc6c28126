"""Workspace key rotations: which data key version each rotation moves a workspace to, and
how far its re-sealing walk got, so a rotation cut short resumes where it stopped.

A rotation row is found by workspace and version (newest first); the rotations still to run
sit in one small partition of `key_rotation_queue`, which each node's worker reads. Nothing
here is sensitive: ids, states, counters, times and a walk position (table and cursor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Row, Table
from persistence.store import Put, Store

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT

RUNNING = "RUNNING"
DONE = "DONE"

KEY_ROTATIONS = Table(
    name="key_rotations",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("version", _INT),),  # the data key version it moves the workspace to
    order=Order.DESC,
    values=(
        Column("state", _TEXT),  # RUNNING, DONE
        Column("phase", _TEXT),  # RESEALING, CHECKING, REINDEXING, DONE
        Column("requested_by", _TEXT),
        Column("created_at", _TIME),
        Column("finished_at", _TIME),
        Column("pass_number", _INT),  # 1, then checking passes until one finds nothing
        Column("step", _INT),  # index of the sealed table the walk is in
        Column("cursor", ColumnType.BLOB),  # the walk's position in that table
        Column("scanned", _INT),  # rows read over every pass
        Column("resealed", _INT),  # values sealed again over every pass
        Column("pass_resealed", _INT),  # values sealed again in the current pass
        Column("damaged", _INT),  # values that did not open (left as they were, reported)
        Column("lease_until", _TIME),  # a RUNNING rotation not renewed by then is resumed
        Column("node_id", _TEXT),
    ),
)
KEY_ROTATION_QUEUE = Table(
    name="key_rotation_queue",
    partition_key=(Column("shard", _TEXT),),
    clustering=(Column("workspace_id", _TEXT),),
    values=(Column("version", _INT),),
)
_SHARD = "all"
KEY_ROTATION_TABLES = (KEY_ROTATIONS, KEY_ROTATION_QUEUE)


@dataclass(frozen=True, slots=True)
class KeyRotationRecord:
    workspace_id: str
    version: int
    state: str
    phase: str
    requested_by: str
    created_at: datetime
    finished_at: datetime | None = None
    pass_number: int = 1
    step: int = 0
    cursor: bytes | None = None
    scanned: int = 0
    resealed: int = 0
    pass_resealed: int = 0
    damaged: int = 0
    lease_until: datetime | None = None
    node_id: str = ""


def _record(row: Row) -> KeyRotationRecord:
    return KeyRotationRecord(
        workspace_id=row["workspace_id"],
        version=row["version"],
        state=row["state"] or RUNNING,
        phase=row["phase"] or "",
        requested_by=row["requested_by"] or "",
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        pass_number=row["pass_number"] or 1,
        step=row["step"] or 0,
        cursor=row["cursor"],
        scanned=row["scanned"] or 0,
        resealed=row["resealed"] or 0,
        pass_resealed=row["pass_resealed"] or 0,
        damaged=row["damaged"] or 0,
        lease_until=row["lease_until"],
        node_id=row["node_id"] or "",
    )


class KeyRotationRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, record: KeyRotationRecord) -> None:
        """A new rotation, and its place in the queue, together."""
        row = {
            "workspace_id": record.workspace_id,
            "version": record.version,
            "state": record.state,
            "phase": record.phase,
            "requested_by": record.requested_by,
            "created_at": record.created_at,
            "pass_number": record.pass_number,
            "step": 0,
            "scanned": 0,
            "resealed": 0,
            "pass_resealed": 0,
            "damaged": 0,
        }
        entry = {"shard": _SHARD, "workspace_id": record.workspace_id, "version": record.version}
        await self._store.batch([Put(KEY_ROTATIONS, row), Put(KEY_ROTATION_QUEUE, entry)])

    async def get(self, workspace_id: str, version: int) -> KeyRotationRecord | None:
        row = await self._store.get(
            KEY_ROTATIONS, {"workspace_id": workspace_id, "version": version}
        )
        return None if row is None else _record(row)

    async def latest(self, workspace_id: str) -> KeyRotationRecord | None:
        """The workspace's most recent rotation, if it has had one."""
        rows = await self._store.scan(KEY_ROTATIONS, {"workspace_id": workspace_id}, limit=1)
        return _record(rows[0]) if rows else None

    async def live(self, *, limit: int, after: str | None = None) -> list[tuple[str, int]]:
        """(workspace, version) of rotations still to run or finish, by workspace."""
        rows = await self._store.scan(
            KEY_ROTATION_QUEUE,
            {"shard": _SHARD},
            limit=limit,
            after=None if after is None else (after,),
        )
        return [(row["workspace_id"], row["version"]) for row in rows]

    async def update(self, workspace_id: str, version: int, **values: object) -> None:
        key = {"workspace_id": workspace_id, "version": version}
        await self._store.update(KEY_ROTATIONS, key, values)

    async def dequeue(self, workspace_id: str) -> None:
        await self._store.delete(
            KEY_ROTATION_QUEUE, {"shard": _SHARD, "workspace_id": workspace_id}
        )
