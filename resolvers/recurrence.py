"""Recurring events: validate a series and expand it into the occurrences inside a time window.

A series is its first occurrence (`start`, `end`), an IANA time zone, and optionally an
RFC 5545 RRULE value plus EXDATEs. Expansion is done by `dateutil.rrule`; this module only
validates rules, feeds dateutil the right start, and turns its output into UTC instants.

Time semantics, all decided here and relied upon by the calendar resolvers and `resolvers.ical`:

* Recurrence runs in local wall-clock time of the series' zone: a weekly 09:00 meeting in
  Europe/Paris stays at 09:00 local across daylight-saving changes (its UTC hour moves).
* A local time that does not exist (clocks jump forward) is read with the UTC offset in force
  before the jump, as RFC 5545 section 3.3.5 requires: a daily 02:30 event in Europe/Paris
  happens at 03:30 CEST (01:30 UTC) on the day clocks go forward. A local time that happens
  twice (clocks go back) is its first instance. Both are Python's `fold=0` reading of the
  local time, which is what dateutil produces for a `ZoneInfo` start.
* A timed occurrence lasts exactly as long as the first one (`end - start` in real time, per
  RFC 5545 section 3.8.5.3), so its end may show a different wall-clock time across a change.
  An all-day occurrence starts at local midnight and lasts a whole number of calendar days.
* UNTIL is compared in local wall-clock time; stored rules carry it in the RFC 5545 form
  (`YYYYMMDDTHHMMSSZ` for timed series, `YYYYMMDD` for all-day ones).
* The start must itself be an occurrence of the rule (RFC 5545 says it SHOULD be; a start
  the rule does not produce is "undefined" there, and tools disagree on it).

Caps keep one query bounded: a window spans at most MAX_WINDOW and returns at most
MAX_OCCURRENCES occurrences, an event lasts at most MAX_EVENT_DURATION, and rules repeat at
most daily (HOURLY, MINUTELY and SECONDLY rules would hit the occurrence cap within days and
cost CPU in proportion; calendars do not need them). Rules with COUNT must end within
MAX_SERIES_YEARS. Parsed rules are cached, and an expansion starts the rule near the window
instead of at its first occurrence, so a series that began years ago costs no more than a
new one. What stays proportional to the rule is the gap between occurrences: dateutil steps
through every empty period, so a rare rule (29 February falling on a Monday, every 28 years)
costs thousands of steps per query; the 400-year Gregorian cycle bounds it.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from resolvers.errors import CoveError, bad_input

MAX_WINDOW: Final = timedelta(days=366)
"""The longest window one query may ask for."""
MAX_OCCURRENCES: Final = 5000
"""The most occurrences one query returns; asking for more is BAD_USER_INPUT."""
MAX_EVENT_DURATION: Final = timedelta(days=31)
"""The longest one occurrence may last."""
MAX_RRULE_LENGTH: Final = 500
MAX_COUNT: Final = 10_000
MAX_INTERVAL: Final = 1000
MAX_EXDATES: Final = 5000
MAX_SERIES_YEARS: Final = 100
"""A rule with COUNT must produce its last occurrence within this many years of the start."""
MAX_TIME_ZONE_LENGTH: Final = 64
EARLIEST_YEAR: Final = 1900
LATEST_YEAR: Final = 2999
"""Times (starts, ends, EXDATEs, windows) must fall in these years; UNTIL may go further."""
LATEST_UNTIL_YEAR: Final = 9000

_Frequency = Literal[0, 1, 2, 3]  # dateutil's YEARLY, MONTHLY, WEEKLY, DAILY
_FREQUENCIES: Final[dict[str, _Frequency]] = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
}
_SUB_DAILY: Final = frozenset({"HOURLY", "MINUTELY", "SECONDLY"})
_TIME_OF_DAY: Final = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND"})
_ONE_PER_PERIOD_PARTS: Final = frozenset({"FREQ", "COUNT", "INTERVAL", "WKST"} | _TIME_OF_DAY)
_WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_PART_ORDER: Final = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
# name -> (smallest, largest, whether the negated range is allowed too), per RFC 5545 3.3.10
_INT_LISTS: Final = {
    "BYSECOND": (0, 59, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_DAY_PARTS: Final = ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
_BYDAY: Final = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INTEGER: Final = re.compile(r"[+-]?\d{1,4}")
_UNTIL: Final = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_TIME_ZONE_NAME: Final = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_ONE_SECOND: Final = timedelta(seconds=1)
_ONE_DAY: Final = timedelta(days=1)
# Wall-clock and real time differ by less than this around any daylight-saving change.
_SLACK: Final = timedelta(days=1)
# An interval this large makes dateutil's second period fall after year 9999, so a probe
# looks at the first period only.
_PROBE_INTERVAL: Final = 10**7
# Zones that name this machine's setting or a placeholder rather than a place.
_NOT_PLACES: Final = frozenset({"localtime", "Factory"})


@dataclass(frozen=True)
class Series:
    """One event, or the first occurrence of a repeating one, and how it repeats."""

    start: datetime
    """Aware; the first occurrence's start."""
    end: datetime
    """Aware; the first occurrence's end (every occurrence lasts `end - start`)."""
    time_zone: str
    """IANA name; recurrence keeps local wall-clock time in this zone."""
    all_day: bool
    rrule: str | None
    """RFC 5545 RRULE value such as "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10" (no "RRULE:");
    None for a single event."""
    exdates: tuple[datetime, ...] = ()
    """Aware instants of excluded occurrence starts."""


