"""Channels, their members (both ways) and the one direct channel per set of people: tables,
records and the repository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence.declare import Column, ColumnType, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_BOOL = ColumnType.BOOLEAN

CHANNELS = Table(
    name="channels",
    partition_key=(Column("channel_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("name_sealed", _BLOB),
        Column("topic_sealed", _BLOB),
        Column("visibility", _TEXT),
        Column("archived", _BOOL),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

CHANNELS_BY_WORKSPACE = Table(
    name="channels_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("visibility", _TEXT),),
)

CHANNEL_MEMBERS = Table(
    name="channel_members",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("joined_at", _TIME),),
)

# Kept apart from memberships: writing a read position can never create a membership.
READ_POSITIONS = Table(
    name="read_positions",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("last_read_id", _TEXT), Column("read_at", _TIME)),
)

# A member's channels in one workspace: what a guest may see, what leaving must undo.
CHANNELS_BY_MEMBER = Table(
    name="channels_by_member",
    partition_key=(Column("workspace_id", _TEXT), Column("user_id", _TEXT)),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("visibility", _TEXT),),
)

# One direct channel per set of people: `members_key` is their sorted ids, claimed once.
DIRECT_CHANNELS = Table(
    name="direct_channels",
    partition_key=(Column("workspace_id", _TEXT), Column("members_key", _TEXT)),
    values=(Column("channel_id", _TEXT),),
)

CHANNEL_TABLES = (
    CHANNELS,
    CHANNELS_BY_WORKSPACE,
    CHANNEL_MEMBERS,
    READ_POSITIONS,
    CHANNELS_BY_MEMBER,
    DIRECT_CHANNELS,
)


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    channel_id: str
    workspace_id: str
    name_sealed: bytes
    topic_sealed: bytes | None
    visibility: str
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelMemberRecord:
    channel_id: str
    user_id: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as listed: its id and visibility, before its row is read."""

    channel_id: str
    visibility: str


def _member_ops(channel: ChannelRecord, user_id: str, now: datetime) -> list[Put | Delete | Update]:
    return [
        Put(
            CHANNEL_MEMBERS,
            {"channel_id": channel.channel_id, "user_id": user_id, "joined_at": now},
        ),
        Put(
            CHANNELS_BY_MEMBER,
            {
                "workspace_id": channel.workspace_id,
                "user_id": user_id,
                "channel_id": channel.channel_id,
                "visibility": channel.visibility,
            },
        ),
    ]


def _after(value: str | None) -> tuple[str] | None:
    return None if value is None else (value,)


