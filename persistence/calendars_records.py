"""The calendars' rows as records: calendars, events, overrides, attendees and shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CalendarRecord:
    calendar_id: str
    workspace_id: str
    owner_id: str
    name_sealed: bytes
    color: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    feed_token_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    calendar_id: str
    workspace_id: str
    start_at: datetime
    end_at: datetime
    time_zone: str
    all_day: bool
    recurring: bool
    series_until: datetime | None
    uid_index: bytes
    payload_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    event_id: str
    recurrence_id: datetime
    start_at: datetime | None
    end_at: datetime | None
    cancelled: bool
    payload_sealed: bytes | None


@dataclass(frozen=True, slots=True)
class AttendeeRecord:
    event_id: str
    attendee: str
    user_id: str
    email_sealed: bytes | None
    rsvp: str


@dataclass(frozen=True, slots=True)
class CalendarShareRecord:
    calendar_id: str
    grantee: str
    level: str
    granted_by: str
    granted_at: datetime
