"""Invitations by email: sent as a one-time link to the address, and shown to an account
only once it has proved that address its own."""

from __future__ import annotations

from dataclasses import replace

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.identity import AccountToken
from persistence.ids import new_id
from persistence.workspaces import InvitationRecord, MembershipRecord
from resolvers import identity
from resolvers.accounts import EMAIL_INDEX, email_ref
from resolvers.audit import AuditKind
from resolvers.authz import Action
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import InvitationNotice, WorkspaceNotice
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import Role
from resolvers.validation import normalize_email
from resolvers.workspaces import (
    WorkspaceView,
    access,
    audit_event,
    member_notice,
    view,
)

MAX_PENDING_INVITATIONS_SHOWN = 100


def invitation_email_ref(invitation: InvitationRecord) -> FieldRef:
    return invitee_email_ref(invitation.invitation_id, invitation.workspace_id)


def invitee_email_ref(invitation_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(
        entity="invitation", field="email", row_id=invitation_id, workspace_id=workspace_id
    )


class InvitationView:
    """An invitation, readable by the workspace's managers and by the invitee."""

    def __init__(
        self, ctx: RequestContext, record: InvitationRecord, grant: Grant, workspace: WorkspaceView
    ) -> None:
        self.record = record
        self.workspace = workspace
        self._ctx = ctx
        self._grant = grant

    @property
    def id(self) -> str:
        return self.record.invitation_id

    async def email(self) -> str:
        ref = invitation_email_ref(self.record)
        return await self._ctx.services.keys.open_text(self._grant, ref, self.record.email_sealed)


async def invite_member(
    ctx: RequestContext, workspace_id: str, email: str, role: Role
) -> InvitationView:
    """Invite an address: its owner gets a one-time link by mail, and an account whose
    verified address it is sees the invitation too. Either way of accepting proves the
    mailbox; merely signing up with the address does not."""
    services = ctx.services
    granted = await access(ctx, workspace_id)
    services.authz.assign_role(granted, None, role)
    services.mail.require()
    normalized = normalize_email(email)
    index = services.keyring.blind_index(EMAIL_INDEX, normalized)
    existing_user = await services.accounts.find_user_id_by_email(index)
    if existing_user and await services.workspaces.membership(workspace_id, existing_user):
        raise bad_input("That person is already a member.", field="email")
    now = services.clock()
    invitation_id = new_id()
    record = InvitationRecord(
        invitation_id=invitation_id,
        workspace_id=workspace_id,
        email_sealed=b"",
        email_index=index,
        role=role.value,
        invited_by=granted.principal.user_id,
        created_at=now,
        expires_at=now + services.policy.invitation_ttl,
    )
    # One pending invitation per address and workspace: two could be accepted one after the
    # other, the second undoing whatever happened to the member in between. Claimed with an
    # insert-if-absent, so two invitations sent at once cannot both be pending; the scan
    # also finds invitations made before claims existed (migration 14).
    pending = await services.workspaces.invitations_to(index, workspace_id)
    if any(expires > now for _, expires in pending) or not (
        await services.workspaces.claim_pending(record, now)
    ):
        raise bad_input(
            "That address already has a pending invitation to this workspace; revoke it "
            "to send another.",
            field="email",
        )
    sealed = await services.keys.seal_text(invitation_email_ref(record), normalized)
    record = replace(record, email_sealed=sealed)
    await services.workspaces.add_invitation(record)
    workspace_name = await view(ctx, granted).name()
    await _mail_invitation(ctx, record, normalized, workspace_name)
    await audit_event(
        ctx,
        workspace_id,
        AuditKind.INVITATION_SENT,
        [gid("Invitation", invitation_id)],
        email=normalized,
        role=role.value,
    )
    if existing_user and await services.identity.verified_index(existing_user) == index:
        # The invitee learns of it live; the name is theirs to read as an invitee.
        data = {
            "invitationId": gid("Invitation", invitation_id),
            "workspaceId": gid("Workspace", workspace_id),
            "workspaceName": workspace_name,
            "role": role.value,
        }
        await services.notices.publish(gid("User", existing_user), InvitationNotice.RECEIVED, data)
    grant = services.authz.invitation_for_manager(granted, record)
    return InvitationView(ctx, record, grant, view(ctx, granted))


async def _mail_invitation(
    ctx: RequestContext, record: InvitationRecord, email: str, workspace_name: str
) -> None:
    services = ctx.services
    days = max(1, round(services.policy.invitation_ttl.total_seconds() / 86_400))
    await identity.mail_link(
        services,
        identity.Purpose.INVITATION,
        email,
        f"You are invited to {workspace_name} on Cove",
        lambda link: (
            f"You are invited to join the workspace {workspace_name} as "
            f"{record.role.lower()}.\n\nAccept within {days} days, signed in to any Cove "
            f"account, by opening:\n\n{link}\n\n"
            "The link works once. If you did not expect this, ignore this message.\n"
        ),
        email_index=record.email_index,
        expires_at=record.expires_at,
        subject=record.invitation_id,
    )


async def _my_email_index(ctx: RequestContext) -> tuple[bytes, bool]:
    """The blind index of the caller's address, and whether they have proved it theirs."""
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.READ)
    user = await services.accounts.get_user(caller.user_id)
    if user is None:
        raise not_found("user")
    email = await services.keys.open_text(grant, email_ref(caller.user_id), user.email_sealed)
    index = services.keyring.blind_index(EMAIL_INDEX, email)
    return index, await services.identity.verified_index(caller.user_id) == index