class ChannelRepository:
    """Channels and channel memberships; names and topics stay sealed bytes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self, channel: ChannelRecord, member_ids: Sequence[str], now: datetime
    ) -> None:
        """The channel, its listing in the workspace and its first members, in one batch."""
        ops: list[Put | Delete | Update] = [
            Put(CHANNELS, to_row(channel)),
            Put(CHANNELS_BY_WORKSPACE, to_row(channel, "workspace_id", "channel_id", "visibility")),
        ]
        for user_id in member_ids:
            ops += _member_ops(channel, user_id, now)
        await self._store.batch(ops)

    async def claim_direct(self, workspace_id: str, members_key: str, channel_id: str) -> str:
        """Claim the direct channel of these people; the id of whichever claim won."""
        row = {"workspace_id": workspace_id, "members_key": members_key, "channel_id": channel_id}
        if await self._store.put_if_absent(DIRECT_CHANNELS, row):
            return channel_id
        existing = await self._store.get(
            DIRECT_CHANNELS, {"workspace_id": workspace_id, "members_key": members_key}
        )
        assert existing is not None  # a claim is never deleted
        won: str = existing["channel_id"]
        return won

    async def direct(self, workspace_id: str, members_key: str) -> str | None:
        row = await self._store.get(
            DIRECT_CHANNELS, {"workspace_id": workspace_id, "members_key": members_key}
        )
        return None if row is None else str(row["channel_id"])

    async def get(self, channel_id: str) -> ChannelRecord | None:
        row = await self._store.get(CHANNELS, {"channel_id": channel_id})
        return None if row is None else from_row(ChannelRecord, row)

    async def get_many(self, channel_ids: Sequence[str]) -> list[ChannelRecord | None]:
        rows = await self._store.get_many(CHANNELS, [{"channel_id": c} for c in channel_ids])
        return [None if row is None else from_row(ChannelRecord, row) for row in rows]

    async def update(self, channel_id: str, values: dict[str, Any]) -> None:
        """Change some of name_sealed, topic_sealed, archived, updated_at."""
        await self._store.update(CHANNELS, {"channel_id": channel_id}, values)

    async def member(self, channel_id: str, user_id: str) -> ChannelMemberRecord | None:
        row = await self._store.get(CHANNEL_MEMBERS, {"channel_id": channel_id, "user_id": user_id})
        return None if row is None else from_row(ChannelMemberRecord, row)

    async def members_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> list[ChannelMemberRecord | None]:
        """Memberships for (channel id, user id) pairs, in order."""
        rows = await self._store.get_many(
            CHANNEL_MEMBERS, [{"channel_id": c, "user_id": u} for c, u in keys]
        )
        return [None if row is None else from_row(ChannelMemberRecord, row) for row in rows]

    async def add_member(self, channel: ChannelRecord, user_id: str, now: datetime) -> None:
        await self._store.batch(_member_ops(channel, user_id, now))

    async def remove_member(self, workspace_id: str, channel_id: str, user_id: str) -> None:
        await self._store.batch(
            [
                Delete(CHANNEL_MEMBERS, {"channel_id": channel_id, "user_id": user_id}),
                Delete(
                    CHANNELS_BY_MEMBER,
                    {"workspace_id": workspace_id, "user_id": user_id, "channel_id": channel_id},
                ),
            ]
        )

    async def list_members(
        self, channel_id: str, *, limit: int, after_user_id: str | None = None
    ) -> list[ChannelMemberRecord]:
        rows = await self._store.scan(
            CHANNEL_MEMBERS, {"channel_id": channel_id}, limit=limit, after=_after(after_user_id)
        )
        return [from_row(ChannelMemberRecord, row) for row in rows]

    async def list_in_workspace(
        self, workspace_id: str, *, limit: int, after_channel_id: str | None = None
    ) -> list[ChannelRef]:
        rows = await self._store.scan(
            CHANNELS_BY_WORKSPACE,
            {"workspace_id": workspace_id},
            limit=limit,
            after=_after(after_channel_id),
        )
        return [ChannelRef(row["channel_id"], row["visibility"]) for row in rows]

    async def list_for_member(
        self, workspace_id: str, user_id: str, *, limit: int, after_channel_id: str | None = None
    ) -> list[ChannelRef]:
        rows = await self._store.scan(
            CHANNELS_BY_MEMBER,
            {"workspace_id": workspace_id, "user_id": user_id},
            limit=limit,
            after=_after(after_channel_id),
        )
        return [ChannelRef(row["channel_id"], row["visibility"]) for row in rows]

    async def set_last_read(
        self, user_id: str, channel_id: str, message_id: str, now: datetime
    ) -> None:
        await self._store.put(
            READ_POSITIONS,
            {
                "user_id": user_id,
                "channel_id": channel_id,
                "last_read_id": message_id,
                "read_at": now,
            },
        )

    async def last_read_many(self, user_id: str, channel_ids: Sequence[str]) -> list[str | None]:
        """The last message each channel's reader has seen, in order (None: nothing yet)."""
        rows = await self._store.get_many(
            READ_POSITIONS, [{"user_id": user_id, "channel_id": c} for c in channel_ids]
        )
        return [None if row is None else row["last_read_id"] for row in rows]
