"""Calendars as iCalendar: importing .ics files, exporting, and private feed URLs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crypto.tokens import hash_token, new_token
from persistence.calendars_records import (
    AttendeeRecord,
    OverrideRecord,
)
from persistence.ids import new_id
from persistence.store import Delete, Put, Update
from resolvers.attendees import attendee_ops, attendee_rows
from resolvers.authz import CalendarAccess, Principal
from resolvers.calendar_events import event_record, reach
from resolvers.calendars import (
    EMAIL_INDEX,
    UID_INDEX,
    CalendarView,
    EventView,
    Rsvp,
    calendar_access,
    override_ref,
    publish,
)
from resolvers.context import RequestContext
from resolvers.errors import CoveError
from resolvers.event_details import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    EventDetails,
    OverrideDetails,
    clean_reminders,
    clean_title,
)
from resolvers.global_ids import to_global_id as gid
from resolvers.ical import IcsAttendee, IcsEvent, IcsOverride
from resolvers.ical_parse import parse_ics
from resolvers.ical_write import render_ics
from resolvers.notice_types import CalendarNotice
from resolvers.roles import AccessLevel
from resolvers.validation import clean_text

# Feeds


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
        record = await event_record(
            ctx,
            calendar,
            event_id=event_id,
            series=item.series,
            details=details,
            created_by=previous.created_by if previous else me,
            created_at=previous.created_at if previous else now,
        )
        record = reach(record, [o.end for o in item.overrides if not o.cancelled])
        ops += services.calendars.put_event_ops(record, previous)
        ops.append(services.indexer.entry(ws, "event", event_id))
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
        rows = await attendee_rows(
            ctx,
            access.workspace,
            event_id=event_id,
            user_ids=[],
            emails=[a.email for a in item.attendees],
            previous=old_attendees,
        )
        answers = {a.email.lower(): a.rsvp for a in item.attendees}
        rows = [replace(r, rsvp=_imported_rsvp(r, answers, ctx, ws)) for r in rows]
        ops += attendee_ops(ctx, record, old_attendees, rows)
    await services.calendars.apply(ops)  # with the search outbox entries
    services.indexer.queued()
    await publish(
        ctx,
        calendar_id,
        CalendarNotice.IMPORTED,
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
