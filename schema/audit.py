"""The audit log: workspace events for owners and admins, an account's for its user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import audit_log
from resolvers.audit import AuditEntry, AuditFilter
from resolvers.audit import AuditKind as AuditKindValue
from schema.context import request_context
from schema.relay import Connection, connection_from_page, expect_id, to_global_id

DEFAULT_PAGE = 20

AuditEventKind = strawberry.enum(
    AuditKindValue, name="AuditEventKind", description="What a security event records."
)


@strawberry.type(description="One detail of an audit event.")
class AuditDetail:
    name: str
    value: str


@strawberry.type(description="A security event: who did what, to what, when and from where.")
class AuditEvent:
    id: strawberry.ID
    kind: AuditEventKind  # type: ignore[valid-type]
    at: datetime
    actor_id: strawberry.ID | None = strawberry.field(
        description="The user who acted; null when nobody signed in did (a share link used)."
    )
    target_ids: list[strawberry.ID] = strawberry.field(
        description="What the event concerns (users, invitations, share links, files)."
    )
    client_address: str = strawberry.field(description="The address the request came from.")
    details: list[AuditDetail]

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> AuditEvent:
        return cls(
            id=to_global_id("AuditEvent", entry.id),
            kind=entry.kind,
            at=entry.at,
            actor_id=None if entry.actor_id is None else to_global_id("User", entry.actor_id),
            target_ids=[strawberry.ID(t) for t in entry.target_ids],
            client_address=entry.client_address,
            details=[AuditDetail(name=k, value=v) for k, v in entry.details.items()],
        )


async def workspace_audit_log(
    info: Info[Any, Any],
    workspace_id: str,
    first: int,
    after: str | None,
    *,
    kinds: list[AuditKindValue] | None,
    actor_id: strawberry.ID | None,
    since: datetime | None,
    until: datetime | None,
) -> Connection[AuditEvent]:
    wanted = AuditFilter(
        kinds=frozenset(kinds or ()),
        actor_id=None if actor_id is None else expect_id(actor_id, "User"),
        since=since,
        until=until,
    )
    page = await audit_log.workspace_audit_log(
        request_context(info), workspace_id, first, after, wanted
    )
    return connection_from_page(page, AuditEvent.from_entry)


async def user_security_log(
    info: Info[Any, Any], user_id: str, first: int, after: str | None
) -> Connection[AuditEvent]:
    page = await audit_log.security_log(request_context(info), user_id, first, after)
    return connection_from_page(page, AuditEvent.from_entry)
