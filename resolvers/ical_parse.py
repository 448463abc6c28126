"""Reading an .ics file into `IcsEvent`s: properties, times and zones, series and overrides."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, Final

from icalendar import Calendar, Component, vRecur
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from resolvers.errors import CoveError
from resolvers.ical import (
    ICS_CHECK_SECONDS,
    MAX_ICS_BYTES,
    MAX_ICS_EVENTS,
    IcsAttendee,
    IcsError,
    IcsEvent,
    IcsOverride,
    ics_bad_input,
)
from resolvers.ical_scan import Block, Budget, Scanner
from resolvers.recurrence import Override, Series, check_override, check_series
from resolvers.recurrence_rules import check_time_zone

_PARTSTAT_TO_RSVP: Final = {
    "ACCEPTED": "ACCEPTED",
    "DECLINED": "DECLINED",
    "TENTATIVE": "TENTATIVE",
}
_ZERO_LENGTH_EVENT: Final = timedelta(minutes=1)
_ONE_DAY: Final = timedelta(days=1)
_GENERATED_UID_SUFFIX: Final = "@import.cove"
_SHOWN_TZID_LENGTH: Final = 64
_UNSUPPORTED: Final = {
    "RDATE": "RDATE (extra occurrences) is not supported.",
    "EXRULE": "EXRULE is not supported; use EXDATE.",
}


def parse_ics(
    text: str, *, max_events: int = MAX_ICS_EVENTS, seconds: float = ICS_CHECK_SECONDS
) -> list[IcsEvent]:
    """The events of an iCalendar file, each with its overrides; BAD_USER_INPUT if malformed.

    The file may hold at most MAX_ICS_BYTES (UTF-8) and `max_events` VEVENTs, and reading
    and checking it may take at most `seconds`. CPU-bound: call it from a worker thread.
    """
    try:
        return _parse(text, Budget(max_events, monotonic() + seconds, seconds))
    except IcsError as error:
        raise ics_bad_input(error) from None


@dataclass(frozen=True)
class _When:
    value: datetime | date
    """Aware datetime, or a date for VALUE=DATE."""
    zone: str
    """IANA zone the time was given in: "UTC" for UTC, floating times and dates."""


@dataclass(frozen=True)
class _Read:
    """One VEVENT as read, before series and overrides are paired up."""

    block: Block
    uid: str
    recurrence: _When | None
    """RECURRENCE-ID as written; a date is placed in the series' zone when paired."""
    when: tuple[datetime, datetime, str, bool] | None
    """(start, end, zone, all day) in UTC instants; None for a cancelled override."""
    cancelled: bool
    title: str
    description: str | None
    location: str | None
    rrule: str | None
    exdates: tuple[datetime, ...]
    attendees: tuple[IcsAttendee, ...]
    reminders: tuple[int, ...]
    video_url: str | None


def _parse(text: str, budget: Budget) -> list[IcsEvent]:
    if len(text) > MAX_ICS_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_ICS_BYTES:
        raise IcsError(None, f"The file is larger than {MAX_ICS_BYTES // (1024 * 1024)} MiB.")
    scan = Scanner(budget.max_events).scan(text)
    budget.check_time(None)
    try:
        calendar = Calendar.from_ical(scan.text)
    except Exception:  # the scan checked every line, so this is icalendar disagreeing
        raise IcsError(None, "The file could not be read as iCalendar.") from None
    components = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    if len(components) != len(scan.events):  # pragma: no cover - the scan saw the same file
        raise IcsError(None, "The file could not be read as iCalendar.")
    read = []
    for component, block in zip(components, scan.events, strict=True):
        budget.check_time(block.line)
        read.append(_read_event(component, block, scan.zones))
    return _pair(read, budget)


def _zone_for(tzid: str, zones: dict[str, str]) -> str | None:
    """The IANA name a TZID stands for, or None (see the module notes)."""
    cleaned = tzid.strip().strip("/")
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned, "")]
    if tzid.strip().startswith("/"):
        parts = cleaned.split("/")
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    candidates.append(zones.get(tzid, ""))
    for candidate in candidates:
        if candidate:
            try:
                return check_time_zone(candidate).key
            except CoveError:
                continue
    return None


