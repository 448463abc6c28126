"""Calendars: sealed fields, views of calendars and events, access, and calendar changes.

The rest of the domain: `resolvers.event_details` (an event's payload and input checks),
`resolvers.calendar_events` (event writes), `resolvers.attendees`, `resolvers.agenda`
(reading over a window) and `resolvers.calendar_ics` (import, export, feeds).

A workspace calendar is readable by the workspace's members (guests by share only) and
written by members; a personal calendar belongs to one member. Events are sealed in one
payload each (title, description, location, rule, exceptions, reminders, video link);
their times stay clear so a window is a key-range read. Recurring series are expanded with
python-dateutil (`resolvers/recurrence.py`), never by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from crypto.field_seal import FieldRef
from persistence.calendars_records import (
    CalendarRecord,
    CalendarShareRecord,
    EventRecord,
    OverrideRecord,
)
from persistence.ids import new_id
from persistence.store import Delete, Put, Update
from resolvers.accounts import UserView
from resolvers.authz import CalendarAccess, EventAccess, WorkspaceAccess, forbidden
from resolvers.channels import channel_access, my_channels_among
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.event_details import EventDetails, OverrideDetails
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import CalendarNotice
from resolvers.recurrence import (
    Occurrence,
    Series,
)
from resolvers.roles import AccessLevel, Role
from resolvers.users import fellow as person
from resolvers.validation import clean_name
from resolvers.workspaces import WorkspaceView
from resolvers.workspaces import access as workspace_access
from resolvers.workspaces import view as workspace_view

MAX_CALENDAR_NAME = 100
MAX_CALENDARS_PER_WORKSPACE = 1000
MAX_SHARES = 200
DEFAULT_COLOR = "#3b82f6"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
UID_INDEX = "event-uid"
EMAIL_INDEX = "attendee-email"


class Rsvp(StrEnum):
    NEEDS_ACTION = "NEEDS_ACTION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    TENTATIVE = "TENTATIVE"


class EditScope(StrEnum):
    """Which occurrences of a recurring event an edit or a delete touches."""

    ALL = "ALL"
    THIS = "THIS"
    THIS_AND_FOLLOWING = "THIS_AND_FOLLOWING"


def name_ref(calendar_id: str, workspace_id: str) -> FieldRef:
    return FieldRef("calendar", "name", calendar_id, workspace_id)


def payload_ref(event_id: str, workspace_id: str) -> FieldRef:
    return FieldRef("event", "payload", event_id, workspace_id)


def override_ref(event_id: str, workspace_id: str, recurrence_id: datetime) -> FieldRef:
    # Bound to the occurrence: an override moved to another occurrence does not open.
    millis = int(recurrence_id.timestamp() * 1000)
    return FieldRef("event", f"override {millis}", event_id, workspace_id)


def email_ref(event_id: str, workspace_id: str) -> FieldRef:
    return FieldRef("event_attendee", "email", event_id, workspace_id)


# Input checks


def clean_color(color: str | None) -> str:
    if color is None:
        return DEFAULT_COLOR
    if not _COLOR.match(color):
        raise bad_input("A colour is `#rrggbb`.", field="color")
    return color.lower()


# Views


class CalendarView:
    def __init__(self, ctx: RequestContext, access: CalendarAccess) -> None:
        self.access = access
        self.record = access.calendar
        self._ctx = ctx
        self._grant = ctx.services.authz.calendar_grant(access)

    @property
    def id(self) -> str:
        return self.record.calendar_id

    async def name(self) -> str:
        ref = name_ref(self.id, self.record.workspace_id)
        return await self._ctx.services.keys.open_text(self._grant, ref, self.record.name_sealed)

    def owner(self) -> UserView | None:
        if not self.record.owner_id:
            return None
        return person(self._ctx, self.access.workspace, self.record.owner_id)

    def workspace(self) -> WorkspaceView:
        return workspace_view(self._ctx, self.access.workspace)


@dataclass
class AttendeeView:
    user: UserView | None
    email: str | None
    rsvp: Rsvp


class EventView:
    """An event (a single one, or a whole series) as one caller sees it."""

    def __init__(self, ctx: RequestContext, access: EventAccess) -> None:
        self.access = access
        self.record = access.event
        self._ctx = ctx
        self._grant = ctx.services.authz.event_grant(access)
        self._details: EventDetails | None = None

    @property
    def id(self) -> str:
        return self.record.event_id

    async def details(self) -> EventDetails:
        if self._details is None:
            ref = payload_ref(self.id, self.record.workspace_id)
            raw = await self._ctx.services.keys.open_bytes(
                self._grant, ref, self.record.payload_sealed
            )
            self._details = EventDetails.from_json(raw)
        return self._details

    async def series(self) -> Series:
        details = await self.details()
        return _series_of(self.record, details)

    async def override_details(self, override: OverrideRecord) -> OverrideDetails:
        if override.payload_sealed is None:
            return OverrideDetails()
        ref = override_ref(self.id, self.record.workspace_id, override.recurrence_id)
        raw = await self._ctx.services.keys.open_bytes(self._grant, ref, override.payload_sealed)
        return OverrideDetails.from_json(raw)

    async def attendees(self) -> list[AttendeeView]:
        rows = await self._ctx.services.calendars.attendees(self.id)
        views = []
        for row in rows:
            user = person(self._ctx, self.access.workspace, row.user_id) if row.user_id else None
            email = None
            if row.email_sealed is not None:
                ref = email_ref(self.id, self.record.workspace_id)
                email = await self._ctx.services.keys.open_text(self._grant, ref, row.email_sealed)
            views.append(AttendeeView(user, email, Rsvp(row.rsvp)))
        return views

    def calendar(self) -> CalendarView | None:
        if self.access.calendar is None:
            return None
        return CalendarView(self._ctx, self.access.calendar)

    def created_by(self) -> UserView:
        return person(self._ctx, self.access.workspace, self.record.created_by)


@dataclass
class OccurrenceView:
    event: EventView
    occurrence: Occurrence
    override: OverrideDetails = field(default_factory=OverrideDetails)

    async def title(self) -> str:
        return self.override.title or (await self.event.details()).title

    async def description(self) -> str | None:
        return self.override.description or (await self.event.details()).description

    async def location(self) -> str | None:
        return self.override.location or (await self.event.details()).location


def _series_of(record: EventRecord, details: EventDetails) -> Series:
    return Series(
        start=record.start_at,
        end=record.end_at,
        time_zone=record.time_zone,
        all_day=record.all_day,
        rrule=details.rrule,
        exdates=details.exdates,
    )


# Access


async def calendar_access(ctx: RequestContext, calendar_id: str) -> CalendarAccess:
    await ctx.require_user()
    calendar = await ctx.services.calendars.get(calendar_id)
    if calendar is None:
        raise not_found("calendar")
    try:
        granted = await workspace_access(ctx, calendar.workspace_id)
    except CoveError:
        raise not_found("calendar") from None
    return await _calendar_in(ctx, granted, calendar)


async def _calendar_in(
    ctx: RequestContext, granted: WorkspaceAccess, calendar: CalendarRecord
) -> CalendarAccess:
    shares: list[CalendarShareRecord] = []
    channels: set[str] = set()
    personal_of_other = calendar.owner_id and calendar.owner_id != granted.principal.user_id
    if personal_of_other or granted.role in (Role.MEMBER, Role.GUEST, Role.BOT):
        shares = await ctx.services.calendars.shares(calendar.calendar_id, limit=MAX_SHARES)
        channels = await my_channels_among(ctx, (s.grantee for s in shares))
    return ctx.services.authz.calendar(granted, calendar, shares, channels)


async def get_calendar(ctx: RequestContext, calendar_id: str) -> CalendarView:
    return CalendarView(ctx, await calendar_access(ctx, calendar_id))


async def event_access(ctx: RequestContext, event_id: str) -> EventAccess:
    """Through the event's calendar, or as a member invited to it."""
    await ctx.require_user()
    event = await ctx.services.calendars.event(event_id)
    if event is None:
        raise not_found("event")
    try:
        calendar = await calendar_access(ctx, event.calendar_id)
        return ctx.services.authz.event(calendar, event)
    except CoveError:
        pass
    try:
        granted = await workspace_access(ctx, event.workspace_id)
    except CoveError:
        raise not_found("event") from None
    me = f"user:{granted.principal.user_id}"
    rows = await ctx.services.calendars.attendees(event_id)
    attendee = next((r.attendee for r in rows if r.attendee == me), None)
    return ctx.services.authz.attendee_event(granted, event, attendee)