async def _my_verified_index(ctx: RequestContext) -> bytes | None:
    """Invitations by email reach an account only once it has proved the address."""
    index, verified = await _my_email_index(ctx)
    return index if verified else None


def _invitee_view(ctx: RequestContext, record: InvitationRecord, grant: Grant) -> InvitationView:
    services = ctx.services
    caller = ctx.principal_now()
    workspace_grant = services.authz.invitee_workspace_grant(caller, record)
    workspace = WorkspaceView(ctx, record.workspace_id, workspace_grant, None)
    return InvitationView(ctx, record, grant, workspace)


async def my_invitations(ctx: RequestContext) -> list[InvitationView]:
    """Live invitations addressed to the caller's email, newest first."""
    services = ctx.services
    caller = await ctx.require_user()
    index = await _my_verified_index(ctx)
    if index is None:
        return []
    ids = await services.workspaces.invitation_ids_for_email(
        index, limit=MAX_PENDING_INVITATIONS_SHOWN
    )
    now = services.clock()
    views = []
    for record in await services.workspaces.get_invitations(ids):
        if record is None or record.expires_at <= now:
            continue
        grant = services.authz.invitation_for_invitee(caller, record, index)
        views.append(_invitee_view(ctx, record, grant))
    return views


async def workspace_invitations(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None
) -> Page[InvitationView]:
    """Pending invitations of a workspace, for its managers; expired ones are left out."""
    check_first(first)
    services = ctx.services
    granted = await access(ctx, workspace_id)
    services.authz.manage_members(granted)
    start = decode_cursor(after, 1)
    ids = await services.workspaces.invitation_ids_for_workspace(
        workspace_id, limit=first + 1, after_id=str(start[0]) if start else None
    )
    now = services.clock()
    edges = []
    for invitation_id, record in zip(
        ids[:first], await services.workspaces.get_invitations(ids[:first]), strict=True
    ):
        if record is None or record.expires_at <= now:
            continue
        grant = services.authz.invitation_for_manager(granted, record)
        edges.append(
            (encode_cursor([invitation_id]), InvitationView(ctx, record, grant, view(ctx, granted)))
        )
    return Page(edges=edges, has_next_page=len(ids) > first)


async def get_invitation(ctx: RequestContext, invitation_id: str) -> InvitationView:
    """An invitation, for its invitee or the managers of its workspace; else NOT_FOUND."""
    services = ctx.services
    caller = await ctx.require_user()
    record = await services.workspaces.get_invitation(invitation_id)
    if record is None or record.expires_at <= services.clock():
        raise not_found("invitation")
    index = await _my_verified_index(ctx)
    if index is not None and record.email_index == index:
        return _invitee_view(
            ctx, record, services.authz.invitation_for_invitee(caller, record, index)
        )
    try:
        granted = await access(ctx, record.workspace_id)
        grant = services.authz.invitation_for_manager(granted, record)
    except CoveError:
        raise not_found("invitation") from None
    return InvitationView(ctx, record, grant, view(ctx, granted))


async def _invitation_for_me(ctx: RequestContext, invitation_id: str) -> InvitationRecord:
    services = ctx.services
    caller = await ctx.require_user()
    record = await services.workspaces.get_invitation(invitation_id)
    if record is None:
        raise not_found("invitation")
    index, verified = await _my_email_index(ctx)
    services.authz.invitation_for_invitee(caller, record, index)
    if not verified:
        raise CoveError(
            ErrorCode.FORBIDDEN,
            "Verify your email address first (see the link we mailed you, or "
            "resendVerificationEmail): invitations to an address go only to its proved owner.",
            field="invitationId",
            reason="EMAIL_NOT_VERIFIED",
        )
    if record.expires_at <= services.clock():
        raise bad_input("This invitation has expired; ask for a new one.", field="invitationId")
    return record


