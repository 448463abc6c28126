"""RRULE values: parse and check them, compile them for dateutil, iterate their UTC starts."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from resolvers.errors import CoveError, bad_input

MAX_RRULE_LENGTH: Final = 500
MAX_COUNT: Final = 10_000
MAX_INTERVAL: Final = 1000
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
# Wall-clock and real time differ by less than this around any daylight-saving change.
SLACK: Final = timedelta(days=1)
# An interval this large makes dateutil's second period fall after year 9999, so a probe
# looks at the first period only.
_PROBE_INTERVAL: Final = 10**7
# Zones that name this machine's setting or a placeholder rather than a place.
_NOT_PLACES: Final = frozenset({"localtime", "Factory"})


@dataclass(frozen=True, eq=False)
class CompiledRule:
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


def utc_instant(value: datetime, *, field: str) -> datetime:
    """An aware datetime as a UTC instant in whole seconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise bad_input("Times must include a time zone or UTC offset.", field=field)
    instant = value.astimezone(UTC).replace(microsecond=0)
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise bad_input(
            f"Times must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}.", field=field
        )
    return instant


def rule_error(message: str) -> CoveError:
    return bad_input(message, field="rrule")


def parse_rule(text: str, *, all_day: bool) -> dict[str, str]:
    """Check an RRULE value's syntax and return its parts in canonical form (UNTIL as given)."""
    if len(text) > MAX_RRULE_LENGTH:
        raise rule_error(f"The repeat rule can be at most {MAX_RRULE_LENGTH} characters long.")
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if "DTSTART" in body or ":" in body or "\n" in body or "\r" in body:
        raise rule_error(
            "The repeat rule must be a single RRULE value, without DTSTART or other lines."
        )
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise rule_error(f"The repeat rule part {name[:20]!r} has no value.")
        if name not in _PART_ORDER:
            raise rule_error(f"The repeat rule has an unknown part {name[:20]!r}.")
        if name in parts:
            raise rule_error(f"The repeat rule names {name} twice.")
        parts[name] = _canonical_value(name, value)
    freq = parts.get("FREQ")
    if freq is None:
        raise rule_error("The repeat rule needs a FREQ, such as FREQ=WEEKLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise rule_error("The repeat rule can have COUNT or UNTIL, not both.")
    numbered_days = "BYDAY" in parts and any(c.isdigit() for c in parts["BYDAY"])
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise rule_error("BYWEEKNO can only be used with FREQ=YEARLY.")
    if "BYYEARDAY" in parts and freq != "YEARLY":
        raise rule_error("BYYEARDAY can only be used with FREQ=YEARLY.")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise rule_error("BYMONTHDAY cannot be used with FREQ=WEEKLY.")
    if numbered_days and (freq not in {"MONTHLY", "YEARLY"} or "BYWEEKNO" in parts):
        raise rule_error(
            "Numbered days such as 1MO need FREQ=MONTHLY or FREQ=YEARLY without BYWEEKNO."
        )
    if "BYSETPOS" in parts and not any(n.startswith("BY") and n != "BYSETPOS" for n in parts):
        raise rule_error("BYSETPOS needs another BY part to pick from.")
    if all_day and any(n in parts for n in ("BYHOUR", "BYMINUTE", "BYSECOND")):
        raise rule_error("An all-day event cannot repeat at given hours, minutes or seconds.")
    return parts


def _canonical_value(name: str, value: str) -> str:
    if name == "FREQ":
        if value in _SUB_DAILY:
            raise rule_error("An event can repeat at most daily.")
        if value not in _FREQUENCIES:
            raise rule_error("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.")
        return value
    if name == "UNTIL":
        if not _UNTIL.fullmatch(value):
            raise rule_error("UNTIL must be a date (20260131) or a UTC time (20260131T170000Z).")
        return value
    if name in {"COUNT", "INTERVAL"}:
        largest = MAX_COUNT if name == "COUNT" else MAX_INTERVAL
        if not value.isdigit() or not 1 <= int(value) <= largest:
            raise rule_error(f"{name} must be a whole number from 1 to {largest}.")
        return str(int(value))
    if name == "WKST":
        if value not in _WEEKDAYS:
            raise rule_error("WKST must be a day such as MO.")
        return value
    items = [item.strip() for item in value.split(",")]
    if len(items) > 366 or not all(items):
        raise rule_error(f"{name} must be a comma-separated list.")
    if name in _TIME_OF_DAY and len(set(items)) > 1:
        # Several hours, minutes or seconds make a daily rule sub-daily (BYHOUR=0..23 with
        # BYMINUTE=0..59 and BYSECOND=0..59 is 86,400 a day), so they are refused like HOURLY.
        raise rule_error(
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
            raise rule_error(f"{name} values must be whole numbers from {span}.")
        numbers.append(str(number))
    return ",".join(numbers)


def _canonical_day(item: str) -> str:
    match = _BYDAY.fullmatch(item)
    if match is None:
        raise rule_error("BYDAY values must be days such as MO, or numbered days such as 1MO.")
    sign, number, day = match.groups()
    if number is None:
        if sign:
            raise rule_error("BYDAY values must be days such as MO, or numbered days such as 1MO.")
        return day
    if not 1 <= int(number) <= 53:
        raise rule_error("A numbered BYDAY must be from 1 to 53 (or -1 to -53).")
    return f"{'-' if sign == '-' else ''}{int(number)}{day}"


def render_rule(parts: dict[str, str]) -> str:
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
        raise rule_error("UNTIL is not a valid date.")
    day_text, time_text, utc = match.groups()
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
        moment = datetime.strptime(time_text, "%H%M%S").time() if time_text else None
    except ValueError:
        raise rule_error("UNTIL is not a valid date.") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_UNTIL_YEAR:
        raise rule_error(
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
def compile_rule(text: str, start: datetime, time_zone: str, all_day: bool) -> CompiledRule:
    """Parse and check a rule for a series whose first occurrence starts at `start` (UTC)."""
    zone = check_time_zone(time_zone)
    parts = parse_rule(text, all_day=all_day)
    dtstart = start.astimezone(zone)
    until: datetime | None = None
    if "UNTIL" in parts:
        until, parts["UNTIL"] = _until(parts["UNTIL"], zone, all_day=all_day)
        if until < dtstart:
            raise rule_error("The repeat rule ends before the event starts.")
    canonical = render_rule(parts)
    # dateutil reads WKST's default from the process-wide `calendar` setting: always give it.
    given = {name: value for name, value in parts.items() if name != "UNTIL"}
    given.setdefault("WKST", "MO")
    try:
        base = rrulestr(render_rule(given), dtstart=dtstart)
        if not isinstance(base, rrule):  # pragma: no cover - one RRULE value gives one rrule
            raise TypeError("not a single rule")
        if until is not None:
            base = base.replace(until=until)
    except (ValueError, TypeError, OverflowError):
        raise rule_error("The repeat rule is not valid.") from None

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
    return CompiledRule(
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
            raise rule_error(f"A repeat rule with COUNT must end within {MAX_SERIES_YEARS} years.")
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
        raise rule_error(f"A repeat rule with COUNT must end within {MAX_SERIES_YEARS} years.")
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


def _rule_from(compiled: CompiledRule, instant: datetime) -> rrule:
    """The rule restarted at the latest period boundary at or before `instant`.

    The rule's periods (years, months, weeks from WKST, or days, every INTERVAL of them) stay
    aligned to the first occurrence, and what dateutil would derive from DTSTART is passed
    explicitly, so the restarted rule produces exactly the original's occurrences from that
    boundary on. COUNT rules can be restarted because `compile_rule` turned COUNT into UNTIL.
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


def rule_candidates(
    compiled: CompiledRule, lower: datetime, upper: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """(wall-clock start, UTC start) of the rule's occurrences with lower <= UTC start < upper.

    EXDATEs are not applied here.
    """
    stop = upper + SLACK
    for local in _rule_from(compiled, lower - SLACK):
        instant = local.astimezone(UTC)
        if instant >= stop:
            return
        if lower <= instant < upper:
            yield local, instant


def rule_starts(compiled: CompiledRule, lower: datetime, upper: datetime) -> Iterator[datetime]:
    """UTC starts of the rule's occurrences in [lower, upper), EXDATEs not applied."""
    return (instant for _, instant in rule_candidates(compiled, lower, upper))
