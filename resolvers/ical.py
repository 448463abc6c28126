"""iCalendar (RFC 5545) import and export of events, with the `icalendar` library.

`parse_ics` first walks the file's content lines itself: it unfolds them (RFC 5545 section
3.1) while remembering each logical line's first physical line, checks every line with
icalendar's own content-line parser and the BEGIN/END structure, so a malformed file is
refused with the line at fault. Only then does `icalendar.Calendar.from_ical` read the
calendar, and every event goes through `resolvers.recurrence.check_series`, so imported and
typed-in events share rules and messages. The result is all the events or an error: nothing
half-parsed. Errors are BAD_USER_INPUT on field "ics" with messages such as "line 7: ...".

Decisions for data RFC 5545 leaves open or Cove cannot hold:

* Times with a TZID are wall-clock times in that zone. A TZID must name an IANA zone,
  directly, as a Windows zone name (Outlook), with a vendor prefix such as
  "/mozilla.org/20050126_1/Europe/Paris", or through the X-LIC-LOCATION of its VTIMEZONE;
  VTIMEZONE definitions themselves are not used (tzdata is the authority), which also keeps
  icalendar from caching user-supplied zones process-wide. Any other TZID is refused.
* UTC times ("Z") get time zone "UTC". Floating times (no TZID, no "Z") and all-day dates are
  read as UTC too: a file does not say whose local time they are. The one exception is Cove's
  own X-COVE-TIME-ZONE event property, which `render_ics` writes so that an all-day event
  keeps its zone through an export and import.
* An event without UID gets a stable one: a SHA-256 of its content lines (DTSTAMP left out,
  since exporters restamp it every time) followed by "@import.cove", so importing the same
  file twice updates instead of duplicating.
* A timed event without DTEND or DURATION has zero length in RFC 5545; Cove events end after
  they start, so it lasts one minute. An all-day event without an end lasts one day.
* The video link is the standard URL property (X-COVE-VIDEO-URL wins if a file has both), and
  `render_ics` writes URL, which other calendar apps show as the event's link.
* Overrides (VEVENTs with RECURRENCE-ID) are matched to their series by UID; their SUMMARY,
  DESCRIPTION and LOCATION are kept only where they differ from the series'. A lone
  RECURRENCE-ID VEVENT whose series is not in the file (an invitation to one occurrence)
  becomes a single event. A cancelled series (STATUS:CANCELLED) is skipped with its changes.
  EXDATEs of an event without RRULE are ignored. RDATE, EXRULE and RANGE=THISANDFUTURE are
  refused rather than silently dropped.
* Reminders are VALARM triggers before the start (or before the end, RELATED=END), in whole
  minutes; triggers after the start are ignored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic, sleep
from typing import Any, Final

from icalendar import Alarm, Calendar, Component, Event, Timezone, vCalAddress, vRecur
from icalendar.parser import Contentline
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from resolvers.errors import CoveError, bad_input
from resolvers.recurrence import Override, Series, check_override, check_series, check_time_zone

MAX_ICS_BYTES: Final = 2 * 1024 * 1024
MAX_ICS_EVENTS: Final = 1000
"""The most VEVENTs (series and overrides together) one file may hold, by default."""
ICS_CHECK_SECONDS: Final = 10.0
"""How long reading and checking one file may take, by default."""

RSVP_VALUES: Final = ("ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS_ACTION")
_PARTSTAT_TO_RSVP: Final = {
    "ACCEPTED": "ACCEPTED",
    "DECLINED": "DECLINED",
    "TENTATIVE": "TENTATIVE",
}
_MAX_DEPTH: Final = 8
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ZERO_LENGTH_EVENT: Final = timedelta(minutes=1)
_ONE_DAY: Final = timedelta(days=1)
_GENERATED_UID_SUFFIX: Final = "@import.cove"
_SHOWN_TZID_LENGTH: Final = 64
_UNSUPPORTED: Final = {
    "RDATE": "RDATE (extra occurrences) is not supported.",
    "EXRULE": "EXRULE is not supported; use EXDATE.",
}


@dataclass(frozen=True)
class IcsAttendee:
    email: str
    rsvp: str
    """One of RSVP_VALUES: "ACCEPTED", "DECLINED", "TENTATIVE" or "NEEDS_ACTION"."""


@dataclass(frozen=True)
class IcsOverride:
    """One changed or cancelled occurrence; None text means "as in the series"."""

    recurrence_id: datetime
    """Aware UTC instant of the original occurrence start."""
    start: datetime | None
    end: datetime | None
    cancelled: bool
    title: str | None = None
    description: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    title: str
    description: str | None
    location: str | None
    series: Series
    attendees: tuple[IcsAttendee, ...] = ()
    reminders: tuple[int, ...] = ()
    """Minutes before the start (VALARM TRIGGER:-PT15M is 15)."""
    video_url: str | None = None
    """The URL property (see the module notes)."""
    overrides: tuple[IcsOverride, ...] = ()


class IcsError(Exception):
    """Malformed iCalendar input, with the 1-based line of the original text when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.message = message


