"""Reads and writes of calendar rows (`persistence/calendars_tables.py`), sealed values as bytes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from persistence.calendars_records import (
    AttendeeRecord,
    CalendarRecord,
    CalendarShareRecord,
    EventRecord,
    OverrideRecord,
)
from persistence.calendars_tables import (
    CALENDAR_FEED_CREATORS,
    CALENDAR_FEEDS,
    CALENDAR_SHARES,
    CALENDAR_SHARES_BY_GRANTEE,
    CALENDARS,
    CALENDARS_BY_WORKSPACE,
    EVENT_ATTENDEES,
    EVENT_OVERRIDES,
    EVENTS,
    EVENTS_BY_ATTENDEE,
    EVENTS_BY_START,
    EVENTS_BY_UID,
    RECURRING_EVENTS,
)
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_PAGE = 1000


def _event_index_ops(event: EventRecord, *, delete: bool) -> list[Put | Delete | Update]:
    key: dict[str, object]
    if event.recurring:
        key = {"calendar_id": event.calendar_id, "event_id": event.event_id}
        if delete:
            return [Delete(RECURRING_EVENTS, key)]
        row = {**key, "start_at": event.start_at, "series_until": event.series_until}
        return [Put(RECURRING_EVENTS, row)]
    key = {"calendar_id": event.calendar_id, "start_at": event.start_at, "event_id": event.event_id}
    if delete:
        return [Delete(EVENTS_BY_START, key)]
    return [Put(EVENTS_BY_START, {**key, "end_at": event.end_at})]


class CalendarRepository:
    """Calendar rows; titles, rules, attendee emails and names stay sealed bytes here."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Calendars

    async def create(self, calendar: CalendarRecord) -> None:
        await self._store.batch(
            [
                Put(CALENDARS, to_row(calendar)),
                Put(
                    CALENDARS_BY_WORKSPACE,
                    to_row(calendar, "workspace_id", "calendar_id", "owner_id"),
                ),
            ]
        )

    async def get(self, calendar_id: str) -> CalendarRecord | None:
        row = await self._store.get(CALENDARS, {"calendar_id": calendar_id})
        return None if row is None else from_row(CalendarRecord, row)

    async def get_many(self, calendar_ids: Sequence[str]) -> list[CalendarRecord | None]:
        rows = await self._store.get_many(CALENDARS, [{"calendar_id": c} for c in calendar_ids])
        return [None if row is None else from_row(CalendarRecord, row) for row in rows]

    async def update(self, calendar_id: str, values: dict[str, object]) -> None:
        await self._store.update(CALENDARS, {"calendar_id": calendar_id}, values)

    async def in_workspace(
        self, workspace_id: str, *, limit: int, after_calendar_id: str | None = None
    ) -> list[tuple[str, str]]:
        """(calendar id, owner id) of a workspace's calendars, oldest first."""
        rows = await self._store.scan(
            CALENDARS_BY_WORKSPACE,
            {"workspace_id": workspace_id},
            limit=limit,
            after=None if after_calendar_id is None else (after_calendar_id,),
        )
        return [(row["calendar_id"], row["owner_id"]) for row in rows]

    async def delete(self, calendar: CalendarRecord) -> None:
        """The calendar, its listings, shares, feed and every event (with what hangs on it)."""
        while True:  # each round deletes what it read, so the calendar empties
            series = await self._store.scan(
                RECURRING_EVENTS, {"calendar_id": calendar.calendar_id}, limit=_PAGE
            )
            singles = await self._store.scan(
                EVENTS_BY_START, {"calendar_id": calendar.calendar_id}, limit=_PAGE
            )
            ids = [r["event_id"] for r in series] + [r["event_id"] for r in singles]
            if not ids:
                break
            # Each index row read is deleted as read, whatever its event says, so the loop
            # ends even over rows left inconsistent by a crash.
            stray: list[Put | Delete | Update] = []
            for row, event in zip([*series, *singles], await self.events(ids), strict=True):
                if event is not None and event.calendar_id == calendar.calendar_id:
                    await self.delete_event(event)
                if "end_at" in row:
                    key = {
                        "calendar_id": calendar.calendar_id,
                        "start_at": row["start_at"],
                        "event_id": row["event_id"],
                    }
                    stray.append(Delete(EVENTS_BY_START, key))
                else:
                    key = {"calendar_id": calendar.calendar_id, "event_id": row["event_id"]}
                    stray.append(Delete(RECURRING_EVENTS, key))
            if stray:
                await self._store.batch(stray)
        ops: list[Put | Delete | Update] = [
            Delete(CALENDARS, {"calendar_id": calendar.calendar_id}),
            Delete(
                CALENDARS_BY_WORKSPACE,
                {"workspace_id": calendar.workspace_id, "calendar_id": calendar.calendar_id},
            ),
        ]
        if calendar.feed_token_hash is not None:
            ops.append(Delete(CALENDAR_FEEDS, {"token_hash": calendar.feed_token_hash}))
            ops.append(Delete(CALENDAR_FEED_CREATORS, {"token_hash": calendar.feed_token_hash}))
        for share in await self.shares(calendar.calendar_id, limit=10_000):
            ops.append(
                Delete(
                    CALENDAR_SHARES_BY_GRANTEE,
                    {
                        "workspace_id": calendar.workspace_id,
                        "grantee": share.grantee,
                        "calendar_id": calendar.calendar_id,
                    },
                )
            )
        await self._store.batch(ops)
        await self._store.delete_partition(CALENDAR_SHARES, {"calendar_id": calendar.calendar_id})

    # Feeds

    async def set_feed(
        self, calendar: CalendarRecord, token_hash: bytes | None, created_by: str = ""
    ) -> None:
        """Replace the calendar's feed token (None: no feed), made by `created_by`; the old
        one stops at once."""
        ops: list[Put | Delete | Update] = [
            Update(
                CALENDARS, {"calendar_id": calendar.calendar_id}, {"feed_token_hash": token_hash}
            )
        ]
        if calendar.feed_token_hash is not None:
            ops.append(Delete(CALENDAR_FEEDS, {"token_hash": calendar.feed_token_hash}))
            ops.append(Delete(CALENDAR_FEED_CREATORS, {"token_hash": calendar.feed_token_hash}))
        if token_hash is not None:
            ops.append(
                Put(CALENDAR_FEEDS, {"token_hash": token_hash, "calendar_id": calendar.calendar_id})
            )
            ops.append(
                Put(CALENDAR_FEED_CREATORS, {"token_hash": token_hash, "created_by": created_by})
            )
        await self._store.batch(ops)

    async def calendar_of_feed(self, token_hash: bytes) -> str | None:
        row = await self._store.get(CALENDAR_FEEDS, {"token_hash": token_hash})
        return None if row is None else str(row["calendar_id"])

    async def feed_creator(self, token_hash: bytes) -> str | None:
        """Who made the feed, or None for one made before creators were recorded."""
        row = await self._store.get(CALENDAR_FEED_CREATORS, {"token_hash": token_hash})
        return None if row is None or not row["created_by"] else str(row["created_by"])

    # Shares

    async def shares(self, calendar_id: str, *, limit: int) -> list[CalendarShareRecord]:
        rows = await self._store.scan(CALENDAR_SHARES, {"calendar_id": calendar_id}, limit=limit)
        return [from_row(CalendarShareRecord, row) for row in rows]

    async def put_share(self, workspace_id: str, share: CalendarShareRecord) -> None:
        await self._store.batch(
            [
                Put(CALENDAR_SHARES, to_row(share)),
                Put(
                    CALENDAR_SHARES_BY_GRANTEE,
                    {
                        "workspace_id": workspace_id,
                        "grantee": share.grantee,
                        "calendar_id": share.calendar_id,
                        "level": share.level,
                    },
                ),
            ]
        )

    async def delete_share(self, workspace_id: str, calendar_id: str, grantee: str) -> None:
        await self._store.batch(
            [
                Delete(CALENDAR_SHARES, {"calendar_id": calendar_id, "grantee": grantee}),
                Delete(
                    CALENDAR_SHARES_BY_GRANTEE,
                    {"workspace_id": workspace_id, "grantee": grantee, "calendar_id": calendar_id},
                ),
            ]
        )

    async def shared_with(self, workspace_id: str, grantee: str, *, limit: int) -> list[str]:
        rows = await self._store.scan(
            CALENDAR_SHARES_BY_GRANTEE,
            {"workspace_id": workspace_id, "grantee": grantee},
            limit=limit,
        )
        return [row["calendar_id"] for row in rows]

    # Events

    async def event(self, event_id: str) -> EventRecord | None:
        row = await self._store.get(EVENTS, {"event_id": event_id})
        return None if row is None else from_row(EventRecord, row)

    async def events(self, event_ids: Sequence[str]) -> list[EventRecord | None]:
        rows = await self._store.get_many(EVENTS, [{"event_id": e} for e in event_ids])
        return [None if row is None else from_row(EventRecord, row) for row in rows]

    async def event_by_uid(self, calendar_id: str, uid_index: bytes) -> str | None:
        row = await self._store.get(
            EVENTS_BY_UID, {"calendar_id": calendar_id, "uid_index": uid_index}
        )
        return None if row is None else str(row["event_id"])

    def put_event_ops(
        self, event: EventRecord, previous: EventRecord | None = None
    ) -> list[Put | Delete | Update]:
        """Write an event (new or changed), moving its window index if its times changed."""
        ops: list[Put | Delete | Update] = []
        if previous is not None:
            ops += _event_index_ops(previous, delete=True)
        ops += [Put(EVENTS, to_row(event)), *_event_index_ops(event, delete=False)]
        ops.append(
            Put(
                EVENTS_BY_UID,
                {
                    "calendar_id": event.calendar_id,
                    "uid_index": event.uid_index,
                    "event_id": event.event_id,
                },
            )
        )
        return ops

    async def put_event(self, event: EventRecord, previous: EventRecord | None = None) -> None:
        await self._store.batch(self.put_event_ops(event, previous))

    async def delete_event(self, event: EventRecord, also: Sequence[Put] = ()) -> None:
        """Delete an event with its listings, overrides and attendees; `also` (its search
        outbox entry) goes in the same batch."""
        attendees = await self.attendees(event.event_id)
        ops: list[Put | Delete | Update] = [
            Delete(EVENTS, {"event_id": event.event_id}),
            *_event_index_ops(event, delete=True),
            Delete(EVENTS_BY_UID, {"calendar_id": event.calendar_id, "uid_index": event.uid_index}),
        ]
        ops += [
            Delete(EVENTS_BY_ATTENDEE, {"user_id": a.user_id, "event_id": event.event_id})
            for a in attendees
            if a.user_id
        ]
        await self._store.batch([*ops, *also])
        await self._store.delete_partition(EVENT_OVERRIDES, {"event_id": event.event_id})
        await self._store.delete_partition(EVENT_ATTENDEES, {"event_id": event.event_id})

    async def singles_between(
        self, calendar_id: str, earliest_start: datetime, before_start: datetime
    ) -> list[str]:
        """Ids of single events starting in [earliest_start, before_start), by start."""
        found: list[str] = []
        after: tuple[datetime, str] = (earliest_start, "")
        while True:  # pages of the range; the range is finite
            rows = await self._store.scan(
                EVENTS_BY_START,
                {"calendar_id": calendar_id},
                limit=_PAGE,
                after=after,
                before=(before_start, ""),
            )
            found += [row["event_id"] for row in rows]
            if len(rows) < _PAGE:
                return found
            after = (rows[-1]["start_at"], rows[-1]["event_id"])

    async def series(self, calendar_id: str) -> list[tuple[str, datetime, datetime | None]]:
        """(event id, first start, end of last occurrence) of every recurring series."""
        found: list[tuple[str, datetime, datetime | None]] = []
        after: tuple[str] | None = None
        while True:
            rows = await self._store.scan(
                RECURRING_EVENTS, {"calendar_id": calendar_id}, limit=_PAGE, after=after
            )
            found += [(r["event_id"], r["start_at"], r["series_until"]) for r in rows]
            if len(rows) < _PAGE:
                return found
            after = (rows[-1]["event_id"],)

    # Overrides

    async def overrides(self, event_id: str) -> list[OverrideRecord]:
        rows = await self._store.scan(EVENT_OVERRIDES, {"event_id": event_id}, limit=10_000)
        return [from_row(OverrideRecord, row) for row in rows]

    async def overrides_many(self, event_ids: Sequence[str]) -> list[list[OverrideRecord]]:
        batches = await self._store.scan_many(
            EVENT_OVERRIDES, [{"event_id": e} for e in event_ids], limit_per_partition=10_000
        )
        return [[from_row(OverrideRecord, row) for row in rows] for rows in batches]

    def override_ops(self, override: OverrideRecord) -> list[Put | Delete | Update]:
        return [Put(EVENT_OVERRIDES, to_row(override))]

    def drop_overrides_ops(
        self, event_id: str, recurrence_ids: Sequence[datetime]
    ) -> list[Put | Delete | Update]:
        return [
            Delete(EVENT_OVERRIDES, {"event_id": event_id, "recurrence_id": r})
            for r in recurrence_ids
        ]

    async def apply(self, ops: Sequence[Put | Delete | Update]) -> None:
        if ops:
            await self._store.batch(ops)

    # Attendees

    async def attendees(self, event_id: str) -> list[AttendeeRecord]:
        rows = await self._store.scan(EVENT_ATTENDEES, {"event_id": event_id}, limit=10_000)
        return [from_row(AttendeeRecord, row) for row in rows]

    async def attendees_many(self, event_ids: Sequence[str]) -> list[list[AttendeeRecord]]:
        batches = await self._store.scan_many(
            EVENT_ATTENDEES, [{"event_id": e} for e in event_ids], limit_per_partition=10_000
        )
        return [[from_row(AttendeeRecord, row) for row in rows] for rows in batches]

    def attendee_ops(
        self, event: EventRecord, attendee: AttendeeRecord, *, delete: bool = False
    ) -> list[Put | Delete | Update]:
        key = {"event_id": event.event_id, "attendee": attendee.attendee}
        by_user = {"user_id": attendee.user_id, "event_id": event.event_id}
        if delete:
            ops: list[Put | Delete | Update] = [Delete(EVENT_ATTENDEES, key)]
            if attendee.user_id:
                ops.append(Delete(EVENTS_BY_ATTENDEE, by_user))
            return ops
        ops = [Put(EVENT_ATTENDEES, to_row(attendee))]
        if attendee.user_id:
            ops.append(Put(EVENTS_BY_ATTENDEE, {**by_user, "calendar_id": event.calendar_id}))
        return ops

    async def set_rsvp(self, event_id: str, attendee: str, rsvp: str) -> None:
        await self._store.update(
            EVENT_ATTENDEES, {"event_id": event_id, "attendee": attendee}, {"rsvp": rsvp}
        )

    async def attending(self, user_id: str, *, limit: int) -> list[tuple[str, str]]:
        """(event id, calendar id) of the events a member is invited to."""
        rows = await self._store.scan(EVENTS_BY_ATTENDEE, {"user_id": user_id}, limit=limit)
        return [(row["event_id"], row["calendar_id"]) for row in rows]
