"""Per-request DataLoaders: every list query reads each kind of row in one batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from persistence.accounts import UserRecord
from persistence.channels import ChannelMemberRecord, ChannelRecord
from persistence.drive_records import DriveItemRecord
from persistence.messages import MessageLocation, MessageRecord, PinRecord, ReactionRecord
from persistence.realtime import PresenceRecord
from persistence.video_rooms import VideoRoomRecord
from persistence.workspaces import MembershipRecord, WorkspaceRecord
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
    """One request's loaders; `user_id` is the caller's, for the caller's own memberships.

    Each loader is made on first use: most requests need two or three of them, and every
    loader made is garbage the collector must trace once the request ends.
    """

    def __init__(self, services: Services, user_id: str | None) -> None:
        self._services = services
        self._me = user_id or ""

    @cached_property
    def users(self) -> Loader[str, UserRecord | None]:
        return _loader(self._services.accounts.get_users)

    @cached_property
    def workspaces(self) -> Loader[str, WorkspaceRecord | None]:
        return _loader(self._services.workspaces.get_many)

    @cached_property
    def my_memberships(self) -> Loader[str, MembershipRecord | None]:
        workspaces, me = self._services.workspaces, self._me
        return _loader(lambda ids: workspaces.memberships_of(me, ids))

    @cached_property
    def two_factor_required(self) -> Loader[str, bool]:
        """Whether each workspace requires two-factor sign-in of its members."""
        return _loader(self._services.two_factor.required_many)

    @cached_property
    def two_factor_enabled(self) -> Loader[str, bool]:
        """Whether each user has two-factor sign-in on."""
        return _loader(self._services.two_factor.enabled_many)

    @cached_property
    def video_rooms(self) -> Loader[tuple[str, str, str], VideoRoomRecord | None]:
        """Rooms by (workspace, kind, target): an agenda's events read theirs in one batch."""
        return _loader(self._services.video_rooms.get_many)

    @cached_property
    def channels(self) -> Loader[str, ChannelRecord | None]:
        return _loader(self._services.channels.get_many)

    @cached_property
    def my_channel_memberships(self) -> Loader[str, ChannelMemberRecord | None]:
        channels, me = self._services.channels, self._me
        return _loader(lambda ids: channels.members_many([(c, me) for c in ids]))

    @cached_property
    def my_last_reads(self) -> Loader[str, str | None]:
        channels, me = self._services.channels, self._me
        return _loader(lambda ids: channels.last_read_many(me, ids))

    @cached_property
    def locations(self) -> Loader[str, MessageLocation | None]:
        return _loader(self._services.messages.locations)

    @cached_property
    def messages(self) -> Loader[MessageLocation, MessageRecord | None]:
        return _loader(self._services.messages.get_many)

    @cached_property
    def reactions(self) -> Loader[str, list[ReactionRecord]]:
        return _loader(self._services.messages.reactions_many)

    @cached_property
    def pins(self) -> Loader[tuple[str, str], PinRecord | None]:
        return _loader(self._services.messages.pins_many)

    @cached_property
    def presence(self) -> Loader[str, PresenceRecord]:
        return _loader(self._services.realtime.presence_many)

    @cached_property
    def drive_items(self) -> Loader[str, DriveItemRecord | None]:
        return _loader(self._services.drive.get_many)

    @cached_property
    def attachments(self) -> Loader[str, list[tuple[str, str]]]:
        return _loader(self._services.drive.attachments_many)