def ics_bad_input(error: IcsError) -> CoveError:
    """The BAD_USER_INPUT error (field "ics") for an IcsError: "line N: message"."""
    return bad_input(str(error), field="ics")


# --- parsing -------------------------------------------------------------------------------------


def parse_ics(
    text: str, *, max_events: int = MAX_ICS_EVENTS, seconds: float = ICS_CHECK_SECONDS
) -> list[IcsEvent]:
    """The events of an iCalendar file, each with its overrides; BAD_USER_INPUT if malformed.

    The file may hold at most MAX_ICS_BYTES (UTF-8) and `max_events` VEVENTs, and reading
    and checking it may take at most `seconds`. CPU-bound: call it from a worker thread.
    """
    try:
        return _parse(text, _Budget(max_events, monotonic() + seconds, seconds))
    except IcsError as error:
        raise ics_bad_input(error) from None


@dataclass(frozen=True)
class _Budget:
    """What one file may cost: VEVENTs, and a deadline checked between events (each event's
    checks are bounded, so a file overruns its deadline by one event's work at most)."""

    max_events: int
    deadline: float
    seconds: float

    def check_time(self, line: int | None) -> None:
        # Hand the GIL over between events: a thread that only waits for the interpreter's
        # switch interval (5 ms) would add that wait to every step of the event loop's work.
        sleep(0)
        if monotonic() > self.deadline:
            raise IcsError(
                line,
                f"Checking the file took more than {self.seconds:g} s; import it in smaller files.",
            )


