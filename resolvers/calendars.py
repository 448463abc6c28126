"""Calendars and their events: recurrence, occurrence edits, attendees, sharing, iCalendar.

A workspace calendar is readable by the workspace's members (guests by share only) and
written by members; a personal calendar belongs to one member. Events are sealed in one
payload each (title, description, location, rule, exceptions, reminders, video link);
their times stay clear so a window is a key-range read. Recurring series are expanded with
python-dateutil (`resolvers/recurrence.py`), never by hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crypto.field_seal import FieldRef
from crypto.tokens import hash_token, new_token
from persistence.calendars import (
    AttendeeRecord,
    CalendarRecord,
    CalendarShareRecord,
    EventRecord,
    OverrideRecord,
)
from persistence.ids import new_id
from persistence.store import Delete, Put, Update
from resolvers.accounts import UserView
from resolvers.authz import CalendarAccess, EventAccess, Principal, WorkspaceAccess, forbidden
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.ical import IcsAttendee, IcsEvent, IcsOverride, parse_ics, render_ics
from resolvers.recurrence import (
    MAX_EVENT_DURATION,
    MAX_OCCURRENCES,
    MAX_WINDOW,
    Occurrence,
    Override,
    Series,
    check_series,
    expand,
    is_occurrence,
    series_until,
    split_series,
)
from resolvers.roles import AccessLevel, Role
from resolvers.users import fellow as person
from resolvers.validation import clean_name, clean_text, normalize_email
from resolvers.workspaces import WorkspaceView
from resolvers.workspaces import access as workspace_access
from resolvers.workspaces import view as workspace_view

log = logging.getLogger("cove.calendars")

MAX_CALENDAR_NAME = 100
MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_LOCATION = 500
MAX_ATTENDEES = 200
MAX_REMINDERS = 10
MAX_REMINDER_MINUTES = 40_320  # four weeks
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


@dataclass(frozen=True)
class EventDetails:
    """What an event's sealed payload holds."""

    uid: str
    title: str
    description: str | None = None
    location: str | None = None
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    reminders: tuple[int, ...] = ()
    video_url: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "uid": self.uid,
                "title": self.title,
                "description": self.description,
                "location": self.location,
                "rrule": self.rrule,
                "exdates": [d.astimezone(UTC).isoformat() for d in self.exdates],
                "reminders": list(self.reminders),
                "video_url": self.video_url,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> EventDetails:
        data = json.loads(raw)
        return cls(
            uid=data["uid"],
            title=data["title"],
            description=data.get("description"),
            location=data.get("location"),
            rrule=data.get("rrule"),
            exdates=tuple(datetime.fromisoformat(d) for d in data.get("exdates", [])),
            reminders=tuple(data.get("reminders", [])),
            video_url=data.get("video_url"),
        )


@dataclass(frozen=True)
class OverrideDetails:
    title: str | None = None
    description: str | None = None
    location: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {"title": self.title, "description": self.description, "location": self.location}
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> OverrideDetails:
        data = json.loads(raw)
        return cls(data.get("title"), data.get("description"), data.get("location"))


# Input checks


def clean_color(color: str | None) -> str:
    if color is None:
        return DEFAULT_COLOR
    if not _COLOR.match(color):
        raise bad_input("A colour is `#rrggbb`.", field="color")
    return color.lower()


def clean_title(title: str) -> str:
    clean = clean_text(title, MAX_TITLE, "title")
    if not clean:
        raise bad_input("An event needs a title.", field="title")
    return clean


def clean_reminders(reminders: Sequence[int] | None) -> tuple[int, ...]:
    if reminders is None:
        return ()
    if len(reminders) > MAX_REMINDERS:
        raise bad_input(f"At most {MAX_REMINDERS} reminders.", field="reminders")
    if any(not 0 <= m <= MAX_REMINDER_MINUTES for m in reminders):
        raise bad_input(
            f"A reminder is 0 to {MAX_REMINDER_MINUTES} minutes before the start.",
            field="reminders",
        )
    return tuple(sorted(set(reminders)))


def clean_video_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    clean = url.strip()
    if len(clean) > 2000 or not clean.startswith("https://") or any(c.isspace() for c in clean):
        raise bad_input("A video room link is an https:// URL.", field="videoRoomUrl")
    return clean


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
    if personal_of_other or granted.role in (Role.MEMBER, Role.GUEST):
        shares = await ctx.services.calendars.shares(calendar.calendar_id, limit=MAX_SHARES)
        from resolvers.channels import my_channels_among

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


