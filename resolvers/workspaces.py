"""Workspaces: creation, names, members and their roles (invitations: resolvers/invitations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.ids import new_id
from persistence.workspaces import MembershipRecord, WorkspaceRecord
from resolvers.accounts import UserView
from resolvers.audit import AuditKind
from resolvers.authz import WorkspaceAccess
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import WorkspaceNotice
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.presence import Presence, status
from resolvers.roles import Role
from resolvers.users import fellow
from resolvers.validation import clean_name

MAX_WORKSPACE_NAME = 80
_PAGE = 100


def name_ref(workspace_id: str) -> FieldRef:
    return FieldRef(
        entity="workspace", field="name", row_id=workspace_id, workspace_id=workspace_id
    )


class WorkspaceView:
    """A workspace as one caller sees it; the name opens only with that caller's grant."""

    def __init__(
        self,
        ctx: RequestContext,
        workspace_id: str,
        grant: Grant,
        access: WorkspaceAccess | None,
        record: WorkspaceRecord | None = None,
    ) -> None:
        self.id = workspace_id
        self.access = access  # None for an invitee, who may read the name and nothing more
        self._ctx = ctx
        self._grant = grant
        self._record = record

    async def record(self) -> WorkspaceRecord:
        if self._record is None:
            self._record = await self._ctx.loaders.workspaces.load(self.id)
            if self._record is None:
                raise not_found("workspace")
        return self._record

    async def name(self) -> str:
        record = await self.record()
        return await self._ctx.services.keys.open_text(
            self._grant, name_ref(self.id), record.name_sealed
        )

    async def created_at(self) -> datetime:
        return (await self.record()).created_at

    async def require_two_factor(self) -> bool:
        """Whether members need two-factor sign-in to see the workspace's content."""
        return await self._ctx.loaders.two_factor_required.load(self.id)


@dataclass(frozen=True)
class MemberView:
    user: UserView
    role: Role
    joined_at: datetime
    ctx: RequestContext

    async def presence(self) -> Presence:
        """ONLINE, AWAY or OFFLINE, from live subscriptions on any node."""
        realtime = self.ctx.services.policy.realtime
        record = await self.ctx.loaders.presence.load(self.user.id)
        return status(
            record,
            self.ctx.services.clock(),
            timedelta(seconds=realtime.presence_timeout_seconds),
            timedelta(seconds=realtime.away_after_seconds),
        )


async def access(ctx: RequestContext, workspace_id: str) -> WorkspaceAccess:
    """The caller's access to a workspace's content: NOT_FOUND when it is not a member,
    FORBIDDEN (reason TWO_FACTOR_REQUIRED) when the workspace requires two-factor sign-in
    and the caller has not turned it on."""
    granted = await membership_access(ctx, workspace_id)
    await two_factor_gate(ctx, granted)
    return granted


async def membership_access(ctx: RequestContext, workspace_id: str) -> WorkspaceAccess:
    """The caller's membership of a workspace, with no regard to its sign-in requirements:
    enough for the workspace itself (name, role, whether it requires two-factor)."""
    caller = await ctx.require_user()
    membership = await ctx.loaders.my_memberships.load(workspace_id)
    return ctx.services.authz.workspace(caller, workspace_id, membership)


async def two_factor_gate(ctx: RequestContext, granted: WorkspaceAccess) -> None:
    required = await ctx.loaders.two_factor_required.load(granted.workspace_id)
    enrolled = required and await ctx.loaders.two_factor_enabled.load(granted.principal.user_id)
    ctx.services.authz.two_factor_gate(granted, required, enrolled)


def view(
    ctx: RequestContext, granted: WorkspaceAccess, record: WorkspaceRecord | None = None
) -> WorkspaceView:
    grant = ctx.services.authz.workspace_grant(granted)
    return WorkspaceView(ctx, granted.workspace_id, grant, granted, record)


def member_view(
    ctx: RequestContext, granted: WorkspaceAccess, member: MembershipRecord
) -> MemberView:
    user = fellow(ctx, granted, member.user_id)
    return MemberView(user=user, role=Role(member.role), joined_at=member.joined_at, ctx=ctx)


async def get_workspace(ctx: RequestContext, workspace_id: str) -> WorkspaceView:
    # The workspace itself, for members held back by its two-factor requirement too: its
    # fields that reach content check the requirement themselves.
    granted = await membership_access(ctx, workspace_id)
    workspace = view(ctx, granted)
    await workspace.record()
    return workspace