def _known_zone(tzid: Any, line: int, zones: dict[str, str]) -> str:
    zone = _zone_for(str(tzid), zones)
    if zone is None:
        shown = str(tzid)[:_SHOWN_TZID_LENGTH]
        raise IcsError(line, f"Unknown time zone {shown!r}: use an IANA name such as Europe/Paris.")
    return zone


def _when(prop: Any, line: int, name: str, zones: dict[str, str], default_zone: str) -> _When:
    """A DATE or DATE-TIME property: TZID times in their zone, UTC times in UTC, floating
    times and dates in `default_zone`."""
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        tzid = prop.params.get("TZID")
        if tzid:
            zone = _known_zone(tzid, line, zones)
            return _When(value.replace(tzinfo=check_time_zone(zone)), zone)
        if value.tzinfo is None:
            return _When(value.replace(tzinfo=check_time_zone(default_zone)), default_zone)
        return _When(value.astimezone(UTC), "UTC")
    if isinstance(value, date):
        return _When(value, default_zone)
    raise IcsError(line, f"{name} must be a date or a date and time.")


def _instant(when: _When, zone: str) -> datetime:
    """A UTC instant: a date is midnight in `zone` (the series' zone)."""
    if isinstance(when.value, datetime):
        return when.value.astimezone(UTC)
    return datetime.combine(when.value, time(0), tzinfo=check_time_zone(zone)).astimezone(UTC)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(component: Component, name: str) -> str | None:
    value = component.get(name)
    if isinstance(value, list):
        value = value[0]
    return str(value) if value is not None else None


def _times(
    component: Component, block: Block, zones: dict[str, str], default_zone: str
) -> tuple[datetime, datetime, str, bool]:
    """(start, end, zone, all day) of a VEVENT, from DTSTART and DTEND or DURATION."""
    if "DTSTART" not in component:
        raise IcsError(block.line, "The event has no DTSTART.")
    start = _when(component["DTSTART"], block.line_of("DTSTART"), "DTSTART", zones, default_zone)
    all_day = not isinstance(start.value, datetime)
    zone = start.zone
    start_at = _instant(start, zone)
    if "DTEND" in component and "DURATION" in component:
        raise IcsError(block.line_of("DURATION"), "An event can have DTEND or DURATION, not both.")
    if "DTEND" in component:
        line = block.line_of("DTEND")
        end = _when(component["DTEND"], line, "DTEND", zones, default_zone)
        if isinstance(end.value, datetime) == all_day:
            raise IcsError(line, "DTEND must be a date when DTSTART is, and a time when it is.")
        end_at = _instant(end, zone)
        if end_at < start_at:
            raise IcsError(line, "The event ends (DTEND) before it starts (DTSTART).")
    elif "DURATION" in component:
        line = block.line_of("DURATION")
        length = getattr(component["DURATION"], "dt", None)
        if not isinstance(length, timedelta) or length < timedelta(0):
            raise IcsError(line, "DURATION must be a positive length such as PT1H.")
        if all_day and length.seconds:
            raise IcsError(line, "An all-day event must last whole days (DURATION:P1D).")
        local = start_at.astimezone(check_time_zone(zone))
        end_at = (local + timedelta(days=length.days)).astimezone(UTC)
        end_at += timedelta(seconds=length.seconds)
    else:
        end_at = start_at
    if end_at == start_at:
        if all_day:
            end_at = _instant(_When(start.value + _ONE_DAY, zone), zone)
        else:
            end_at = start_at + _ZERO_LENGTH_EVENT
    return start_at, end_at, zone, all_day


def _generated_uid(block: Block) -> str:
    content = "\n".join(c for c in block.content if not c.upper().startswith("DTSTAMP"))
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()[:40] + (
        _GENERATED_UID_SUFFIX
    )