async def _writable_event(ctx: RequestContext, event_id: str) -> EventView:
    view = await get_event(ctx, event_id)
    if view.access.calendar is None:
        raise forbidden("Attendees answer an event; they do not change it.")
    ctx.services.authz.calendar_require(view.access.calendar, AccessLevel.WRITE)
    return view


# Listing and windows


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


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise bad_input("Give window times with a time zone offset.", field="from")
    if end <= start:
        raise bad_input("The window must end after it starts.", field="to")
    if end - start > MAX_WINDOW:
        raise bad_input(f"A window spans at most {MAX_WINDOW.days} days.", field="to")


async def occurrences(
    ctx: RequestContext, calendar: CalendarView, start: datetime, end: datetime
) -> list[OccurrenceView]:
    """Every occurrence overlapping [start, end), by start; recurring series expanded."""
    _check_window(start, end)
    services = ctx.services
    repo = services.calendars
    single_ids = await repo.singles_between(calendar.id, start - MAX_EVENT_DURATION, end)
    series_rows = [
        event_id
        for event_id, first, until in await repo.series(calendar.id)
        if first < end and (until is None or until > start)
    ]
    records = await repo.events(single_ids + series_rows)
    found: list[OccurrenceView] = []
    events: list[EventRecord] = [r for r in records if r is not None]
    await services.keys.preload(calendar.record.workspace_id, (e.payload_sealed for e in events))
    recurring = [e for e in events if e.recurring]
    overrides = await repo.overrides_many([e.event_id for e in recurring]) if recurring else []
    override_of = dict(zip([e.event_id for e in recurring], overrides, strict=True))
    authz = services.authz
    for record in events:
        view = EventView(ctx, authz.event(calendar.access, record))
        if not record.recurring:
            if record.end_at > start and record.start_at < end:
                found.append(
                    OccurrenceView(view, Occurrence(None, record.start_at, record.end_at, None))
                )
                if len(found) > MAX_OCCURRENCES:
                    raise _too_many()
            continue
        rows = override_of.get(record.event_id, [])
        found += await _expand_within(view, rows, start, end, MAX_OCCURRENCES - len(found))
    found.sort(key=lambda o: (o.occurrence.start, o.event.id))
    return found


def _too_many() -> CoveError:
    return bad_input(
        f"The window holds more than {MAX_OCCURRENCES:,} occurrences; ask for a shorter one.",
        field="to",
    )


async def _expand_within(
    view: EventView,
    rows: Sequence[OverrideRecord],
    start: datetime,
    end: datetime,
    room: int,
) -> list[OccurrenceView]:
    """A series' occurrences in the window, at most `room` of them (else the answer's cap
    error), so one answer never expands more than MAX_OCCURRENCES occurrences in all.

    A stored series whose rule today's checks refuse (a sub-daily BYHOUR list saved before
    they existed) shows nothing in lists, so it cannot fail or slow everyone's answer; it
    can still be read, changed and deleted.
    """
    try:
        series = check_series(await view.series())
    except CoveError as error:
        log.warning("event %s skipped in lists: %s", view.id, error.message)
        return []
    if room <= 0:
        raise _too_many()
    moved = {o.recurrence_id: o for o in rows}
    try:
        expanded = expand(series, [_override(o) for o in rows], start, end, limit=room)
    except CoveError:  # the window checks passed, so this is the cap
        raise _too_many() from None
    result = []
    for occurrence in expanded:
        row = moved.get(occurrence.recurrence_id) if occurrence.recurrence_id else None
        details = await view.override_details(row) if row is not None else OverrideDetails()
        result.append(OccurrenceView(view, occurrence, details))
    return result


def _reach(record: EventRecord, override_ends: Sequence[datetime | None]) -> EventRecord:
    """The record with `series_until` pushed out to the latest moved occurrence's end, so a
    window after the series' own last occurrence still finds an occurrence moved there."""
    if record.series_until is None:
        return record
    latest = max((e for e in override_ends if e is not None), default=None)
    if latest is None or latest <= record.series_until:
        return record
    return replace(record, series_until=latest)


def _override(row: OverrideRecord) -> Override:
    return Override(
        recurrence_id=row.recurrence_id,
        start=row.start_at,
        end=row.end_at,
        cancelled=row.cancelled,
    )


# Calendars: changes


