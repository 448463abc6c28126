"""Incoming webhooks: secret URLs that post messages into one channel as a named bot.

Who: a joined member of the channel whose workspace role is MEMBER or higher creates one
(guests, who may only talk where invited, cannot hand that voice to a machine). Channel
members list them; the creator or a workspace owner or admin deletes them.

The name: each webhook gets its own bot user (a user row with the name as its sealed
display name, no email and no password, so it never signs in); its messages record it as
`author_id`, so every view that shows authors shows the name, through the usual path.

A post is made with the creator's access, checked at each post: once the creator has left
the channel or the workspace, or become a guest, the URL answers 404 like a revoked one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from crypto.tokens import hash_token, new_token
from persistence.accounts import UserRecord
from persistence.ids import new_id
from persistence.incoming_webhooks import IncomingWebhookRecord
from resolvers.accounts import UserView, display_name_ref
from resolvers.authz import ChannelAccess, Principal, forbidden
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.messages import post_as
from resolvers.roles import Role
from resolvers.users import fellow

TOKEN_PREFIX = "cove_hook_"  # noqa: S105 - a public marker, not a secret
MAX_NAME_LENGTH = 80
MAX_PER_CHANNEL = 100
HOOK_PATH = "/hooks/"


@dataclass(frozen=True)
class IncomingWebhookView:
    """An incoming webhook as a channel member sees it (never its URL)."""

    ctx: RequestContext
    access: ChannelAccess
    record: IncomingWebhookRecord

    @property
    def id(self) -> str:
        return self.record.webhook_id

    @property
    def created_at(self) -> datetime:
        return self.record.created_at

    def bot(self) -> UserView:
        return fellow(self.ctx, self.access.workspace, self.record.bot_user_id)

    async def name(self) -> str:
        return await self.bot().display_name()

    def creator(self) -> UserView:
        return fellow(self.ctx, self.access.workspace, self.record.creator_id)


def _clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise bad_input(f"The name must be 1 to {MAX_NAME_LENGTH} characters.", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise bad_input("The name must not contain control characters.", field="name")
    return name


def _may_create(access: ChannelAccess) -> None:
    if access.workspace.role.rank < Role.MEMBER.rank:
        raise forbidden("Guests cannot create incoming webhooks.")
    if not access.member:
        raise forbidden("Join the channel first.")
    if access.channel.archived:
        raise CoveError(ErrorCode.BAD_USER_INPUT, "The channel is archived.")


def hook_url(ctx: RequestContext, token: str) -> str:
    return ctx.services.policy.drive.url(HOOK_PATH + token)


async def create_incoming_webhook(
    ctx: RequestContext, channel_id: str, name: str
) -> tuple[IncomingWebhookView, str]:
    """A new webhook and its URL, which is shown this once (only its hash is kept)."""
    access = await channel_access(ctx, channel_id)
    _may_create(access)
    clean = _clean_name(name)
    services = ctx.services
    repository = services.incoming_webhooks
    if len(await repository.in_channel(channel_id, limit=MAX_PER_CHANNEL)) >= MAX_PER_CHANNEL:
        raise bad_input(f"A channel has at most {MAX_PER_CHANNEL} incoming webhooks.")
    now = services.clock()
    token = new_token(TOKEN_PREFIX)
    bot_id = new_id()
    bot = UserRecord(
        user_id=bot_id,
        email_sealed=b"",
        display_name_sealed=await services.keys.seal_text(display_name_ref(bot_id), clean),
        password_hash="",
        created_at=now,
        updated_at=now,
    )
    record = IncomingWebhookRecord(
        webhook_id=new_id(),
        channel_id=channel_id,
        workspace_id=access.workspace.workspace_id,
        bot_user_id=bot_id,
        creator_id=access.workspace.principal.user_id,
        created_at=now,
        token_hash=hash_token(token),
    )
    await repository.create(record, bot)
    return IncomingWebhookView(ctx, access, record), hook_url(ctx, token)


async def incoming_webhooks(
    ctx: RequestContext, access: ChannelAccess
) -> list[IncomingWebhookView]:
    """The channel's webhooks, for its members (oldest first)."""
    if not access.member:
        raise forbidden("Join the channel to see its incoming webhooks.")
    records = await ctx.services.incoming_webhooks.in_channel(
        access.channel_id, limit=MAX_PER_CHANNEL
    )
    return [IncomingWebhookView(ctx, access, record) for record in records]


async def delete_incoming_webhook(ctx: RequestContext, channel_id: str, webhook_id: str) -> None:
    """Revoke the URL at once: its creator, or a workspace owner or admin."""
    access = await channel_access(ctx, channel_id)
    record = await ctx.services.incoming_webhooks.get(channel_id, webhook_id)
    if record is None or not access.member:
        raise not_found("incoming webhook")
    mine = record.creator_id == access.workspace.principal.user_id
    if not mine and not access.workspace.role.manages_members:
        raise forbidden("Only its creator or a workspace admin deletes an incoming webhook.")
    await ctx.services.incoming_webhooks.delete(record)


class HookRefused(Exception):
    """What the /hooks route answers instead of `ok`: an HTTP status and a message."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


async def post_through_hook(ctx: RequestContext, token: str, text: object) -> str:
    """Post `text` through the webhook whose URL carries `token`; the message id. Unknown,
    revoked and orphaned URLs are 404, a full window 429, a bad text 400."""
    services = ctx.services
    record = await services.incoming_webhooks.by_token(hash_token(token))
    if record is None:
        raise HookRefused(404, "No such webhook, or it was revoked.")
    try:
        await services.limits.incoming_webhook_posts.hit(record.webhook_id)
    except CoveError as error:
        raise HookRefused(429, error.message, retry_after=error.retry_after or 60) from None
    if not isinstance(text, str):
        raise HookRefused(400, 'The body must be JSON with a "text" string: {"text": "..."}')
    principal = Principal(user_id=record.creator_id, session_id="hook:" + record.webhook_id)
    as_creator = RequestContext.for_principal(services, principal, ctx.request_id)
    try:
        access = await channel_access(as_creator, record.channel_id)
        if access.workspace.role.rank < Role.MEMBER.rank or not access.member:
            raise forbidden("The webhook's creator may no longer post here.")
    except CoveError:
        raise HookRefused(404, "No such webhook, or it was revoked.") from None
    try:
        message = await post_as(as_creator, access, record.bot_user_id, text)
    except CoveError as error:
        if error.code is ErrorCode.BAD_USER_INPUT:
            raise HookRefused(400, error.message) from None
        raise
    return message.message_id