async def create_workspace(ctx: RequestContext, name: str) -> WorkspaceView:
    services = ctx.services
    caller = await ctx.require_user()
    clean = clean_name(name, field="name", max_length=MAX_WORKSPACE_NAME)
    workspace_id = new_id()
    now = services.clock()
    record = WorkspaceRecord(
        workspace_id=workspace_id,
        name_sealed=await services.keys.seal_text(name_ref(workspace_id), clean),
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    owner = MembershipRecord(workspace_id, caller.user_id, Role.OWNER.value, now)
    await services.workspaces.create(record, owner)
    ctx.loaders.my_memberships.prime(workspace_id, owner)
    return view(ctx, services.authz.workspace(caller, workspace_id, owner), record)


async def rename_workspace(ctx: RequestContext, workspace_id: str, name: str) -> WorkspaceView:
    services = ctx.services
    granted = await access(ctx, workspace_id)
    services.authz.manage_members(granted)
    clean = clean_name(name, field="name", max_length=MAX_WORKSPACE_NAME)
    sealed = await services.keys.seal_text(name_ref(workspace_id), clean)
    await services.workspaces.rename(workspace_id, sealed, services.clock())
    ctx.loaders.workspaces.clear(workspace_id)
    data = {"id": gid("Workspace", workspace_id), "name": clean}
    await services.notices.publish(gid("Workspace", workspace_id), WorkspaceNotice.RENAMED, data)
    return view(ctx, granted)


async def set_require_two_factor(
    ctx: RequestContext, workspace_id: str, *, required: bool
) -> WorkspaceView:
    """Owners decide whether members need two-factor sign-in to see the workspace's content;
    an owner turning it on must have it on already."""
    services = ctx.services
    granted = await access(ctx, workspace_id)
    services.authz.set_workspace_policy(granted)
    if required and not await ctx.loaders.two_factor_enabled.load(granted.principal.user_id):
        raise bad_input(
            "Turn on two-factor sign-in for your own account before requiring it of others.",
            field="requireTwoFactor",
        )
    await services.two_factor.set_required(workspace_id, required, services.clock())
    ctx.loaders.two_factor_required.clear(workspace_id)
    return view(ctx, granted)


async def my_workspaces(ctx: RequestContext, first: int, after: str | None) -> Page[WorkspaceView]:
    check_first(first)
    caller = await ctx.require_user()
    start = decode_cursor(after, 1)
    rows = await ctx.services.workspaces.list_for_user(
        caller.user_id, limit=first + 1, after_workspace_id=str(start[0]) if start else None
    )
    views = []
    for membership in rows[:first]:
        ctx.loaders.my_memberships.prime(membership.workspace_id, membership)
        granted = ctx.services.authz.workspace(caller, membership.workspace_id, membership)
        views.append((encode_cursor([membership.workspace_id]), view(ctx, granted)))
    return Page(edges=views, has_next_page=len(rows) > first)


async def members(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None
) -> Page[MemberView]:
    check_first(first)
    granted = await access(ctx, workspace_id)
    start = decode_cursor(after, 1)
    rows = await ctx.services.workspaces.list_members(
        workspace_id, limit=first + 1, after_user_id=str(start[0]) if start else None
    )
    edges = [(encode_cursor([m.user_id]), member_view(ctx, granted, m)) for m in rows[:first]]
    return Page(edges=edges, has_next_page=len(rows) > first)


async def _target_member(ctx: RequestContext, workspace_id: str, user_id: str) -> MembershipRecord:
    membership = await ctx.services.workspaces.membership(workspace_id, user_id)
    if membership is None:
        raise not_found("member")
    return membership


async def change_member_role(
    ctx: RequestContext, workspace_id: str, user_id: str, role: Role
) -> MemberView:
    services = ctx.services
    granted = await access(ctx, workspace_id)
    target = await _target_member(ctx, workspace_id, user_id)
    current = Role(target.role)
    services.authz.assign_role(granted, current, role)
    if current is Role.OWNER and role is not Role.OWNER:
        await _keep_an_owner(ctx, workspace_id)
    changed = MembershipRecord(workspace_id, user_id, role.value, target.joined_at)
    await services.workspaces.put_member(changed)
    await _revoke_invitations_after_change(ctx, workspace_id, user_id, changed)
    await services.notices.access_changed(user_id)  # a guest sees fewer channels than a member
    await member_notice(
        ctx, workspace_id, WorkspaceNotice.MEMBER_ROLE_CHANGED, user_id, role=role.value
    )
    await audit_event(
        ctx,
        workspace_id,
        AuditKind.MEMBER_ROLE_CHANGED,
        [gid("User", user_id)],
        role=role.value,
        previousRole=current.value,
    )
    return member_view(ctx, granted, changed)


async def _keep_an_owner(ctx: RequestContext, workspace_id: str) -> None:
    if await ctx.services.workspaces.count_owners(workspace_id) < 2:
        raise bad_input("A workspace keeps at least one owner: make someone else owner first.")


async def remove_member(ctx: RequestContext, workspace_id: str, user_id: str) -> None:
    services = ctx.services
    granted = await access(ctx, workspace_id)
    if user_id == granted.principal.user_id:
        raise bad_input("Use leaveWorkspace to leave.", field="userId")
    target = await _target_member(ctx, workspace_id, user_id)
    # Removing is taking every role away: the same rule as changing it (an admin cannot
    # touch an owner).
    services.authz.assign_role(granted, Role(target.role), Role.GUEST)
    if Role(target.role) is Role.OWNER:
        await _keep_an_owner(ctx, workspace_id)
    await _drop_member(ctx, workspace_id, user_id)
    await audit_event(
        ctx, workspace_id, AuditKind.MEMBER_REMOVED, [gid("User", user_id)], role=target.role
    )


async def leave_workspace(ctx: RequestContext, workspace_id: str) -> None:
    granted = await access(ctx, workspace_id)
    if granted.role is Role.OWNER:
        await _keep_an_owner(ctx, workspace_id)
    await _drop_member(ctx, workspace_id, granted.principal.user_id)
    await audit_event(ctx, workspace_id, AuditKind.MEMBER_LEFT, [], role=granted.role.value)


async def _drop_member(ctx: RequestContext, workspace_id: str, user_id: str) -> None:
    """Remove the membership first (access ends at once), then every channel membership."""
    services = ctx.services
    await services.workspaces.remove_member(workspace_id, user_id)
    ctx.loaders.my_memberships.clear(workspace_id)
    await _revoke_invitations_after_change(ctx, workspace_id, user_id, None)
    # Before anything else is published, the leaver's subscriptions are checked again.
    await services.notices.access_changed(user_id)
    while refs := await services.channels.list_for_member(workspace_id, user_id, limit=_PAGE):
        for ref in refs:
            await services.channels.remove_member(workspace_id, ref.channel_id, user_id)
    await member_notice(ctx, workspace_id, WorkspaceNotice.MEMBER_REMOVED, user_id)


async def _revoke_invitations_after_change(
    ctx: RequestContext, workspace_id: str, user_id: str, now_holds: MembershipRecord | None
) -> None:
    """After someone's role changed or they left, no invitation made earlier may undo it.

    Goes the pending invitations of the workspace addressed to that person (accepting one
    would bring a removed member back, or a demoted one up again) and those they sent that
    their new role (None: no role) may no longer grant. `accept_invitation` checks the same
    again, for rows this misses (written before the rule, or racing with it).
    """
    services = ctx.services
    after: str | None = None
    while ids := await services.workspaces.invitation_ids_for_workspace(
        workspace_id, limit=_PAGE, after_id=after
    ):
        after = ids[-1]
        records = [r for r in await services.workspaces.get_invitations(ids) if r is not None]
        invitees = await services.accounts.find_user_ids_by_email([r.email_index for r in records])
        for record, invitee in zip(records, invitees, strict=True):
            sent_by_them = record.invited_by == user_id
            if invitee == user_id or (
                sent_by_them and not services.authz.invitation_honoured(record, now_holds)
            ):
                await services.workspaces.remove_invitation(record)
        if len(ids) < _PAGE:
            return


async def member_notice(
    ctx: RequestContext, workspace_id: str, type_: WorkspaceNotice, user_id: str, **extra: str
) -> None:
    data = {"workspaceId": gid("Workspace", workspace_id), "userId": gid("User", user_id), **extra}
    await ctx.services.notices.publish(gid("Workspace", workspace_id), type_, data)


async def audit_event(
    ctx: RequestContext,
    workspace_id: str,
    kind: AuditKind,
    targets: list[str],
    **details: str,
) -> None:
    await ctx.services.audit.workspace_event(
        workspace_id,
        kind,
        actor_id=ctx.principal_now().user_id,
        client_address=ctx.client_address,
        targets=targets,
        details=details,
    )
