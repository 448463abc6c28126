"""Video rooms: the Jitsi room of a channel or a calendar event, one row each.

The room name is a capability (whoever knows it joins the room on a server without token
authentication), so it is stored sealed like the other secrets. Every write after the first is
a compare-and-set (a lightweight transaction on ScyllaDB), so two nodes never both start a
call or both rotate a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from persistence.declare import Column, ColumnType, Table
from persistence.rows import from_row, to_row
from persistence.store import Store

_TEXT = ColumnType.TEXT

VIDEO_ROOMS = Table(
    name="video_rooms",
    partition_key=(
        Column("workspace_id", _TEXT),
        Column("kind", _TEXT),
        Column("target_id", _TEXT),
    ),
    values=(
        Column("room_sealed", ColumnType.BLOB),
        Column("created_at", ColumnType.TIMESTAMP),
        Column("last_join_at", ColumnType.TIMESTAMP),
    ),
)

VIDEO_ROOM_TABLES = (VIDEO_ROOMS,)

# `last_join_at` of a room nobody joined yet: a compare-and-set needs a value to compare.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class VideoRoomRecord:
    workspace_id: str
    kind: str  # "channel" or "event"
    target_id: str
    room_sealed: bytes
    created_at: datetime
    last_join_at: datetime


class VideoRoomRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _key(workspace_id: str, kind: str, target_id: str) -> dict[str, str]:
        return {"workspace_id": workspace_id, "kind": kind, "target_id": target_id}

    async def get(self, workspace_id: str, kind: str, target_id: str) -> VideoRoomRecord | None:
        row = await self._store.get(VIDEO_ROOMS, self._key(workspace_id, kind, target_id))
        if row is None or row["room_sealed"] is None or row["last_join_at"] is None:
            return None
        return from_row(VideoRoomRecord, row)

    async def get_many(self, keys: Sequence[tuple[str, str, str]]) -> list[VideoRoomRecord | None]:
        """The room of each (workspace, kind, target), in order; None where there is none."""
        rows = await self._store.get_many(VIDEO_ROOMS, [self._key(*key) for key in keys])
        return [
            None
            if row is None or row["room_sealed"] is None or row["last_join_at"] is None
            else from_row(VideoRoomRecord, row)
            for row in rows
        ]

    async def create(self, record: VideoRoomRecord) -> bool:
        """Insert the room unless the target has one; True when this one was inserted."""
        return await self._store.put_if_absent(VIDEO_ROOMS, to_row(record))

    async def joined(self, record: VideoRoomRecord, at: datetime) -> bool:
        """Mark a join at `at` if nobody marked one since `record` was read; True if marked."""
        return await self._store.update_if(
            VIDEO_ROOMS,
            self._key(record.workspace_id, record.kind, record.target_id),
            {"last_join_at": at},
            {"last_join_at": record.last_join_at},
        )

    async def rotate(self, record: VideoRoomRecord, room_sealed: bytes) -> bool:
        """Replace the name if it is still the one `record` holds; True if replaced."""
        return await self._store.update_if(
            VIDEO_ROOMS,
            self._key(record.workspace_id, record.kind, record.target_id),
            {"room_sealed": room_sealed},
            {"room_sealed": record.room_sealed},
        )
