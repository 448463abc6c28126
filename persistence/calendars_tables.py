"""The calendars' tables: calendars, their events (single and recurring), overrides,
attendees, shares and feeds.

Times stay clear (docs/architecture.md, "What is sealed") so windows are key-range
scans: single events by start, recurring series apart (each is expanded in memory). Titles,
descriptions, locations, rules, reminders and attendee emails are sealed in `payload_sealed`
and `email_sealed`.
"""

from __future__ import annotations

from persistence.declare import Column, ColumnType, Table

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_BOOL = ColumnType.BOOLEAN
_INT = ColumnType.BIGINT

CALENDARS = Table(
    name="calendars",
    partition_key=(Column("calendar_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("owner_id", _TEXT),  # empty for a workspace calendar, else its one owner
        Column("name_sealed", _BLOB),
        Column("color", _TEXT),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
        Column("feed_token_hash", _BLOB),
    ),
)

CALENDARS_BY_WORKSPACE = Table(
    name="calendars_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("calendar_id", _TEXT),),
    values=(Column("owner_id", _TEXT),),
)

CALENDAR_FEEDS = Table(
    name="calendar_feeds",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("calendar_id", _TEXT),),
)

CALENDAR_SHARES = Table(
    name="calendar_shares",
    partition_key=(Column("calendar_id", _TEXT),),
    clustering=(Column("grantee", _TEXT),),  # "user:<id>" or "channel:<id>"
    values=(Column("level", _TEXT), Column("granted_by", _TEXT), Column("granted_at", _TIME)),
)

CALENDAR_SHARES_BY_GRANTEE = Table(
    name="calendar_shares_by_grantee",
    partition_key=(Column("workspace_id", _TEXT), Column("grantee", _TEXT)),
    clustering=(Column("calendar_id", _TEXT),),
    values=(Column("level", _TEXT),),
)

EVENTS = Table(
    name="events",
    partition_key=(Column("event_id", _TEXT),),
    values=(
        Column("calendar_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("start_at", _TIME),
        Column("end_at", _TIME),
        Column("time_zone", _TEXT),
        Column("all_day", _BOOL),
        Column("recurring", _BOOL),
        Column("series_until", _TIME),  # end of the last occurrence; None: never ends
        Column("uid_index", _BLOB),
        Column("payload_sealed", _BLOB),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

# Single (non-recurring) events by start: a window is one clustering-range scan.
EVENTS_BY_START = Table(
    name="events_by_start",
    partition_key=(Column("calendar_id", _TEXT),),
    clustering=(Column("start_at", _TIME), Column("event_id", _TEXT)),
    values=(Column("end_at", _TIME),),
)

# Recurring series, all of them per calendar: each is expanded over the window asked.
RECURRING_EVENTS = Table(
    name="recurring_events",
    partition_key=(Column("calendar_id", _TEXT),),
    clustering=(Column("event_id", _TEXT),),
    values=(Column("start_at", _TIME), Column("series_until", _TIME)),
)

# One event per iCalendar UID and calendar, so an import updates instead of doubling.
EVENTS_BY_UID = Table(
    name="events_by_uid",
    partition_key=(Column("calendar_id", _TEXT), Column("uid_index", _BLOB)),
    values=(Column("event_id", _TEXT),),
)

EVENT_OVERRIDES = Table(
    name="event_overrides",
    partition_key=(Column("event_id", _TEXT),),
    clustering=(Column("recurrence_id", _TIME),),  # the original start of the occurrence
    values=(
        Column("start_at", _TIME),
        Column("end_at", _TIME),
        Column("cancelled", _BOOL),
        Column("payload_sealed", _BLOB),
    ),
)

EVENT_ATTENDEES = Table(
    name="event_attendees",
    partition_key=(Column("event_id", _TEXT),),
    clustering=(Column("attendee", _TEXT),),  # "user:<id>" or "email:<hex blind index>"
    values=(Column("user_id", _TEXT), Column("email_sealed", _BLOB), Column("rsvp", _TEXT)),
)

# The events a member is invited to, for their agenda (attendees may read the event).
EVENTS_BY_ATTENDEE = Table(
    name="events_by_attendee",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("event_id", _TEXT),),
    values=(Column("calendar_id", _TEXT),),
)

# Who made a feed: it serves only while they may read the calendar (no row: nobody, so it
# serves nothing). Migration 10: a table of its own, as migrations only create tables.
CALENDAR_FEED_CREATORS = Table(
    name="calendar_feed_creators",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("created_by", _TEXT),),
)

CALENDAR_TABLES = (
    CALENDARS,
    CALENDARS_BY_WORKSPACE,
    CALENDAR_FEEDS,
    CALENDAR_SHARES,
    CALENDAR_SHARES_BY_GRANTEE,
    EVENTS,
    EVENTS_BY_START,
    RECURRING_EVENTS,
    EVENTS_BY_UID,
    EVENT_OVERRIDES,
    EVENT_ATTENDEES,
    EVENTS_BY_ATTENDEE,
)