async def create_calendar(
    ctx: RequestContext, workspace_id: str, name: str, color: str | None, personal: bool
) -> CalendarView:
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    if not personal and granted.role is Role.GUEST:
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
    await _publish(ctx, calendar_id, "calendar.deleted", {"id": gid("Calendar", calendar_id)})


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
        from resolvers.channels import channel_access

        channel = await channel_access(ctx, channel_id)
        if channel.channel.workspace_id != ws:
            raise not_found("channel")
        grantee = f"channel:{channel_id}"
    if level is None:
        await services.calendars.delete_share(ws, calendar_id, grantee)
        # A person's share, or a channel's (all its members'): the readers are checked again.
        await services.events.topic_access_changed(gid("Calendar", calendar_id))
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


async def create_feed(ctx: RequestContext, calendar_id: str) -> str:
    """A private iCalendar feed URL (random token; a new one replaces the old)."""
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.MANAGE)
    token = new_token("cvf_")
    creator = access.workspace.principal.user_id
    await services.calendars.set_feed(access.calendar, hash_token(token), creator)
    return services.drive_policy.url(f"/calendars/feed/{token}.ics")


async def revoke_feed(ctx: RequestContext, calendar_id: str) -> None:
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.MANAGE)
    await services.calendars.set_feed(access.calendar, None)


# Events: changes


@dataclass
class EventChanges:
    """Fields of an event input; None means "leave as it is" (or "none" when creating)."""

    title: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool | None = None
    rrule: str | None = None
    exdates: list[datetime] | None = None
    attendee_ids: list[str] | None = None
    attendee_emails: list[str] | None = None
    reminders: list[int] | None = None
    video_url: str | None = None

    def only_occurrence_fields(self) -> bool:
        return all(
            v is None
            for v in (
                self.time_zone,
                self.all_day,
                self.rrule,
                self.exdates,
                self.attendee_ids,
                self.attendee_emails,
                self.reminders,
                self.video_url,
            )
        )


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise bad_input("Give times with a time zone offset (ISO 8601).", field=field)
    return moment.astimezone(UTC)


async def _attendee_rows(
    ctx: RequestContext,
    granted: WorkspaceAccess,
    *,
    event_id: str,
    user_ids: Sequence[str],
    emails: Sequence[str],
    previous: Sequence[AttendeeRecord] = (),
) -> list[AttendeeRecord]:
    services = ctx.services
    if len(user_ids) + len(emails) > MAX_ATTENDEES:
        raise bad_input(f"An event has at most {MAX_ATTENDEES} attendees.", field="attendeeIds")
    kept = {a.attendee: a.rsvp for a in previous}
    rows: list[AttendeeRecord] = []
    unique_users = list(dict.fromkeys(user_ids))
    if unique_users:
        memberships = await services.workspaces.memberships(granted.workspace_id, unique_users)
        if any(m is None for m in memberships):
            raise bad_input("Attendees must be members of the workspace.", field="attendeeIds")
    for user_id in unique_users:
        key = f"user:{user_id}"
        rows.append(AttendeeRecord(event_id, key, user_id, None, kept.get(key, Rsvp.NEEDS_ACTION)))
    ws = granted.workspace_id
    for raw in dict.fromkeys(emails):
        email = normalize_email(raw, field="attendeeEmails")
        index = services.keyring.blind_index(EMAIL_INDEX, f"{ws}\x00{email}").hex()
        key = f"email:{index}"
        sealed = await services.keys.seal_text(email_ref(event_id, ws), email)
        rows.append(AttendeeRecord(event_id, key, "", sealed, kept.get(key, Rsvp.NEEDS_ACTION)))
    return rows


def _attendee_ops(
    ctx: RequestContext,
    event: EventRecord,
    old: Sequence[AttendeeRecord],
    new: Sequence[AttendeeRecord],
) -> list[Put | Delete | Update]:
    repo = ctx.services.calendars
    keep = {a.attendee for a in new}
    ops: list[Put | Delete | Update] = []
    for row in old:
        if row.attendee not in keep:
            ops += repo.attendee_ops(event, row, delete=True)
    for row in new:
        ops += repo.attendee_ops(event, row)
    return ops


async def _event_record(
    ctx: RequestContext,
    calendar: CalendarRecord,
    *,
    event_id: str,
    series: Series,
    details: EventDetails,
    created_by: str,
    created_at: datetime,
) -> EventRecord:
    services = ctx.services
    ws = calendar.workspace_id
    return EventRecord(
        event_id=event_id,
        calendar_id=calendar.calendar_id,
        workspace_id=ws,
        start_at=series.start.astimezone(UTC),
        end_at=series.end.astimezone(UTC),
        time_zone=series.time_zone,
        all_day=series.all_day,
        recurring=series.rrule is not None,
        series_until=series_until(series),
        uid_index=services.keyring.blind_index(
            UID_INDEX, f"{calendar.calendar_id}\x00{details.uid}"
        ),
        payload_sealed=await services.keys.seal_bytes(payload_ref(event_id, ws), details.to_json()),
        created_by=created_by,
        created_at=created_at,
        updated_at=services.clock(),
    )


