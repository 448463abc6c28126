"""Reading audit logs: a workspace's for its owners and admins, an account's for its owner."""

from __future__ import annotations

from crypto.grants import Grant
from persistence.audit import AuditRecord, account_log, workspace_log
from resolvers.audit import AuditEntry, AuditFilter
from resolvers.context import RequestContext
from resolvers.pagination import Page
from resolvers.workspaces import access


async def workspace_audit_log(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None, wanted: AuditFilter
) -> Page[AuditEntry]:
    """The workspace's events, newest first; FORBIDDEN for members and guests."""
    granted = await access(ctx, workspace_id)
    authz = ctx.services.authz
    authz.audit_log(granted)

    def grant_for(record: AuditRecord) -> Grant:
        return authz.audit_event_grant(granted, record.event_id)

    return await ctx.services.audit.page(
        workspace_log(workspace_id), grant_for, first, after, wanted
    )


async def security_log(
    ctx: RequestContext, user_id: str, first: int, after: str | None
) -> Page[AuditEntry]:
    """The account's own events, newest first; NOT_FOUND for anyone but its user."""
    caller = await ctx.require_user()
    authz = ctx.services.authz
    authz.own_audit_event_grant(caller, user_id, user_id)  # refuses before anything is read

    def grant_for(record: AuditRecord) -> Grant:
        return authz.own_audit_event_grant(caller, user_id, record.event_id)

    return await ctx.services.audit.page(
        account_log(user_id), grant_for, first, after, AuditFilter()
    )
