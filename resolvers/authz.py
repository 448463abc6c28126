"""Authorisation: the only place that mints the Grants `crypto` needs to open sealed fields.

Every decision here answers one question about one object. A refusal for an object the
caller may not see is NOT_FOUND, so its existence does not leak; FORBIDDEN is kept for
objects the caller can see but may not change.
"""

from __future__ import annotations

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.keyring import Keyring
from persistence.calendars_records import CalendarRecord, CalendarShareRecord, EventRecord
from persistence.channels import ChannelMemberRecord, ChannelRecord
from persistence.drive_records import DriveItemRecord, FileVersionRecord, ShareRecord
from persistence.tasks import BoardRecord, ListRecord, TaskRecord
from persistence.workspaces import InvitationRecord, MembershipRecord
from resolvers.access import (
    Action,
    AppCaller,
    BoardAccess,
    CalendarAccess,
    ChannelAccess,
    DriveAccess,
    EventAccess,
    Principal,
    WorkspaceAccess,
)
from resolvers.errors import CoveError, ErrorCode, not_found, unauthenticated
from resolvers.roles import ROLE_DRIVE_LEVEL, AccessLevel, Role, Visibility

__all__ = [
    "TWO_FACTOR_REQUIRED",
    "Action",
    "AppCaller",
    "Authorizer",
    "BoardAccess",
    "CalendarAccess",
    "ChannelAccess",
    "DriveAccess",
    "EventAccess",
    "Principal",
    "WorkspaceAccess",
    "forbidden",
]

# `extensions.reason` of the FORBIDDEN a member without two-factor gets in a workspace that
# requires it.
TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"


def _may_assign(holder: Role, current: Role | None, wanted: Role) -> bool:
    """Whether a manager holding `holder` may give `wanted` to someone now holding `current`."""
    if holder is Role.OWNER:
        return True
    return wanted.rank <= Role.ADMIN.rank and current is not Role.OWNER


def forbidden(message: str) -> CoveError:
    return CoveError(ErrorCode.FORBIDDEN, message)