@dataclass
class _Block:
    """One component seen while scanning: where it begins and where its properties are."""

    name: str
    line: int
    properties: dict[str, list[int]] = field(default_factory=dict)
    content: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line of the first `name` property, or of BEGIN when there is none."""
        return self.properties.get(name, [self.line])[0]


@dataclass
class _Scan:
    text: str
    """The calendar without VTIMEZONE and other non-VEVENT components, for icalendar."""
    events: list[_Block]
    zones: dict[str, str]
    """VTIMEZONE TZID -> its X-LIC-LOCATION, where given."""


@dataclass(frozen=True)
class _When:
    value: datetime | date
    """Aware datetime, or a date for VALUE=DATE."""
    zone: str
    """IANA zone the time was given in: "UTC" for UTC, floating times and dates."""


@dataclass(frozen=True)
class _Read:
    """One VEVENT as read, before series and overrides are paired up."""

    block: _Block
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


def _parse(text: str, budget: _Budget) -> list[IcsEvent]:
    if len(text) > MAX_ICS_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_ICS_BYTES:
        raise IcsError(None, f"The file is larger than {MAX_ICS_BYTES // (1024 * 1024)} MiB.")
    scan = _Scanner(budget.max_events).scan(text)
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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded content lines, each with the 1-based number of its first physical line."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        physical = raw.removesuffix("\r")
        if not physical:
            continue
        if _CONTROL.search(physical):
            raise IcsError(number, "The line holds a control character.")
        if physical[0] in " \t":
            if not lines:
                raise IcsError(number, "A folded line must continue a previous line.")
            first, content = lines[-1]
            lines[-1] = (first, content + physical[1:])
        else:
            lines.append((number, physical))
    return lines


class _Scanner:
    """Checks content lines and the BEGIN/END structure, remembering where things are."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.stack: list[_Block] = []
        self.events: list[_Block] = []
        self.zones: dict[str, str] = {}
        self.kept: list[str] = []
        self.closed = False

    def scan(self, text: str) -> _Scan:
        lines = _logical_lines(text)
        if not lines:
            raise IcsError(None, "The file is empty.")
        for number, content in lines:
            if number % 64 == 0:
                sleep(0)  # hand the GIL over now and then (see _Budget.check_time)
            if self.closed:
                raise IcsError(number, "Nothing may follow END:VCALENDAR.")
            try:
                name, _, value = Contentline(content).parts()  # type: ignore[no-untyped-call]
            except (ValueError, AssertionError):
                raise IcsError(
                    number, "This is not a valid iCalendar line (NAME;PARAMETERS:VALUE)."
                ) from None
            name = name.upper()
            if name == "BEGIN":
                self.begin(number, value.strip().upper())
            elif not self.stack:
                raise IcsError(number, "An iCalendar file must start with BEGIN:VCALENDAR.")
            elif name != "END":
                self.property(number, name, value, content)
            # icalendar reads the calendar's own lines and its VEVENTs, nothing else.
            if len(self.stack) == 1 or self.stack[1].name == "VEVENT":
                self.kept.append(content)
            if name == "END":
                self.end(number, value.strip().upper())
        if self.stack:
            block = self.stack[-1]
            raise IcsError(block.line, f"BEGIN:{block.name} is never closed.")
        return _Scan("\r\n".join(self.kept) + "\r\n", self.events, self.zones)

    def begin(self, number: int, kind: str) -> None:
        if not self.stack and kind != "VCALENDAR":
            raise IcsError(number, "An iCalendar file must start with BEGIN:VCALENDAR.")
        if self.stack and kind == "VCALENDAR":
            raise IcsError(number, "A VCALENDAR cannot hold another VCALENDAR.")
        if len(self.stack) >= _MAX_DEPTH:
            raise IcsError(number, "Components are nested too deeply.")
        block = _Block(kind, number)
        if kind == "VEVENT":
            if len(self.stack) != 1:
                raise IcsError(number, "A VEVENT must be directly inside the VCALENDAR.")
            if len(self.events) >= self.max_events:
                raise IcsError(number, f"A file can hold at most {self.max_events:,} events.")
            self.events.append(block)
        self.stack.append(block)

    def property(self, number: int, name: str, value: str, content: str) -> None:
        block = self.stack[-1]
        block.properties.setdefault(name, []).append(number)
        if block.name == "VEVENT":
            block.content.append(content)
        elif block.name == "VTIMEZONE":
            block.values.setdefault(name, value.strip())

    def end(self, number: int, kind: str) -> None:
        block = self.stack[-1]
        if kind != block.name:
            raise IcsError(
                number, f"END:{kind[:40]} does not close BEGIN:{block.name} from line {block.line}."
            )
        self.stack.pop()
        if block.name == "VTIMEZONE" and "TZID" in block.values:
            self.zones[block.values["TZID"]] = block.values.get("X-LIC-LOCATION", "")
        self.closed = not self.stack


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
    component: Component, block: _Block, zones: dict[str, str], default_zone: str
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


def _generated_uid(block: _Block) -> str:
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
    component: Component, block: _Block, zones: dict[str, str], zone: str, start: datetime
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


def _read_event(component: Component, block: _Block, zones: dict[str, str]) -> _Read:
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


def _pair(events: list[_Read], budget: _Budget) -> list[IcsEvent]:
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


# --- rendering -----------------------------------------------------------------------------------


