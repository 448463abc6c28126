"""What an event holds, its input checks, and the pure merge of a whole-series edit (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from resolvers.errors import bad_input
from resolvers.recurrence import Series, check_series
from resolvers.validation import clean_text

MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_LOCATION = 500
MAX_REMINDERS = 10
MAX_REMINDER_MINUTES = 40_320  # four weeks
_Title = TypeVar("_Title", str, str | None)


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


def as_utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise bad_input("Give times with a time zone offset (ISO 8601).", field=field)
    return moment.astimezone(UTC)


def merged_texts(
    changes: EventChanges, title: _Title, description: str | None, location: str | None
) -> tuple[_Title | str, str | None, str | None]:
    """Title, description and location after an edit: each given one checked, the others kept."""
    return (
        clean_title(changes.title) if changes.title is not None else title,
        clean_text(changes.description, MAX_DESCRIPTION, "description")
        if changes.description is not None
        else description,
        clean_text(changes.location, MAX_LOCATION, "location")
        if changes.location is not None
        else location,
    )


def merge_change(
    series: Series, details: EventDetails, changes: EventChanges
) -> tuple[Series, EventDetails]:
    """A whole-series edit merged into the event's series and details, checked like a new
    event (BAD_USER_INPUT). A field left None keeps its value; a given one replaces it (an
    empty rule ends the repeating, empty text clears a description or location; an empty
    time zone keeps the old one). Attendees are not merged here: they are rows of their own."""
    new_series = check_series(
        Series(
            start=as_utc(changes.start, "start") if changes.start else series.start,
            end=as_utc(changes.end, "end") if changes.end else series.end,
            time_zone=changes.time_zone or series.time_zone,
            all_day=series.all_day if changes.all_day is None else changes.all_day,
            rrule=series.rrule if changes.rrule is None else (changes.rrule or None),
            exdates=series.exdates
            if changes.exdates is None
            else tuple(as_utc(d, "exdates") for d in changes.exdates),
        )
    )
    title, description, location = merged_texts(
        changes, details.title, details.description, details.location
    )
    new_details = replace(
        details,
        title=title,
        description=description,
        location=location,
        rrule=new_series.rrule,
        exdates=new_series.exdates,
        reminders=clean_reminders(changes.reminders)
        if changes.reminders is not None
        else details.reminders,
        video_url=clean_video_url(changes.video_url)
        if changes.video_url is not None
        else details.video_url,
    )
    return new_series, new_details


def series_retimed(old: Series, new: Series) -> bool:
    """Whether an edit moves the occurrences' original starts (first start, rule or zone):
    overrides name occurrences by their original start, so such an edit orphans them."""
    return new.start != old.start or new.rrule != old.rrule or new.time_zone != old.time_zone
