"""Every value sealed under a workspace's data key: which table and column holds it, how to
tell the workspace a row belongs to, and the field each value is bound to.

A workspace key rotation (resolvers/workspace_keys.py) walks these tables and seals each
value of the workspace again under the new key version. A sealed column missing here would
stay under the old key after a rotation: tests/resolvers/test_workspace_seals.py fails
when a table gains a sealed column that is neither listed here nor in ACCOUNT_SEALED.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crypto.field_seal import FieldRef
from persistence.accounts import USERS
from persistence.apps import APPS
from persistence.audit import AUDIT_EVENTS
from persistence.calendars_tables import CALENDARS, EVENT_ATTENDEES, EVENT_OVERRIDES, EVENTS
from persistence.channels import CHANNELS
from persistence.declare import Row, Table
from persistence.drive_tables import DRIVE_ITEMS, FILE_VERSIONS, UPLOADS
from persistence.identity import ACCOUNT_TOKENS
from persistence.messages import (
    CHANNEL_MESSAGES,
    MESSAGE_LOCATIONS,
    MESSAGES_BY_CHANNEL,
    REACTIONS,
    REPLIES_BY_THREAD,
)
from persistence.outbox import MAIL_OUTBOX
from persistence.realtime import REALTIME_KEYS
from persistence.realtime_history import REALTIME_HISTORY
from persistence.tasks import BOARDS, CHECKLIST_ITEMS, TASK_COMMENTS, TASK_LISTS, TASKS
from persistence.two_factor import TWO_FACTOR
from persistence.video_rooms import VIDEO_ROOMS
from persistence.webhooks import WEBHOOK_ENDPOINTS
from persistence.workspaces import INVITATIONS, WORKSPACES
from resolvers import calendars, channels, messages, tasks, workspaces
from resolvers.audit import details_ref_of, workspace_of_log
from resolvers.drive_access import name_ref as item_name_ref
from resolvers.drive_access import version_ref
from resolvers.invitations import invitee_email_ref
from resolvers.video_rooms import room_ref

Refs = Callable[[Row, str], Mapping[str, FieldRef]]


@dataclass(frozen=True)
class Parent:
    """A row's workspace is its parent's: the parent's id in `column` of the row, looked up
    as `key` in `table`, whose `workspace_column` names the workspace."""

    column: str
    table: Table
    key: str
    workspace_column: str = "workspace_id"


@dataclass(frozen=True)
class SealedTable:
    """A table holding values sealed under a workspace key, with how to find a row's
    workspace: its own `workspace_id`, its `parent`'s, or `of_row` (computed from the row)."""

    table: Table
    refs: Refs
    parent: Parent | None = None
    of_row: Callable[[Row], str | None] | None = None


def sealed_columns(table: Table) -> tuple[str, ...]:
    """A table's columns of sealed values, by the naming rule: `sealed` or `*_sealed`."""
    return tuple(c.name for c in table.values if c.name == "sealed" or c.name.endswith("_sealed"))


def _own(row: Row) -> str | None:
    workspace_id: str | None = row["workspace_id"]
    return workspace_id


_BY_MESSAGE = Parent("message_id", MESSAGE_LOCATIONS, "message_id")
_BY_EVENT = Parent("event_id", EVENTS, "event_id")
_BY_BOARD = Parent("board_id", BOARDS, "board_id")
_BY_TASK = Parent("task_id", TASKS, "task_id")


def _message_text(row: Row, ws: str) -> Mapping[str, FieldRef]:
    return {"text_sealed": messages.text_ref(row["message_id"], ws)}


def _task_fields(row: Row, ws: str) -> Mapping[str, FieldRef]:
    return {
        f"{f}_sealed": tasks.task_ref(f, row["task_id"], ws)
        for f in ("title", "description", "labels")
    }


