"""Reading calendars over a time window: one calendar, one event, and the viewer's agenda."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from persistence.calendars_records import (
    EventRecord,
    OverrideRecord,
)
from resolvers.calendars import (
    CalendarView,
    EventView,
    OccurrenceView,
    get_event,
    workspace_calendars,
)
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input
from resolvers.event_details import (
    OverrideDetails,
)
from resolvers.recurrence import (
    MAX_EVENT_DURATION,
    MAX_OCCURRENCES,
    MAX_WINDOW,
    Occurrence,
    Override,
    check_series,
    expand,
)

log = logging.getLogger("cove.calendars")


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


def _override(row: OverrideRecord) -> Override:
    return Override(
        recurrence_id=row.recurrence_id,
        start=row.start_at,
        end=row.end_at,
        cancelled=row.cancelled,
    )


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
