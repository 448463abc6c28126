"""Event writes: creating, changing (all, one, or this and following occurrences) and deleting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from persistence.calendars_records import (
    CalendarRecord,
    EventRecord,
    OverrideRecord,
)
from persistence.ids import new_id
from resolvers.attendees import attendee_ops, attendee_rows
from resolvers.authz import forbidden
from resolvers.calendars import (
    UID_INDEX,
    EditScope,
    EventView,
    calendar_access,
    get_event,
    override_ref,
    payload_ref,
    publish,
    publish_event,
    save_event,
)
from resolvers.context import RequestContext
from resolvers.errors import bad_input
from resolvers.event_details import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    EventChanges,
    EventDetails,
    OverrideDetails,
    as_utc,
    clean_reminders,
    clean_title,
    clean_video_url,
    merge_change,
    merged_texts,
    series_retimed,
)
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import CalendarNotice
from resolvers.recurrence import (
    MAX_EVENT_DURATION,
    Series,
    check_series,
    is_occurrence,
    series_until,
    split_series,
)
from resolvers.roles import AccessLevel
from resolvers.validation import clean_text


async def _writable_event(ctx: RequestContext, event_id: str) -> EventView:
    view = await get_event(ctx, event_id)
    if view.access.calendar is None:
        raise forbidden("Attendees answer an event; they do not change it.")
    ctx.services.authz.calendar_require(view.access.calendar, AccessLevel.WRITE)
    return view


def reach(record: EventRecord, override_ends: Sequence[datetime | None]) -> EventRecord:
    """The record with `series_until` pushed out to the latest moved occurrence's end, so a
    window after the series' own last occurrence still finds an occurrence moved there."""
    if record.series_until is None:
        return record
    latest = max((e for e in override_ends if e is not None), default=None)
    if latest is None or latest <= record.series_until:
        return record
    return replace(record, series_until=latest)


async def event_record(
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
            start=as_utc(changes.start, "start"),
            end=as_utc(changes.end, "end"),
            time_zone=changes.time_zone or "UTC",
            all_day=bool(changes.all_day),
            rrule=changes.rrule or None,
            exdates=tuple(as_utc(d, "exdates") for d in changes.exdates or ()),
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
    record = await event_record(
        ctx,
        access.calendar,
        event_id=event_id,
        series=series,
        details=details,
        created_by=me,
        created_at=now,
    )
    attendees = await attendee_rows(
        ctx,
        access.workspace,
        event_id=event_id,
        user_ids=changes.attendee_ids or [],
        emails=changes.attendee_emails or [],
    )
    ops = services.calendars.put_event_ops(record)
    ops += attendee_ops(ctx, record, [], attendees)
    return await save_event(ctx, ops, access, record, CalendarNotice.EVENT_CREATED, index=True)


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
        await publish_event(ctx, view, CalendarNotice.EVENT_CHANGED)
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
    return as_utc(occurrence, "occurrence")


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
        as_utc(changes.start, "start")
        if changes.start
        else (previous.start_at if previous and previous.start_at else at)
    )
    end = (
        as_utc(changes.end, "end")
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
    detail = OverrideDetails(*merged_texts(changes, old.title, old.description, old.location))
    ws = record.workspace_id
    sealed = await services.keys.seal_bytes(override_ref(record.event_id, ws, at), detail.to_json())
    row = OverrideRecord(record.event_id, at, start, end, False, sealed)
    ops = services.calendars.override_ops(row)
    reaching = reach(record, [end])
    if reaching is not record:
        ops += services.calendars.put_event_ops(reaching, record)
    await services.calendars.apply(ops)


async def _change_all(
    ctx: RequestContext, view: EventView, details: EventDetails, changes: EventChanges
) -> EventView:
    services = ctx.services
    record = view.record
    series = await view.series()
    new_series, new_details = merge_change(series, details, changes)
    calendar = view.access.calendar
    assert calendar is not None
    updated = await event_record(
        ctx,
        calendar.calendar,
        event_id=record.event_id,
        series=new_series,
        details=new_details,
        created_by=record.created_by,
        created_at=record.created_at,
    )
    ops = services.calendars.put_event_ops(updated, record)
    overrides = await services.calendars.overrides(record.event_id)
    if series_retimed(series, new_series):
        # Overrides name occurrences by their original start: a new rule orphans them.
        ops += services.calendars.drop_overrides_ops(
            record.event_id, [o.recurrence_id for o in overrides]
        )
    else:
        reaching = reach(updated, [o.end_at for o in overrides if not o.cancelled])
        if reaching is not updated:
            updated = reaching
            ops = services.calendars.put_event_ops(updated, record)
    if changes.attendee_ids is not None or changes.attendee_emails is not None:
        old = await services.calendars.attendees(record.event_id)
        current_users = [a.user_id for a in old if a.user_id]
        new_rows = await attendee_rows(
            ctx,
            view.access.workspace,
            event_id=record.event_id,
            user_ids=changes.attendee_ids if changes.attendee_ids is not None else current_users,
            emails=changes.attendee_emails
            if changes.attendee_emails is not None
            else [a.email for a in await view.attendees() if a.email],
            previous=old,
        )
        ops += attendee_ops(ctx, updated, old, new_rows)
    return await save_event(ctx, ops, calendar, updated, CalendarNotice.EVENT_CHANGED, index=True)


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
    kept = await event_record(
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
    created = await event_record(
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
    ops += attendee_ops(ctx, created, [], copies)
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
            kept = await event_record(
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
            await save_event(ctx, ops, calendar, kept, CalendarNotice.EVENT_CHANGED)
            return
    entry = services.indexer.entry(record.workspace_id, "event", event_id)
    await services.calendars.delete_event(record, [entry])
    services.indexer.queued()
    await publish(
        ctx, record.calendar_id, CalendarNotice.EVENT_DELETED, {"id": gid("Event", event_id)}
    )
