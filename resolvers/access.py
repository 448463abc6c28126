"""Who is calling and what a decision found: the caller (`Principal`, with its app for an app
token) and the access records `resolvers/authz.py` answers, which resolvers pass along."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from persistence.calendars_records import CalendarRecord, EventRecord
from persistence.channels import ChannelRecord
from persistence.drive_records import DriveItemRecord
from persistence.tasks import BoardRecord
from resolvers.roles import AccessLevel, Role


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class AppCaller:
    """An app token's app, its install's workspace and approved scopes."""

    app_id: str
    workspace_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Principal:
    """A user and its session; for an app token, the install's bot, its grant and app."""

    user_id: str
    session_id: str
    app: AppCaller | None = None


@dataclass(frozen=True)
class WorkspaceAccess:
    """Proof that the principal belongs to a workspace, with the role it holds there."""

    principal: Principal
    workspace_id: str
    role: Role


@dataclass(frozen=True)
class ChannelAccess:
    """Proof that the principal may read a channel; `member` says whether it joined."""

    workspace: WorkspaceAccess
    channel: ChannelRecord
    member: bool

    @property
    def channel_id(self) -> str:
        return self.channel.channel_id


@dataclass(frozen=True)
class DriveAccess:
    """Proof that the principal may reach a drive item, at `level`.

    `in_trash` says whether the item or a folder above it is in the trash. `message_id` is
    set when the access comes from a message the file is attached to (read only).
    """

    workspace: WorkspaceAccess
    item: DriveItemRecord
    level: AccessLevel
    in_trash: bool
    message_id: str = ""

    @property
    def item_id(self) -> str:
        return self.item.item_id


@dataclass(frozen=True)
class CalendarAccess:
    """Proof that the principal may reach a calendar, at `level`."""

    workspace: WorkspaceAccess
    calendar: CalendarRecord
    level: AccessLevel

    @property
    def calendar_id(self) -> str:
        return self.calendar.calendar_id


@dataclass(frozen=True)
class EventAccess:
    """Proof that the principal may read an event: through its calendar, or as an attendee
    (`calendar` is None then, and `attendee` names the attendee row)."""

    workspace: WorkspaceAccess
    event: EventRecord
    calendar: CalendarAccess | None
    attendee: str = ""

    @property
    def level(self) -> AccessLevel:
        return self.calendar.level if self.calendar is not None else AccessLevel.READ


@dataclass(frozen=True)
class BoardAccess:
    """Proof that the principal may reach a task board, at `level`."""

    workspace: WorkspaceAccess
    board: BoardRecord
    level: AccessLevel

    @property
    def board_id(self) -> str:
        return self.board.board_id
