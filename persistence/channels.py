"""Channels, their members (both ways) and the one direct channel per set of people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from persistence.collab_records import (
    ChannelMemberRecord,
    ChannelRecord,
    ChannelRef,
)
from persistence.collab_tables import (
    CHANNEL_MEMBERS,
    CHANNELS,
    CHANNELS_BY_MEMBER,
    CHANNELS_BY_WORKSPACE,
    DIRECT_CHANNELS,
    READ_POSITIONS,
)
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update


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
