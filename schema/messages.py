"""Messages, threads, reactions, pins and mentions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import messages
from resolvers.messages import MessageView, ReactionGroup
from schema.accounts import User
from schema.channels import Channel
from schema.context import request_context
from schema.relay import Connection, Node, connection_from_page, expect_id, to_global_id

if TYPE_CHECKING:
    from schema.drive import File

DEFAULT_PAGE = 20


@strawberry.type(description="People who reacted with one emoji.")
class Reaction:
    emoji: str
    count: int
    viewer_reacted: bool

    @classmethod
    def from_group(cls, group: ReactionGroup) -> Reaction:
        return cls(emoji=group.emoji, count=group.count, viewer_reacted=group.viewer_reacted)


@strawberry.type(description="A message in a channel, or a reply in a thread.")
class Message(Node):
    view: strawberry.Private[MessageView]
    # Plain values are attributes, not resolvers: a page resolves hundreds of them.
    created_at: datetime
    edited_at: datetime | None = strawberry.field(
        description="When the text last changed; null if never edited."
    )
    reply_count: int = strawberry.field(description="Replies in this message's thread.")
    author: User

    @classmethod
    def from_view(cls, view: MessageView) -> Message:
        return cls(
            id=to_global_id("Message", view.id),
            view=view,
            created_at=view.created_at,
            edited_at=view.edited_at,
            reply_count=view.reply_count,
            author=User.from_view(view.author()),
        )

    @strawberry.field
    def text(self) -> str:
        # Pages load keys up front, so the text usually opens at once; otherwise graphql-core
        # awaits the coroutine returned here. A plain field avoids a task per message.
        ready = self.view.text_ready()
        return ready if ready is not None else self.view.text()  # type: ignore[return-value]

    @strawberry.field
    def channel(self) -> Channel:
        return Channel.from_view(self.view.channel())

    @strawberry.field(description="The people this message mentions.")
    def mentions(self) -> list[User]:
        return [User.from_view(user) for user in self.view.mentions()]

    @strawberry.field(description="The thread's first message, for a reply; null otherwise.")
    async def reply_to(self) -> Message | None:
        parent = await self.view.parent()
        return None if parent is None else Message.from_view(parent)

    @strawberry.field(description="The thread's replies, oldest first.")
    async def replies(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Message]:
        page = await messages.replies(request_context(info), self.view, first, after)
        return connection_from_page(page, Message.from_view)

    @strawberry.field(description="Reactions grouped by emoji, most used first.")
    async def reactions(self) -> list[Reaction]:
        return [Reaction.from_group(group) for group in await self.view.reactions()]

    @strawberry.field
    async def pinned(self) -> bool:
        return await self.view.pinned()

    @strawberry.field(description="Attached files, at the version attached.")
    async def attachments(self) -> list[Annotated[File, strawberry.lazy("schema.drive")]]:
        from schema.drive import File

        return [File.from_view(view) for view in await self.view.attachments()]


async def load_message(info: Info[Any, Any], raw_id: str) -> Message:
    return Message.from_view(await messages.get_message(request_context(info), raw_id))


@strawberry.input
class PostMessageInput:
    channel_id: strawberry.ID
    text: str = strawberry.field(description="1 to 40,000 characters by default.")
    reply_to_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reply in the thread of this message."
    )
    mention_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Members mentioned (at most 50)."
    )
    attachment_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Files to attach (at most 10); whoever reads the message may read them.",
    )


@strawberry.input
class EditMessageInput:
    message_id: strawberry.ID
    text: str
    mention_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Replaces the mentions when given."
    )


@strawberry.input
class MessageInput:
    message_id: strawberry.ID


@strawberry.input
class ReactionInput:
    message_id: strawberry.ID
    emoji: str = strawberry.field(description="1 to 32 characters, no spaces.")


@strawberry.type
class MessagePayload:
    message: Message


@strawberry.type
class DeleteMessagePayload:
    deleted_message_id: strawberry.ID


def _message(input_id: strawberry.ID) -> str:
    return expect_id(input_id, "Message")


def _users(ids: list[strawberry.ID]) -> list[str]:
    return [expect_id(u, "User") for u in ids]


async def post_message(info: Info[Any, Any], input: PostMessageInput) -> MessagePayload | None:
    view = await messages.post_message(
        request_context(info),
        expect_id(input.channel_id, "Channel"),
        input.text,
        None if input.reply_to_id is None else _message(input.reply_to_id),
        _users(input.mention_ids),
        attachment_ids=[expect_id(f, "File") for f in input.attachment_ids],
    )
    return MessagePayload(message=Message.from_view(view))


async def edit_message(info: Info[Any, Any], input: EditMessageInput) -> MessagePayload | None:
    view = await messages.edit_message(
        request_context(info),
        _message(input.message_id),
        input.text,
        None if input.mention_ids is None else _users(input.mention_ids),
    )
    return MessagePayload(message=Message.from_view(view))


async def delete_message(info: Info[Any, Any], input: MessageInput) -> DeleteMessagePayload | None:
    await messages.delete_message(request_context(info), _message(input.message_id))
    return DeleteMessagePayload(deleted_message_id=input.message_id)


async def add_reaction(info: Info[Any, Any], input: ReactionInput) -> MessagePayload | None:
    view = await messages.add_reaction(
        request_context(info), _message(input.message_id), input.emoji
    )
    return MessagePayload(message=Message.from_view(view))


async def remove_reaction(info: Info[Any, Any], input: ReactionInput) -> MessagePayload | None:
    view = await messages.remove_reaction(
        request_context(info), _message(input.message_id), input.emoji
    )
    return MessagePayload(message=Message.from_view(view))


async def pin_message(info: Info[Any, Any], input: MessageInput) -> MessagePayload | None:
    view = await messages.set_pinned(request_context(info), _message(input.message_id), True)
    return MessagePayload(message=Message.from_view(view))


async def unpin_message(info: Info[Any, Any], input: MessageInput) -> MessagePayload | None:
    view = await messages.set_pinned(request_context(info), _message(input.message_id), False)
    return MessagePayload(message=Message.from_view(view))


@strawberry.type
class MessagesMutation:
    post_message: MessagePayload | None = strawberry.mutation(
        resolver=post_message, description="Post a message, or a reply in a thread."
    )
    edit_message: MessagePayload | None = strawberry.mutation(
        resolver=edit_message, description="Change your message's text."
    )
    delete_message: DeleteMessagePayload | None = strawberry.mutation(
        resolver=delete_message, description="Erase a message (author or admin)."
    )
    add_reaction: MessagePayload | None = strawberry.mutation(
        resolver=add_reaction, description="React to a message with an emoji."
    )
    remove_reaction: MessagePayload | None = strawberry.mutation(
        resolver=remove_reaction, description="Take back your reaction."
    )
    pin_message: MessagePayload | None = strawberry.mutation(
        resolver=pin_message, description="Pin a message to its channel."
    )
    unpin_message: MessagePayload | None = strawberry.mutation(
        resolver=unpin_message, description="Unpin a message."
    )