async def create_event(ctx: RequestContext, calendar_id: str, changes: EventChanges) -> EventView:
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.WRITE)
    if changes.start is None or changes.end is None:
        raise bad_input("An event needs a start and an end.", field="start")
    series = check_series(
        Series(
            start=_utc(changes.start, "start"),
            end=_utc(changes.end, "end"),
            time_zone=changes.time_zone or "UTC",
            all_day=bool(changes.all_day),
            rrule=changes.rrule or None,
            exdates=tuple(_utc(d, "exdates") for d in changes.exdates or ()),
        )
    )
    event_id = new_id()
    details = EventDetails(
        uid=f"{event_id}@cove",
        title=clean_title(changes.title or ""),
        description=clean_text(changes.description, MAX_DESCRIPTION, "description"),
        location=clean_text(changes.location, MAX_LOCATION, "location"),
        rrule=series.rrule,
        exdates=series.exdates,
        reminders=clean_reminders(changes.reminders),
        video_url=clean_video_url(changes.video_url),
    )
    now = services.clock()
    me = access.workspace.principal.user_id
    record = await _event_record(
        ctx,
        access.calendar,
        event_id=event_id,
        series=series,
        details=details,
        created_by=me,
        created_at=now,
    )
    attendees = await _attendee_rows(
        ctx,
        access.workspace,
        event_id=event_id,
        user_ids=changes.attendee_ids or [],
        emails=changes.attendee_emails or [],
    )
    ops = services.calendars.put_event_ops(record)
    ops += _attendee_ops(ctx, record, [], attendees)
    await services.calendars.apply(ops)
    view = EventView(ctx, services.authz.event(access, record))
    await services.search.event(record, details.title, details.description)
    await _publish_event(ctx, view, "event.created")
    return view


async def update_event(
    ctx: RequestContext,
    event_id: str,
    changes: EventChanges,
    scope: EditScope,
    occurrence: datetime | None,
) -> EventView:
    """Change a whole event or series (ALL), one occurrence (THIS), or an occurrence and all
    that follow it (THIS_AND_FOLLOWING: the series is split in two there)."""
    view = await _writable_event(ctx, event_id)
    record = view.record
    details = await view.details()
    if scope is not EditScope.ALL and not record.recurring:
        raise bad_input("Only recurring events have occurrences to edit.", field="scope")
    if scope is EditScope.THIS:
        at = _occurrence_at(occurrence, record)
        if not changes.only_occurrence_fields():
            raise bad_input(
                "One occurrence can change its time, title, description and location only.",
                field="scope",
            )
        await _check_is_occurrence(view, at)
        await _write_override(ctx, view, at, changes)
        await _publish_event(ctx, view, "event.changed")
        return view
    if scope is EditScope.THIS_AND_FOLLOWING:
        at = _occurrence_at(occurrence, record)
        series = await view.series()
        if at == series.start.astimezone(UTC):
            scope = EditScope.ALL  # the first occurrence onwards is the whole series
        else:
            return await _split_and_change(ctx, view, at, changes)
    return await _change_all(ctx, view, details, changes)


def _occurrence_at(occurrence: datetime | None, record: EventRecord) -> datetime:
    if occurrence is None:
        raise bad_input("Say which occurrence: its original start.", field="occurrence")
    return _utc(occurrence, "occurrence")


async def _check_is_occurrence(view: EventView, at: datetime) -> None:
    if not is_occurrence(await view.series(), at):
        raise bad_input("No occurrence of this event starts then.", field="occurrence")