async def accept_invitation(ctx: RequestContext, invitation_id: str) -> WorkspaceView:
    """Join a workspace by an invitation to the caller's verified address."""
    record = await _invitation_for_me(ctx, invitation_id)
    return await _accept(ctx, record, field="invitationId")


async def accept_invitation_link(ctx: RequestContext, token: str) -> WorkspaceView:
    """Join a workspace with the one-time link mailed to the invited address, signed in to
    any account: holding the link proves the mailbox. If the account's own address is the
    invited one, that address counts as verified from now on."""
    services = ctx.services
    await ctx.require_user()
    token_record = await identity.check(ctx, token, identity.Purpose.INVITATION)
    record = await services.workspaces.get_invitation(token_record.subject)
    if record is None or record.email_index != token_record.email_index:
        raise CoveError(
            ErrorCode.BAD_USER_INPUT,
            "This invitation was revoked or has been accepted; ask for a new one.",
            field="token",
            reason="TOKEN_INVALID",
        )
    if record.expires_at <= services.clock():
        raise bad_input("This invitation has expired; ask for a new one.", field="token")
    joined = await _accept(ctx, record, field="token", spend=token_record)
    index, verified = await _my_email_index(ctx)
    if index == record.email_index and not verified:
        caller = ctx.principal_now()
        await services.identity.mark_verified(caller.user_id, index, services.clock())
    return joined


async def _accept(
    ctx: RequestContext,
    record: InvitationRecord,
    *,
    field: str,
    spend: AccountToken | None = None,
) -> WorkspaceView:
    """Accept an invitation, checked again now: live, its workspace still there and its
    inviter still allowed to grant its role. Accepting consumes every invitation of that
    address to that workspace (and `spend`, the link it came by). It never changes the role
    of someone already a member (that is changeMemberRole's): the invitation is used up and
    they keep the role they hold."""
    services = ctx.services
    caller = ctx.principal_now()
    workspace_id = record.workspace_id
    invitation_id = record.invitation_id
    if await ctx.loaders.workspaces.load(workspace_id) is None:
        await services.workspaces.remove_invitation(record)
        raise not_found("invitation")
    inviter = await services.workspaces.membership(workspace_id, record.invited_by)
    if not services.authz.invitation_honoured(record, inviter):
        await services.workspaces.remove_invitation(record)
        raise bad_input(
            "This invitation is no longer valid: whoever sent it may no longer invite at this "
            "role. Ask for a new one.",
            field=field,
        )
    if spend is not None:
        await identity.spend(ctx, spend, field=field)
    siblings = [
        i for i, _ in await services.workspaces.invitations_to(record.email_index, workspace_id)
    ]
    existing = await services.workspaces.membership(workspace_id, caller.user_id)
    role = Role(record.role)
    if existing is not None:
        await services.workspaces.accept_invitation(record, None, siblings)
        member = existing
    else:
        member = MembershipRecord(workspace_id, caller.user_id, role.value, services.clock())
        await services.workspaces.accept_invitation(record, member, siblings)
        await member_notice(
            ctx, workspace_id, WorkspaceNotice.MEMBER_ADDED, caller.user_id, role=role.value
        )
    ctx.loaders.my_memberships.prime(record.workspace_id, member, force=True)
    await audit_event(
        ctx,
        workspace_id,
        AuditKind.INVITATION_ACCEPTED,
        [gid("Invitation", invitation_id)],
        role=member.role,
    )
    return view(ctx, services.authz.workspace(caller, record.workspace_id, member))


async def decline_invitation(ctx: RequestContext, invitation_id: str) -> None:
    record = await _invitation_for_me(ctx, invitation_id)
    await ctx.services.workspaces.remove_invitation(record)


async def revoke_invitation(ctx: RequestContext, invitation_id: str) -> None:
    services = ctx.services
    await ctx.require_user()
    record = await services.workspaces.get_invitation(invitation_id)
    if record is None:
        raise not_found("invitation")
    granted = await access(ctx, record.workspace_id)
    services.authz.invitation_for_manager(granted, record)
    await services.workspaces.remove_invitation(record)
    await audit_event(
        ctx,
        record.workspace_id,
        AuditKind.INVITATION_REVOKED,
        [gid("Invitation", invitation_id)],
        role=record.role,
    )