def _reminders(component: Component, start: datetime, end: datetime) -> tuple[int, ...]:
    minutes: set[int] = set()
    for alarm in component.subcomponents:
        if alarm.name != "VALARM" or "TRIGGER" not in alarm:
            continue
        trigger = alarm["TRIGGER"]
        value = getattr(trigger, "dt", None)
        if isinstance(value, timedelta):
            anchor = end if str(trigger.params.get("RELATED", "")).upper() == "END" else start
            seconds = (start - (anchor + value)).total_seconds()
        elif isinstance(value, datetime):
            moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            seconds = (start - moment).total_seconds()
        else:
            continue
        if seconds >= 0:
            minutes.add(int(seconds // 60))
    return tuple(sorted(minutes))


def _attendees(component: Component) -> tuple[IcsAttendee, ...]:
    found: dict[str, IcsAttendee] = {}
    for address in _as_list(component.get("ATTENDEE")):
        text = str(address).strip()
        if not text.lower().startswith("mailto:"):
            continue
        email = text[len("mailto:") :].strip()
        if not email or email.lower() in found:
            continue
        partstat = str(getattr(address, "params", {}).get("PARTSTAT", "")).upper()
        found[email.lower()] = IcsAttendee(email, _PARTSTAT_TO_RSVP.get(partstat, "NEEDS_ACTION"))
    return tuple(found.values())


def _exdates(
    component: Component, block: Block, zones: dict[str, str], zone: str, start: datetime
) -> tuple[datetime, ...]:
    """EXDATE instants (every property, every comma-separated value). A floating time is
    wall-clock time in the series' zone, and a date alone means that day at the series' start
    time there (midnight for all-day series)."""
    found: list[datetime] = []
    lines = block.properties.get("EXDATE", [block.line])
    series_zone = check_time_zone(zone)
    for index, prop in enumerate(_as_list(component.get("EXDATE"))):
        line = lines[min(index, len(lines) - 1)]
        tzid = prop.params.get("TZID")
        for item in getattr(prop, "dts", []):
            value = item.dt
            if isinstance(value, datetime):
                if tzid:
                    value = value.replace(tzinfo=check_time_zone(_known_zone(tzid, line, zones)))
                elif value.tzinfo is None:
                    value = value.replace(tzinfo=series_zone)
                found.append(value.astimezone(UTC))
            elif isinstance(value, date):
                at = datetime.combine(value, start.astimezone(series_zone).time(), series_zone)
                found.append(at.astimezone(UTC))
            else:
                raise IcsError(line, "EXDATE must hold dates or dates and times.")
    return tuple(found)


def _read_event(component: Component, block: Block, zones: dict[str, str]) -> _Read:
    if component.errors:
        name = component.errors[0][0]
        if not name:  # pragma: no cover - the scan parsed every line already
            raise IcsError(block.line, "The event holds a line that cannot be read.")
        raise IcsError(block.line_of(name), f"{name} has an invalid value.")
    default_zone = "UTC"
    if "X-COVE-TIME-ZONE" in component:
        line = block.line_of("X-COVE-TIME-ZONE")
        default_zone = _known_zone(_text(component, "X-COVE-TIME-ZONE"), line, zones)
    for name, message in _UNSUPPORTED.items():
        if name in component:
            raise IcsError(block.line_of(name), message)
    uid = (_text(component, "UID") or "").strip()
    generated = not uid
    if generated:
        uid = _generated_uid(block)
    cancelled = (_text(component, "STATUS") or "").strip().upper() == "CANCELLED"

    recurrence: _When | None = None
    if "RECURRENCE-ID" in component:
        line = block.line_of("RECURRENCE-ID")
        prop = component["RECURRENCE-ID"]
        if isinstance(prop, list):
            raise IcsError(line, "An event can have only one RECURRENCE-ID.")
        if str(prop.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            raise IcsError(line, "RANGE=THISANDFUTURE is not supported.")
        if generated:
            raise IcsError(line, "An event with RECURRENCE-ID needs the UID of its series.")
        recurrence = _when(prop, line, "RECURRENCE-ID", zones, default_zone)

    when = None
    if recurrence is None or not cancelled:
        when = _times(component, block, zones, default_zone)
    rrule: str | None = None
    rules = _as_list(component.get("RRULE"))
    if len(rules) > 1:
        raise IcsError(block.properties["RRULE"][1], "Only one RRULE per event is supported.")
    if rules:
        if not isinstance(rules[0], vRecur):
            raise IcsError(block.line_of("RRULE"), "RRULE has an invalid value.")
        rrule = rules[0].to_ical().decode("utf-8")  # type: ignore[no-untyped-call]
    exdates: tuple[datetime, ...] = ()
    if when is not None and rrule is not None:
        exdates = _exdates(component, block, zones, when[2], when[0])
    video = _text(component, "X-COVE-VIDEO-URL") or _text(component, "URL")
    return _Read(
        block=block,
        uid=uid,
        recurrence=recurrence,
        when=when,
        cancelled=cancelled,
        title=_text(component, "SUMMARY") or "",
        description=_text(component, "DESCRIPTION"),
        location=_text(component, "LOCATION"),
        rrule=rrule,
        exdates=exdates,
        attendees=_attendees(component),
        reminders=_reminders(component, when[0], when[1]) if when else (),
        video_url=video.strip() if video and video.strip() else None,
    )


_FIELD_PROPERTY: Final = {
    "start": "DTSTART",
    "timeZone": "DTSTART",
    "end": "DTEND",
    "rrule": "RRULE",
    "exdates": "EXDATE",
}


def _series(read: _Read) -> Series:
    assert read.when is not None
    start, end, zone, all_day = read.when
    try:
        return check_series(Series(start, end, zone, all_day, read.rrule, read.exdates))
    except CoveError as error:
        name = _FIELD_PROPERTY.get(error.field or "", "")
        if name == "DTEND" and "DTEND" not in read.block.properties:
            name = "DURATION"
        raise IcsError(read.block.line_of(name), error.message) from None


def _override(series: Series, master: _Read, read: _Read) -> IcsOverride:
    assert read.recurrence is not None
    recurrence_id = _instant(read.recurrence, series.time_zone)
    start = end = None
    if read.when is not None and not read.cancelled:
        start, end = read.when[0], read.when[1]
    try:
        checked = check_override(series, Override(recurrence_id, start, end, read.cancelled))
    except CoveError as error:
        raise IcsError(read.block.line, error.message) from None

    def changed(mine: str | None, theirs: str | None) -> str | None:
        return mine if mine and mine != theirs else None

    return IcsOverride(
        recurrence_id=checked.recurrence_id,
        start=checked.start,
        end=checked.end,
        cancelled=checked.cancelled,
        title=None if read.cancelled else changed(read.title, master.title),
        description=None if read.cancelled else changed(read.description, master.description),
        location=None if read.cancelled else changed(read.location, master.location),
    )


def _event(read: _Read, overrides: tuple[IcsOverride, ...] = ()) -> IcsEvent:
    return IcsEvent(
        uid=read.uid,
        title=read.title,
        description=read.description,
        location=read.location,
        series=_series(read),
        attendees=read.attendees,
        reminders=read.reminders,
        video_url=read.video_url,
        overrides=overrides,
    )


def _pair(events: list[_Read], budget: Budget) -> list[IcsEvent]:
    """Series in file order, each with the overrides that share its UID."""
    masters: dict[str, _Read] = {}
    instances: dict[str, list[_Read]] = {}
    for read in events:
        if read.recurrence is None:
            first = masters.setdefault(read.uid, read)
            if first is not read:
                raise IcsError(
                    read.block.line,
                    f"A second event with the same UID (the first is on line {first.block.line}).",
                )
        else:
            instances.setdefault(read.uid, []).append(read)

    result: list[tuple[int, IcsEvent]] = []
    for uid, master in masters.items():
        changes = instances.pop(uid, [])
        if master.cancelled:
            continue
        budget.check_time(master.block.line)
        series = _series(master)
        overrides: list[IcsOverride] = []
        seen: dict[datetime, int] = {}
        for read in changes:
            override = _override(series, master, read)
            if override.recurrence_id in seen:
                raise IcsError(
                    read.block.line,
                    "A second change of the same occurrence "
                    f"(the first is on line {seen[override.recurrence_id]}).",
                )
            seen[override.recurrence_id] = read.block.line
            overrides.append(override)
        overrides.sort(key=lambda o: o.recurrence_id)
        result.append((master.block.line, _event(master, tuple(overrides))))

    for lone in instances.values():
        if len(lone) > 1:
            raise IcsError(
                lone[1].block.line,
                "Several changed occurrences (RECURRENCE-ID) of a series that is not in the file.",
            )
        read = lone[0]
        if read.cancelled or read.when is None:
            continue
        result.append((read.block.line, _event(replace(read, recurrence=None))))
    result.sort(key=lambda item: item[0])
    return [event for _, event in result]
