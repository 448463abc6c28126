"""Per-request DataLoaders: every list query reads each kind of row in one batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import TypeVar

from strawberry.dataloader import DataLoader

from persistence.collab_records import (
    ChannelMemberRecord,
    ChannelRecord,
    MembershipRecord,
    MessageLocation,
    MessageRecord,
    PinRecord,
    ReactionRecord,
    WorkspaceRecord,
)
from persistence.drive import DriveItemRecord
from persistence.realtime import PresenceRecord
from persistence.records import UserRecord
from resolvers.services import Services

K = TypeVar("K")
V = TypeVar("V")


class Loader(DataLoader[K, V]):
    """A DataLoader whose `clear` of a key never loaded is a no-op, as a cache's should be."""

    def clear(self, key: K) -> None:
        with suppress(KeyError):
            super().clear(key)


def _loader(load: Callable[[Sequence[K]], Awaitable[Sequence[V]]]) -> Loader[K, V]:
    async def batch(keys: list[K]) -> list[V]:
        return list(await load(keys))

    return Loader(load_fn=batch)


class Loaders:
    """One request's loaders; `user_id` is the caller's, for the caller's own memberships."""

    def __init__(self, services: Services, user_id: str | None) -> None:
        accounts = services.accounts
        workspaces = services.workspaces
        channels = services.channels
        messages = services.messages
        me = user_id or ""
        self.users: Loader[str, UserRecord | None] = _loader(accounts.get_users)
        self.workspaces: Loader[str, WorkspaceRecord | None] = _loader(workspaces.get_many)
        self.my_memberships: Loader[str, MembershipRecord | None] = _loader(
            lambda ids: workspaces.memberships_of(me, ids)
        )
        self.channels: Loader[str, ChannelRecord | None] = _loader(channels.get_many)
        self.my_channel_memberships: Loader[str, ChannelMemberRecord | None] = _loader(
            lambda ids: channels.members_many([(c, me) for c in ids])
        )
        self.my_last_reads: Loader[str, str | None] = _loader(
            lambda ids: channels.last_read_many(me, ids)
        )
        self.locations: Loader[str, MessageLocation | None] = _loader(messages.locations)
        self.messages: Loader[MessageLocation, MessageRecord | None] = _loader(messages.get_many)
        self.reactions: Loader[str, list[ReactionRecord]] = _loader(messages.reactions_many)
        self.pins: Loader[tuple[str, str], PinRecord | None] = _loader(messages.pins_many)
        self.presence: Loader[str, PresenceRecord] = _loader(services.realtime.presence_many)
        self.drive_items: Loader[str, DriveItemRecord | None] = _loader(services.drive.get_many)
        self.attachments: Loader[str, list[tuple[str, str]]] = _loader(
            services.drive.attachments_many
        )
