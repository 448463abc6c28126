"""Channels and the mutations that shape them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import channels
from resolvers.channels import ChannelView
from resolvers.roles import Visibility as VisibilityValue
from schema.accounts import User
from schema.context import request_context
from schema.relay import Connection, Node, connection_from_page, expect_id, to_global_id
from schema.workspaces import Workspace

if TYPE_CHECKING:
    from schema.drive import DriveItem
    from schema.messages import Message
    from schema.tasks import Board
    from schema.webhooks import IncomingWebhook

DEFAULT_PAGE = 20

Visibility = strawberry.enum(
    VisibilityValue,
    name="ChannelVisibility",
    description="PUBLIC: any member may join; PRIVATE: by invitation; DIRECT: a fixed group.",
)


@strawberry.type(description="A conversation inside a workspace.")
class Channel(Node):
    view: strawberry.Private[ChannelView]

    @classmethod
    def from_view(cls, view: ChannelView) -> Channel:
        return cls(id=to_global_id("Channel", view.id), view=view)

    @strawberry.field(description="Empty for direct channels; clients name them by members.")
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field
    async def topic(self) -> str | None:
        return await self.view.topic()

    @strawberry.field
    def visibility(self) -> Visibility:  # type: ignore[valid-type]
        return self.view.visibility

    @strawberry.field
    def archived(self) -> bool:
        return self.view.record.archived

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.created_at

    @strawberry.field
    def workspace(self) -> Workspace:
        return Workspace.from_view(self.view.workspace())

    @strawberry.field(description="Whether you have joined this channel.")
    def viewer_is_member(self) -> bool:
        return self.view.access.member

    @strawberry.field(description="Its incoming webhooks (for its members; URLs never shown).")
    async def incoming_webhooks(
        self, info: Info[Any, Any]
    ) -> list[Annotated[IncomingWebhook, strawberry.lazy("schema.webhooks")]]:
        from schema.webhooks import channel_incoming_webhooks

        return await channel_incoming_webhooks(info, self)

    @strawberry.field(description="Messages newer than your read position (counted up to 999).")
    async def unread_count(self) -> int:
        return await self.view.unread_count()

    @strawberry.field
    async def last_read_message_id(self) -> strawberry.ID | None:
        last = await self.view.last_read_message_id()
        return None if last is None else to_global_id("Message", last)

    @strawberry.field
    async def members(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[User]:
        page = await channels.members(request_context(info), self.view.id, first, after)
        return connection_from_page(page, User.from_view)

    @strawberry.field(description="Messages, newest first (thread replies are under `replies`).")
    async def messages(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[Message, strawberry.lazy("schema.messages")]]:
        from resolvers import messages
        from schema.messages import Message

        page = await messages.channel_messages(
            request_context(info), self.view.access, first, after
        )
        return connection_from_page(page, Message.from_view)

    @strawberry.field(description="Pinned messages, newest first.")
    async def pinned_messages(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[Message, strawberry.lazy("schema.messages")]]:
        from resolvers import messages
        from schema.messages import Message

        page = await messages.pinned_messages(request_context(info), self.view.access, first, after)
        return connection_from_page(page, Message.from_view)

    @strawberry.field(description="Drive items shared with this channel, newest share first.")
    async def shared_drive_items(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[DriveItem, strawberry.lazy("schema.drive")]]:
        from schema.drive import channel_shared_items

        return await channel_shared_items(
            info, self.view.record.workspace_id, self.view.id, first, after
        )

    @strawberry.field(description="This channel's task boards.")
    async def boards(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Board, strawberry.lazy("schema.tasks")]]:
        from resolvers.tasks import channel_boards
        from schema.tasks import Board

        found = await channel_boards(request_context(info), self.view.access)
        return [Board.from_view(v) for v in found]


async def load_channel(info: Info[Any, Any], raw_id: str) -> Channel:
    return Channel.from_view(await channels.get_channel(request_context(info), raw_id))


@strawberry.input
class CreateChannelInput:
    workspace_id: strawberry.ID
    name: str = strawberry.field(description="1 to 80 characters.")
    visibility: Visibility = VisibilityValue.PUBLIC  # type: ignore[valid-type]
    topic: str | None = strawberry.field(default=None, description="Up to 250 characters.")


@strawberry.input
class CreateDirectChannelInput:
    workspace_id: strawberry.ID
    user_ids: list[strawberry.ID] = strawberry.field(description="The others; you are added.")


@strawberry.input
class RenameChannelInput:
    channel_id: strawberry.ID
    name: str


@strawberry.input
class SetChannelTopicInput:
    channel_id: strawberry.ID
    topic: str | None


@strawberry.input
class ChannelInput:
    channel_id: strawberry.ID


@strawberry.input
class ChannelMemberInput:
    channel_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class MarkReadInput:
    channel_id: strawberry.ID
    message_id: strawberry.ID | None = strawberry.field(
        default=None, description="The last message read; the newest when left out."
    )


@strawberry.type
class ChannelPayload:
    channel: Channel


@strawberry.type
class LeaveChannelPayload:
    left_channel_id: strawberry.ID


def _channel(input_id: strawberry.ID) -> str:
    return expect_id(input_id, "Channel")


async def create_channel(info: Info[Any, Any], input: CreateChannelInput) -> ChannelPayload | None:
    view = await channels.create_channel(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        input.name,
        input.visibility,
        input.topic,
    )
    return ChannelPayload(channel=Channel.from_view(view))


async def create_direct_channel(
    info: Info[Any, Any],
    input: CreateDirectChannelInput,
) -> ChannelPayload | None:
    view = await channels.create_direct_channel(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        [expect_id(u, "User") for u in input.user_ids],
    )
    return ChannelPayload(channel=Channel.from_view(view))


async def rename_channel(info: Info[Any, Any], input: RenameChannelInput) -> ChannelPayload | None:
    view = await channels.rename_channel(
        request_context(info), _channel(input.channel_id), input.name
    )
    return ChannelPayload(channel=Channel.from_view(view))


async def set_channel_topic(
    info: Info[Any, Any], input: SetChannelTopicInput
) -> ChannelPayload | None:
    view = await channels.set_topic(request_context(info), _channel(input.channel_id), input.topic)
    return ChannelPayload(channel=Channel.from_view(view))


async def archive_channel(info: Info[Any, Any], input: ChannelInput) -> ChannelPayload | None:
    view = await channels.set_archived(request_context(info), _channel(input.channel_id), True)
    return ChannelPayload(channel=Channel.from_view(view))


async def unarchive_channel(info: Info[Any, Any], input: ChannelInput) -> ChannelPayload | None:
    view = await channels.set_archived(request_context(info), _channel(input.channel_id), False)
    return ChannelPayload(channel=Channel.from_view(view))


async def join_channel(info: Info[Any, Any], input: ChannelInput) -> ChannelPayload | None:
    view = await channels.join_channel(request_context(info), _channel(input.channel_id))
    return ChannelPayload(channel=Channel.from_view(view))


async def leave_channel(info: Info[Any, Any], input: ChannelInput) -> LeaveChannelPayload | None:
    await channels.leave_channel(request_context(info), _channel(input.channel_id))
    return LeaveChannelPayload(left_channel_id=input.channel_id)


async def add_channel_member(
    info: Info[Any, Any], input: ChannelMemberInput
) -> ChannelPayload | None:
    view = await channels.add_channel_member(
        request_context(info), _channel(input.channel_id), expect_id(input.user_id, "User")
    )
    return ChannelPayload(channel=Channel.from_view(view))


async def remove_channel_member(
    info: Info[Any, Any], input: ChannelMemberInput
) -> ChannelPayload | None:
    view = await channels.remove_channel_member(
        request_context(info), _channel(input.channel_id), expect_id(input.user_id, "User")
    )
    return ChannelPayload(channel=Channel.from_view(view))


async def mark_read(info: Info[Any, Any], input: MarkReadInput) -> ChannelPayload | None:
    message = None if input.message_id is None else expect_id(input.message_id, "Message")
    view = await channels.mark_read(request_context(info), _channel(input.channel_id), message)
    return ChannelPayload(channel=Channel.from_view(view))


@strawberry.type
class ChannelsMutation:
    create_channel: ChannelPayload | None = strawberry.mutation(
        resolver=create_channel, description="Create a public or private channel."
    )
    create_direct_channel: ChannelPayload | None = strawberry.mutation(
        resolver=create_direct_channel,
        description="The direct channel of you and these people (the existing one if any).",
    )
    rename_channel: ChannelPayload | None = strawberry.mutation(
        resolver=rename_channel, description="Rename a channel."
    )
    set_channel_topic: ChannelPayload | None = strawberry.mutation(
        resolver=set_channel_topic, description="Set or clear a channel's topic."
    )
    archive_channel: ChannelPayload | None = strawberry.mutation(
        resolver=archive_channel, description="Archive a channel: readable, frozen."
    )
    unarchive_channel: ChannelPayload | None = strawberry.mutation(
        resolver=unarchive_channel, description="Bring an archived channel back."
    )
    join_channel: ChannelPayload | None = strawberry.mutation(
        resolver=join_channel, description="Join a public channel."
    )
    leave_channel: LeaveChannelPayload | None = strawberry.mutation(
        resolver=leave_channel, description="Leave a channel."
    )
    add_channel_member: ChannelPayload | None = strawberry.mutation(
        resolver=add_channel_member, description="Add a workspace member to a channel."
    )
    remove_channel_member: ChannelPayload | None = strawberry.mutation(
        resolver=remove_channel_member, description="Remove someone from a channel."
    )
    mark_read: ChannelPayload | None = strawberry.mutation(
        resolver=mark_read, description="Move your read position in a channel."
    )