class Authorizer:
    """Checks a principal's right to an object and, when it holds, mints a Grant for it."""

    def __init__(self, keyring: Keyring) -> None:
        self._minter = keyring.take_minter()

    def _mint(self, principal: Principal, action: Action, row_id: str, workspace_id: str) -> Grant:
        return self._minter.mint(principal.user_id, action.value, row_id, workspace_id)

    def require_user(self, principal: Principal | None) -> Principal:
        if principal is None:
            raise unauthenticated()
        return principal

    # Accounts

    def own_account(self, principal: Principal | None, user_id: str, action: Action) -> Grant:
        """A user reads and changes their own account data; anyone else gets NOT_FOUND."""
        caller = self.require_user(principal)
        if caller.user_id != user_id:
            raise not_found("user")
        return self._mint(caller, action, user_id, "")

    def proven_account(self, user_id: str) -> Grant:
        """The caller has just proved possession (password checked, or account just created)."""
        return self._minter.mint(user_id, Action.READ.value, user_id, "")

    def fellow_name(self, proof: WorkspaceAccess, user_id: str) -> Grant:
        """Display names are visible to anyone who shares a workspace with their owner.

        `proof` is the caller's access to a workspace in which `user_id` was seen (as a
        member, an author or a mention); callers establish that before asking.
        """
        return self._mint(proof.principal, Action.READ, user_id, "")

    def own_realtime_key(self, principal: Principal, owner_id: str, ref: FieldRef) -> Grant:
        """A realtime key opens only for the user whose session it belongs to."""
        if principal.user_id != owner_id:
            raise not_found("realtime key")
        return self._mint(principal, Action.READ, ref.row_id, ref.workspace_id)

    # Workspaces

    def workspace(
        self, principal: Principal | None, workspace_id: str, membership: MembershipRecord | None
    ) -> WorkspaceAccess:
        caller = self.require_user(principal)
        if membership is None or membership.user_id != caller.user_id:
            raise not_found("workspace")
        # An app token reaches its install's workspace only, as that install's bot (the
        # fields it may ask for there are checked against its scopes: schema/app_scopes.py).
        if caller.app and (
            caller.app.workspace_id != workspace_id or membership.role != Role.BOT.value
        ):
            raise not_found("workspace")
        return WorkspaceAccess(caller, workspace_id, Role(membership.role))

    def two_factor_gate(self, access: WorkspaceAccess, required: bool, enrolled: bool) -> None:
        """A workspace that requires two-factor sign-in shows its content only to members who
        have it on; the others may still see the workspace itself, and enrol."""
        if required and not enrolled:
            raise CoveError(
                ErrorCode.FORBIDDEN,
                "This workspace requires two-factor sign-in: turn it on for your account "
                "(beginTwoFactorEnrolment, then confirmTwoFactorEnrolment) to see its content.",
                reason=TWO_FACTOR_REQUIRED,
            )

    def set_workspace_policy(self, access: WorkspaceAccess) -> None:
        if access.role is not Role.OWNER:
            raise forbidden("Only owners change the workspace's sign-in requirements.")

    def export_workspace(self, access: WorkspaceAccess) -> None:
        if access.role is not Role.OWNER or access.principal.app is not None:
            raise forbidden("Only the workspace's owners may export it.")

    def rotate_workspace_key(self, access: WorkspaceAccess) -> None:
        if access.role is not Role.OWNER or access.principal.app is not None:
            raise forbidden("Only the workspace's owners may rotate its key.")

    def workspace_grant(self, access: WorkspaceAccess, action: Action = Action.READ) -> Grant:
        return self._mint(access.principal, action, access.workspace_id, access.workspace_id)

    def manage_members(self, access: WorkspaceAccess) -> None:
        if not access.role.manages_members:
            raise forbidden("Only owners and admins manage members.")

    def assign_role(self, access: WorkspaceAccess, current: Role | None, wanted: Role) -> None:
        """May the caller give `wanted` to someone who now holds `current` (None: invitee)?"""
        self.manage_members(access)
        if Role.BOT in (current, wanted):
            raise forbidden("A bot comes and goes with its app: install or uninstall the app.")
        if not _may_assign(access.role, current, wanted):
            raise forbidden("Admins cannot grant or change the owner role.")

    def invitation_honoured(
        self, invitation: InvitationRecord, inviter: MembershipRecord | None
    ) -> bool:
        """An invitation is only as good as its inviter's right to make it now: they are still
        a member of its workspace whose role may invite at the invitation's role (an admin
        since demoted, removed or gone cannot have an OWNER or any invitation honoured)."""
        if inviter is None or inviter.workspace_id != invitation.workspace_id:
            return False
        role = Role(inviter.role)
        return role.manages_members and _may_assign(role, None, Role(invitation.role))

    def invitation_for_invitee(
        self, principal: Principal | None, invitation: InvitationRecord, email_index: bytes | None
    ) -> Grant:
        """The invitee (matched by the blind index of their email) reads their invitation."""
        caller = self.require_user(principal)
        if email_index is None or invitation.email_index != email_index:
            raise not_found("invitation")
        return self._mint(caller, Action.READ, invitation.invitation_id, invitation.workspace_id)

    def invitee_workspace_grant(self, principal: Principal, invitation: InvitationRecord) -> Grant:
        """An invitee may read the name of the workspace it is invited to."""
        return self._mint(principal, Action.READ, invitation.workspace_id, invitation.workspace_id)

    def invitation_for_manager(
        self, access: WorkspaceAccess, invitation: InvitationRecord
    ) -> Grant:
        self.manage_members(access)
        if invitation.workspace_id != access.workspace_id:
            raise not_found("invitation")
        return self._mint(
            access.principal, Action.READ, invitation.invitation_id, access.workspace_id
        )

    # Channels

    def channel(
        self,
        access: WorkspaceAccess,
        channel: ChannelRecord,
        membership: ChannelMemberRecord | None,
    ) -> ChannelAccess:
        """Members see the public channels and those they belong to; guests and bots only the
        latter."""
        if channel.workspace_id != access.workspace_id:
            raise not_found("channel")
        member = membership is not None and membership.user_id == access.principal.user_id
        public = channel.visibility == Visibility.PUBLIC
        if not member and not (public and not access.role.joined_only):
            raise not_found("channel")
        return ChannelAccess(access, channel, member)

    def channel_grant(self, access: ChannelAccess, action: Action = Action.READ) -> Grant:
        return self._mint(
            access.workspace.principal, action, access.channel_id, access.workspace.workspace_id
        )

    def post(self, access: ChannelAccess) -> None:
        """Posting, reacting and pinning need a joined, unarchived channel."""
        if not access.member:
            raise forbidden("Join the channel first.")
        if access.channel.archived:
            raise CoveError(ErrorCode.BAD_USER_INPUT, "The channel is archived.")

    def unreact(self, access: ChannelAccess) -> None:
        """Taking back one's own reaction: anyone who reads the channel (someone who left
        may take theirs back), but an archived channel changes no more."""
        if access.channel.archived:
            raise CoveError(ErrorCode.BAD_USER_INPUT, "The channel is archived.")

    def manage_channel(self, access: ChannelAccess) -> None:
        """Renaming, topics and adding people: a member who is not a guest."""
        if not access.member or access.workspace.role is Role.GUEST:
            raise forbidden("Only channel members who are not guests change the channel.")

    def administer_channel(self, access: ChannelAccess) -> None:
        """Archiving and removing others: the channel's creator, or a workspace manager."""
        is_creator = access.channel.created_by == access.workspace.principal.user_id
        if not (is_creator or access.workspace.role.manages_members):
            raise forbidden("Only the channel's creator or a workspace admin may do this.")

    # Messages

    def message_grant(
        self, access: ChannelAccess, message_id: str, action: Action = Action.READ
    ) -> Grant:
        """A message (and its reactions) is readable by whoever may read its channel."""
        return self._mint(
            access.workspace.principal, action, message_id, access.workspace.workspace_id
        )

    def edit_message(self, access: ChannelAccess, author_id: str) -> None:
        if author_id != access.workspace.principal.user_id:
            raise forbidden("Only the author edits a message.")
        self.post(access)

    def delete_message(self, access: ChannelAccess, author_id: str) -> None:
        is_author = author_id == access.workspace.principal.user_id
        if not (is_author or access.workspace.role.manages_members):
            raise forbidden("Only the author or a workspace admin deletes a message.")

    # Drive

    def drive_item(
        self,
        access: WorkspaceAccess,
        chain: list[DriveItemRecord],
        shares: list[list[ShareRecord]],
        my_channels: set[str],
    ) -> DriveAccess:
        """Access to `chain[0]`, given its folders up to the root and each one's shares.

        The level is the highest of: the role's level in the workspace, MANAGE for the item's
        creator, and any share on the item or a folder above it to the caller or to a channel
        the caller belongs to. No level at all is NOT_FOUND.
        """
        item = chain[0]
        if any(link.workspace_id != access.workspace_id for link in chain):
            raise not_found("file")
        me = access.principal.user_id
        levels: list[AccessLevel] = []
        role_level = ROLE_DRIVE_LEVEL[access.role]
        if role_level is not None:
            levels.append(role_level)
        if item.created_by == me and not item.is_root and access.role is not Role.GUEST:
            levels.append(AccessLevel.MANAGE)
        mine = {f"user:{me}", *(f"channel:{c}" for c in my_channels)}
        for item_shares in shares:
            levels += [AccessLevel(s.level) for s in item_shares if s.grantee in mine]
        if not levels:
            raise not_found("file")
        level = max(levels, key=lambda lv: lv.rank)
        in_trash = any(link.trashed_at is not None for link in chain)
        return DriveAccess(access, item, level, in_trash)

    def bot_new_file_in_root(self, access: WorkspaceAccess, root: DriveItemRecord) -> DriveAccess:
        """An app's bot puts the files it uploads in its workspace's drive root, and may do
        only that there: the access answered serves as a new file's parent and nothing else
        (the bot reads what it made, being its creator, and what is shared with it)."""
        if access.role is not Role.BOT or not root.is_root:
            raise not_found("folder")
        if root.workspace_id != access.workspace_id:
            raise not_found("folder")
        return DriveAccess(access, root, AccessLevel.WRITE, root.trashed_at is not None)

    def whole_drive(self, access: WorkspaceAccess) -> bool:
        """Whether the role alone reaches every item of the workspace's drive (guests: no,
        they reach only what is shared with them or with one of their channels)."""
        return ROLE_DRIVE_LEVEL[access.role] is not None

    def drive_child(
        self,
        parent: DriveAccess,
        child: DriveItemRecord,
        shares: list[ShareRecord],
        my_channels: set[str],
    ) -> DriveAccess:
        """Access to an item of a folder the caller reached: at least the folder's level (all
        that holds on the folder holds on what it holds), raised by the child's own shares
        and by having created it."""
        if child.parent_id != parent.item_id or child.workspace_id != parent.item.workspace_id:
            raise not_found("file")
        access = parent.workspace
        me = access.principal.user_id
        levels = [parent.level]
        if child.created_by == me and access.role is not Role.GUEST:
            levels.append(AccessLevel.MANAGE)
        mine = {f"user:{me}", *(f"channel:{c}" for c in my_channels)}
        levels += [AccessLevel(s.level) for s in shares if s.grantee in mine]
        level = max(levels, key=lambda lv: lv.rank)
        in_trash = parent.in_trash or child.trashed_at is not None
        return DriveAccess(access, child, level, in_trash)

    def attachment(
        self, channel: ChannelAccess, message_id: str, item: DriveItemRecord, attached: bool
    ) -> DriveAccess:
        """Whoever may read a message may read the files attached to it, and only those."""
        if not attached or item.workspace_id != channel.workspace.workspace_id:
            raise not_found("file")
        return DriveAccess(channel.workspace, item, AccessLevel.READ, False, message_id)

    def drive_require(self, access: DriveAccess, level: AccessLevel) -> None:
        if access.level.rank < level.rank:
            if level is AccessLevel.MANAGE:
                raise forbidden("Only people who manage this item may do this.")
            raise forbidden("You may only read this item.")

    def drive_grant(self, access: DriveAccess, action: Action = Action.READ) -> Grant:
        return self._mint(
            access.workspace.principal, action, access.item_id, access.workspace.workspace_id
        )

    def version_grant(self, access: DriveAccess, version: FileVersionRecord) -> Grant:
        """A version's sealed fields (file key included) open for whoever may read its file."""
        if version.file_id != access.item_id:
            raise not_found("file version")
        return self._mint(
            access.workspace.principal,
            Action.READ,
            version.version_id,
            access.workspace.workspace_id,
        )

    def share_link_version(
        self,
        link_id: str,
        item: DriveItemRecord,
        version: FileVersionRecord,
        pinned_version_id: str | None,
    ) -> Grant:
        """A live share link (checked by the caller: token, expiry, its creator's access,
        password, downloads) opens the version it names, or the current one for a link to
        the latest version, and only that, for whoever holds the link."""
        serves = pinned_version_id or item.current_version_id
        if version.file_id != item.item_id or version.version_id != serves:
            raise not_found("file")
        return self._minter.mint(
            f"link:{link_id}", Action.READ.value, version.version_id, item.workspace_id
        )

    def share_link_name(self, link_id: str, item: DriveItemRecord) -> Grant:
        """The file's name, for the download's Content-Disposition."""
        return self._minter.mint(
            f"link:{link_id}", Action.READ.value, item.item_id, item.workspace_id
        )

    # Calendars

    def calendar(
        self,
        access: WorkspaceAccess,
        calendar: CalendarRecord,
        shares: list[CalendarShareRecord],
        my_channels: set[str],
    ) -> CalendarAccess:
        """A workspace calendar: the role's level (guests none), MANAGE for its creator; a
        personal calendar: MANAGE for its owner, nothing by role. Shares raise either."""
        if calendar.workspace_id != access.workspace_id:
            raise not_found("calendar")
        me = access.principal.user_id
        levels: list[AccessLevel] = []
        if calendar.owner_id:
            if calendar.owner_id == me:
                levels.append(AccessLevel.MANAGE)
        else:
            role_level = ROLE_DRIVE_LEVEL[access.role]
            if role_level is not None:
                levels.append(role_level)
            if calendar.created_by == me and access.role is not Role.GUEST:
                levels.append(AccessLevel.MANAGE)
        mine = {f"user:{me}", *(f"channel:{c}" for c in my_channels)}
        levels += [AccessLevel(s.level) for s in shares if s.grantee in mine]
        if not levels:
            raise not_found("calendar")
        return CalendarAccess(access, calendar, max(levels, key=lambda lv: lv.rank))

    def calendar_require(self, access: CalendarAccess, level: AccessLevel) -> None:
        if access.level.rank < level.rank:
            if level is AccessLevel.MANAGE:
                raise forbidden("Only people who manage this calendar may do this.")
            raise forbidden("You may only read this calendar.")

    def calendar_grant(self, access: CalendarAccess) -> Grant:
        return self._mint(
            access.workspace.principal,
            Action.READ,
            access.calendar_id,
            access.workspace.workspace_id,
        )

    def event(self, calendar: CalendarAccess, event: EventRecord) -> EventAccess:
        if event.calendar_id != calendar.calendar_id:
            raise not_found("event")
        return EventAccess(calendar.workspace, event, calendar)

    def attendee_event(
        self, access: WorkspaceAccess, event: EventRecord, attendee: str | None
    ) -> EventAccess:
        """A member invited to an event reads it (and answers), whatever the calendar."""
        if (
            attendee != f"user:{access.principal.user_id}"
            or event.workspace_id != access.workspace_id
        ):
            raise not_found("event")
        return EventAccess(access, event, None, attendee)

    def event_grant(self, access: EventAccess) -> Grant:
        return self._mint(
            access.workspace.principal,
            Action.READ,
            access.event.event_id,
            access.workspace.workspace_id,
        )

    def calendar_feed(self, calendar: CalendarRecord) -> CalendarAccess:
        """Whoever holds a calendar's live feed URL (checked by the caller) reads it."""
        principal = Principal(f"feed:{calendar.calendar_id}", "")
        reader = WorkspaceAccess(principal, calendar.workspace_id, Role.GUEST)
        return CalendarAccess(reader, calendar, AccessLevel.READ)

    # Task boards

    def board(
        self, access: WorkspaceAccess, board: BoardRecord, channel: ChannelAccess | None
    ) -> BoardAccess:
        """A workspace board: the role's level (guests none); a channel's board: WRITE for
        the channel's members, READ for others who may read the channel, MANAGE for
        workspace owners and admins. Its creator manages it while it may see it."""
        if board.workspace_id != access.workspace_id:
            raise not_found("board")
        levels: list[AccessLevel] = []
        if board.channel_id:
            if channel is None or channel.channel_id != board.channel_id:
                raise not_found("board")
            levels.append(AccessLevel.WRITE if channel.member else AccessLevel.READ)
            if access.role.manages_members:
                levels.append(AccessLevel.MANAGE)
        else:
            role_level = ROLE_DRIVE_LEVEL[access.role]
            if role_level is not None:
                levels.append(role_level)
        if not levels:
            raise not_found("board")
        if board.created_by == access.principal.user_id and access.role is not Role.GUEST:
            levels.append(AccessLevel.MANAGE)
        return BoardAccess(access, board, max(levels, key=lambda lv: lv.rank))

    def board_require(self, access: BoardAccess, level: AccessLevel) -> None:
        if access.level.rank < level.rank:
            if level is AccessLevel.MANAGE:
                raise forbidden("Only people who manage this board may do this.")
            raise forbidden("You may only read this board.")

    def board_grant(self, access: BoardAccess) -> Grant:
        return self._mint(
            access.workspace.principal, Action.READ, access.board_id, access.workspace.workspace_id
        )

    def list_grant(self, access: BoardAccess, item: ListRecord) -> Grant:
        if item.board_id != access.board_id:
            raise not_found("list")
        return self._mint(
            access.workspace.principal, Action.READ, item.list_id, access.workspace.workspace_id
        )

    def task_grant(self, access: BoardAccess, task: TaskRecord) -> Grant:
        """A task's fields, checklist and comments are sealed for the task's row."""
        if task.board_id != access.board_id:
            raise not_found("task")
        return self._mint(
            access.workspace.principal, Action.READ, task.task_id, access.workspace.workspace_id
        )

    # Video rooms

    def video_moderator(self, access: ChannelAccess | EventAccess) -> bool:
        """Who moderates a room: for a channel, its managers (its creator, workspace owners
        and admins); for an event, its organiser (its creator) and who manages its calendar."""
        me = access.workspace.principal.user_id
        if isinstance(access, ChannelAccess):
            return access.channel.created_by == me or access.workspace.role.manages_members
        return access.event.created_by == me or access.level is AccessLevel.MANAGE

    def rotate_video_room(self, access: ChannelAccess | EventAccess) -> None:
        """A room's name is replaced by its moderators only."""
        if not self.video_moderator(access):
            raise forbidden("Only the channel's managers or the event's organisers do this.")

    # Audit log

    def audit_log(self, access: WorkspaceAccess) -> None:
        """A workspace's audit log is for its owners and admins."""
        if not access.role.manages_members:
            raise forbidden("Only owners and admins read the audit log.")

    def audit_event_grant(self, access: WorkspaceAccess, event_id: str) -> Grant:
        self.audit_log(access)
        return self._mint(access.principal, Action.READ, event_id, access.workspace_id)

    def own_audit_event_grant(self, principal: Principal, user_id: str, event_id: str) -> Grant:
        """An account's security log opens for that user alone."""
        if principal.user_id != user_id:
            raise not_found("user")
        return self._mint(principal, Action.READ, event_id, "")

    # Operations

    def system_audit(self, workspace_id: str, row_id: str) -> Grant:
        """`cove audit` prints logs for an operator, who holds the root key anyway."""
        return self._minter.mint("system:audit", Action.READ.value, row_id, workspace_id)

    def system_reindex(self, workspace_id: str, row_id: str) -> Grant:
        """`cove reindex` rebuilds a workspace's search index from its sealed rows. Only an
        operator holding the root key runs it, and the root key opens every row anyway."""
        return self._minter.mint("system:reindex", Action.READ.value, row_id, workspace_id)

    def webhook_endpoint(self, principal: Principal | None, owner_id: str, row_id: str) -> Grant:
        """An outgoing webhook endpoint (its URL, its log) is its owner's alone."""
        caller = self.require_user(principal)
        if caller.user_id != owner_id:
            raise not_found("webhook endpoint")
        return self._mint(caller, Action.READ, row_id, "")

    def system_webhook(self, row_id: str) -> Grant:
        """The webhook worker opens an endpoint's URL and secret, and mails its owner."""
        return self._minter.mint("system:webhook", Action.READ.value, row_id, "")

    def system_mail(self, mail_id: str) -> Grant:
        """The mail sender opens a queued message to hand it to the mail server; nobody
        else reads the outbox, and what it holds was written by this server."""
        return self._minter.mint("system:mail", Action.READ.value, mail_id, "")