@dataclass(frozen=True)
class Override:
    """One changed or cancelled occurrence of a series."""

    recurrence_id: datetime
    """Aware UTC instant of the original (unmodified) occurrence start."""
    start: datetime | None
    """Its new start, or None when cancelled."""
    end: datetime | None
    cancelled: bool = False


@dataclass(frozen=True)
class Occurrence:
    """One occurrence as a calendar shows it."""

    recurrence_id: datetime | None
    """UTC instant of the original start; None for a single (non-recurring) event."""
    start: datetime
    """Aware UTC."""
    end: datetime
    """Aware UTC."""
    override: Override | None


# --- public API --------------------------------------------------------------------------------


def check_time_zone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name such as "Europe/Paris"; BAD_USER_INPUT if unknown."""
    if (
        len(name) > MAX_TIME_ZONE_LENGTH
        or not _TIME_ZONE_NAME.fullmatch(name)
        or name not in _known_time_zones()
    ):
        raise bad_input(
            "Unknown time zone: use an IANA name such as Europe/Paris.", field="timeZone"
        )
    return ZoneInfo(name)


def check_series(series: Series) -> Series:
    """Validate a series and return it normalised.

    Times come back in UTC with whole seconds, the rule in canonical form (upper case, parts in
    a fixed order, INTERVAL=1 dropped, UNTIL in its RFC 5545 form), EXDATEs sorted and unique.
    Fails with BAD_USER_INPUT (fields "start", "end", "timeZone", "rrule", "exdates").
    """
    zone = check_time_zone(series.time_zone)
    start = _instant(series.start, field="start")
    end = _instant(series.end, field="end")
    if end <= start:
        raise bad_input("The end must be after the start.", field="end")
    if series.all_day:
        _check_all_day(start, end, zone)
    elif end - start > MAX_EVENT_DURATION:
        raise bad_input(f"An event can last at most {MAX_EVENT_DURATION.days} days.", field="end")
    if series.rrule is None:
        if series.exdates:
            raise bad_input("Only a repeating event can have excluded dates.", field="exdates")
        return Series(start, end, series.time_zone, series.all_day, None)
    if len(series.exdates) > MAX_EXDATES:
        raise bad_input(
            f"A repeating event can have at most {MAX_EXDATES} excluded dates.", field="exdates"
        )
    exdates = tuple(sorted({_instant(x, field="exdates") for x in series.exdates}))
    compiled = _compile(series.rrule, start, series.time_zone, series.all_day)
    return Series(start, end, series.time_zone, series.all_day, compiled.text, exdates)


def check_override(series: Series, override: Override) -> Override:
    """Validate an override's own shape and return it in UTC with whole seconds.

    A cancelled override keeps no times; a moved one needs an end after its start and lasts
    at most MAX_EVENT_DURATION. Whether its recurrence id is an occurrence is `is_occurrence`'s
    question: `expand` ignores overrides of instants the series does not produce.
    """
    if series.rrule is None:
        raise bad_input("Only an occurrence of a repeating event can be changed alone.")
    recurrence_id = _instant(override.recurrence_id, field="recurrenceId")
    if override.cancelled:
        return Override(recurrence_id, None, None, cancelled=True)
    if override.start is None or override.end is None:
        raise bad_input("A changed occurrence needs a start and an end.", field="start")
    start = _instant(override.start, field="start")
    end = _instant(override.end, field="end")
    if end <= start:
        raise bad_input("The end must be after the start.", field="end")
    if end - start > MAX_EVENT_DURATION:
        raise bad_input(f"An event can last at most {MAX_EVENT_DURATION.days} days.", field="end")
    return Override(recurrence_id, start, end)


def is_occurrence(series: Series, at: datetime) -> bool:
    """Whether an occurrence of the series originally starts at the instant `at`.

    EXDATEs count: an excluded instant is not an occurrence. A single event's only
    occurrence is its start.
    """
    checked = check_series(series)
    instant = _instant(at, field="recurrenceId")
    if checked.rrule is None:
        return instant == checked.start
    if instant in checked.exdates:
        return False
    compiled = _compile(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    return instant in set(_starts(compiled, instant, instant + _ONE_SECOND))


def expand(
    series: Series,
    overrides: Sequence[Override],
    window_start: datetime,
    window_end: datetime,
    limit: int = MAX_OCCURRENCES,
) -> list[Occurrence]:
    """The occurrences overlapping [window_start, window_end), sorted by start.

    An occurrence overlaps when it starts before `window_end` and ends after `window_start`.
    `overrides` are all of the series' overrides: an overridden occurrence shows at its new
    time (even when only the new time is in the window) or not at all when cancelled, and
    overrides of instants that are not occurrences (excluded, or never produced) are ignored.
    More than `limit` occurrences, a window longer than MAX_WINDOW, or an empty window is
    BAD_USER_INPUT (field "to" or "from").
    """
    lower = _instant(window_start, field="from")
    upper = _instant(window_end, field="to")
    if upper <= lower:
        raise bad_input("The end of the range must be after its start.", field="to")
    if upper - lower > MAX_WINDOW:
        raise bad_input(f"A range can span at most {MAX_WINDOW.days} days.", field="to")
    checked = check_series(series)
    if checked.rrule is None:
        if checked.start < upper and checked.end > lower:
            return [Occurrence(None, checked.start, checked.end, None)]
        return []

    compiled = _compile(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    length = _length(checked)
    excluded = set(checked.exdates)
    changed = {_instant(o.recurrence_id, field="recurrenceId"): o for o in overrides}
    found: list[Occurrence] = []

    def add(occurrence: Occurrence) -> None:
        found.append(occurrence)
        if len(found) > limit:
            raise bad_input(
                f"The range holds more than {limit} occurrences; ask for a shorter range.",
                field="to",
            )

    # Occurrences that start before `lower` can still overlap it: begin one duration earlier.
    first_candidate = lower - length - _ONE_DAY
    produced: set[datetime] = set()
    for start in _starts(compiled, first_candidate, upper):
        produced.add(start)
        if start in excluded or start in changed:
            continue
        end = _end_of(compiled, checked, start)
        if end > lower:
            add(Occurrence(start, start, end, None))

    for recurrence_id, override in changed.items():
        if override.cancelled or override.start is None or override.end is None:
            continue
        new_start = _instant(override.start, field="start")
        new_end = _instant(override.end, field="end")
        if not (new_start < upper and new_end > lower) or recurrence_id in excluded:
            continue
        if first_candidate <= recurrence_id < upper:
            known = recurrence_id in produced
        else:
            known = recurrence_id in set(
                _starts(compiled, recurrence_id, recurrence_id + _ONE_SECOND)
            )
        if known:
            add(Occurrence(recurrence_id, new_start, new_end, override))

    found.sort(key=lambda o: (o.start, o.end, o.recurrence_id or o.start))
    return found


def series_until(series: Series) -> datetime | None:
    """UTC end of the series' last occurrence, for pruning queries; None if it never ends.

    For a single event that is its end. EXDATEs are honoured; overrides are not (a moved
    occurrence can end later, so prune on the later of this and the overrides' ends).
    """
    checked = check_series(series)
    if checked.rrule is None:
        return checked.end
    compiled = _compile(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    if compiled.until is None:
        return None
    last_allowed = compiled.until.astimezone(UTC) + _SLACK
    excluded = set(checked.exdates)
    span = timedelta(days=31)
    while True:
        whole = span >= last_allowed - checked.start
        lower = checked.start if whole else last_allowed - span
        kept = [s for s in _starts(compiled, lower, last_allowed) if s not in excluded]
        if kept:
            return _end_of(compiled, checked, max(kept))
        if whole:
            return checked.end  # every occurrence is excluded
        span *= 4


def split_series(series: Series, at: datetime) -> tuple[Series, Series]:
    """Split for a "this and following" edit at the occurrence that originally starts at `at`.

    The first series keeps the occurrences strictly before `at` (COUNT dropped, UNTIL set to
    just before `at`); the second starts at `at` with the same duration and rule (a COUNT is
    reduced to the occurrences left). EXDATEs go to the side they fall on; moving overrides
    with recurrence ids at or after `at` to the second series is the caller's job.
    BAD_USER_INPUT (field "recurrenceId") unless `at` is an occurrence after the first.
    """
    checked = check_series(series)
    if checked.rrule is None:
        raise bad_input("Only a repeating event can be split.", field="recurrenceId")
    instant = _instant(at, field="recurrenceId")
    compiled = _compile(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    if instant == checked.start:
        raise bad_input(
            "This is the first occurrence: change the whole series instead.",
            field="recurrenceId",
        )
    local = next(
        (w for w, s in _candidates(compiled, instant, instant + _ONE_SECOND) if s == instant),
        None,
    )
    if local is None or instant in checked.exdates:
        raise bad_input("No occurrence of this event starts at that time.", field="recurrenceId")
    if local.replace(tzinfo=None) != instant.astimezone(compiled.zone).replace(tzinfo=None):
        raise bad_input(
            "This occurrence falls in the hour skipped when clocks go forward; "
            "split the series at another occurrence.",
            field="recurrenceId",
        )

    parts = _parse_rule(checked.rrule, all_day=checked.all_day)
    head = {name: value for name, value in parts.items() if name != "COUNT"}
    if checked.all_day:
        head["UNTIL"] = (local.date() - _ONE_DAY).strftime("%Y%m%d")
    else:
        head["UNTIL"] = (instant - _ONE_SECOND).strftime("%Y%m%dT%H%M%SZ")
    tail = dict(parts)
    if "COUNT" in parts:
        before = sum(1 for _ in _starts(compiled, checked.start, instant))
        tail["COUNT"] = str(int(parts["COUNT"]) - before)
    first = check_series(
        Series(
            checked.start,
            checked.end,
            checked.time_zone,
            checked.all_day,
            _render_rule(head),
            tuple(x for x in checked.exdates if x < instant),
        )
    )
    second = check_series(
        Series(
            instant,
            _end_of(compiled, checked, instant),
            checked.time_zone,
            checked.all_day,
            _render_rule(tail),
            tuple(x for x in checked.exdates if x >= instant),
        )
    )
    # dateutil's first WEEKLY period is the rest of the start's week, which BYSETPOS can read
    # differently from the full week: make sure the second series goes on exactly as before.
    check_until = instant + timedelta(days=8)
    tail_compiled = _compile(second.rrule or "", second.start, second.time_zone, second.all_day)
    if list(_starts(compiled, instant, check_until)) != list(
        _starts(tail_compiled, instant, check_until)
    ):
        raise bad_input("This series cannot be split at that occurrence.", field="recurrenceId")
    return first, second


# --- rule parsing and compilation --------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Compiled:
    """A validated rule bound to its first occurrence, ready to iterate."""

    text: str
    """The canonical RRULE value."""
    zone: ZoneInfo
    dtstart: datetime
    """The first occurrence, aware in `zone` (its wall-clock time drives the rule)."""
    rule: rrule
    """What to iterate: COUNT replaced by the equivalent wall-clock UNTIL, so it can be shifted."""
    freq: _Frequency
    interval: int
    wkst: int
    until: datetime | None
    """Aware in `zone`: the latest wall-clock start the rule allows (from UNTIL or COUNT)."""
    derived: dict[str, Any]
    """BYxxx values dateutil derives from DTSTART; passed explicitly when the start moves."""


@functools.cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_PLACES


def _instant(value: datetime, *, field: str) -> datetime:
    """An aware datetime as a UTC instant in whole seconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise bad_input("Times must include a time zone or UTC offset.", field=field)
    instant = value.astimezone(UTC).replace(microsecond=0)
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise bad_input(
            f"Times must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}.", field=field
        )
    return instant


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _check_all_day(start: datetime, end: datetime, zone: ZoneInfo) -> None:
    first_day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    if start != _midnight(first_day, zone):
        raise bad_input("An all-day event must start at midnight in its time zone.", field="start")
    if end != _midnight(last_day, zone):
        raise bad_input("An all-day event must end at midnight in its time zone.", field="end")
    if last_day < first_day + _ONE_DAY:
        raise bad_input("An all-day event must last at least one day.", field="end")
    if last_day - first_day > MAX_EVENT_DURATION:
        raise bad_input(f"An event can last at most {MAX_EVENT_DURATION.days} days.", field="end")


def _length(series: Series) -> timedelta:
    """An upper bound on how long any occurrence lasts."""
    if series.all_day:
        return series.end - series.start + _ONE_DAY
    return series.end - series.start


def _end_of(compiled: _Compiled, series: Series, start: datetime) -> datetime:
    """The end of the occurrence that starts at `start`."""
    if series.all_day:
        days = series.end.astimezone(compiled.zone).date() - compiled.dtstart.date()
        return _midnight(start.astimezone(compiled.zone).date() + days, compiled.zone)
    return start + (series.end - series.start)


def _rule_error(message: str) -> CoveError:
    return bad_input(message, field="rrule")


def _parse_rule(text: str, *, all_day: bool) -> dict[str, str]:
    """Check an RRULE value's syntax and return its parts in canonical form (UNTIL as given)."""
    if len(text) > MAX_RRULE_LENGTH:
        raise _rule_error(f"The repeat rule can be at most {MAX_RRULE_LENGTH} characters long.")
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if "DTSTART" in body or ":" in body or "\n" in body or "\r" in body:
        raise _rule_error(
            "The repeat rule must be a single RRULE value, without DTSTART or other lines."
        )
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise _rule_error(f"The repeat rule part {name[:20]!r} has no value.")
        if name not in _PART_ORDER:
            raise _rule_error(f"The repeat rule has an unknown part {name[:20]!r}.")
        if name in parts:
            raise _rule_error(f"The repeat rule names {name} twice.")
        parts[name] = _canonical_value(name, value)
    freq = parts.get("FREQ")
    if freq is None:
        raise _rule_error("The repeat rule needs a FREQ, such as FREQ=WEEKLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _rule_error("The repeat rule can have COUNT or UNTIL, not both.")
    numbered_days = "BYDAY" in parts and any(c.isdigit() for c in parts["BYDAY"])
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise _rule_error("BYWEEKNO can only be used with FREQ=YEARLY.")
    if "BYYEARDAY" in parts and freq != "YEARLY":
        raise _rule_error("BYYEARDAY can only be used with FREQ=YEARLY.")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise _rule_error("BYMONTHDAY cannot be used with FREQ=WEEKLY.")
    if numbered_days and (freq not in {"MONTHLY", "YEARLY"} or "BYWEEKNO" in parts):
        raise _rule_error(
            "Numbered days such as 1MO need FREQ=MONTHLY or FREQ=YEARLY without BYWEEKNO."
        )
    if "BYSETPOS" in parts and not any(n.startswith("BY") and n != "BYSETPOS" for n in parts):
        raise _rule_error("BYSETPOS needs another BY part to pick from.")
    if all_day and any(n in parts for n in ("BYHOUR", "BYMINUTE", "BYSECOND")):
        raise _rule_error("An all-day event cannot repeat at given hours, minutes or seconds.")
    return parts


def _canonical_value(name: str, value: str) -> str:
    if name == "FREQ":
        if value in _SUB_DAILY:
            raise _rule_error("An event can repeat at most daily.")
        if value not in _FREQUENCIES:
            raise _rule_error("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.")
        return value
    if name == "UNTIL":
        if not _UNTIL.fullmatch(value):
            raise _rule_error("UNTIL must be a date (20260131) or a UTC time (20260131T170000Z).")
        return value
    if name in {"COUNT", "INTERVAL"}:
        largest = MAX_COUNT if name == "COUNT" else MAX_INTERVAL
        if not value.isdigit() or not 1 <= int(value) <= largest:
            raise _rule_error(f"{name} must be a whole number from 1 to {largest}.")
        return str(int(value))
    if name == "WKST":
        if value not in _WEEKDAYS:
            raise _rule_error("WKST must be a day such as MO.")
        return value
    items = [item.strip() for item in value.split(",")]
    if len(items) > 366 or not all(items):
        raise _rule_error(f"{name} must be a comma-separated list.")
    if name in _TIME_OF_DAY and len(set(items)) > 1:
        # Several hours, minutes or seconds make a daily rule sub-daily (BYHOUR=0..23 with
        # BYMINUTE=0..59 and BYSECOND=0..59 is 86,400 a day), so they are refused like HOURLY.
        raise _rule_error(
            "An event can repeat at most daily: BYHOUR, BYMINUTE and BYSECOND take one value."
        )
    if name == "BYDAY":
        return ",".join(_canonical_day(item) for item in items)
    smallest, largest, signed = _INT_LISTS[name]
    numbers: list[str] = []
    for item in items:
        number = int(item) if _INTEGER.fullmatch(item) else None
        if number is None or not (
            smallest <= number <= largest or (signed and -largest <= number <= -smallest)
        ):
            span = f"{smallest} to {largest}" + (f" or -{largest} to -{smallest}" if signed else "")
            raise _rule_error(f"{name} values must be whole numbers from {span}.")
        numbers.append(str(number))
    return ",".join(numbers)


def _canonical_day(item: str) -> str:
    match = _BYDAY.fullmatch(item)
    if match is None:
        raise _rule_error("BYDAY values must be days such as MO, or numbered days such as 1MO.")
    sign, number, day = match.groups()
    if number is None:
        if sign:
            raise _rule_error("BYDAY values must be days such as MO, or numbered days such as 1MO.")
        return day
    if not 1 <= int(number) <= 53:
        raise _rule_error("A numbered BYDAY must be from 1 to 53 (or -1 to -53).")
    return f"{'-' if sign == '-' else ''}{int(number)}{day}"


def _render_rule(parts: dict[str, str]) -> str:
    return ";".join(
        f"{name}={parts[name]}"
        for name in _PART_ORDER
        if name in parts and not (name == "INTERVAL" and parts[name] == "1")
    )


def _until(value: str, zone: ZoneInfo, *, all_day: bool) -> tuple[datetime, str]:
    """An UNTIL value as (latest wall-clock start, aware in `zone`; canonical RFC 5545 text).

    Timed series store UNTIL in UTC; a floating time is read as wall-clock time in the zone
    and a bare date as the end of that day there. All-day series store a date.
    """
    match = _UNTIL.fullmatch(value)
    if match is None:  # pragma: no cover - _canonical_value checked the shape
        raise _rule_error("UNTIL is not a valid date.")
    day_text, time_text, utc = match.groups()
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
        moment = datetime.strptime(time_text, "%H%M%S").time() if time_text else None
    except ValueError:
        raise _rule_error("UNTIL is not a valid date.") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_UNTIL_YEAR:
        raise _rule_error(
            f"UNTIL must fall between the years {EARLIEST_YEAR} and {LATEST_UNTIL_YEAR}."
        )
    if moment is None:
        local = datetime.combine(day, time(0) if all_day else time(23, 59, 59), tzinfo=zone)
    elif utc:
        local = datetime.combine(day, moment, tzinfo=UTC).astimezone(zone)
    else:
        local = datetime.combine(day, moment, tzinfo=zone)
    if all_day:
        local = datetime.combine(local.date(), time(0), tzinfo=zone)
        return local, local.strftime("%Y%m%d")
    return local, local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@functools.lru_cache(maxsize=4096)
def _compile(text: str, start: datetime, time_zone: str, all_day: bool) -> _Compiled:
    """Parse and check a rule for a series whose first occurrence starts at `start` (UTC)."""
    zone = check_time_zone(time_zone)
    parts = _parse_rule(text, all_day=all_day)
    dtstart = start.astimezone(zone)
    until: datetime | None = None
    if "UNTIL" in parts:
        until, parts["UNTIL"] = _until(parts["UNTIL"], zone, all_day=all_day)
        if until < dtstart:
            raise _rule_error("The repeat rule ends before the event starts.")
    canonical = _render_rule(parts)
    # dateutil reads WKST's default from the process-wide `calendar` setting: always give it.
    given = {name: value for name, value in parts.items() if name != "UNTIL"}
    given.setdefault("WKST", "MO")
    try:
        base = rrulestr(_render_rule(given), dtstart=dtstart)
        if not isinstance(base, rrule):  # pragma: no cover - one RRULE value gives one rrule
            raise TypeError("not a single rule")
        if until is not None:
            base = base.replace(until=until)
    except (ValueError, TypeError, OverflowError):
        raise _rule_error("The repeat rule is not valid.") from None

    # Is the start the rule's first occurrence? Ask dateutil about the start's period only: a
    # huge INTERVAL ends the rule after it. A DAILY or WEEKLY rule without BYSETPOS keeps the
    # start exactly when the YEARLY rule with the same parts does, and a YEARLY rule gets
    # past year 9999 in one step, where DAILY would walk there month by month.
    freq = _FREQUENCIES[parts["FREQ"]]
    same_start: _Frequency = YEARLY if freq in {DAILY, WEEKLY} and "BYSETPOS" not in parts else freq
    probe = base.replace(
        freq=same_start,
        until=dtstart,
        count=None,
        interval=_PROBE_INTERVAL,
    )
    first = next(iter(probe), None)
    if first is None or first.replace(tzinfo=None) != dtstart.replace(tzinfo=None):
        raise bad_input(
            "The start must be one of the times the repeat rule produces.", field="start"
        )
    if first.astimezone(UTC) != start:
        raise bad_input(
            "A repeating event cannot start in the hour repeated when clocks go back.",
            field="start",
        )

    rule = base
    if "COUNT" in parts:
        until = _count_end(base, parts, dtstart)
        rule = base.replace(count=None, until=until)

    derived: dict[str, Any] = {}
    if not any(name in parts for name in _DAY_PARTS):
        if freq == YEARLY:
            if "BYMONTH" not in parts:
                derived["bymonth"] = [dtstart.month]
            derived["bymonthday"] = [dtstart.day]
        elif freq == MONTHLY:
            derived["bymonthday"] = [dtstart.day]
        elif freq == WEEKLY:
            derived["byweekday"] = [dtstart.weekday()]
    for name, key, value in (
        ("BYHOUR", "byhour", dtstart.hour),
        ("BYMINUTE", "byminute", dtstart.minute),
        ("BYSECOND", "bysecond", dtstart.second),
    ):
        if name not in parts:
            derived[key] = [value]
    return _Compiled(
        text=canonical,
        zone=zone,
        dtstart=dtstart,
        rule=rule,
        freq=freq,
        interval=int(parts.get("INTERVAL", "1")),
        wkst=_WEEKDAYS.index(given["WKST"]),
        until=until,
        derived=derived,
    )


def _count_end(base: rrule, parts: dict[str, str], dtstart: datetime) -> datetime:
    """The wall-clock start of a COUNT rule's last occurrence, asked of dateutil.

    Walking the rule itself costs a dateutil period per day for a DAILY rule (and a rare
    DAILY rule steps through every empty day up to the horizon). A DAILY or WEEKLY rule
    with INTERVAL=1 and no BYSETPOS has exactly the occurrences of the YEARLY rule with the
    same parts and its days spelled out, which dateutil builds one year at a time; the
    occurrences are skipped inside `islice`, not in a Python loop. So a rule's end costs
    at most MAX_SERIES_YEARS yearly periods, or for other rules one period per
    INTERVAL x FREQ up to the horizon (the coarser the rule, the fewer periods).
    """
    freq = _FREQUENCIES[parts["FREQ"]]
    horizon = dtstart + timedelta(days=366 * MAX_SERIES_YEARS)
    if _one_per_period(parts, dtstart):
        # Every period holds exactly one occurrence, the start's day and time moved into it,
        # so the last is in period (COUNT - 1) x INTERVAL: no walk at all.
        last = _in_period(
            dtstart, freq, (int(parts["COUNT"]) - 1) * int(parts.get("INTERVAL", "1"))
        )
        if last is None or last > horizon:
            raise _rule_error(f"A repeat rule with COUNT must end within {MAX_SERIES_YEARS} years.")
        return last
    walker = base.replace(count=None, until=horizon)
    if freq in {DAILY, WEEKLY} and "INTERVAL" not in parts and "BYSETPOS" not in parts:
        if "BYDAY" in parts or (freq == DAILY and "BYMONTHDAY" in parts):
            walker = base.replace(freq=YEARLY, count=None, until=horizon)
        else:  # spell out the days, which YEARLY would otherwise take from DTSTART
            days = list(range(7)) if freq == DAILY else [dtstart.weekday()]
            walker = base.replace(freq=YEARLY, count=None, until=horizon, byweekday=days)
    last = next(itertools.islice(iter(walker), int(parts["COUNT"]) - 1, None), None)
    if last is None:
        raise _rule_error(f"A repeat rule with COUNT must end within {MAX_SERIES_YEARS} years.")
    return last


def _one_per_period(parts: dict[str, str], dtstart: datetime) -> bool:
    """Whether every period of the rule holds exactly one occurrence: no BY part picks days
    (time-of-day parts hold one value, the start's), and a MONTHLY or YEARLY start falls on a
    day every month or year has."""
    if not set(parts) <= _ONE_PER_PERIOD_PARTS:
        return False
    if parts["FREQ"] == "MONTHLY":
        return dtstart.day <= 28
    if parts["FREQ"] == "YEARLY":
        return (dtstart.month, dtstart.day) != (2, 29)
    return True


def _in_period(dtstart: datetime, freq: _Frequency, periods: int) -> datetime | None:
    """The start's wall-clock day and time moved `periods` periods on; None past year 9999."""
    try:
        if freq == DAILY:
            day = dtstart.date() + timedelta(days=periods)
        elif freq == WEEKLY:
            day = dtstart.date() + timedelta(weeks=periods)
        elif freq == MONTHLY:
            years, month = divmod(dtstart.month - 1 + periods, 12)
            day = date(dtstart.year + years, month + 1, dtstart.day)
        else:
            day = date(dtstart.year + periods, dtstart.month, dtstart.day)
    except (OverflowError, ValueError):
        return None
    return datetime.combine(day, dtstart.timetz())


# --- iteration -----------------------------------------------------------------------------------


def _rule_from(compiled: _Compiled, instant: datetime) -> rrule:
    """The rule restarted at the latest period boundary at or before `instant`.

    The rule's periods (years, months, weeks from WKST, or days, every INTERVAL of them) stay
    aligned to the first occurrence, and what dateutil would derive from DTSTART is passed
    explicitly, so the restarted rule produces exactly the original's occurrences from that
    boundary on. COUNT rules can be restarted because `_compile` turned COUNT into UNTIL.
    """
    first = compiled.dtstart
    target = instant.astimezone(compiled.zone)
    if target <= first:
        return compiled.rule
    step = compiled.interval
    if compiled.freq == YEARLY:
        periods = target.year - first.year
        periods -= periods % step
        boundary = date(first.year + periods, 1, 1)
    elif compiled.freq == MONTHLY:
        periods = (target.year - first.year) * 12 + target.month - first.month
        periods -= periods % step
        years, month = divmod(first.month - 1 + periods, 12)
        boundary = date(first.year + years, month + 1, 1)
    elif compiled.freq == WEEKLY:
        week = first.date() - timedelta(days=(first.weekday() - compiled.wkst) % 7)
        periods = (target.date() - week).days // 7
        periods -= periods % step
        boundary = week + timedelta(weeks=periods)
    else:
        periods = (target.date() - first.date()).days
        periods -= periods % step
        boundary = first.date() + timedelta(days=periods)
    if periods <= 0:
        return compiled.rule
    restart = datetime.combine(boundary, time(0), tzinfo=compiled.zone)
    return compiled.rule.replace(dtstart=restart, **compiled.derived)


def _candidates(
    compiled: _Compiled, lower: datetime, upper: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """(wall-clock start, UTC start) of the rule's occurrences with lower <= UTC start < upper.

    EXDATEs are not applied here.
    """
    stop = upper + _SLACK
    for local in _rule_from(compiled, lower - _SLACK):
        instant = local.astimezone(UTC)
        if instant >= stop:
            return
        if lower <= instant < upper:
            yield local, instant


def _starts(compiled: _Compiled, lower: datetime, upper: datetime) -> Iterator[datetime]:
    """UTC starts of the rule's occurrences in [lower, upper), EXDATEs not applied."""
    return (instant for _, instant in _candidates(compiled, lower, upper))
