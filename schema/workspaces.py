"""Workspaces, their members and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import invitations, workspaces
from resolvers.invitations import InvitationView
from resolvers.presence import Presence as PresenceValue
from resolvers.roles import Role as RoleValue
from resolvers.workspaces import MemberView, WorkspaceView
from schema.accounts import User
from schema.context import request_context
from schema.relay import Connection, Node, connection_from_page, expect_id, to_global_id

if TYPE_CHECKING:
    from schema.audit import AuditEvent, AuditEventKind
    from schema.calendars import Calendar
    from schema.channels import Channel
    from schema.drive import DriveItem, DriveUsage, Folder
    from schema.tasks import Board

DEFAULT_PAGE = 20

Role = strawberry.enum(RoleValue, name="Role", description="A member's role in a workspace.")
Presence = strawberry.enum(
    PresenceValue,
    name="Presence",
    description="ONLINE: subscribed and active in the last minutes; AWAY: subscribed, idle; "
    "OFFLINE: no live subscription.",
)


@strawberry.type(description="A team: its members, channels and conversations.")
class Workspace(Node):
    view: strawberry.Private[WorkspaceView]

    @classmethod
    def from_view(cls, view: WorkspaceView) -> Workspace:
        return cls(id=to_global_id("Workspace", view.id), view=view)

    @strawberry.field
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field
    async def created_at(self) -> datetime:
        return await self.view.created_at()

    @strawberry.field(
        description="Whether members need two-factor sign-in to see this workspace's content; "
        "those without it get FORBIDDEN with `extensions.reason` TWO_FACTOR_REQUIRED."
    )
    async def require_two_factor(self) -> bool:
        return await self.view.require_two_factor()

    @strawberry.field(description="Your role here; null when you are only invited.")
    def viewer_role(self) -> Role | None:  # type: ignore[valid-type]
        return self.view.access.role if self.view.access else None

    @strawberry.field(description="Members, in the order they joined.")
    async def members(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Member]:
        page = await workspaces.members(request_context(info), self.view.id, first, after)
        return connection_from_page(page, Member.from_view)

    @strawberry.field(description="The channels you may see: public ones and those you are in.")
    async def channels(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[Channel, strawberry.lazy("schema.channels")]]:
        from resolvers import channels
        from schema.channels import Channel

        page = await channels.workspace_channels(request_context(info), self.view.id, first, after)
        return connection_from_page(page, Channel.from_view)

    @strawberry.field(description="Pending invitations, newest first; owners and admins only.")
    async def invitations(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Invitation]:
        page = await invitations.workspace_invitations(
            request_context(info), self.view.id, first, after
        )
        return connection_from_page(page, Invitation.from_view)

    @strawberry.field(
        description="Security events of this workspace, newest first; owners and admins only. "
        "`since` and `until` bound the time (both included); kinds and actor filter."
    )
    async def audit_log(  # noqa: PLR0917 - GraphQL arguments, named by the schema
        self,
        info: Info[Any, Any],
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        kinds: list[Annotated[AuditEventKind, strawberry.lazy("schema.audit")]] | None = None,  # type: ignore[valid-type]
        actor_id: strawberry.ID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[Annotated[AuditEvent, strawberry.lazy("schema.audit")]]:
        from schema.audit import workspace_audit_log

        return await workspace_audit_log(
            info,
            self.view.id,
            first,
            after,
            kinds=kinds,
            actor_id=actor_id,
            since=since,
            until=until,
        )

    @strawberry.field(description="The root folder of this workspace's drive.")
    async def drive(
        self, info: Info[Any, Any]
    ) -> Annotated[Folder, strawberry.lazy("schema.drive")]:
        from schema.drive import workspace_drive

        return await workspace_drive(info, self.view.id)

    @strawberry.field(description="Items put in the trash, newest first.")
    async def drive_trash(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[DriveItem, strawberry.lazy("schema.drive")]]:
        from schema.drive import workspace_trash

        return await workspace_trash(info, self.view.id, first, after)

    @strawberry.field(description="Items shared with you by name, newest share first.")
    async def drive_shared_with_me(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[DriveItem, strawberry.lazy("schema.drive")]]:
        from schema.drive import workspace_shared_with_me

        return await workspace_shared_with_me(info, self.view.id, first, after)

    @strawberry.field(
        description="The calendars you may see: the workspace's, your own, those shared with you."
    )
    async def calendars(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Calendar, strawberry.lazy("schema.calendars")]]:
        from schema.calendars import workspace_calendars

        return await workspace_calendars(info, self.view.id)

    @strawberry.field(description="The task boards you may see (channel boards included).")
    async def boards(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Board, strawberry.lazy("schema.tasks")]]:
        from schema.tasks import workspace_boards

        return await workspace_boards(info, self.view.id)

    @strawberry.field(description="Bytes of files held, against the workspace's quota.")
    async def drive_usage(
        self, info: Info[Any, Any]
    ) -> Annotated[DriveUsage, strawberry.lazy("schema.drive")]:
        from schema.drive import workspace_usage

        return await workspace_usage(info, self.view.id)


@strawberry.type(description="A person's membership of a workspace.")
class Member:
    view: strawberry.Private[MemberView]

    @classmethod
    def from_view(cls, view: MemberView) -> Member:
        return cls(view=view)

    @strawberry.field
    def user(self) -> User:
        return User.from_view(self.view.user)

    @strawberry.field
    def role(self) -> Role:  # type: ignore[valid-type]
        return self.view.role

    @strawberry.field
    def joined_at(self) -> datetime:
        return self.view.joined_at

    @strawberry.field(description="From live realtime subscriptions on any node.")
    async def presence(self) -> Presence:  # type: ignore[valid-type]
        return await self.view.presence()


@strawberry.type(description="An invitation to join a workspace, sent to an email address.")
class Invitation(Node):
    view: strawberry.Private[InvitationView]

    @classmethod
    def from_view(cls, view: InvitationView) -> Invitation:
        return cls(id=to_global_id("Invitation", view.id), view=view)

    @strawberry.field
    def workspace(self) -> Workspace:
        return Workspace.from_view(self.view.workspace)

    @strawberry.field
    async def email(self) -> str:
        return await self.view.email()

    @strawberry.field
    def role(self) -> Role:  # type: ignore[valid-type]
        return RoleValue(self.view.record.role)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def expires_at(self) -> datetime:
        return self.view.record.expires_at


async def load_invitation(info: Info[Any, Any], raw_id: str) -> Invitation:
    return Invitation.from_view(await invitations.get_invitation(request_context(info), raw_id))


async def load_workspace(info: Info[Any, Any], raw_id: str) -> Workspace:
    return Workspace.from_view(await workspaces.get_workspace(request_context(info), raw_id))


# Mutations


@strawberry.input
class CreateWorkspaceInput:
    name: str = strawberry.field(description="1 to 80 characters.")


@strawberry.input
class RenameWorkspaceInput:
    workspace_id: strawberry.ID
    name: str


@strawberry.input
class SetWorkspaceRequireTwoFactorInput:
    workspace_id: strawberry.ID
    require_two_factor: bool


@strawberry.type
class WorkspacePayload:
    workspace: Workspace


@strawberry.input
class InviteMemberInput:
    workspace_id: strawberry.ID
    email: str
    role: Role = RoleValue.MEMBER  # type: ignore[valid-type]


@strawberry.type
class InvitationPayload:
    invitation: Invitation


@strawberry.input
class InvitationInput:
    invitation_id: strawberry.ID


@strawberry.type
class DeclineInvitationPayload:
    declined_invitation_id: strawberry.ID


@strawberry.type
class RevokeInvitationPayload:
    revoked_invitation_id: strawberry.ID


@strawberry.input
class ChangeMemberRoleInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID
    role: Role  # type: ignore[valid-type]


@strawberry.type
class MemberPayload:
    member: Member


@strawberry.input
class RemoveMemberInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class RemoveMemberPayload:
    removed_user_id: strawberry.ID


@strawberry.input
class LeaveWorkspaceInput:
    workspace_id: strawberry.ID


@strawberry.type
class LeaveWorkspacePayload:
    left_workspace_id: strawberry.ID


async def create_workspace(
    info: Info[Any, Any], input: CreateWorkspaceInput
) -> WorkspacePayload | None:
    view = await workspaces.create_workspace(request_context(info), input.name)
    return WorkspacePayload(workspace=Workspace.from_view(view))


async def rename_workspace(
    info: Info[Any, Any], input: RenameWorkspaceInput
) -> WorkspacePayload | None:
    ws = expect_id(input.workspace_id, "Workspace")
    view = await workspaces.rename_workspace(request_context(info), ws, input.name)
    return WorkspacePayload(workspace=Workspace.from_view(view))


async def set_workspace_require_two_factor(
    info: Info[Any, Any], input: SetWorkspaceRequireTwoFactorInput
) -> WorkspacePayload | None:
    ws = expect_id(input.workspace_id, "Workspace")
    view = await workspaces.set_require_two_factor(
        request_context(info), ws, required=input.require_two_factor
    )
    return WorkspacePayload(workspace=Workspace.from_view(view))


async def invite_member(info: Info[Any, Any], input: InviteMemberInput) -> InvitationPayload | None:
    ws = expect_id(input.workspace_id, "Workspace")
    view = await invitations.invite_member(request_context(info), ws, input.email, input.role)
    return InvitationPayload(invitation=Invitation.from_view(view))


async def accept_invitation(
    info: Info[Any, Any], input: InvitationInput
) -> WorkspacePayload | None:
    invitation = expect_id(input.invitation_id, "Invitation")
    view = await invitations.accept_invitation(request_context(info), invitation)
    return WorkspacePayload(workspace=Workspace.from_view(view))


@strawberry.input
class AcceptInvitationLinkInput:
    token: str = strawberry.field(
        description="The token of the link mailed to the invited address (after `#token=`)."
    )


async def accept_invitation_link(
    info: Info[Any, Any], input: AcceptInvitationLinkInput
) -> WorkspacePayload | None:
    view = await invitations.accept_invitation_link(request_context(info), input.token)
    return WorkspacePayload(workspace=Workspace.from_view(view))


async def decline_invitation(
    info: Info[Any, Any], input: InvitationInput
) -> DeclineInvitationPayload | None:
    await invitations.decline_invitation(
        request_context(info), expect_id(input.invitation_id, "Invitation")
    )
    return DeclineInvitationPayload(declined_invitation_id=input.invitation_id)


async def revoke_invitation(
    info: Info[Any, Any], input: InvitationInput
) -> RevokeInvitationPayload | None:
    await invitations.revoke_invitation(
        request_context(info), expect_id(input.invitation_id, "Invitation")
    )
    return RevokeInvitationPayload(revoked_invitation_id=input.invitation_id)


async def change_member_role(
    info: Info[Any, Any], input: ChangeMemberRoleInput
) -> MemberPayload | None:
    view = await workspaces.change_member_role(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        expect_id(input.user_id, "User"),
        input.role,
    )
    return MemberPayload(member=Member.from_view(view))


async def remove_member(
    info: Info[Any, Any], input: RemoveMemberInput
) -> RemoveMemberPayload | None:
    await workspaces.remove_member(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        expect_id(input.user_id, "User"),
    )
    return RemoveMemberPayload(removed_user_id=input.user_id)


async def leave_workspace(
    info: Info[Any, Any], input: LeaveWorkspaceInput
) -> LeaveWorkspacePayload | None:
    await workspaces.leave_workspace(
        request_context(info), expect_id(input.workspace_id, "Workspace")
    )
    return LeaveWorkspacePayload(left_workspace_id=input.workspace_id)


@strawberry.type
class WorkspacesMutation:
    create_workspace: WorkspacePayload | None = strawberry.mutation(
        resolver=create_workspace, description="Create a workspace; you own it."
    )
    rename_workspace: WorkspacePayload | None = strawberry.mutation(
        resolver=rename_workspace, description="Rename a workspace (owners, admins)."
    )
    set_workspace_require_two_factor: WorkspacePayload | None = strawberry.mutation(
        resolver=set_workspace_require_two_factor,
        description="Whether members need two-factor sign-in to see the workspace's content "
        "(owners; you need it on yourself to require it).",
    )
    invite_member: InvitationPayload | None = strawberry.mutation(
        resolver=invite_member, description="Invite an email address (owners, admins)."
    )
    accept_invitation: WorkspacePayload | None = strawberry.mutation(
        resolver=accept_invitation,
        description="Join the workspace of an invitation to your verified email address.",
    )
    accept_invitation_link: WorkspacePayload | None = strawberry.mutation(
        resolver=accept_invitation_link,
        description="Join the workspace of an invitation with the one-time link mailed to the "
        "invited address, signed in to any account.",
    )
    decline_invitation: DeclineInvitationPayload | None = strawberry.mutation(
        resolver=decline_invitation, description="Refuse an invitation."
    )
    revoke_invitation: RevokeInvitationPayload | None = strawberry.mutation(
        resolver=revoke_invitation,
        description="Withdraw an invitation (owners, admins).",
    )
    change_member_role: MemberPayload | None = strawberry.mutation(
        resolver=change_member_role, description="Change a member's role."
    )
    remove_member: RemoveMemberPayload | None = strawberry.mutation(
        resolver=remove_member, description="Remove a member (owners, admins)."
    )
    leave_workspace: LeaveWorkspacePayload | None = strawberry.mutation(
        resolver=leave_workspace, description="Leave a workspace."
    )
