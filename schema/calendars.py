"""Calendars, events, occurrences, attendees and iCalendar import and feeds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import agenda, calendars, video_rooms
from resolvers.calendars import (
    AttendeeView,
    CalendarView,
    EventView,
    OccurrenceView,
)
from resolvers.calendars import (
    EditScope as EditScopeValue,
)
from resolvers.calendars import Rsvp as RsvpValue
from resolvers.errors import bad_input
from resolvers.recurrence import MAX_OCCURRENCES
from resolvers.roles import AccessLevel as AccessLevelValue
from schema.accounts import User
from schema.context import request_context
from schema.drive import AccessLevel
from schema.relay import Node, to_global_id

if TYPE_CHECKING:
    from schema.tasks import Task
    from schema.workspaces import Workspace

Rsvp = strawberry.enum(RsvpValue, name="Rsvp", description="An attendee's answer to an invitation.")
EditScope = strawberry.enum(
    EditScopeValue,
    name="EditScope",
    description="ALL: the whole event or series; THIS: one occurrence; THIS_AND_FOLLOWING: "
    "that occurrence and every later one (the series is split there).",
)


# Occurrence lists are sized by `first`, like pages, so a document's cost is known before it
# runs; a window holding more than `first` occurrences is refused, never cut short silently.
DEFAULT_OCCURRENCES = 500
FIRST_OCCURRENCES = strawberry.argument(
    description=f"Most occurrences to answer, 1 to {MAX_OCCURRENCES:,}; a window holding "
    "more is refused (ask for a shorter window or a larger `first`)."
)


def check_occurrences(first: int) -> None:
    if not 1 <= first <= MAX_OCCURRENCES:
        raise bad_input(f"`first` must be between 1 and {MAX_OCCURRENCES:,}.", field="first")


def at_most(found: list[OccurrenceView], first: int) -> list[OccurrenceView]:
    if len(found) > first:
        raise bad_input(
            f"The window holds more than {first:,} occurrences; ask for a shorter one or a "
            f"larger `first` (up to {MAX_OCCURRENCES:,}).",
            field="first",
        )
    return found


@strawberry.type(description="A share of a calendar with a member or a channel.")
class CalendarShare:
    user_id: strawberry.ID | None
    channel_id: strawberry.ID | None
    level: AccessLevel  # type: ignore[valid-type]
    granted_at: datetime


@strawberry.type(description="A workspace calendar, or a member's personal one.")
class Calendar(Node):
    view: strawberry.Private[CalendarView]

    @classmethod
    def from_view(cls, view: CalendarView) -> Calendar:
        return cls(id=to_global_id("Calendar", view.id), view=view)

    @strawberry.field
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field(description="`#rrggbb`.")
    def color(self) -> str:
        return self.view.record.color

    @strawberry.field(description="Whether this is one member's own calendar.")
    def personal(self) -> bool:
        return bool(self.view.record.owner_id)

    @strawberry.field
    def owner(self) -> User | None:
        owner = self.view.owner()
        return None if owner is None else User.from_view(owner)

    @strawberry.field
    def viewer_level(self) -> AccessLevel:  # type: ignore[valid-type]
        return self.view.access.level

    @strawberry.field
    def workspace(self) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        return Workspace.from_view(self.view.workspace())

    @strawberry.field(description="Who it is shared with; empty unless you manage it.")
    async def shares(self, info: Info[Any, Any]) -> list[CalendarShare]:
        rows = await calendars.calendar_shares(request_context(info), self.view.access)
        result = []
        for row in rows:
            kind, _, raw = row.grantee.partition(":")
            result.append(
                CalendarShare(
                    user_id=to_global_id("User", raw) if kind == "user" else None,
                    channel_id=to_global_id("Channel", raw) if kind == "channel" else None,
                    level=AccessLevelValue(row.level),
                    granted_at=row.granted_at,
                )
            )
        return result

    @strawberry.field(
        description="Occurrences overlapping [from, to), recurring events expanded, by start. "
        "The window is at most 366 days and holds at most 5,000 occurrences."
    )
    async def events(
        self,
        info: Info[Any, Any],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        first: Annotated[int, FIRST_OCCURRENCES] = DEFAULT_OCCURRENCES,
    ) -> list[EventOccurrence]:
        check_occurrences(first)
        found = await agenda.occurrences(request_context(info), self.view, from_, to)
        return [EventOccurrence.from_view(o) for o in at_most(found, first)]


@strawberry.type(description="Someone invited to an event.")
class Attendee:
    view: strawberry.Private[AttendeeView]

    @strawberry.field(description="The member invited; null for an outside email address.")
    def user(self) -> User | None:
        return None if self.view.user is None else User.from_view(self.view.user)

    @strawberry.field(description="The outside address invited; null for a member.")
    def email(self) -> str | None:
        return self.view.email

    @strawberry.field
    def response(self) -> Rsvp:  # type: ignore[valid-type]
        return self.view.rsvp


@strawberry.type(description="An event: a single one, or a recurring series.")
class Event(Node):
    view: strawberry.Private[EventView]

    @classmethod
    def from_view(cls, view: EventView) -> Event:
        return cls(id=to_global_id("Event", view.id), view=view)

    @strawberry.field(description="Null when you see the event only as an attendee.")
    def calendar(self) -> Calendar | None:
        calendar = self.view.calendar()
        return None if calendar is None else Calendar.from_view(calendar)

    @strawberry.field
    async def title(self) -> str:
        return (await self.view.details()).title

    @strawberry.field
    async def description(self) -> str | None:
        return (await self.view.details()).description

    @strawberry.field
    async def location(self) -> str | None:
        return (await self.view.details()).location

    @strawberry.field(description="The first occurrence's start.")
    def start(self) -> datetime:
        return self.view.record.start_at

    @strawberry.field
    def end(self) -> datetime:
        return self.view.record.end_at

    @strawberry.field(description="IANA name; recurrences keep their local time in it.")
    def time_zone(self) -> str:
        return self.view.record.time_zone

    @strawberry.field
    def all_day(self) -> bool:
        return self.view.record.all_day

    @strawberry.field(description="The RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO.")
    async def recurrence(self) -> str | None:
        return (await self.view.details()).rrule

    @strawberry.field(description="Original starts of occurrences removed from the series.")
    async def exception_dates(self) -> list[datetime]:
        return list((await self.view.details()).exdates)

    @strawberry.field(description="Minutes before the start at which to remind attendees.")
    async def reminders(self) -> list[int]:
        return list((await self.view.details()).reminders)

    @strawberry.field(
        description="A video room link (https): the one given, else the event's Jitsi room "
        "once someone joined it (`joinVideoRoom`)."
    )
    async def video_room_url(self, info: Info[Any, Any]) -> str | None:
        given = (await self.view.details()).video_url
        return given or await video_rooms.event_room_url(request_context(info), self.view.access)

    @strawberry.field
    async def attendees(self) -> list[Attendee]:
        return [Attendee(view=a) for a in await self.view.attendees()]

    @strawberry.field
    def created_by(self) -> User:
        return User.from_view(self.view.created_by())

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.view.record.updated_at

    @strawberry.field(description="Occurrences of this event in [from, to).")
    async def occurrences(
        self,
        info: Info[Any, Any],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        first: Annotated[int, FIRST_OCCURRENCES] = DEFAULT_OCCURRENCES,
    ) -> list[EventOccurrence]:
        check_occurrences(first)
        found = await agenda.event_occurrences(request_context(info), self.view, from_, to)
        return [EventOccurrence.from_view(o) for o in at_most(found, first)]


@strawberry.type(description="One occurrence of an event in a window.")
class EventOccurrence:
    view: strawberry.Private[OccurrenceView]

    @classmethod
    def from_view(cls, view: OccurrenceView) -> EventOccurrence:
        return cls(view=view)

    @strawberry.field
    def event(self) -> Event:
        return Event.from_view(self.view.event)

    @strawberry.field(
        description="The occurrence's original start (its RECURRENCE-ID); null for a single "
        "event. Pass it as `occurrence` to edit or delete this occurrence."
    )
    def occurrence_id(self) -> datetime | None:
        return self.view.occurrence.recurrence_id

    @strawberry.field
    def start(self) -> datetime:
        return self.view.occurrence.start

    @strawberry.field
    def end(self) -> datetime:
        return self.view.occurrence.end

    @strawberry.field(description="Whether this occurrence was changed apart from its series.")
    def changed(self) -> bool:
        return self.view.occurrence.override is not None

    @strawberry.field
    def all_day(self) -> bool:
        return self.view.event.record.all_day

    @strawberry.field
    async def title(self) -> str:
        return await self.view.title()

    @strawberry.field
    async def description(self) -> str | None:
        return await self.view.description()

    @strawberry.field
    async def location(self) -> str | None:
        return await self.view.location()


@strawberry.type(description="What is coming up for you.")
class Agenda:
    events: list[EventOccurrence]
    tasks: list[Annotated[Task, strawberry.lazy("schema.tasks")]] = strawberry.field(
        description="Open tasks assigned to you, due in the window, by due time."
    )


async def load_calendar(info: Info[Any, Any], raw_id: str) -> Calendar:
    return Calendar.from_view(await calendars.get_calendar(request_context(info), raw_id))


async def load_event(info: Info[Any, Any], raw_id: str) -> Event:
    return Event.from_view(await calendars.get_event(request_context(info), raw_id))


async def workspace_calendars(info: Info[Any, Any], workspace_id: str) -> list[Calendar]:
    found = await calendars.workspace_calendars(request_context(info), workspace_id)
    return [Calendar.from_view(v) for v in found]


async def viewer_agenda(info: Info[Any, Any], start: datetime, end: datetime, first: int) -> Agenda:
    from schema.tasks import due_tasks

    check_occurrences(first)
    found = await agenda.agenda(request_context(info), start, end)
    return Agenda(
        events=[EventOccurrence.from_view(o) for o in at_most(found, first)],
        tasks=await due_tasks(info, start, end),
    )