async def _write_override(
    ctx: RequestContext, view: EventView, at: datetime, changes: EventChanges
) -> None:
    services = ctx.services
    record = view.record
    series = await view.series()
    existing = {o.recurrence_id: o for o in await services.calendars.overrides(record.event_id)}
    previous = existing.get(at)
    old = await view.override_details(previous) if previous else OverrideDetails()
    duration = series.end - series.start
    start = (
        _utc(changes.start, "start")
        if changes.start
        else (previous.start_at if previous and previous.start_at else at)
    )
    end = (
        _utc(changes.end, "end")
        if changes.end
        else (
            previous.end_at
            if previous and previous.end_at and not changes.start
            else start + duration
        )
    )
    if end <= start:
        raise bad_input("An event ends after it starts.", field="end")
    if end - start > MAX_EVENT_DURATION:
        raise bad_input("An event lasts at most 31 days.", field="end")
    detail = OverrideDetails(
        title=clean_title(changes.title) if changes.title is not None else old.title,
        description=clean_text(changes.description, MAX_DESCRIPTION, "description")
        if changes.description is not None
        else old.description,
        location=clean_text(changes.location, MAX_LOCATION, "location")
        if changes.location is not None
        else old.location,
    )
    ws = record.workspace_id
    sealed = await services.keys.seal_bytes(override_ref(record.event_id, ws, at), detail.to_json())
    row = OverrideRecord(record.event_id, at, start, end, False, sealed)
    ops = services.calendars.override_ops(row)
    reaching = _reach(record, [end])
    if reaching is not record:
        ops += services.calendars.put_event_ops(reaching, record)
    await services.calendars.apply(ops)


async def _change_all(
    ctx: RequestContext, view: EventView, details: EventDetails, changes: EventChanges
) -> EventView:
    services = ctx.services
    record = view.record
    series = await view.series()
    new_series = check_series(
        Series(
            start=_utc(changes.start, "start") if changes.start else series.start,
            end=_utc(changes.end, "end") if changes.end else series.end,
            time_zone=changes.time_zone or series.time_zone,
            all_day=series.all_day if changes.all_day is None else changes.all_day,
            rrule=series.rrule if changes.rrule is None else (changes.rrule or None),
            exdates=series.exdates
            if changes.exdates is None
            else tuple(_utc(d, "exdates") for d in changes.exdates),
        )
    )
    new_details = replace(
        details,
        title=clean_title(changes.title) if changes.title is not None else details.title,
        description=clean_text(changes.description, MAX_DESCRIPTION, "description")
        if changes.description is not None
        else details.description,
        location=clean_text(changes.location, MAX_LOCATION, "location")
        if changes.location is not None
        else details.location,
        rrule=new_series.rrule,
        exdates=new_series.exdates,
        reminders=clean_reminders(changes.reminders)
        if changes.reminders is not None
        else details.reminders,
        video_url=clean_video_url(changes.video_url)
        if changes.video_url is not None
        else details.video_url,
    )
    calendar = view.access.calendar
    assert calendar is not None
    updated = await _event_record(
        ctx,
        calendar.calendar,
        event_id=record.event_id,
        series=new_series,
        details=new_details,
        created_by=record.created_by,
        created_at=record.created_at,
    )
    ops = services.calendars.put_event_ops(updated, record)
    timing_changed = (
        new_series.start != series.start
        or new_series.rrule != series.rrule
        or new_series.time_zone != series.time_zone
    )
    overrides = await services.calendars.overrides(record.event_id)
    if timing_changed:
        # Overrides name occurrences by their original start: a new rule orphans them.
        ops += services.calendars.drop_overrides_ops(
            record.event_id, [o.recurrence_id for o in overrides]
        )
    else:
        reaching = _reach(updated, [o.end_at for o in overrides if not o.cancelled])
        if reaching is not updated:
            updated = reaching
            ops = services.calendars.put_event_ops(updated, record)
    if changes.attendee_ids is not None or changes.attendee_emails is not None:
        old = await services.calendars.attendees(record.event_id)
        current_users = [a.user_id for a in old if a.user_id]
        new_rows = await _attendee_rows(
            ctx,
            view.access.workspace,
            event_id=record.event_id,
            user_ids=changes.attendee_ids if changes.attendee_ids is not None else current_users,
            emails=changes.attendee_emails
            if changes.attendee_emails is not None
            else [a.email for a in await view.attendees() if a.email],
            previous=old,
        )
        ops += _attendee_ops(ctx, updated, old, new_rows)
    await services.calendars.apply(ops)
    fresh = EventView(ctx, services.authz.event(calendar, updated))
    await services.search.event(updated, new_details.title, new_details.description)
    await _publish_event(ctx, fresh, "event.changed")
    return fresh


