"""Incoming webhooks of a channel, and the delivery log of outgoing webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import incoming_webhooks, webhook_endpoints
from resolvers.errors import bad_input, not_found
from resolvers.incoming_webhooks import IncomingWebhookView
from resolvers.webhook_endpoints import DeliveryAttempt, EndpointView
from schema.accounts import User
from schema.channels import Channel
from schema.context import request_context
from schema.relay import expect_id, to_global_id

MAX_DELIVERIES = 100


def _pair(global_id: strawberry.ID, type_name: str) -> tuple[str, str]:
    """The two raw ids an id of a nested row carries (`<parent>:<row>`)."""
    parent, _, row = expect_id(global_id, type_name).partition(":")
    if not parent or not row:
        raise not_found(type_name.lower())
    return parent, row


@strawberry.type(description="A secret URL that posts messages into a channel as a named bot.")
class IncomingWebhook:
    view: strawberry.Private[IncomingWebhookView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("IncomingWebhook", f"{self.view.record.channel_id}:{self.view.id}")

    @strawberry.field(description="The name its messages show as their author.")
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field
    def channel(self) -> Channel:
        from resolvers.channels import ChannelView

        return Channel.from_view(ChannelView(self.view.ctx, self.view.access))

    @strawberry.field(description="The bot user its messages are posted as.")
    def bot(self) -> User:
        return User.from_view(self.view.bot())

    @strawberry.field
    def created_by(self) -> User:
        return User.from_view(self.view.creator())

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.created_at


@strawberry.input
class CreateIncomingWebhookInput:
    channel_id: strawberry.ID
    name: str = strawberry.field(description="1 to 80 characters: the author its posts show.")


@strawberry.type
class CreateIncomingWebhookPayload:
    webhook: IncomingWebhook
    url: str = strawberry.field(
        description='POST {"text": "..."} here to post. Shown this once; keep it secret.'
    )


@strawberry.input
class DeleteIncomingWebhookInput:
    webhook_id: strawberry.ID


@strawberry.type
class DeleteIncomingWebhookPayload:
    deleted_webhook_id: strawberry.ID


async def create_incoming_webhook(
    info: Info[Any, Any], input: CreateIncomingWebhookInput
) -> CreateIncomingWebhookPayload | None:
    view, url = await incoming_webhooks.create_incoming_webhook(
        request_context(info), expect_id(input.channel_id, "Channel"), input.name
    )
    return CreateIncomingWebhookPayload(webhook=IncomingWebhook(view=view), url=url)


async def delete_incoming_webhook(
    info: Info[Any, Any], input: DeleteIncomingWebhookInput
) -> DeleteIncomingWebhookPayload | None:
    channel_id, webhook_id = _pair(input.webhook_id, "IncomingWebhook")
    await incoming_webhooks.delete_incoming_webhook(request_context(info), channel_id, webhook_id)
    return DeleteIncomingWebhookPayload(deleted_webhook_id=input.webhook_id)


async def channel_incoming_webhooks(
    info: Info[Any, Any], channel: Channel
) -> list[IncomingWebhook]:
    views = await incoming_webhooks.incoming_webhooks(request_context(info), channel.view.access)
    return [IncomingWebhook(view=view) for view in views]


@strawberry.type(description="One attempt to deliver an event to a webhook endpoint.")
class WebhookDelivery:
    record: strawberry.Private[DeliveryAttempt]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id(
            "WebhookDelivery", f"{self.record.endpoint_id}:{self.record.attempt_id}"
        )

    @strawberry.field(description="The `webhook-id` header: the same on every attempt.")
    def webhook_id(self) -> str:
        return self.record.message_id

    @strawberry.field
    def event_type(self) -> str:
        return self.record.event_type

    @strawberry.field
    def attempted_at(self) -> datetime:
        return self.record.attempted_at

    @strawberry.field(description="The endpoint's HTTP status; null when it did not answer.")
    def status_code(self) -> int | None:
        return self.record.status_code

    @strawberry.field
    def duration_ms(self) -> int:
        return self.record.duration_ms

    @strawberry.field(
        description="Why it failed: timeout, connect, dns, refused_address, redirect, "
        "http_status, invalid_url; null when it succeeded."
    )
    def error_class(self) -> str | None:
        return self.record.error or None

    @strawberry.field
    def succeeded(self) -> bool:
        return self.record.succeeded


@strawberry.type(description="Where Cove sends signed webhooks (docs/webhooks.md).")
class WebhookEndpoint:
    view: strawberry.Private[EndpointView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("WebhookEndpoint", self.view.id)

    @strawberry.field
    async def url(self, info: Info[Any, Any]) -> str:
        return await self.view.url(request_context(info).services.keys)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field(description="Set when Cove stopped sending after repeated failures.")
    def disabled_at(self) -> datetime | None:
        return self.view.record.disabled_at

    @strawberry.field
    def consecutive_failures(self) -> int:
        return self.view.record.consecutive_failures

    @strawberry.field(
        description="The latest attempts, newest first (`first`: 1 to 100; the newest 200 "
        "are kept)."
    )
    async def deliveries(self, first: int = 20) -> list[WebhookDelivery]:
        if not 1 <= first <= MAX_DELIVERIES:
            raise bad_input(f"first must be 1 to {MAX_DELIVERIES}.", field="first")
        records = await self.view.deliveries(first, None)
        return [WebhookDelivery(record=record) for record in records]


async def webhook_endpoint(info: Info[Any, Any], id: strawberry.ID) -> WebhookEndpoint | None:
    view = await webhook_endpoints.owned_endpoint(
        request_context(info), expect_id(id, "WebhookEndpoint")
    )
    return WebhookEndpoint(view=view)


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.type
class RedeliverWebhookPayload:
    delivery: WebhookDelivery = strawberry.field(description="The attempt sent again.")


async def redeliver_webhook(
    info: Info[Any, Any], input: RedeliverWebhookInput
) -> RedeliverWebhookPayload | None:
    endpoint_id, attempt_id = _pair(input.delivery_id, "WebhookDelivery")
    record = await webhook_endpoints.redeliver_webhook(
        request_context(info), endpoint_id, attempt_id
    )
    return RedeliverWebhookPayload(delivery=WebhookDelivery(record=record))


@strawberry.type
class WebhooksQuery:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        resolver=webhook_endpoint, description="One of your outgoing webhook endpoints."
    )


@strawberry.type
class WebhooksMutation:
    create_incoming_webhook: CreateIncomingWebhookPayload | None = strawberry.mutation(
        resolver=create_incoming_webhook,
        description="A URL that posts into a channel as a named bot (channel members with "
        "role MEMBER or higher).",
    )
    delete_incoming_webhook: DeleteIncomingWebhookPayload | None = strawberry.mutation(
        resolver=delete_incoming_webhook,
        description="Revoke an incoming webhook's URL (its creator, or an owner or admin).",
    )
    redeliver_webhook: RedeliverWebhookPayload | None = strawberry.mutation(
        resolver=redeliver_webhook,
        description="Send an attempt's event again, with the same webhook-id; enables a "
        "disabled endpoint.",
    )