def render_ics(
    calendar_name: str,
    events: Sequence[IcsEvent],
    *,
    prodid: str = "-//Cove//Cove calendar//EN",
    stamp: datetime | None = None,
) -> str:
    """The events as an iCalendar file (VERSION 2.0) with the VTIMEZONEs they need.

    `stamp` is the DTSTAMP of every VEVENT (default: now), so equal input can give equal
    output. Series are checked with `check_series` first.
    """
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("X-WR-CALNAME", calendar_name)
    days: list[date] = []
    for event in events:
        series = check_series(event.series)
        calendar.add_component(_vevent(event, series, stamp))
        for override in sorted(event.overrides, key=lambda o: o.recurrence_id):
            calendar.add_component(_override_vevent(event, series, override, stamp))
        moments = [series.start, series.end, *(o.end for o in event.overrides if o.end)]
        days += [m.astimezone(UTC).date() for m in moments]
    if days:
        # Zone rules from the first event's year on; rules that never end need the default span.
        calendar.add_missing_timezones(
            first_date=date(min(days).year - 1, 1, 1),
            last_date=max(Timezone.DEFAULT_LAST_DATE, date(max(days).year + 2, 1, 1)),
        )
    rendered: bytes = calendar.to_ical()
    return rendered.decode("utf-8")


def _is_midnight(moment: datetime, series: Series) -> bool:
    zone = check_time_zone(series.time_zone)
    midnight = datetime.combine(moment.astimezone(zone).date(), time(0), tzinfo=zone)
    return moment.astimezone(UTC) == midnight.astimezone(UTC)


def _local(moment: datetime, series: Series, *, as_date: bool) -> datetime | date:
    """How a time is written: a DATE, or wall-clock time in the series' zone (with TZID)."""
    local = moment.astimezone(check_time_zone(series.time_zone))
    return local.date() if as_date else local


def _common(component: Event, event: IcsEvent, stamp: datetime, title: str) -> None:
    """UID, DTSTAMP, attendees, reminders and link: the same on a series and its overrides."""
    component.add("UID", event.uid)
    component.add("DTSTAMP", stamp)
    for attendee in event.attendees:
        address = vCalAddress(f"mailto:{attendee.email}")
        address.params["PARTSTAT"] = attendee.rsvp.replace("_", "-")
        component.add("ATTENDEE", address)
    if event.video_url:
        component.add("URL", event.video_url)
    for minutes in event.reminders:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", title or "Reminder")
        alarm.add("TRIGGER", timedelta(minutes=-minutes))
        component.add_component(alarm)


def _vevent(event: IcsEvent, series: Series, stamp: datetime) -> Event:
    component = Event()
    _common(component, event, stamp, event.title)
    if series.all_day or series.time_zone != "UTC":
        component.add("X-COVE-TIME-ZONE", series.time_zone)
    component.add("DTSTART", _local(series.start, series, as_date=series.all_day))
    component.add("DTEND", _local(series.end, series, as_date=series.all_day))
    component.add("SUMMARY", event.title)
    if event.description:
        component.add("DESCRIPTION", event.description)
    if event.location:
        component.add("LOCATION", event.location)
    if series.rrule:
        component.add("RRULE", vRecur.from_ical(series.rrule))
    if series.exdates:
        component.add("EXDATE", [_local(x, series, as_date=series.all_day) for x in series.exdates])
    return component


def _override_vevent(
    event: IcsEvent, series: Series, override: IcsOverride, stamp: datetime
) -> Event:
    component = Event()
    title = override.title or event.title
    original = override.recurrence_id.astimezone(UTC)
    if override.cancelled or override.start is None or override.end is None:
        start, end = original, original + (series.end - series.start)
    else:
        start, end = override.start, override.end
    _common(component, event, stamp, title)
    if series.all_day or series.time_zone != "UTC":
        component.add("X-COVE-TIME-ZONE", series.time_zone)
    # An all-day series' occurrence moved to whole days stays all-day; else it gets times.
    dates = series.all_day and _is_midnight(start, series) and _is_midnight(end, series)
    component.add("RECURRENCE-ID", _local(original, series, as_date=series.all_day))
    component.add("DTSTART", _local(start, series, as_date=dates))
    component.add("DTEND", _local(end, series, as_date=dates))
    component.add("SUMMARY", title)
    description = override.description or event.description
    if description:
        component.add("DESCRIPTION", description)
    location = override.location or event.location
    if location:
        component.add("LOCATION", location)
    if override.cancelled:
        component.add("STATUS", "CANCELLED")
    return component