async def _split_and_change(
    ctx: RequestContext, view: EventView, at: datetime, changes: EventChanges
) -> EventView:
    """End the series before `at` and start a new one there, with the changes applied."""
    services = ctx.services
    record = view.record
    details = await view.details()
    series = await view.series()
    first, second = split_series(series, at)
    calendar = view.access.calendar
    assert calendar is not None
    kept = await _event_record(
        ctx,
        calendar.calendar,
        event_id=record.event_id,
        series=first,
        details=replace(details, rrule=first.rrule, exdates=first.exdates),
        created_by=record.created_by,
        created_at=record.created_at,
    )
    new_event_id = new_id()
    new_details = replace(
        details, uid=f"{new_event_id}@cove", rrule=second.rrule, exdates=second.exdates
    )
    now = services.clock()
    me = view.access.workspace.principal.user_id
    created = await _event_record(
        ctx,
        calendar.calendar,
        event_id=new_event_id,
        series=second,
        details=new_details,
        created_by=me,
        created_at=now,
    )
    ops = services.calendars.put_event_ops(kept, record)
    ops += services.calendars.put_event_ops(created)
    # Overrides from `at` on belong to the new series now.
    for override in await services.calendars.overrides(record.event_id):
        if override.recurrence_id < at:
            continue
        ops += services.calendars.drop_overrides_ops(record.event_id, [override.recurrence_id])
        moved_details = await view.override_details(override)
        sealed = await services.keys.seal_bytes(
            override_ref(new_event_id, record.workspace_id, override.recurrence_id),
            moved_details.to_json(),
        )
        ops += services.calendars.override_ops(
            replace(override, event_id=new_event_id, payload_sealed=sealed)
        )
    old_attendees = await services.calendars.attendees(record.event_id)
    copies = [replace(a, event_id=new_event_id) for a in old_attendees]
    ops += _attendee_ops(ctx, created, [], copies)
    await services.calendars.apply(ops)
    new_view = EventView(ctx, services.authz.event(calendar, created))
    return await _change_all(ctx, new_view, new_details, changes)


async def delete_event(
    ctx: RequestContext, event_id: str, scope: EditScope, occurrence: datetime | None
) -> None:
    services = ctx.services
    view = await _writable_event(ctx, event_id)
    record = view.record
    if scope is not EditScope.ALL and record.recurring:
        at = _occurrence_at(occurrence, record)
        await _check_is_occurrence(view, at)
        series = await view.series()
        if scope is EditScope.THIS:
            await _change_all(
                ctx, view, await view.details(), EventChanges(exdates=[*series.exdates, at])
            )
            await services.calendars.apply(services.calendars.drop_overrides_ops(event_id, [at]))
            return
        if at != series.start.astimezone(UTC):
            first, _ = split_series(series, at)
            details = await view.details()
            calendar = view.access.calendar
            assert calendar is not None
            kept = await _event_record(
                ctx,
                calendar.calendar,
                event_id=event_id,
                series=first,
                details=replace(details, rrule=first.rrule, exdates=first.exdates),
                created_by=record.created_by,
                created_at=record.created_at,
            )
            ops = services.calendars.put_event_ops(kept, record)
            later = [
                o.recurrence_id
                for o in await services.calendars.overrides(event_id)
                if o.recurrence_id >= at
            ]
            ops += services.calendars.drop_overrides_ops(event_id, later)
            await services.calendars.apply(ops)
            await _publish_event(
                ctx, EventView(ctx, services.authz.event(calendar, kept)), "event.changed"
            )
            return
    await services.calendars.delete_event(record)
    await services.search.remove(record.workspace_id, "event", event_id)
    await _publish(ctx, record.calendar_id, "event.deleted", {"id": gid("Event", event_id)})


async def respond(ctx: RequestContext, event_id: str, response: Rsvp) -> EventView:
    """An invited member answers (for the whole series)."""
    services = ctx.services
    view = await get_event(ctx, event_id)
    me = f"user:{view.access.workspace.principal.user_id}"
    rows = await services.calendars.attendees(event_id)
    mine = next((r for r in rows if r.attendee == me), None)
    if mine is None:
        raise forbidden("Only people invited answer an event.")
    if mine.rsvp == response.value:
        return view  # the same answer again: nothing changes, nobody is told
    await services.calendars.set_rsvp(event_id, me, response.value)
    await _publish(
        ctx,
        view.record.calendar_id,
        "event.rsvp_changed",
        {"id": gid("Event", event_id), "userId": gid("User", me[5:]), "response": response.value},
    )
    return view


# iCalendar


