"""What an app token may ask for: every field of a document, at every depth, checked against
the scope each field declares here, before any resolver runs.

Every field of every type in the schema is decided here, and tests/schema/test_app_scopes.py
fails when one is not: a field is open to apps holding one scope (`OPEN`), open to any app
(`None`: the app's own bot, the scope list, ids), or closed to every app (`CLOSED`, and the
types in `CLOSED_TYPES`, which only closed fields lead to). Wrappers (connections, edges,
page info and mutation payloads) hold no data of their own and follow the field that led to
them. A field nobody decided is refused all the same (`FORBIDDEN`): the check fails closed.

The scope is the first gate. The second is the bot: resolvers read as the install's bot, a
`BOT` member of the install's workspace only, that sees the channels it was added to and
nothing else (resolvers/authz.py), so an app's reach is the intersection of its scopes and
what its bot may read. Checking the document as a validation rule means a refused operation
does nothing at all: no mutation half-runs, no resolver opens a sealed value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

from resolvers.app_model import APP_TOKEN_PREFIX, AppScope
from resolvers.context import RequestContext
from resolvers.errors import ErrorCode
from schema.context import CONTEXT_KEY

_WS = AppScope.WORKSPACES_READ
_CH = AppScope.CHANNELS_READ
_CHW = AppScope.CHANNELS_WRITE
_MSG = AppScope.MESSAGES_READ
_MSGW = AppScope.MESSAGES_WRITE
_FILES = AppScope.FILES_READ
_FILESW = AppScope.FILES_WRITE
_USERS = AppScope.USERS_READ
_RT = AppScope.REALTIME_READ
_CAL = AppScope.CALENDARS_READ
_CALW = AppScope.CALENDARS_WRITE
_TASKS = AppScope.TASKS_READ
_TASKSW = AppScope.TASKS_WRITE


def _all(scope: AppScope | None, names: str) -> dict[str, AppScope | None]:
    return dict.fromkeys(names.split(), scope)


_DRIVE_ITEM = "id name parent createdAt updatedAt createdBy trashed viewerLevel workspace"

# type -> field -> the scope it needs (None: any app may ask).
OPEN: dict[str, dict[str, AppScope | None]] = {
    "Query": {**_all(None, "viewer appScopes node"), "search": AppScope.SEARCH_READ},
    "Mutation": {
        **_all(_MSGW, "postMessage editMessage deleteMessage addReaction removeReaction"),
        **_all(_MSGW, "pinMessage unpinMessage"),
        **_all(_CHW, "createChannel renameChannel setChannelTopic addChannelMember"),
        **_all(_RT, "openRealtimeSession realtimeKey closeRealtimeSession"),
        "createUpload": _FILESW,
        **_all(_CALW, "createEvent updateEvent deleteEvent"),
        **_all(_TASKSW, "createBoard updateBoard createTaskList updateTaskList createTask"),
        **_all(_TASKSW, "updateTask moveTask deleteTask addTaskComment"),
        **_all(_TASKSW, "addChecklistItem updateChecklistItem"),
    },
    "Calendar": _all(_CAL, "id name color personal owner viewerLevel workspace events"),
    "Event": {
        **_all(_CAL, "id calendar title description location start end timeZone allDay"),
        **_all(_CAL, "recurrence exceptionDates reminders attendees createdBy createdAt"),
        **_all(_CAL, "updatedAt occurrences"),
    },
    "EventOccurrence": _all(
        _CAL, "event occurrenceId start end changed allDay title description location"
    ),
    "Attendee": _all(_CAL, "user response"),
    "Board": _all(_TASKS, "id name archived viewerLevel workspace channel lists"),
    "TaskList": _all(_TASKS, "id name archived tasks"),
    "Task": {
        **_all(_TASKS, "id title description status dueAt completedAt archived position"),
        **_all(_TASKS, "assignees labels checklist comments list board createdBy createdAt"),
        "updatedAt": _TASKS,
    },
    "TaskComment": _all(_TASKS, "id text author createdAt"),
    "ChecklistItem": _all(_TASKS, "id text done"),
    "Upload": _all(_FILESW, "id url expiresAt fileId"),
    "Subscription": _all(_RT, "events"),
    "RealtimeSession": _all(_RT, "id key"),
    "RealtimeKey": _all(_RT, "id secret expiresAt"),
    "RealtimeEvent": _all(_RT, "keyId seq nonce ciphertext"),
    "Node": _all(None, "id"),
    "AppScope": _all(None, "name description"),
    "User": {"id": None, "displayName": _USERS, "workspaces": _WS},
    "Workspace": {
        **_all(_WS, "id name createdAt viewerRole members"),
        "channels": _CH,
        "driveSharedWithMe": _FILES,
        "calendars": _CAL,
        "boards": _TASKS,
    },
    "Member": _all(_WS, "user role joinedAt"),
    "Channel": {
        "id": None,  # ids are not content: an app that posts or creates learns what it made
        **_all(_CH, "name topic visibility archived createdAt workspace viewerIsMember"),
        "members": _CH,
        **_all(_MSG, "messages pinnedMessages"),
        "sharedDriveItems": _FILES,
        "boards": _TASKS,
    },
    "Message": {
        "id": None,
        **_all(_MSG, "createdAt editedAt replyCount author text channel mentions"),
        **_all(_MSG, "replyTo replies reactions pinned"),
        "attachments": _FILES,
    },
    "Reaction": _all(_MSG, "emoji count viewerReacted"),
    "DriveItem": _all(_FILES, _DRIVE_ITEM),
    "Folder": _all(_FILES, _DRIVE_ITEM + " children"),
    "File": _all(
        _FILES, _DRIVE_ITEM + " size contentType sha256 currentVersion downloadUrl versions"
    ),
    "FileVersion": _all(
        _FILES, "id number size contentType sha256 createdAt createdBy downloadUrl"
    ),
}

# type -> the fields of an open type that no app may ask for (space-separated).
CLOSED: dict[str, str] = {
    "Query": "myApps app appInstallRequest webhookEndpoint exports export workspaceKeyRotation",
    # Accounts, workspaces' administration, the drive's whole tree and its sharing, planning,
    # typing, apps and webhooks themselves.
    "Mutation": """signUp verifyEmail resendVerificationEmail requestPasswordReset
        resetPassword requestEmailChange confirmEmailChange logIn completeLogIn
        beginTwoFactorEnrolment confirmTwoFactorEnrolment regenerateRecoveryCodes
        disableTwoFactor logOut changePassword revokeSession updateProfile createWorkspace
        renameWorkspace setWorkspaceRequireTwoFactor inviteMember acceptInvitation
        acceptInvitationLink declineInvitation revokeInvitation changeMemberRole removeMember
        leaveWorkspace createDirectChannel archiveChannel unarchiveChannel joinChannel
        leaveChannel removeChannelMember markRead createFolder renameDriveItem moveDriveItem
        trashDriveItem restoreDriveItem deleteDriveItem restoreFileVersion
        shareDriveItem unshareDriveItem createShareLink revokeShareLink createCalendar
        updateCalendar deleteCalendar shareCalendar unshareCalendar createCalendarFeed
        revokeCalendarFeed importCalendar respondToEvent typing registerApp
        updateApp rotateAppSecret deleteApp approveAppInstall uninstallApp
        createIncomingWebhook deleteIncomingWebhook redeliverWebhook joinVideoRoom openDocument
        rotateVideoRoom requestExport rotateWorkspaceKey""",
    "User": """email createdAt emailVerified twoFactorEnabled recoveryCodesLeft sessions
        securityLog invitations mentions agenda""",
    "Workspace": "requireTwoFactor invitations auditLog drive driveTrash driveUsage",
    "Member": "presence",
    "Channel": "incomingWebhooks unreadCount lastReadMessageId",
    "Calendar": "shares",
    # A room's name is a capability to join it: apps do not join calls.
    "Event": "videoRoomUrl",
    "Attendee": "email",
    "DriveItem": "shares",
    "Folder": "shares",
    "File": "shares shareLinks",
}

# Types that only closed fields lead to: no app reaches any of their fields.
CLOSED_TYPES = frozenset(
    [
        "Agenda",
        "App",
        "AppInstallRequest",
        "AppListing",
        "AuditDetail",
        "AuditEvent",
        "CalendarShare",
        "DriveShare",
        "DriveUsage",
        "Export",
        "IncomingWebhook",
        "Invitation",
        "KeyRotation",
        "Session",
        "ShareLink",
        "VideoRoom",
        "WebhookDelivery",
        "WebhookEndpoint",
    ]
)


def is_wrapper(type_name: str) -> bool:
    """Connections, edges, page info and mutation payloads: no data of their own."""
    return type_name == "PageInfo" or type_name.endswith(("Connection", "Edge", "Payload"))


def needed_scope(type_name: str, field_name: str) -> tuple[bool, AppScope | None]:
    """(open, scope): whether any app may ask for the field, and the scope it needs."""
    if is_wrapper(type_name):
        return True, None
    fields = OPEN.get(type_name)
    if fields is None or field_name not in fields:
        return False, None
    return True, fields[field_name]


def app_rule(scopes: frozenset[str]) -> type[ValidationRule]:
    """The validation rule for an app holding `scopes` (one class per set of scopes, so that
    the validation cache, keyed on the rules, never answers one caller with another's)."""
    return _rule_for(tuple(sorted(scopes)))


@lru_cache(maxsize=256)
def _rule_for(scopes: tuple[str, ...]) -> type[ValidationRule]:
    granted = frozenset(scopes)

    class AppScopes(ValidationRule):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = self.context.get_parent_type()
            name = node.name.value
            if parent is None or name.startswith("__") or parent.name.startswith("__"):
                return  # unknown fields are reported by the usual rules; introspection is open
            is_open, needed = needed_scope(parent.name, name)
            if not is_open:
                message = f"Apps cannot use {parent.name}.{name}."
            elif needed is not None and needed.value not in granted:
                message = f"{parent.name}.{name} needs the scope {needed.value}, not granted."
            else:
                return
            self.report_error(
                GraphQLError(message, [node], extensions={"code": ErrorCode.FORBIDDEN.value})
            )

    return AppScopes


class AppFieldScopes(SchemaExtension):
    """Adds the app's rule to the validation of documents sent with an app token (`cove_app_`),
    per request; people's requests are not looked at here (no store read)."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        found = context.context.get(CONTEXT_KEY) if isinstance(context.context, dict) else None
        token = found.bearer_token if isinstance(found, RequestContext) else None
        if isinstance(found, RequestContext) and token and token.startswith(APP_TOKEN_PREFIX):
            try:
                principal = await found.principal()
                # An app token that is no longer good is no caller at all: the resolvers
                # answer UNAUTHENTICATED, as for any ended token.
                checked = principal is not None
                scopes = principal.app.scopes if principal and principal.app else frozenset()
            except Exception:
                # The store cannot say (it is down): check against no scope at all, and let
                # the resolvers report the store's error as they would for anyone.
                checked, scopes = True, frozenset()
            if checked:
                context.validation_rules = (*context.validation_rules, app_rule(scopes))
        yield
