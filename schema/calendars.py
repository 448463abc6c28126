"""Calendars, events, occurrences, attendees and iCalendar import and feeds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import calendars
from resolvers.calendars import (
    AttendeeView,
    CalendarView,
    EventChanges,
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
from schema.relay import Node, expect_id, to_global_id, user_or_channel

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
        found = await calendars.occurrences(request_context(info), self.view, from_, to)
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

    @strawberry.field(description="A video room link (https).")
    async def video_room_url(self) -> str | None:
        return (await self.view.details()).video_url

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
        found = await calendars.event_occurrences(request_context(info), self.view, from_, to)
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
    found = await calendars.agenda(request_context(info), start, end)
    return Agenda(
        events=[EventOccurrence.from_view(o) for o in at_most(found, first)],
        tasks=await due_tasks(info, start, end),
    )


# Mutations


@strawberry.input
class CreateCalendarInput:
    workspace_id: strawberry.ID
    name: str = strawberry.field(description="1 to 100 characters.")
    color: str | None = strawberry.field(default=None, description="`#rrggbb`.")
    personal: bool = strawberry.field(
        default=False, description="Your own calendar (others see it only if you share it)."
    )


@strawberry.input
class UpdateCalendarInput:
    calendar_id: strawberry.ID
    name: str | None = None
    color: str | None = None


@strawberry.input
class CalendarInput:
    calendar_id: strawberry.ID


@strawberry.input
class ShareCalendarInput:
    calendar_id: strawberry.ID
    user_id: strawberry.ID | None = None
    channel_id: strawberry.ID | None = None
    level: AccessLevel = AccessLevelValue.READ  # type: ignore[valid-type]


@strawberry.input
class UnshareCalendarInput:
    calendar_id: strawberry.ID
    user_id: strawberry.ID | None = None
    channel_id: strawberry.ID | None = None


@strawberry.input
class ImportCalendarInput:
    calendar_id: strawberry.ID
    ics: str = strawberry.field(description="The text of an .ics file (at most 2 MiB).")


@strawberry.input(description="Fields of an event; on update, those left out do not change.")
class EventFields:
    title: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = strawberry.field(default=None, description="With an offset.")
    end: datetime | None = None
    time_zone: str | None = strawberry.field(default=None, description="IANA, e.g. Europe/Paris.")
    all_day: bool | None = None
    recurrence: str | None = strawberry.field(
        default=None, description='RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO"; "" removes it.'
    )
    exception_dates: list[datetime] | None = None
    attendee_ids: list[strawberry.ID] | None = None
    attendee_emails: list[str] | None = None
    reminders: list[int] | None = None
    video_room_url: str | None = None


@strawberry.input
class CreateEventInput:
    calendar_id: strawberry.ID
    event: EventFields


@strawberry.input
class UpdateEventInput:
    event_id: strawberry.ID
    event: EventFields
    scope: EditScope = EditScopeValue.ALL  # type: ignore[valid-type]
    occurrence: datetime | None = strawberry.field(
        default=None, description="The occurrence's `occurrenceId`, for THIS and following."
    )


@strawberry.input
class DeleteEventInput:
    event_id: strawberry.ID
    scope: EditScope = EditScopeValue.ALL  # type: ignore[valid-type]
    occurrence: datetime | None = None


@strawberry.input
class RespondToEventInput:
    event_id: strawberry.ID
    response: Rsvp  # type: ignore[valid-type]


@strawberry.type
class CalendarPayload:
    calendar: Calendar


@strawberry.type
class DeleteCalendarPayload:
    deleted_calendar_id: strawberry.ID


@strawberry.type
class CalendarFeedPayload:
    url: str | None = strawberry.field(
        description="The private feed URL (shown once); null after revoking."
    )


@strawberry.type
class ImportCalendarPayload:
    calendar: Calendar
    created: int
    updated: int


@strawberry.type
class EventPayload:
    event: Event


@strawberry.type
class DeleteEventPayload:
    deleted_event_id: strawberry.ID


def _calendar(global_id: strawberry.ID) -> str:
    return expect_id(global_id, "Calendar")


def _event(global_id: strawberry.ID) -> str:
    return expect_id(global_id, "Event")


def _changes(fields: EventFields) -> EventChanges:
    return EventChanges(
        title=fields.title,
        description=fields.description,
        location=fields.location,
        start=fields.start,
        end=fields.end,
        time_zone=fields.time_zone,
        all_day=fields.all_day,
        rrule=fields.recurrence,
        exdates=fields.exception_dates,
        attendee_ids=None
        if fields.attendee_ids is None
        else [expect_id(u, "User") for u in fields.attendee_ids],
        attendee_emails=fields.attendee_emails,
        reminders=fields.reminders,
        video_url=fields.video_room_url,
    )


async def create_calendar(
    info: Info[Any, Any], input: CreateCalendarInput
) -> CalendarPayload | None:
    view = await calendars.create_calendar(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        input.name,
        input.color,
        input.personal,
    )
    return CalendarPayload(calendar=Calendar.from_view(view))


async def update_calendar(
    info: Info[Any, Any], input: UpdateCalendarInput
) -> CalendarPayload | None:
    view = await calendars.update_calendar(
        request_context(info), _calendar(input.calendar_id), input.name, input.color
    )
    return CalendarPayload(calendar=Calendar.from_view(view))


async def delete_calendar(
    info: Info[Any, Any], input: CalendarInput
) -> DeleteCalendarPayload | None:
    await calendars.delete_calendar(request_context(info), _calendar(input.calendar_id))
    return DeleteCalendarPayload(deleted_calendar_id=input.calendar_id)


async def share_calendar(info: Info[Any, Any], input: ShareCalendarInput) -> CalendarPayload | None:
    user, channel = user_or_channel(input.user_id, input.channel_id)
    view = await calendars.share_calendar(
        request_context(info), _calendar(input.calendar_id), user, channel, input.level
    )
    return CalendarPayload(calendar=Calendar.from_view(view))


async def unshare_calendar(
    info: Info[Any, Any], input: UnshareCalendarInput
) -> CalendarPayload | None:
    user, channel = user_or_channel(input.user_id, input.channel_id)
    view = await calendars.share_calendar(
        request_context(info), _calendar(input.calendar_id), user, channel, None
    )
    return CalendarPayload(calendar=Calendar.from_view(view))


async def create_calendar_feed(
    info: Info[Any, Any], input: CalendarInput
) -> CalendarFeedPayload | None:
    url = await calendars.create_feed(request_context(info), _calendar(input.calendar_id))
    return CalendarFeedPayload(url=url)


async def revoke_calendar_feed(
    info: Info[Any, Any], input: CalendarInput
) -> CalendarFeedPayload | None:
    await calendars.revoke_feed(request_context(info), _calendar(input.calendar_id))
    return CalendarFeedPayload(url=None)


async def import_calendar(
    info: Info[Any, Any], input: ImportCalendarInput
) -> ImportCalendarPayload | None:
    ctx = request_context(info)
    calendar_id = _calendar(input.calendar_id)
    created, updated = await calendars.import_ics(ctx, calendar_id, input.ics)
    view = await calendars.get_calendar(ctx, calendar_id)
    return ImportCalendarPayload(
        calendar=Calendar.from_view(view), created=created, updated=updated
    )


async def create_event(info: Info[Any, Any], input: CreateEventInput) -> EventPayload | None:
    view = await calendars.create_event(
        request_context(info), _calendar(input.calendar_id), _changes(input.event)
    )
    return EventPayload(event=Event.from_view(view))


async def update_event(info: Info[Any, Any], input: UpdateEventInput) -> EventPayload | None:
    view = await calendars.update_event(
        request_context(info),
        _event(input.event_id),
        _changes(input.event),
        input.scope,
        input.occurrence,
    )
    return EventPayload(event=Event.from_view(view))


async def delete_event(info: Info[Any, Any], input: DeleteEventInput) -> DeleteEventPayload | None:
    await calendars.delete_event(
        request_context(info), _event(input.event_id), input.scope, input.occurrence
    )
    return DeleteEventPayload(deleted_event_id=input.event_id)


async def respond_to_event(info: Info[Any, Any], input: RespondToEventInput) -> EventPayload | None:
    view = await calendars.respond(request_context(info), _event(input.event_id), input.response)
    return EventPayload(event=Event.from_view(view))


@strawberry.type
class CalendarsMutation:
    create_calendar: CalendarPayload | None = strawberry.mutation(
        resolver=create_calendar,
        description="Create a workspace calendar, or a personal one.",
    )
    update_calendar: CalendarPayload | None = strawberry.mutation(
        resolver=update_calendar, description="Rename or recolour a calendar."
    )
    delete_calendar: DeleteCalendarPayload | None = strawberry.mutation(
        resolver=delete_calendar, description="Delete a calendar and its events."
    )
    share_calendar: CalendarPayload | None = strawberry.mutation(
        resolver=share_calendar,
        description="Share a calendar with a member or a channel, or change the level.",
    )
    unshare_calendar: CalendarPayload | None = strawberry.mutation(
        resolver=unshare_calendar, description="Stop sharing a calendar with someone."
    )
    create_calendar_feed: CalendarFeedPayload | None = strawberry.mutation(
        resolver=create_calendar_feed,
        description="A private .ics feed URL for other calendar apps (replaces any older one).",
    )
    revoke_calendar_feed: CalendarFeedPayload | None = strawberry.mutation(
        resolver=revoke_calendar_feed, description="Make the feed URL stop working."
    )
    import_calendar: ImportCalendarPayload | None = strawberry.mutation(
        resolver=import_calendar,
        description="Add the events of an .ics file; events with a known UID are updated.",
    )
    create_event: EventPayload | None = strawberry.mutation(
        resolver=create_event, description="Create an event, recurring or not."
    )
    update_event: EventPayload | None = strawberry.mutation(
        resolver=update_event,
        description="Change an event, one occurrence, or an occurrence and those after it.",
    )
    delete_event: DeleteEventPayload | None = strawberry.mutation(
        resolver=delete_event,
        description="Delete an event, one occurrence, or an occurrence and those after it.",
    )
    respond_to_event: EventPayload | None = strawberry.mutation(
        resolver=respond_to_event, description="Answer an invitation to an event."
    )