SEALED_TABLES: Sequence[SealedTable] = (
    SealedTable(WORKSPACES, lambda r, ws: {"name_sealed": workspaces.name_ref(ws)}, of_row=_own),
    SealedTable(
        INVITATIONS,
        lambda r, ws: {"email_sealed": invitee_email_ref(r["invitation_id"], ws)},
        of_row=_own,
    ),
    SealedTable(
        CHANNELS,
        lambda r, ws: {
            "name_sealed": channels.name_ref(r["channel_id"], ws),
            "topic_sealed": channels.topic_ref(r["channel_id"], ws),
        },
        of_row=_own,
    ),
    SealedTable(MESSAGES_BY_CHANNEL, _message_text, parent=_BY_MESSAGE),
    SealedTable(CHANNEL_MESSAGES, _message_text, parent=_BY_MESSAGE),
    SealedTable(REPLIES_BY_THREAD, _message_text, parent=_BY_MESSAGE),
    SealedTable(
        REACTIONS,
        lambda r, ws: {"emoji_sealed": messages.emoji_ref(r["message_id"], ws)},
        parent=_BY_MESSAGE,
    ),
    SealedTable(
        DRIVE_ITEMS, lambda r, ws: {"name_sealed": item_name_ref(r["item_id"], ws)}, of_row=_own
    ),
    SealedTable(
        FILE_VERSIONS,
        lambda r, ws: {
            f"{f}_sealed": version_ref(f, r["version_id"], ws)
            for f in ("content_type", "sha256", "key")
        },
        of_row=_own,
    ),
    SealedTable(
        UPLOADS,
        lambda r, ws: {
            "name_sealed": item_name_ref(r["file_id"], ws),
            "content_type_sealed": version_ref("content_type", r["version_id"], ws),
        },
        of_row=_own,
    ),
    SealedTable(
        CALENDARS,
        lambda r, ws: {"name_sealed": calendars.name_ref(r["calendar_id"], ws)},
        of_row=_own,
    ),
    SealedTable(
        EVENTS,
        lambda r, ws: {"payload_sealed": calendars.payload_ref(r["event_id"], ws)},
        of_row=_own,
    ),
    SealedTable(
        EVENT_OVERRIDES,
        lambda r, ws: {
            "payload_sealed": calendars.override_ref(r["event_id"], ws, r["recurrence_id"])
        },
        parent=_BY_EVENT,
    ),
    SealedTable(
        EVENT_ATTENDEES,
        lambda r, ws: {"email_sealed": calendars.email_ref(r["event_id"], ws)},
        parent=_BY_EVENT,
    ),
    SealedTable(
        BOARDS, lambda r, ws: {"name_sealed": tasks.board_name_ref(r["board_id"], ws)}, of_row=_own
    ),
    SealedTable(
        TASK_LISTS,
        lambda r, ws: {"name_sealed": tasks.list_name_ref(r["list_id"], ws)},
        parent=_BY_BOARD,
    ),
    SealedTable(TASKS, _task_fields, of_row=_own),
    SealedTable(
        CHECKLIST_ITEMS,
        lambda r, ws: {"text_sealed": tasks.task_ref(f"check {r['item_id']}", r["task_id"], ws)},
        parent=_BY_TASK,
    ),
    SealedTable(
        TASK_COMMENTS,
        lambda r, ws: {
            "text_sealed": tasks.task_ref(f"comment {r['comment_id']}", r["task_id"], ws)
        },
        parent=_BY_TASK,
    ),
    SealedTable(
        VIDEO_ROOMS,
        lambda r, ws: {"room_sealed": room_ref(r["kind"], r["target_id"], ws)},
        of_row=_own,
    ),
    SealedTable(
        AUDIT_EVENTS,
        lambda r, ws: {"details_sealed": details_ref_of(r["log_id"], r["event_id"])},
        of_row=lambda r: workspace_of_log(r["log_id"]),
    ),
)

# Tables whose sealed values are an account's (the account key) or sealed otherwise: a
# workspace key rotation leaves them alone.
ACCOUNT_SEALED: Mapping[str, str] = {
    USERS.name: "an account's email and name, under the account key",
    APPS.name: "an app's webhook secret, under the account key",
    ACCOUNT_TOKENS.name: "one-time account tokens, under the account key",
    MAIL_OUTBOX.name: "queued mail, under the account key",
    REALTIME_KEYS.name: "a session's realtime keys, under the account key",
    TWO_FACTOR.name: "TOTP secrets, under the account key",
    WEBHOOK_ENDPOINTS.name: "a user's webhook endpoints, under the account key",
    REALTIME_HISTORY.name: "realtime history, under a key derived from the master secret",
}
