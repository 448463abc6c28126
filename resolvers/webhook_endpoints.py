"""What the owner of an outgoing webhook endpoint reads and does: its URL, its delivery log,
redelivery (the engine is resolvers/webhooks.py)."""

from __future__ import annotations

from dataclasses import dataclass

from crypto.grants import Grant
from persistence.webhooks import AttemptRecord, EndpointRecord
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode
from resolvers.keys import KeyService
from resolvers.webhooks import Webhooks, url_ref

# An attempt of the delivery log, as the schema shows it.
DeliveryAttempt = AttemptRecord


@dataclass(frozen=True)
class EndpointView:
    """An outgoing webhook endpoint as its owner sees it."""

    services_webhooks: Webhooks
    record: EndpointRecord
    grant: Grant

    @property
    def id(self) -> str:
        return self.record.endpoint_id

    async def url(self, keys: KeyService) -> str:
        return await keys.open_text(self.grant, url_ref(self.id), self.record.url_sealed)

    async def deliveries(self, first: int, before: str | None) -> list[AttemptRecord]:
        return await self.services_webhooks.repository.attempts(
            self.id, limit=max(1, min(first, 100)), before=before
        )


async def owned_endpoint(ctx: RequestContext, endpoint_id: str) -> EndpointView:
    """The caller's own endpoint, or NOT_FOUND (also for someone else's)."""
    principal = await ctx.require_user()
    webhooks = ctx.services.webhooks
    record = await webhooks.repository.endpoint(endpoint_id)
    if record is None:
        raise CoveError(ErrorCode.NOT_FOUND, "No such webhook endpoint.")
    grant = ctx.services.authz.webhook_endpoint(principal, record.owner_id, endpoint_id)
    return EndpointView(webhooks, record, grant)


async def redeliver_webhook(
    ctx: RequestContext, endpoint_id: str, attempt_id: str
) -> AttemptRecord:
    """Queue again what an attempt of the caller's endpoint sent; the attempt redelivered."""
    endpoint = await owned_endpoint(ctx, endpoint_id)
    attempt = await ctx.services.webhooks.repository.attempt(endpoint.id, attempt_id)
    if attempt is None:
        raise CoveError(ErrorCode.NOT_FOUND, "No such webhook delivery.")
    await ctx.services.webhooks.redeliver(attempt)
    return attempt
