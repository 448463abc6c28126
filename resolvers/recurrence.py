"""Recurring events: validate a series and expand it into the occurrences inside a time window.

A series is its first occurrence (`start`, `end`), an IANA time zone, and optionally an
RFC 5545 RRULE value plus EXDATEs. Expansion is done by `dateutil.rrule`; this module and
`resolvers.recurrence_rules` (the rules themselves) only validate rules, feed dateutil the
right start, and turn its output into UTC instants.

Time semantics, all decided here and relied upon by the calendar resolvers and `resolvers.ical_*`:

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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from resolvers.errors import bad_input
from resolvers.recurrence_rules import (
    SLACK,
    CompiledRule,
    check_time_zone,
    compile_rule,
    parse_rule,
    render_rule,
    rule_candidates,
    rule_starts,
    utc_instant,
)

MAX_WINDOW: Final = timedelta(days=366)
"""The longest window one query may ask for."""
MAX_OCCURRENCES: Final = 5000
"""The most occurrences one query returns; asking for more is BAD_USER_INPUT."""
MAX_EVENT_DURATION: Final = timedelta(days=31)
"""The longest one occurrence may last."""
MAX_EXDATES: Final = 5000
_ONE_SECOND: Final = timedelta(seconds=1)
_ONE_DAY: Final = timedelta(days=1)


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


def check_series(series: Series) -> Series:
    """Validate a series and return it normalised.

    Times come back in UTC with whole seconds, the rule in canonical form (upper case, parts in
    a fixed order, INTERVAL=1 dropped, UNTIL in its RFC 5545 form), EXDATEs sorted and unique.
    Fails with BAD_USER_INPUT (fields "start", "end", "timeZone", "rrule", "exdates").
    """
    zone = check_time_zone(series.time_zone)
    start = utc_instant(series.start, field="start")
    end = utc_instant(series.end, field="end")
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
    exdates = tuple(sorted({utc_instant(x, field="exdates") for x in series.exdates}))
    compiled = compile_rule(series.rrule, start, series.time_zone, series.all_day)
    return Series(start, end, series.time_zone, series.all_day, compiled.text, exdates)


def check_override(series: Series, override: Override) -> Override:
    """Validate an override's own shape and return it in UTC with whole seconds.

    A cancelled override keeps no times; a moved one needs an end after its start and lasts
    at most MAX_EVENT_DURATION. Whether its recurrence id is an occurrence is `is_occurrence`'s
    question: `expand` ignores overrides of instants the series does not produce.
    """
    if series.rrule is None:
        raise bad_input("Only an occurrence of a repeating event can be changed alone.")
    recurrence_id = utc_instant(override.recurrence_id, field="recurrenceId")
    if override.cancelled:
        return Override(recurrence_id, None, None, cancelled=True)
    if override.start is None or override.end is None:
        raise bad_input("A changed occurrence needs a start and an end.", field="start")
    start = utc_instant(override.start, field="start")
    end = utc_instant(override.end, field="end")
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
    instant = utc_instant(at, field="recurrenceId")
    if checked.rrule is None:
        return instant == checked.start
    if instant in checked.exdates:
        return False
    compiled = compile_rule(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    return instant in set(rule_starts(compiled, instant, instant + _ONE_SECOND))


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
    lower = utc_instant(window_start, field="from")
    upper = utc_instant(window_end, field="to")
    if upper <= lower:
        raise bad_input("The end of the range must be after its start.", field="to")
    if upper - lower > MAX_WINDOW:
        raise bad_input(f"A range can span at most {MAX_WINDOW.days} days.", field="to")
    checked = check_series(series)
    if checked.rrule is None:
        if checked.start < upper and checked.end > lower:
            return [Occurrence(None, checked.start, checked.end, None)]
        return []

    compiled = compile_rule(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    length = _length(checked)
    excluded = set(checked.exdates)
    changed = {utc_instant(o.recurrence_id, field="recurrenceId"): o for o in overrides}
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
    for start in rule_starts(compiled, first_candidate, upper):
        produced.add(start)
        if start in excluded or start in changed:
            continue
        end = _end_of(compiled, checked, start)
        if end > lower:
            add(Occurrence(start, start, end, None))

    for recurrence_id, override in changed.items():
        if override.cancelled or override.start is None or override.end is None:
            continue
        new_start = utc_instant(override.start, field="start")
        new_end = utc_instant(override.end, field="end")
        if not (new_start < upper and new_end > lower) or recurrence_id in excluded:
            continue
        if first_candidate <= recurrence_id < upper:
            known = recurrence_id in produced
        else:
            known = recurrence_id in set(
                rule_starts(compiled, recurrence_id, recurrence_id + _ONE_SECOND)
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
    compiled = compile_rule(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    if compiled.until is None:
        return None
    last_allowed = compiled.until.astimezone(UTC) + SLACK
    excluded = set(checked.exdates)
    span = timedelta(days=31)
    while True:
        whole = span >= last_allowed - checked.start
        lower = checked.start if whole else last_allowed - span
        kept = [s for s in rule_starts(compiled, lower, last_allowed) if s not in excluded]
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
    instant = utc_instant(at, field="recurrenceId")
    compiled = compile_rule(checked.rrule, checked.start, checked.time_zone, checked.all_day)
    if instant == checked.start:
        raise bad_input(
            "This is the first occurrence: change the whole series instead.",
            field="recurrenceId",
        )
    local = next(
        (w for w, s in rule_candidates(compiled, instant, instant + _ONE_SECOND) if s == instant),
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

    parts = parse_rule(checked.rrule, all_day=checked.all_day)
    head = {name: value for name, value in parts.items() if name != "COUNT"}
    if checked.all_day:
        head["UNTIL"] = (local.date() - _ONE_DAY).strftime("%Y%m%d")
    else:
        head["UNTIL"] = (instant - _ONE_SECOND).strftime("%Y%m%dT%H%M%SZ")
    tail = dict(parts)
    if "COUNT" in parts:
        before = sum(1 for _ in rule_starts(compiled, checked.start, instant))
        tail["COUNT"] = str(int(parts["COUNT"]) - before)
    first = check_series(
        Series(
            checked.start,
            checked.end,
            checked.time_zone,
            checked.all_day,
            render_rule(head),
            tuple(x for x in checked.exdates if x < instant),
        )
    )
    second = check_series(
        Series(
            instant,
            _end_of(compiled, checked, instant),
            checked.time_zone,
            checked.all_day,
            render_rule(tail),
            tuple(x for x in checked.exdates if x >= instant),
        )
    )
    # dateutil's first WEEKLY period is the rest of the start's week, which BYSETPOS can read
    # differently from the full week: make sure the second series goes on exactly as before.
    check_until = instant + timedelta(days=8)
    tail_compiled = compile_rule(second.rrule or "", second.start, second.time_zone, second.all_day)
    if list(rule_starts(compiled, instant, check_until)) != list(
        rule_starts(tail_compiled, instant, check_until)
    ):
        raise bad_input("This series cannot be split at that occurrence.", field="recurrenceId")
    return first, second


# --- series helpers ----------------------------------------------------------------------------


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


def _end_of(compiled: CompiledRule, series: Series, start: datetime) -> datetime:
    """The end of the occurrence that starts at `start`."""
    if series.all_day:
        days = series.end.astimezone(compiled.zone).date() - compiled.dtstart.date()
        return _midnight(start.astimezone(compiled.zone).date() + days, compiled.zone)
    return start + (series.end - series.start)