async def get_event(ctx: RequestContext, event_id: str) -> EventView:
    return EventView(ctx, await event_access(ctx, event_id))


# Listing


async def workspace_calendars(ctx: RequestContext, workspace_id: str) -> list[CalendarView]:
    """The calendars of a workspace the caller may see, oldest first."""
    granted = await workspace_access(ctx, workspace_id)
    rows = await ctx.services.calendars.in_workspace(
        workspace_id, limit=MAX_CALENDARS_PER_WORKSPACE
    )
    records = await ctx.services.calendars.get_many([c for c, _ in rows])
    views = []
    for record in records:
        if record is None:
            continue
        try:
            views.append(CalendarView(ctx, await _calendar_in(ctx, granted, record)))
        except CoveError:
            continue
    return views


# Calendars: changes


async def create_calendar(
    ctx: RequestContext, workspace_id: str, name: str, color: str | None, personal: bool
) -> CalendarView:
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    if not personal and granted.role.joined_only:
        raise forbidden("Guests make personal calendars only.")
    clean = clean_name(name, field="name", max_length=MAX_CALENDAR_NAME)
    existing = await services.calendars.in_workspace(
        workspace_id, limit=MAX_CALENDARS_PER_WORKSPACE
    )
    if len(existing) >= MAX_CALENDARS_PER_WORKSPACE:
        raise bad_input(f"A workspace holds at most {MAX_CALENDARS_PER_WORKSPACE} calendars.")
    calendar_id = new_id()
    now = services.clock()
    record = CalendarRecord(
        calendar_id=calendar_id,
        workspace_id=workspace_id,
        owner_id=granted.principal.user_id if personal else "",
        name_sealed=await services.keys.seal_text(name_ref(calendar_id, workspace_id), clean),
        color=clean_color(color),
        created_by=granted.principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await services.calendars.create(record)
    return await get_calendar(ctx, calendar_id)


async def update_calendar(
    ctx: RequestContext, calendar_id: str, name: str | None, color: str | None
) -> CalendarView:
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.MANAGE)
    values: dict[str, object] = {"updated_at": services.clock()}
    ws = access.calendar.workspace_id
    if name is not None:
        clean = clean_name(name, field="name", max_length=MAX_CALENDAR_NAME)
        values["name_sealed"] = await services.keys.seal_text(name_ref(calendar_id, ws), clean)
    if color is not None:
        values["color"] = clean_color(color)
    await services.calendars.update(calendar_id, values)
    return await get_calendar(ctx, calendar_id)