async def import_ics(ctx: RequestContext, calendar_id: str, text: str) -> tuple[int, int]:
    """Add the events of an .ics file; an event whose UID is already here is updated, not
    doubled. All or nothing: a malformed file changes nothing. Returns (created, updated)."""
    services = ctx.services
    access = await calendar_access(ctx, calendar_id)
    services.authz.calendar_require(access, AccessLevel.WRITE)
    policy = services.policy
    # Parsing and rule checks are CPU-bound: a worker thread keeps every other request
    # answering, and the budget bounds how long the thread (and the importer) waits.
    parsed = await asyncio.to_thread(
        parse_ics, text, max_events=policy.ics_max_events, seconds=policy.ics_check_seconds
    )
    calendar = access.calendar
    ws = calendar.workspace_id
    me = access.workspace.principal.user_id
    now = services.clock()
    ops: list[Put | Delete | Update] = []
    indexed: list[Any] = []
    created = updated = 0
    for item in parsed:
        index = services.keyring.blind_index(UID_INDEX, f"{calendar_id}\x00{item.uid}")
        existing_id = await services.calendars.event_by_uid(calendar_id, index)
        previous = await services.calendars.event(existing_id) if existing_id else None
        event_id = previous.event_id if previous else new_id()
        details = EventDetails(
            uid=item.uid,
            title=clean_title(item.title or "(no title)"),
            description=clean_text(item.description, MAX_DESCRIPTION, "description"),
            location=clean_text(item.location, MAX_LOCATION, "location"),
            rrule=item.series.rrule,
            exdates=item.series.exdates,
            reminders=clean_reminders(item.reminders),
            video_url=item.video_url
            if item.video_url and item.video_url.startswith("https://")
            else None,
        )
        record = await _event_record(
            ctx,
            calendar,
            event_id=event_id,
            series=item.series,
            details=details,
            created_by=previous.created_by if previous else me,
            created_at=previous.created_at if previous else now,
        )
        record = _reach(record, [o.end for o in item.overrides if not o.cancelled])
        ops += services.calendars.put_event_ops(record, previous)
        indexed.append(
            await services.search.event_document(record, details.title, details.description)
        )
        if previous is not None:
            updated += 1
            old_overrides = await services.calendars.overrides(event_id)
            ops += services.calendars.drop_overrides_ops(
                event_id, [o.recurrence_id for o in old_overrides]
            )
            old_attendees = await services.calendars.attendees(event_id)
        else:
            created += 1
            old_attendees = []
        for override in item.overrides:
            detail = OverrideDetails(override.title, override.description, override.location)
            sealed = await services.keys.seal_bytes(
                override_ref(event_id, ws, override.recurrence_id), detail.to_json()
            )
            ops += services.calendars.override_ops(
                OverrideRecord(
                    event_id,
                    override.recurrence_id,
                    override.start,
                    override.end,
                    override.cancelled,
                    sealed,
                )
            )
        rows = await _attendee_rows(
            ctx,
            access.workspace,
            event_id=event_id,
            user_ids=[],
            emails=[a.email for a in item.attendees],
            previous=old_attendees,
        )
        answers = {a.email.lower(): a.rsvp for a in item.attendees}
        rows = [replace(r, rsvp=_imported_rsvp(r, answers, ctx, ws)) for r in rows]
        ops += _attendee_ops(ctx, record, old_attendees, rows)
    await services.calendars.apply(ops)
    await services.search.put(ws, indexed)
    await _publish(
        ctx,
        calendar_id,
        "calendar.imported",
        {"id": gid("Calendar", calendar_id), "created": created, "updated": updated},
    )
    return created, updated


def _imported_rsvp(
    row: AttendeeRecord, answers: dict[str, str], ctx: RequestContext, ws: str
) -> str:
    for email, answer in answers.items():
        index = ctx.services.keyring.blind_index(EMAIL_INDEX, f"{ws}\x00{email}").hex()
        if row.attendee == f"email:{index}" and answer in Rsvp.__members__:
            return answer
    return row.rsvp


async def export_ics(ctx: RequestContext, access: CalendarAccess) -> str:
    """The calendar as iCalendar text: every event, its overrides and external attendees
    (members invited are not exported: their emails are theirs alone)."""
    calendar_id = access.calendar_id
    view = CalendarView(ctx, access)
    repo = ctx.services.calendars
    single_ids = await repo.singles_between(
        calendar_id, datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
    )
    series_ids = [event_id for event_id, _, _ in await repo.series(calendar_id)]
    records = [r for r in await repo.events(single_ids + series_ids) if r is not None]
    items: list[IcsEvent] = []
    for record in records:
        event = EventView(ctx, ctx.services.authz.event(access, record))
        details = await event.details()
        overrides = []
        for row in await repo.overrides(record.event_id):
            extra = await event.override_details(row)
            overrides.append(
                IcsOverride(
                    recurrence_id=row.recurrence_id,
                    start=row.start_at,
                    end=row.end_at,
                    cancelled=row.cancelled,
                    title=extra.title,
                    description=extra.description,
                    location=extra.location,
                )
            )
        attendees = tuple(
            IcsAttendee(a.email, a.rsvp.value) for a in await event.attendees() if a.email
        )
        items.append(
            IcsEvent(
                uid=details.uid,
                title=details.title,
                description=details.description,
                location=details.location,
                series=await event.series(),
                attendees=attendees,
                reminders=details.reminders,
                video_url=details.video_url,
                overrides=tuple(overrides),
            )
        )
    return render_ics(await view.name(), items)


