"""The calendar mutations: their inputs, payloads and resolvers, and `CalendarsMutation`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import attendees, calendar_events, calendar_ics, calendars
from resolvers.calendars import EditScope as EditScopeValue
from resolvers.event_details import EventChanges
from resolvers.roles import AccessLevel as AccessLevelValue
from schema.calendars import Calendar, EditScope, Event, Rsvp
from schema.context import request_context
from schema.drive import AccessLevel
from schema.relay import expect_id, user_or_channel

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
    url = await calendar_ics.create_feed(request_context(info), _calendar(input.calendar_id))
    return CalendarFeedPayload(url=url)


async def revoke_calendar_feed(
    info: Info[Any, Any], input: CalendarInput
) -> CalendarFeedPayload | None:
    await calendar_ics.revoke_feed(request_context(info), _calendar(input.calendar_id))
    return CalendarFeedPayload(url=None)


async def import_calendar(
    info: Info[Any, Any], input: ImportCalendarInput
) -> ImportCalendarPayload | None:
    ctx = request_context(info)
    calendar_id = _calendar(input.calendar_id)
    created, updated = await calendar_ics.import_ics(ctx, calendar_id, input.ics)
    view = await calendars.get_calendar(ctx, calendar_id)
    return ImportCalendarPayload(
        calendar=Calendar.from_view(view), created=created, updated=updated
    )


async def create_event(info: Info[Any, Any], input: CreateEventInput) -> EventPayload | None:
    view = await calendar_events.create_event(
        request_context(info), _calendar(input.calendar_id), _changes(input.event)
    )
    return EventPayload(event=Event.from_view(view))


async def update_event(info: Info[Any, Any], input: UpdateEventInput) -> EventPayload | None:
    view = await calendar_events.update_event(
        request_context(info),
        _event(input.event_id),
        _changes(input.event),
        input.scope,
        input.occurrence,
    )
    return EventPayload(event=Event.from_view(view))


async def delete_event(info: Info[Any, Any], input: DeleteEventInput) -> DeleteEventPayload | None:
    await calendar_events.delete_event(
        request_context(info), _event(input.event_id), input.scope, input.occurrence
    )
    return DeleteEventPayload(deleted_event_id=input.event_id)


async def respond_to_event(info: Info[Any, Any], input: RespondToEventInput) -> EventPayload | None:
    view = await attendees.respond(request_context(info), _event(input.event_id), input.response)
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
