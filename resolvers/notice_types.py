"""The `type` of every realtime notice, declared once per domain.

A notice is what resolvers publish to subscribers (resolvers/notices.py); the word keeps
"event" for calendar events. Clients see these strings as the `type` of what the `events`
subscription delivers, so they are the contract: docs/realtime.md lists them by topic, and
tests/realtime/test_notice_types.py checks that the list and these declarations agree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias, get_args


class MessageNotice(StrEnum):
    """On a channel's topic (resolvers/messages.py)."""

    CREATED = "message.created"
    EDITED = "message.edited"
    DELETED = "message.deleted"
    REACTION_CHANGED = "reaction.changed"
    PIN_CHANGED = "pin.changed"


class ChannelNotice(StrEnum):
    """On a channel's topic; created, renamed and archived also on its workspace's when it is
    public, and created on each member's user when it is not (resolvers/channels.py);
    typing from resolvers/realtime.py."""

    CREATED = "channel.created"
    RENAMED = "channel.renamed"
    TOPIC_CHANGED = "channel.topic_changed"
    ARCHIVED = "channel.archived"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    TYPING = "typing"


class WorkspaceNotice(StrEnum):
    """On a workspace's topic (resolvers/workspaces.py; a member added by an invitation,
    resolvers/invitations.py)."""

    RENAMED = "workspace.renamed"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"


class InvitationNotice(StrEnum):
    """On the invited user's topic (resolvers/invitations.py)."""

    RECEIVED = "invitation.received"


class DriveNotice(StrEnum):
    """On a drive folder's topic (resolvers/drive_items.py, resolvers/drive_uploads.py)."""

    ITEM_ADDED = "drive.item_added"
    VERSION_ADDED = "drive.version_added"
    ITEM_RENAMED = "drive.item_renamed"
    ITEM_REMOVED = "drive.item_removed"
    ITEM_TRASHED = "drive.item_trashed"
    ITEM_DELETED = "drive.item_deleted"


class CalendarNotice(StrEnum):
    """On a calendar's topic (resolvers/calendars.py, calendar_events.py, attendees.py,
    calendar_ics.py)."""

    EVENT_CREATED = "event.created"
    EVENT_CHANGED = "event.changed"
    EVENT_DELETED = "event.deleted"
    EVENT_RSVP_CHANGED = "event.rsvp_changed"
    DELETED = "calendar.deleted"
    IMPORTED = "calendar.imported"


class BoardNotice(StrEnum):
    """On a task board's topic (resolvers/tasks.py, task_changes.py, task_boards.py)."""

    TASK_CREATED = "task.created"
    TASK_CHANGED = "task.changed"
    TASK_COMPLETED = "task.completed"
    TASK_MOVED = "task.moved"
    TASK_REMOVED = "task.removed"
    TASK_DELETED = "task.deleted"
    TASK_COMMENTED = "task.commented"
    LIST_CREATED = "list.created"
    LIST_CHANGED = "list.changed"
    BOARD_CHANGED = "board.changed"


class CallNotice(StrEnum):
    """On a channel's topic, or an event's calendar's, for its video room
    (resolvers/video_rooms.py)."""

    STARTED = "call.started"


class ExportNotice(StrEnum):
    """On the requester's user topic (resolvers/export_worker.py)."""

    PROGRESS = "export.progress"
    READY = "export.ready"
    FAILED = "export.failed"


class KeyRotationNotice(StrEnum):
    """On the requester's user topic (resolvers/workspace_keys.py)."""

    PROGRESS = "keyRotation.progress"
    DONE = "keyRotation.done"


NoticeType: TypeAlias = (
    MessageNotice
    | ChannelNotice
    | WorkspaceNotice
    | InvitationNotice
    | DriveNotice
    | CalendarNotice
    | BoardNotice
    | CallNotice
    | ExportNotice
    | KeyRotationNotice
)
"""What `Notices.publish` takes as a notice's type: only a declared one."""

DOMAINS: tuple[type[StrEnum], ...] = get_args(NoticeType)
"""Every domain's declarations, for the checks that list them all."""