async def feed(services: Any, token: str) -> str | None:
    """The .ics text behind a feed URL, or None for an unknown or revoked one, or one whose
    creator may no longer read the calendar (removed, demoted, share taken away): the URL is
    a bearer credential standing for them, checked again at each use."""
    calendar_id = await services.calendars.calendar_of_feed(hash_token(token))
    calendar = None if calendar_id is None else await services.calendars.get(calendar_id)
    if calendar is None or calendar.feed_token_hash != hash_token(token):
        return None
    creator = await services.calendars.feed_creator(hash_token(token))
    if creator is None:  # made before creators were recorded: nobody vouches for it
        return None
    try:
        check = RequestContext.for_principal(services, Principal(creator, ""), "calendar-feed")
        await calendar_access(check, calendar.calendar_id)
    except CoveError:
        return None
    access = services.authz.calendar_feed(calendar)
    principal: Principal = access.workspace.principal
    ctx = RequestContext.for_principal(services, principal, "calendar-feed")
    return await export_ics(ctx, access)


# Realtime


async def _publish(
    ctx: RequestContext, calendar_id: str, type_: str, data: dict[str, object]
) -> None:
    await ctx.services.events.publish(gid("Calendar", calendar_id), type_, data)


async def _publish_event(ctx: RequestContext, view: EventView, type_: str) -> None:
    details = await view.details()
    await _publish(
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


# The viewer's agenda

MAX_AGENDA_WORKSPACES = 100
MAX_AGENDA_INVITATIONS = 1000


async def agenda(ctx: RequestContext, start: datetime, end: datetime) -> list[OccurrenceView]:
    """Occurrences in the window from every calendar the caller may read in each of its
    workspaces, and from events it is invited to, by start (capped like one calendar)."""
    _check_window(start, end)
    caller = await ctx.require_user()
    found: dict[tuple[str, datetime | None], OccurrenceView] = {}
    memberships = await ctx.services.workspaces.list_for_user(
        caller.user_id, limit=MAX_AGENDA_WORKSPACES
    )
    for membership in memberships:
        ctx.loaders.my_memberships.prime(membership.workspace_id, membership)
        for calendar in await workspace_calendars(ctx, membership.workspace_id):
            for item in await occurrences(ctx, calendar, start, end):
                found[(item.event.id, item.occurrence.recurrence_id)] = item
            if len(found) > MAX_OCCURRENCES:
                raise _too_many()
    seen = {event_id for event_id, _ in found}
    for event_id, _ in await ctx.services.calendars.attending(
        caller.user_id, limit=MAX_AGENDA_INVITATIONS
    ):
        if event_id in seen:  # already expanded with its calendar
            continue
        try:
            view = await get_event(ctx, event_id)
        except CoveError:
            continue
        # Invitations count against the same cap as calendars: one answer, one budget.
        room = MAX_OCCURRENCES - len(found)
        for item in await _occurrences_of(ctx, view, start, end, room):
            found.setdefault((item.event.id, item.occurrence.recurrence_id), item)
    return sorted(found.values(), key=lambda o: (o.occurrence.start, o.event.id))


async def event_occurrences(
    ctx: RequestContext, view: EventView, start: datetime, end: datetime
) -> list[OccurrenceView]:
    """The occurrences of one event (or series) in the window."""
    _check_window(start, end)
    return await _occurrences_of(ctx, view, start, end, MAX_OCCURRENCES)


async def _occurrences_of(
    ctx: RequestContext, view: EventView, start: datetime, end: datetime, room: int
) -> list[OccurrenceView]:
    record = view.record
    if not record.recurring:
        if record.end_at > start and record.start_at < end:
            if room <= 0:
                raise _too_many()
            return [OccurrenceView(view, Occurrence(None, record.start_at, record.end_at, None))]
        return []
    rows = await ctx.services.calendars.overrides(record.event_id)
    return await _expand_within(view, rows, start, end, room)
