"""The root Query and Mutation types, assembled from the domain modules."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.errors import CoveError, ErrorCode, not_found
from schema import (
    accounts,
    calendars,
    channels,
    drive,
    messages,
    realtime,
    tasks,
    workspaces,
)
from schema import search as search_schema
from schema.relay import Connection, Node, from_global_id

NodeLoader = Callable[[Info[Any, Any], str], Awaitable[Node]]

# Which loader opens a global id of each type; a type missing here is simply NOT_FOUND.
NODE_LOADERS: dict[str, NodeLoader] = {
    "User": accounts.load_user,
    "Session": accounts.load_session,
    "Workspace": workspaces.load_workspace,
    "Invitation": workspaces.load_invitation,
    "Channel": channels.load_channel,
    "Message": messages.load_message,
    "Folder": drive.load_folder,
    "File": drive.load_file,
    "FileVersion": drive.load_file_version,
    "Calendar": calendars.load_calendar,
    "Event": calendars.load_event,
    "Board": tasks.load_board,
    "TaskList": tasks.load_list,
    "Task": tasks.load_task,
}


async def resolve_node(info: Info[Any, Any], id: strawberry.ID) -> Node | None:
    """Unknown, malformed and invisible ids all answer null with NOT_FOUND."""
    parsed = from_global_id(id)
    loader = NODE_LOADERS.get(parsed[0]) if parsed else None
    if parsed is None or loader is None:
        raise not_found()
    try:
        return await loader(info, parsed[1])
    except CoveError as exc:
        # Whatever the reason (no such row, not yours, not signed in), the answer is the same.
        if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
            raise not_found() from None
        raise


@strawberry.type
class Query:
    node: Node | None = strawberry.field(
        resolver=resolve_node, description="Any object by its global id."
    )
    viewer: accounts.User | None = strawberry.field(
        resolver=accounts.resolve_viewer, description="The signed-in user."
    )
    search: Connection[search_schema.SearchResult] = strawberry.field(
        resolver=search_schema.resolve_search,
        description="Messages, files, events and tasks of a workspace matching every word's "
        'start ("rep" finds "report"), most words matched first, then newest; only what '
        "you may read. Query: up to 200 characters and 8 words.",
    )


@strawberry.type
class Mutation:
    sign_up: accounts.MailSentPayload | None = strawberry.mutation(
        resolver=accounts.sign_up,
        description="Create an account (sign in with `logIn`; it works at once) and mail a link "
        "proving its address. Answers the same whether or not the address has an account.",
    )
    verify_email: accounts.OkPayload | None = strawberry.mutation(
        resolver=accounts.verify_email,
        description="Prove your address with the link `signUp` or `resendVerificationEmail` "
        "mailed; no session needed.",
    )
    resend_verification_email: accounts.MailSentPayload | None = strawberry.mutation(
        resolver=accounts.resend_verification_email,
        description="Mail a new verification link to your address.",
    )
    request_password_reset: accounts.MailSentPayload | None = strawberry.mutation(
        resolver=accounts.request_password_reset,
        description="Mail a password-reset link (valid 30 minutes) to an address; answers the "
        "same whether or not it has an account.",
    )
    reset_password: accounts.ResetPasswordPayload | None = strawberry.mutation(
        resolver=accounts.reset_password,
        description="Set a new password with a reset link; ends every session of the account.",
    )
    request_email_change: accounts.MailSentPayload | None = strawberry.mutation(
        resolver=accounts.request_email_change,
        description="Ask to move your account to a new address: it confirms by a mailed link, "
        "and your current address is told.",
    )
    confirm_email_change: accounts.OkPayload | None = strawberry.mutation(
        resolver=accounts.confirm_email_change,
        description="Move the account to the address the link was mailed to.",
    )
    log_in: accounts.LogInPayload | None = strawberry.mutation(
        resolver=accounts.log_in,
        description="Sign in with email and password; with two-factor on, this answers a "
        "second step for `completeLogIn` instead of a session.",
    )
    complete_log_in: accounts.AuthPayload | None = strawberry.mutation(
        resolver=accounts.complete_log_in,
        description="The second step of signing in: a code from the authenticator app (or a "
        "recovery code) for the token `logIn` answered.",
    )
    begin_two_factor_enrolment: accounts.TwoFactorEnrolmentPayload | None = strawberry.mutation(
        resolver=accounts.begin_two_factor_enrolment,
        description="Start turning two-factor sign-in on: a new secret for an authenticator "
        "app, pending until `confirmTwoFactorEnrolment`.",
    )
    confirm_two_factor_enrolment: accounts.RecoveryCodesPayload | None = strawberry.mutation(
        resolver=accounts.confirm_two_factor_enrolment,
        description="Turn two-factor sign-in on with a first code; answers ten recovery codes.",
    )
    regenerate_recovery_codes: accounts.RecoveryCodesPayload | None = strawberry.mutation(
        resolver=accounts.regenerate_recovery_codes,
        description="Replace your recovery codes with ten new ones, for a current code.",
    )
    disable_two_factor: accounts.LogOutPayload | None = strawberry.mutation(
        resolver=accounts.disable_two_factor,
        description="Turn two-factor sign-in off, with your password and a current code.",
    )
    log_out: accounts.LogOutPayload | None = strawberry.mutation(
        resolver=accounts.log_out, description="End the session this request came through."
    )
    change_password: accounts.ChangePasswordPayload | None = strawberry.mutation(
        resolver=accounts.change_password, description="Change password; ends every other session."
    )
    revoke_session: accounts.RevokeSessionPayload | None = strawberry.mutation(
        resolver=accounts.revoke_session, description="End one of your sessions."
    )
    update_profile: accounts.UpdateProfilePayload | None = strawberry.mutation(
        resolver=accounts.update_profile, description="Change your display name."
    )

    create_workspace: workspaces.WorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.create_workspace, description="Create a workspace; you own it."
    )
    rename_workspace: workspaces.WorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.rename_workspace, description="Rename a workspace (owners, admins)."
    )
    set_workspace_require_two_factor: workspaces.WorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.set_workspace_require_two_factor,
        description="Whether members need two-factor sign-in to see the workspace's content "
        "(owners; you need it on yourself to require it).",
    )
    invite_member: workspaces.InvitationPayload | None = strawberry.mutation(
        resolver=workspaces.invite_member, description="Invite an email address (owners, admins)."
    )
    accept_invitation: workspaces.WorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.accept_invitation,
        description="Join the workspace of an invitation to your verified email address.",
    )
    accept_invitation_link: workspaces.WorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.accept_invitation_link,
        description="Join the workspace of an invitation with the one-time link mailed to the "
        "invited address, signed in to any account.",
    )
    decline_invitation: workspaces.DeclineInvitationPayload | None = strawberry.mutation(
        resolver=workspaces.decline_invitation, description="Refuse an invitation."
    )
    revoke_invitation: workspaces.RevokeInvitationPayload | None = strawberry.mutation(
        resolver=workspaces.revoke_invitation,
        description="Withdraw an invitation (owners, admins).",
    )
    change_member_role: workspaces.MemberPayload | None = strawberry.mutation(
        resolver=workspaces.change_member_role, description="Change a member's role."
    )
    remove_member: workspaces.RemoveMemberPayload | None = strawberry.mutation(
        resolver=workspaces.remove_member, description="Remove a member (owners, admins)."
    )
    leave_workspace: workspaces.LeaveWorkspacePayload | None = strawberry.mutation(
        resolver=workspaces.leave_workspace, description="Leave a workspace."
    )

    create_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.create_channel, description="Create a public or private channel."
    )
    create_direct_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.create_direct_channel,
        description="The direct channel of you and these people (the existing one if any).",
    )
    rename_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.rename_channel, description="Rename a channel."
    )
    set_channel_topic: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.set_channel_topic, description="Set or clear a channel's topic."
    )
    archive_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.archive_channel, description="Archive a channel: readable, frozen."
    )
    unarchive_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.unarchive_channel, description="Bring an archived channel back."
    )
    join_channel: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.join_channel, description="Join a public channel."
    )
    leave_channel: channels.LeaveChannelPayload | None = strawberry.mutation(
        resolver=channels.leave_channel, description="Leave a channel."
    )
    add_channel_member: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.add_channel_member, description="Add a workspace member to a channel."
    )
    remove_channel_member: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.remove_channel_member, description="Remove someone from a channel."
    )
    mark_read: channels.ChannelPayload | None = strawberry.mutation(
        resolver=channels.mark_read, description="Move your read position in a channel."
    )

    post_message: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.post_message, description="Post a message, or a reply in a thread."
    )
    edit_message: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.edit_message, description="Change your message's text."
    )
    delete_message: messages.DeleteMessagePayload | None = strawberry.mutation(
        resolver=messages.delete_message, description="Erase a message (author or admin)."
    )
    add_reaction: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.add_reaction, description="React to a message with an emoji."
    )
    remove_reaction: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.remove_reaction, description="Take back your reaction."
    )
    pin_message: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.pin_message, description="Pin a message to its channel."
    )
    unpin_message: messages.MessagePayload | None = strawberry.mutation(
        resolver=messages.unpin_message, description="Unpin a message."
    )

    create_folder: drive.FolderPayload | None = strawberry.mutation(
        resolver=drive.create_folder, description="Create a folder in a workspace's drive."
    )
    rename_drive_item: drive.DriveItemPayload | None = strawberry.mutation(
        resolver=drive.rename_drive_item, description="Rename a folder or file."
    )
    move_drive_item: drive.DriveItemPayload | None = strawberry.mutation(
        resolver=drive.move_drive_item, description="Move a folder or file to another folder."
    )
    trash_drive_item: drive.DriveItemPayload | None = strawberry.mutation(
        resolver=drive.trash_drive_item, description="Put a folder or file in the trash."
    )
    restore_drive_item: drive.DriveItemPayload | None = strawberry.mutation(
        resolver=drive.restore_drive_item, description="Take an item out of the trash."
    )
    delete_drive_item: drive.DeleteDriveItemPayload | None = strawberry.mutation(
        resolver=drive.delete_drive_item,
        description="Delete for good an item in the trash; its file keys are destroyed.",
    )
    create_upload: drive.UploadPayload | None = strawberry.mutation(
        resolver=drive.create_upload,
        description="Get a one-time URL to PUT a new file, or a new version of one, to.",
    )
    restore_file_version: drive.FilePayload | None = strawberry.mutation(
        resolver=drive.restore_file_version, description="Make an earlier version current."
    )
    share_drive_item: drive.DriveSharesPayload | None = strawberry.mutation(
        resolver=drive.share_drive_item,
        description="Share an item with a member or a channel, or change the level.",
    )
    unshare_drive_item: drive.DriveSharesPayload | None = strawberry.mutation(
        resolver=drive.unshare_drive_item, description="Stop sharing an item with someone."
    )
    create_share_link: drive.ShareLinkPayload | None = strawberry.mutation(
        resolver=drive.create_share_link,
        description="A public link to a file, with expiry, optional password and limit.",
    )
    revoke_share_link: drive.RevokeShareLinkPayload | None = strawberry.mutation(
        resolver=drive.revoke_share_link, description="Make a share link stop working."
    )

    create_calendar: calendars.CalendarPayload | None = strawberry.mutation(
        resolver=calendars.create_calendar,
        description="Create a workspace calendar, or a personal one.",
    )
    update_calendar: calendars.CalendarPayload | None = strawberry.mutation(
        resolver=calendars.update_calendar, description="Rename or recolour a calendar."
    )
    delete_calendar: calendars.DeleteCalendarPayload | None = strawberry.mutation(
        resolver=calendars.delete_calendar, description="Delete a calendar and its events."
    )
    share_calendar: calendars.CalendarPayload | None = strawberry.mutation(
        resolver=calendars.share_calendar,
        description="Share a calendar with a member or a channel, or change the level.",
    )
    unshare_calendar: calendars.CalendarPayload | None = strawberry.mutation(
        resolver=calendars.unshare_calendar, description="Stop sharing a calendar with someone."
    )
    create_calendar_feed: calendars.CalendarFeedPayload | None = strawberry.mutation(
        resolver=calendars.create_calendar_feed,
        description="A private .ics feed URL for other calendar apps (replaces any older one).",
    )
    revoke_calendar_feed: calendars.CalendarFeedPayload | None = strawberry.mutation(
        resolver=calendars.revoke_calendar_feed, description="Make the feed URL stop working."
    )
    import_calendar: calendars.ImportCalendarPayload | None = strawberry.mutation(
        resolver=calendars.import_calendar,
        description="Add the events of an .ics file; events with a known UID are updated.",
    )
    create_event: calendars.EventPayload | None = strawberry.mutation(
        resolver=calendars.create_event, description="Create an event, recurring or not."
    )
    update_event: calendars.EventPayload | None = strawberry.mutation(
        resolver=calendars.update_event,
        description="Change an event, one occurrence, or an occurrence and those after it.",
    )
    delete_event: calendars.DeleteEventPayload | None = strawberry.mutation(
        resolver=calendars.delete_event,
        description="Delete an event, one occurrence, or an occurrence and those after it.",
    )
    respond_to_event: calendars.EventPayload | None = strawberry.mutation(
        resolver=calendars.respond_to_event, description="Answer an invitation to an event."
    )

    create_board: tasks.BoardPayload | None = strawberry.mutation(
        resolver=tasks.create_board, description="Create a task board for a workspace or a channel."
    )
    update_board: tasks.BoardPayload | None = strawberry.mutation(
        resolver=tasks.update_board, description="Rename or archive a board."
    )
    create_task_list: tasks.TaskListPayload | None = strawberry.mutation(
        resolver=tasks.create_task_list, description="Add a list (column) to a board."
    )
    update_task_list: tasks.TaskListPayload | None = strawberry.mutation(
        resolver=tasks.update_task_list, description="Rename, archive or reorder a list."
    )
    create_task: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.create_task, description="Add a task at the end of a list."
    )
    update_task: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.update_task, description="Change a task's fields, status or archive it."
    )
    move_task: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.move_task, description="Move a task within a list or to another list."
    )
    delete_task: tasks.DeleteTaskPayload | None = strawberry.mutation(
        resolver=tasks.delete_task, description="Delete a task with its checklist and comments."
    )
    add_checklist_item: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.add_checklist_item, description="Add an item to a task's checklist."
    )
    update_checklist_item: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.update_checklist_item, description="Tick, reword or remove a checklist item."
    )
    add_task_comment: tasks.TaskPayload | None = strawberry.mutation(
        resolver=tasks.add_task_comment, description="Comment on a task."
    )

    open_realtime_session: realtime.OpenRealtimeSessionPayload | None = strawberry.mutation(
        resolver=realtime.open_realtime_session,
        description="Open a realtime session; its first key comes with it.",
    )
    realtime_key: realtime.RealtimeKeyPayload | None = strawberry.mutation(
        resolver=realtime.realtime_key,
        description="Fetch a key of your realtime session (after a rotation), access permitting.",
    )
    close_realtime_session: realtime.CloseRealtimeSessionPayload | None = strawberry.mutation(
        resolver=realtime.close_realtime_session,
        description="End a realtime session: its keys are refused from then on.",
    )
    typing: realtime.TypingPayload | None = strawberry.mutation(
        resolver=realtime.typing, description="Tell a channel you are typing (never stored)."
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Sealed events of the topics; see docs/realtime.md for the format."
    )
    async def events(
        self, info: Info[Any, Any], session_id: strawberry.ID, topics: list[strawberry.ID]
    ) -> AsyncGenerator[realtime.RealtimeEvent, None]:
        async for event in realtime.events(info, session_id, topics):
            yield event
