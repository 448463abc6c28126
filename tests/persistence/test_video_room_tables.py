"""The video room table on every engine: migration 22, one room per target made once, and
joins and renames as compare-and-sets (two nodes never both start a call or both rename)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.migrations import MIGRATIONS, Migration
from persistence.scylla.cql import create_table_cql
from persistence.store import Store
from persistence.video_rooms import (
    NEVER,
    VIDEO_ROOM_TABLES,
    VIDEO_ROOMS,
    VideoRoomRecord,
    VideoRoomRepository,
)

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_video_room_table_is_migration_22_and_compiles_to_cql() -> None:
    assert MIGRATIONS[21] == Migration(22, "video rooms", VIDEO_ROOM_TABLES)
    cql = create_table_cql(VIDEO_ROOMS, "cove")
    assert "PRIMARY KEY ((workspace_id, kind, target_id))" in cql
    assert "room_sealed blob" in cql


async def test_a_room_is_made_once_and_changed_only_by_compare_and_set(store: Store) -> None:
    repo = VideoRoomRepository(store)
    first = VideoRoomRecord("w", "channel", "c", b"sealed-1", AT, NEVER)
    assert await repo.create(first)
    assert not await repo.create(VideoRoomRecord("w", "channel", "c", b"sealed-2", AT, NEVER))
    assert await repo.get("w", "channel", "c") == first
    assert await repo.get("w", "event", "c") is None  # a channel's room is not an event's
    assert await repo.get_many([("w", "event", "c"), ("w", "channel", "c")]) == [None, first]

    joined_at = AT + timedelta(minutes=1)
    assert await repo.joined(first, joined_at)
    assert not await repo.joined(first, joined_at + timedelta(seconds=1))  # read before it
    now = await repo.get("w", "channel", "c")
    assert now is not None and now.last_join_at == joined_at

    assert await repo.rotate(now, b"sealed-3")
    assert not await repo.rotate(now, b"sealed-4")  # its name changed since it was read
    last = await repo.get("w", "channel", "c")
    assert last is not None and last.room_sealed == b"sealed-3"
    assert last.last_join_at == joined_at