async def delete_calendar(ctx: RequestContext, calendar_id: str) -> None:
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.MANAGE)
    await services.calendars.delete(access.calendar)
    await publish(ctx, calendar_id, CalendarNotice.DELETED, {"id": gid("Calendar", calendar_id)})


async def share_calendar(
    ctx: RequestContext,
    calendar_id: str,
    user_id: str | None,
    channel_id: str | None,
    level: AccessLevel | None,
) -> CalendarView:
    """Share with a member or a channel at `level`, or stop sharing (level None)."""
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.MANAGE)
    ws = access.calendar.workspace_id
    if (user_id is None) == (channel_id is None):
        raise bad_input("Give either userId or channelId.", field="userId")
    if user_id is not None:
        [membership] = await services.workspaces.memberships(ws, [user_id])
        if membership is None:
            raise not_found("user")
        grantee = f"user:{user_id}"
    else:
        assert channel_id is not None
        channel = await channel_access(ctx, channel_id)
        if channel.channel.workspace_id != ws:
            raise not_found("channel")
        grantee = f"channel:{channel_id}"
    if level is None:
        await services.calendars.delete_share(ws, calendar_id, grantee)
        # A person's share, or a channel's (all its members'): the readers are checked again.
        await services.notices.topic_access_changed(gid("Calendar", calendar_id))
    else:
        shares = await services.calendars.shares(calendar_id, limit=MAX_SHARES + 1)
        if len(shares) >= MAX_SHARES and all(s.grantee != grantee for s in shares):
            raise bad_input(f"A calendar may be shared at most {MAX_SHARES} times.")
        share = CalendarShareRecord(
            calendar_id, grantee, level.value, access.workspace.principal.user_id, services.clock()
        )
        await services.calendars.put_share(ws, share)
    return CalendarView(ctx, access)


async def calendar_shares(ctx: RequestContext, access: CalendarAccess) -> list[CalendarShareRecord]:
    if access.level is not AccessLevel.MANAGE:
        return []
    return await ctx.services.calendars.shares(access.calendar_id, limit=MAX_SHARES)


# Realtime


async def publish(
    ctx: RequestContext, calendar_id: str, type_: CalendarNotice, data: dict[str, object]
) -> None:
    await ctx.services.notices.publish(gid("Calendar", calendar_id), type_, data)


async def publish_event(ctx: RequestContext, view: EventView, type_: CalendarNotice) -> None:
    details = await view.details()
    await publish(
        ctx,
        view.record.calendar_id,
        type_,
        {
            "id": gid("Event", view.id),
            "calendarId": gid("Calendar", view.record.calendar_id),
            "title": details.title,
            "start": view.record.start_at.isoformat(),
            "end": view.record.end_at.isoformat(),
            "recurring": view.record.recurring,
        },
    )


async def save_event(
    ctx: RequestContext,
    ops: Sequence[Put | Delete | Update],
    calendar: CalendarAccess,
    record: EventRecord,
    type_: CalendarNotice,
    *,
    index: bool = False,
) -> EventView:
    """The tail of an event write: apply the ops, view the record, index its title and
    description for search (`index`), and publish `type_` on the calendar."""
    services = ctx.services
    if index:  # the search outbox entry goes in the event's batch
        ops = [*ops, services.indexer.entry(record.workspace_id, "event", record.event_id)]
    await services.calendars.apply(ops)
    services.indexer.queued()
    view = EventView(ctx, services.authz.event(calendar, record))
    await publish_event(ctx, view, type_)
    return view
