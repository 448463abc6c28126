"""Occurrence expansion: cross-checked against dateutil and recurring_ical_events, DST, edits."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil.rrule import rrule, rrulestr

from resolvers.errors import CoveError, ErrorCode
from resolvers.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    Override,
    Series,
    check_series,
    expand,
    is_occurrence,
    series_until,
    split_series,
)
from resolvers.recurrence_rules import check_time_zone

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _series(
    start: datetime,
    rule: str | None,
    *,
    minutes: int = 60,
    exdates: tuple[datetime, ...] = (),
) -> Series:
    zone = start.tzinfo
    assert isinstance(zone, ZoneInfo)
    end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(zone)
    return Series(start, end, zone.key, False, rule, exdates)


def _all_day(day: date, zone: ZoneInfo, rule: str | None, days: int = 1) -> Series:
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=days), time(0), tzinfo=zone)
    return Series(start, end, zone.key, True, rule)


def _starts(occurrences: list[Occurrence]) -> list[datetime]:
    return [o.start for o in occurrences]


def _dateutil_starts(series: Series, lower: datetime, upper: datetime) -> list[datetime]:
    """The same question asked of dateutil directly: starts of occurrences in the window."""
    zone = ZoneInfo(series.time_zone)
    assert series.rrule is not None
    rule = rrulestr(series.rrule, dtstart=series.start.astimezone(zone))
    assert isinstance(rule, rrule)
    length = series.end - series.start
    found = rule.between(lower - length - timedelta(days=1), upper, inc=True)
    return sorted(
        s.astimezone(UTC) for s in found if s < upper and s.astimezone(UTC) + length > lower
    )


def _calendar(*events: icalendar.Event) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//test//EN")
    calendar.add("VERSION", "2.0")
    for event in events:
        calendar.add_component(event)
    return calendar


def _vevent(series: Series, uid: str = "series@test") -> icalendar.Event:
    zone = ZoneInfo(series.time_zone)
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", _utc(2026, 1, 1))
    if series.all_day:
        event.add("DTSTART", series.start.astimezone(zone).date())
        event.add("DTEND", series.end.astimezone(zone).date())
    else:
        event.add("DTSTART", series.start.astimezone(zone))
        event.add("DTEND", series.end.astimezone(zone))
    if series.rrule:
        event.add("RRULE", icalendar.vRecur.from_ical(series.rrule))
    for excluded in series.exdates:
        event.add("EXDATE", excluded.astimezone(zone))
    return event


def _override_vevent(
    series: Series, override: Override, uid: str = "series@test"
) -> icalendar.Event:
    zone = ZoneInfo(series.time_zone)
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", _utc(2026, 1, 1))
    event.add("RECURRENCE-ID", override.recurrence_id.astimezone(zone))
    if override.cancelled:
        length = series.end - series.start
        event.add("DTSTART", override.recurrence_id.astimezone(zone))
        event.add("DTEND", (override.recurrence_id + length).astimezone(zone))
        event.add("STATUS", "CANCELLED")
    else:
        assert override.start is not None and override.end is not None
        event.add("DTSTART", override.start.astimezone(zone))
        event.add("DTEND", override.end.astimezone(zone))
    return event


def _library_starts(
    calendar: icalendar.Calendar, zone: ZoneInfo, lower: datetime, upper: datetime
) -> list[datetime]:
    """Starts recurring_ical_events finds in the window (cancelled occurrences left out)."""
    starts = []
    for event in recurring_ical_events.of(calendar).between(lower, upper):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        value = event["DTSTART"].dt
        if not isinstance(value, datetime):
            value = datetime.combine(value, time(0), tzinfo=zone)
        starts.append(value.astimezone(UTC))
    return sorted(starts)


def _raises_bad_input(call: object, *args: object, **kwargs: object) -> CoveError:
    assert callable(call)
    with pytest.raises(CoveError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == ErrorCode.BAD_USER_INPUT
    assert caught.value.message.endswith(".")
    return caught.value


# --- cross-checks --------------------------------------------------------------------------------

CROSS_CHECKS = [
    # (rule, first start, window start, window end)
    (
        "FREQ=DAILY",
        datetime(2026, 1, 10, 8, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        (2026, 3, 1),
        (2026, 4, 15),
    ),
    (
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        datetime(2025, 10, 1, 18, 0, tzinfo=NEW_YORK),
        (2025, 10, 20),
        (2025, 11, 20),
    ),
    (
        "FREQ=MONTHLY;BYMONTHDAY=31",
        datetime(2026, 1, 31, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
        (2026, 1, 1),
        (2026, 12, 31),
    ),
    ("FREQ=YEARLY", datetime(2020, 2, 29, 12, 0, tzinfo=PARIS), (2023, 6, 1), (2024, 6, 1)),
    (
        "FREQ=YEARLY;BYMONTH=6;BYDAY=-1SU",
        datetime(2019, 6, 30, 15, 0, tzinfo=PARIS),
        (2025, 1, 1),
        (2026, 1, 1),
    ),
    (
        "FREQ=WEEKLY;COUNT=5;BYDAY=TU,TH",
        datetime(2026, 3, 3, 9, 0, tzinfo=PARIS),
        (2026, 3, 1),
        (2026, 4, 1),
    ),
    (
        "FREQ=DAILY;UNTIL=20260320T000000Z",
        datetime(2026, 3, 10, 7, 0, tzinfo=PARIS),
        (2026, 3, 1),
        (2026, 4, 1),
    ),
    (
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU",
        datetime(2024, 1, 1, 10, 0, tzinfo=NEW_YORK),
        (2026, 2, 1),
        (2026, 5, 1),
    ),
    (
        "FREQ=MONTHLY;BYDAY=2TU",
        datetime(2019, 1, 8, 14, 0, tzinfo=NEW_YORK),
        (2026, 1, 1),
        (2026, 12, 1),
    ),
    (
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        datetime(2019, 1, 31, 17, 0, tzinfo=PARIS),
        (2026, 1, 1),
        (2026, 7, 1),
    ),
    (
        "FREQ=DAILY;INTERVAL=3",
        datetime(2018, 5, 5, 6, 15, tzinfo=ZoneInfo("Australia/Sydney")),
        (2026, 3, 20),
        (2026, 4, 20),
    ),
    (
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        datetime(2021, 5, 17, 9, 0, tzinfo=PARIS),
        (2025, 1, 1),
        (2026, 1, 1),
    ),
    ("FREQ=DAILY;COUNT=3000", datetime(2020, 1, 1, 8, 0, tzinfo=PARIS), (2026, 1, 1), (2026, 3, 1)),
    (
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=-1",
        datetime(2020, 1, 31, 20, 0, tzinfo=ZoneInfo("UTC")),
        (2025, 1, 1),
        (2026, 1, 1),
    ),
    ("FREQ=WEEKLY", datetime(2026, 4, 1, 23, 30, tzinfo=NEW_YORK), (2026, 4, 1), (2027, 4, 1)),
    (
        "FREQ=DAILY;BYDAY=SA,SU;BYHOUR=9",
        datetime(2026, 3, 28, 9, 0, tzinfo=PARIS),
        (2026, 3, 1),
        (2026, 4, 30),
    ),
]


@pytest.mark.parametrize(
    ("rule", "start", "lower", "upper"), CROSS_CHECKS, ids=[c[0] for c in CROSS_CHECKS]
)
def test_expand_matches_dateutil_and_recurring_ical_events(
    rule: str, start: datetime, lower: tuple[int, int, int], upper: tuple[int, int, int]
) -> None:
    series = _series(start, rule)
    window = (_utc(*lower), _utc(*upper))
    found = expand(series, [], *window)
    assert found, "every case should have occurrences in its window"
    assert _starts(found) == _dateutil_starts(series, *window)
    zone = ZoneInfo(series.time_zone)
    assert _starts(found) == _library_starts(_calendar(_vevent(series)), zone, *window)
    for occurrence in found:
        assert occurrence.recurrence_id == occurrence.start
        assert occurrence.end - occurrence.start == timedelta(minutes=60)
        assert occurrence.override is None


def test_all_day_series_matches_the_libraries() -> None:
    zone = ZoneInfo("America/Los_Angeles")
    series = _all_day(date(2026, 2, 27), zone, "FREQ=WEEKLY;BYDAY=FR", days=3)
    window = (_utc(2026, 3, 1), _utc(2026, 4, 1))
    found = expand(series, [], *window)
    # Feb 27 - Mar 2 overlaps the window; the DST change on Mar 8 keeps midnights local.
    assert [o.start.astimezone(zone).date() for o in found] == [
        date(2026, 2, 27),
        date(2026, 3, 6),
        date(2026, 3, 13),
        date(2026, 3, 20),
        date(2026, 3, 27),
    ]
    for occurrence in found:
        assert occurrence.start.astimezone(zone).time() == time(0)
        assert occurrence.end.astimezone(zone).time() == time(0)
        assert (
            occurrence.end.astimezone(zone).date() - occurrence.start.astimezone(zone).date()
        ).days == 3
    assert _starts(found) == _library_starts(_calendar(_vevent(series)), zone, *window)


def test_random_rules_match_dateutil() -> None:
    """Many rules, old and new starts, random windows: the restarted rule never drifts."""
    chooser = random.Random(5545)
    pieces = {
        "DAILY": [
            "",
            ";BYDAY=MO,TU,WE,TH,FR",
            ";BYMONTH=1,7",
            ";BYHOUR=20",
            ";BYMONTHDAY=1,15,-1",
        ],
        "WEEKLY": [
            "",
            ";BYDAY=TU,SA",
            ";BYDAY=SU;WKST=SU",
            ";BYDAY=MO,WE,FR;BYSETPOS=1",
            ";BYMONTH=3,9",
        ],
        "MONTHLY": [
            "",
            ";BYMONTHDAY=-1",
            ";BYDAY=1MO,-1FR",
            ";BYDAY=SA,SU;BYSETPOS=-1",
            ";BYMONTHDAY=13;BYDAY=FR",
        ],
        "YEARLY": [
            "",
            ";BYMONTH=3;BYDAY=2SU",
            ";BYYEARDAY=100,200",
            ";BYWEEKNO=1,52;BYDAY=TH",
            ";BYMONTH=2;BYMONTHDAY=29",
        ],
    }
    zones = [
        PARIS,
        NEW_YORK,
        ZoneInfo("Asia/Kolkata"),
        ZoneInfo("Australia/Lord_Howe"),
        ZoneInfo("UTC"),
    ]
    checked = 0
    while checked < 150:
        freq = chooser.choice(list(pieces))
        rule = f"FREQ={freq}{chooser.choice(pieces[freq])}"
        if chooser.random() < 0.5:
            rule += f";INTERVAL={chooser.choice([2, 3, 5])}"
        zone = chooser.choice(zones)
        seed = datetime(
            chooser.randint(2005, 2026),
            chooser.randint(1, 12),
            chooser.randint(1, 28),
            chooser.randint(0, 23),
            chooser.choice([0, 30]),
            tzinfo=zone,
        )
        # Start the series on its own first occurrence, as check_series requires.
        probe = rrulestr(rule, dtstart=seed)
        assert isinstance(probe, rrule)
        first = probe.after(seed, inc=True)
        if first is None:
            continue
        first = first.astimezone(UTC).astimezone(zone)
        again = rrulestr(rule, dtstart=first)
        assert isinstance(again, rrule)
        if again.after(first, inc=True) != first:
            continue
        series = _series(first, rule, minutes=chooser.choice([30, 90, 60 * 30]))
        lower = first.astimezone(UTC) + timedelta(days=chooser.randint(-30, 4000))
        window = (lower, lower + timedelta(days=chooser.randint(1, 120)))
        assert _starts(expand(series, [], *window)) == _dateutil_starts(series, *window), rule
        checked += 1


# --- daylight saving -----------------------------------------------------------------------------


def test_weekly_meeting_keeps_local_time_across_spring_change_in_paris() -> None:
    series = _series(datetime(2026, 3, 16, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY")
    found = expand(series, [], _utc(2026, 3, 1), _utc(2026, 4, 30))
    assert [o.start.astimezone(PARIS).time() for o in found] == [time(9, 0)] * 7
    assert [o.start.hour for o in found] == [8, 8, 7, 7, 7, 7, 7]  # UTC hours
    assert all(o.end - o.start == timedelta(hours=1) for o in found)


def test_weekly_meeting_keeps_local_time_across_autumn_change_in_new_york() -> None:
    series = _series(datetime(2026, 10, 20, 9, 0, tzinfo=NEW_YORK), "FREQ=WEEKLY;BYDAY=TU")
    found = expand(series, [], _utc(2026, 10, 15), _utc(2026, 11, 30))
    assert [o.start.astimezone(NEW_YORK).time() for o in found] == [time(9, 0)] * 6
    assert [o.start.hour for o in found] == [13, 13, 14, 14, 14, 14]


def test_spring_forward_gap_reads_the_time_with_the_offset_before_the_jump() -> None:
    # 02:30 does not exist in Paris on 2026-03-29: RFC 5545 reads it with the offset before
    # the jump (+01:00), which is 01:30 UTC, 03:30 local.
    series = _series(datetime(2026, 3, 27, 2, 30, tzinfo=PARIS), "FREQ=DAILY")
    window = (_utc(2026, 3, 27), _utc(2026, 4, 1))
    found = expand(series, [], *window)
    assert _starts(found) == [
        _utc(2026, 3, 27, 1, 30),
        _utc(2026, 3, 28, 1, 30),
        _utc(2026, 3, 29, 1, 30),
        _utc(2026, 3, 30, 0, 30),
        _utc(2026, 3, 31, 0, 30),
    ]
    assert found[2].start.astimezone(PARIS).time() == time(3, 30)
    assert found[2].end - found[2].start == timedelta(hours=1)  # exact duration
    assert _starts(found) == _library_starts(_calendar(_vevent(series)), PARIS, *window)


def test_occurrences_last_exactly_as_long_as_the_first_across_a_change() -> None:
    # 22:00 for 8 hours; the night of 28-29 March loses an hour, so that occurrence ends at
    # 07:00 local (still 8 real hours, RFC 5545 section 3.8.5.3), not at 06:00.
    series = _series(datetime(2026, 3, 27, 22, 0, tzinfo=PARIS), "FREQ=DAILY", minutes=8 * 60)
    found = expand(series, [], _utc(2026, 3, 28, 12), _utc(2026, 3, 29, 12))
    assert [(o.start, o.end) for o in found] == [(_utc(2026, 3, 28, 21), _utc(2026, 3, 29, 5))]
    assert found[0].end.astimezone(PARIS).time() == time(7, 0)


def test_autumn_repeated_hour_takes_the_first_instance() -> None:
    series = _series(datetime(2026, 10, 23, 2, 30, tzinfo=PARIS), "FREQ=DAILY")
    found = expand(series, [], _utc(2026, 10, 24, 12), _utc(2026, 10, 26, 12))
    # 02:30 happens twice on 2026-10-25: the first time (CEST, 00:30 UTC) is the occurrence.
    assert _starts(found) == [_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)]


def test_series_cannot_start_in_the_repeated_hour() -> None:
    second_pass = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS)
    error = _raises_bad_input(check_series, _series(second_pass, "FREQ=DAILY"))
    assert error.field == "start"
    assert "clocks go back" in error.message
    # A single event there is fine.
    assert check_series(_series(second_pass, None)).start == _utc(2026, 10, 25, 1, 30)


# --- exdates and overrides -----------------------------------------------------------------------


def test_exdate_removes_exactly_that_occurrence() -> None:
    base = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY;BYDAY=MO,TH")
    window = (_utc(2026, 3, 1), _utc(2026, 4, 1))
    everything = _starts(expand(base, [], *window))
    excluded = everything[3]
    series = replace(base, exdates=(excluded,))
    found = _starts(expand(series, [], *window))
    assert found == [s for s in everything if s != excluded]
    assert found == _library_starts(_calendar(_vevent(series)), PARIS, *window)
    assert not is_occurrence(series, excluded)
    assert is_occurrence(series, everything[4])


def test_overrides_move_and_cancel_occurrences_like_recurring_ical_events() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY;COUNT=6")
    moved = Override(_utc(2026, 3, 9, 8), _utc(2026, 3, 10, 15), _utc(2026, 3, 10, 16))
    cancelled = Override(_utc(2026, 3, 16, 8), None, None, cancelled=True)
    # moved far away: only its new time is in the second window below
    far = Override(_utc(2026, 3, 23, 8), _utc(2026, 5, 5, 12), _utc(2026, 5, 5, 13))
    overrides = [moved, cancelled, far]
    calendar = _calendar(_vevent(series), *(_override_vevent(series, o) for o in overrides))

    window = (_utc(2026, 3, 1), _utc(2026, 4, 1))
    found = expand(series, overrides, *window)
    assert _starts(found) == [
        _utc(2026, 3, 2, 8),
        _utc(2026, 3, 10, 15),
        _utc(2026, 3, 30, 7),
    ]
    assert found[1].recurrence_id == _utc(2026, 3, 9, 8)
    assert found[1].override == moved
    assert found[1].end == _utc(2026, 3, 10, 16)
    assert _starts(found) == _library_starts(calendar, PARIS, *window)

    window = (_utc(2026, 5, 1), _utc(2026, 6, 1))
    found = expand(series, overrides, *window)
    assert [(o.recurrence_id, o.start) for o in found] == [
        (_utc(2026, 3, 23, 8), _utc(2026, 5, 5, 12))
    ]
    assert _starts(found) == _library_starts(calendar, PARIS, *window)


def test_override_moved_out_of_the_window_leaves_nothing_behind() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY")
    moved = Override(_utc(2026, 3, 9, 8), _utc(2026, 6, 1, 8), _utc(2026, 6, 1, 9))
    found = expand(series, [moved], _utc(2026, 3, 8), _utc(2026, 3, 12))
    assert found == []


def test_overrides_of_instants_that_are_not_occurrences_are_ignored() -> None:
    series = _series(
        datetime(2026, 3, 2, 9, 0, tzinfo=PARIS),
        "FREQ=WEEKLY;COUNT=3",
        exdates=(_utc(2026, 3, 9, 8),),
    )
    orphans = [
        Override(_utc(2026, 3, 9, 8), _utc(2026, 3, 11, 8), _utc(2026, 3, 11, 9)),  # excluded
        Override(_utc(2026, 3, 23, 8), _utc(2026, 3, 12, 8), _utc(2026, 3, 12, 9)),  # past COUNT
        Override(_utc(2026, 3, 3, 8), _utc(2026, 3, 13, 8), _utc(2026, 3, 13, 9)),  # not a Monday
    ]
    found = expand(series, orphans, _utc(2026, 3, 1), _utc(2026, 4, 1))
    assert _starts(found) == [_utc(2026, 3, 2, 8), _utc(2026, 3, 16, 8)]


def test_single_event() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), None, minutes=90)
    assert expand(series, [], _utc(2026, 3, 2, 9), _utc(2026, 3, 3)) == [
        Occurrence(None, _utc(2026, 3, 2, 8), _utc(2026, 3, 2, 9, 30), None)
    ]
    assert expand(series, [], _utc(2026, 3, 2, 9, 30), _utc(2026, 3, 3)) == []
    assert series_until(series) == _utc(2026, 3, 2, 9, 30)


def test_occurrences_that_started_before_the_window_but_overlap_it_are_included() -> None:
    series = _series(datetime(2026, 3, 2, 22, 0, tzinfo=PARIS), "FREQ=DAILY", minutes=8 * 60)
    found = expand(series, [], _utc(2026, 3, 5, 3), _utc(2026, 3, 5, 4))
    assert _starts(found) == [_utc(2026, 3, 4, 21)]


# --- series_until --------------------------------------------------------------------------------


def test_series_until() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    assert series_until(_series(start, "FREQ=WEEKLY")) is None
    assert series_until(_series(start, "FREQ=WEEKLY;COUNT=5")) == _utc(2026, 3, 30, 8)
    assert series_until(_series(start, "FREQ=DAILY;UNTIL=20260310T120000Z")) == _utc(2026, 3, 10, 9)
    last_excluded = _series(start, "FREQ=WEEKLY;COUNT=5", exdates=(_utc(2026, 3, 30, 7),))
    assert series_until(last_excluded) == _utc(2026, 3, 23, 9)
    # A rare rule far from its UNTIL: Feb 29 falling on a Monday, until 2100.
    sparse = _series(
        datetime(2016, 2, 29, 9, 0, tzinfo=PARIS),
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;UNTIL=21000101T000000Z",
    )
    assert series_until(sparse) == _utc(2072, 2, 29, 9)
    all_day = _all_day(date(2026, 3, 2), PARIS, "FREQ=DAILY;UNTIL=20260305", days=2)
    assert series_until(all_day) == datetime(2026, 3, 7, tzinfo=PARIS).astimezone(UTC)


# --- split_series --------------------------------------------------------------------------------


def _split_and_compare(
    series: Series, at: datetime, window: tuple[datetime, datetime]
) -> tuple[Series, Series]:
    original = _starts(expand(series, [], *window))
    first, second = split_series(series, at)
    head = _starts(expand(first, [], *window))
    tail = _starts(expand(second, [], *window))
    assert head + tail == original
    assert head and all(s < at for s in head)
    assert tail[0] == at
    assert second.start == at
    assert second.end - second.start == series.end - series.start
    return first, second


def test_split_count_rule() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=12")
    window = (_utc(2026, 3, 1), _utc(2026, 6, 1))
    at = _starts(expand(series, [], *window))[4]
    first, second = _split_and_compare(series, at, window)
    assert first.rrule is not None and "COUNT" not in first.rrule and "UNTIL=" in first.rrule
    assert second.rrule == "FREQ=WEEKLY;COUNT=8;BYDAY=MO,TH"
    assert len(expand(second, [], *window)) == 8


def test_split_infinite_rule_shares_out_exdates() -> None:
    start = datetime(2025, 11, 1, 7, 45, tzinfo=NEW_YORK)
    plain = _series(start, "FREQ=DAILY;INTERVAL=2")
    window = (_utc(2025, 11, 1), _utc(2026, 1, 15))
    everything = _starts(expand(plain, [], *window))
    series = replace(plain, exdates=(everything[3], everything[20]))
    at = everything[10]
    first, second = _split_and_compare(series, at, window)
    assert first.exdates == (everything[3],)
    assert second.exdates == (everything[20],)
    assert second.rrule == "FREQ=DAILY;INTERVAL=2"


def test_split_all_day_series() -> None:
    series = _all_day(date(2026, 3, 1), PARIS, "FREQ=WEEKLY;BYDAY=SU;COUNT=10")
    window = (_utc(2026, 2, 1), _utc(2026, 7, 1))
    at = _starts(expand(series, [], *window))[5]
    first, second = _split_and_compare(series, at, window)
    assert first.rrule == "FREQ=WEEKLY;UNTIL=20260404;BYDAY=SU"
    assert second.rrule == "FREQ=WEEKLY;COUNT=5;BYDAY=SU"


def test_split_refuses_what_is_not_a_later_occurrence() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=WEEKLY")
    for at in (_utc(2026, 3, 2, 8), _utc(2026, 3, 9, 9), _utc(2026, 3, 10, 8)):
        assert _raises_bad_input(split_series, series, at).field == "recurrenceId"
    assert _raises_bad_input(split_series, _series(series.start, None), _utc(2026, 3, 9, 8))
    gap = _series(datetime(2026, 3, 27, 2, 30, tzinfo=PARIS), "FREQ=DAILY")
    assert "skipped" in _raises_bad_input(split_series, gap, _utc(2026, 3, 29, 1, 30)).message


# --- bad input -----------------------------------------------------------------------------------


def test_end_before_start() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    error = _raises_bad_input(check_series, Series(start, start, "Europe/Paris", False, None))
    assert error.field == "end"
    assert "after the start" in error.message


def test_unknown_time_zone() -> None:
    for name in ("Mars/Olympus_Mons", "", "../../etc/passwd", "America", "localtime", "x" * 300):
        assert _raises_bad_input(check_time_zone, name).field == "timeZone"
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    series = Series(start, start + timedelta(hours=1), "Europe/Atlantis", False, None)
    assert _raises_bad_input(check_series, series).field == "timeZone"
    assert check_time_zone("Europe/Paris") == PARIS


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("FREQ=WEEKLY;FOO=1", "unknown part"),
        ("nonsense", "no value"),
        ("BYDAY=MO", "needs a FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ must be"),
        ("FREQ=SECONDLY", "at most daily"),
        ("FREQ=HOURLY;COUNT=3", "at most daily"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "not both"),
        ("FREQ=DAILY;UNTIL=20260101T000000Z", "ends before"),
        ("FREQ=DAILY;UNTIL=2026-01-01", "UNTIL"),
        ("FREQ=DAILY;FREQ=WEEKLY", "twice"),
        ("DTSTART:20260302T090000\nRRULE:FREQ=DAILY", "DTSTART"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
        ("FREQ=DAILY;BYDAY=1MO", "Numbered days"),
        ("FREQ=WEEKLY;BYSETPOS=1", "BYSETPOS"),
    ],
)
def test_malformed_rules(rule: str, words: str) -> None:
    error = _raises_bad_input(check_series, _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), rule))
    assert error.field == "rrule"
    assert words in error.message


def test_start_must_be_an_occurrence_of_the_rule() -> None:
    tuesday = datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)
    for rule in (
        "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    ):
        error = _raises_bad_input(check_series, _series(tuesday, rule))
        assert error.field == "start"


def test_window_limits() -> None:
    series = _series(datetime(2026, 3, 2, 9, 0, tzinfo=PARIS), "FREQ=DAILY")
    error = _raises_bad_input(expand, series, [], _utc(2026, 1, 1), _utc(2027, 1, 3))
    assert error.field == "to"
    assert "366 days" in error.message
    assert expand(series, [], _utc(2026, 1, 1), _utc(2027, 1, 2))  # exactly 366 days is fine
    assert _raises_bad_input(expand, series, [], _utc(2026, 3, 5), _utc(2026, 3, 5)).field == "to"
    assert _raises_bad_input(expand, series, [], _utc(2026, 3, 5), _utc(2026, 3, 4)).field == "to"
    naive = datetime(2026, 3, 5)
    assert _raises_bad_input(expand, series, [], naive, _utc(2026, 3, 6)).field == "from"


def test_more_occurrences_than_the_cap() -> None:
    series = _series(datetime(2026, 1, 1, 0, 0, tzinfo=ZoneInfo("UTC")), "FREQ=DAILY")
    # At most one occurrence a day: one series fills a 366-day window far below the cap.
    assert len(expand(series, [], _utc(2026, 1, 1), _utc(2027, 1, 2))) == 366 < MAX_OCCURRENCES
    error = _raises_bad_input(expand, series, [], _utc(2026, 1, 1), _utc(2026, 12, 1), limit=10)
    assert "10 occurrences" in error.message
    assert error.field == "to"
    assert len(expand(series, [], _utc(2026, 1, 1), _utc(2026, 1, 11), limit=10)) == 10


def test_duration_limits() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    error = _raises_bad_input(check_series, _series(start, None, minutes=(31 * 24 + 1) * 60))
    assert error.field == "end"
    assert "31 days" in error.message
    assert check_series(_series(start, None, minutes=31 * 24 * 60))
    assert (
        _raises_bad_input(check_series, _all_day(date(2026, 3, 1), PARIS, None, days=32)).field
        == "end"
    )


def test_all_day_shape() -> None:
    day = datetime(2026, 3, 2, tzinfo=PARIS)
    assert (
        _raises_bad_input(
            check_series,
            Series(day + timedelta(hours=1), day + timedelta(days=1), "Europe/Paris", True, None),
        ).field
        == "start"
    )
    assert (
        _raises_bad_input(
            check_series, Series(day, day + timedelta(hours=5), "Europe/Paris", True, None)
        ).field
        == "end"
    )
    assert (
        "all-day"
        in _raises_bad_input(
            check_series, _all_day(date(2026, 3, 2), PARIS, "FREQ=DAILY;BYHOUR=9")
        ).message
    )


def test_naive_times_and_far_years_are_refused() -> None:
    naive = Series(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10), "Europe/Paris", False, None)
    assert _raises_bad_input(check_series, naive).field == "start"
    ancient = _series(datetime(1500, 3, 2, 9, 0, tzinfo=PARIS), None)
    assert _raises_bad_input(check_series, ancient).field == "start"


def test_check_series_normalises() -> None:
    series = Series(
        datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=PARIS),
        datetime(2026, 3, 2, 10, 0, tzinfo=PARIS),
        "Europe/Paris",
        False,
        " rrule:freq=monthly;byday=+1mo,-1fr;interval=1;until=20260401T120000 ",
        (datetime(2026, 3, 4, 9, 0, tzinfo=PARIS), _utc(2026, 3, 4, 8)),
    )
    checked = check_series(series)
    # A floating UNTIL is read as Paris wall-clock time and stored in UTC.
    assert checked.rrule == "FREQ=MONTHLY;UNTIL=20260401T100000Z;BYDAY=1MO,-1FR"
    assert checked.start == _utc(2026, 3, 2, 8)
    assert checked.exdates == (_utc(2026, 3, 4, 8),)
    assert check_series(checked) == checked


# --- speed ---------------------------------------------------------------------------------------


def test_many_weekly_series_expand_quickly() -> None:
    """100 infinite weekly series, some started years ago, over 31 days (no timing assertion)."""
    series = [
        _series(datetime(2016 + i % 10, 1, 4 + i % 7, 9, i % 60, tzinfo=PARIS), "FREQ=WEEKLY")
        for i in range(100)
    ]
    found = [expand(s, [], _utc(2026, 5, 1), _utc(2026, 6, 1)) for s in series]
    assert all(4 <= len(f) <= 5 for f in found)


# --- bounded work (#11) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
        ";BYMINUTE=" + ",".join(map(str, range(60))) + ";BYSECOND=" + ",".join(map(str, range(60))),
        "FREQ=DAILY;BYHOUR=9,18",
        "FREQ=WEEKLY;BYMINUTE=0,30",
        "FREQ=YEARLY;BYSECOND=0,1",
    ],
    ids=["86400-a-day", "twice-a-day", "weekly-half-hours", "yearly-seconds"],
)
def test_time_of_day_lists_that_make_a_rule_sub_daily_are_refused(rule: str) -> None:
    start = datetime(2026, 1, 5, 0, 0, tzinfo=ZoneInfo("UTC"))
    error = _raises_bad_input(check_series, _series(start, rule))
    assert error.field == "rrule"
    assert "at most daily" in error.message
    # One value each is a time of day, not a second repetition.
    assert check_series(_series(start, "FREQ=DAILY;BYHOUR=0;BYMINUTE=0;BYSECOND=0,0"))


def test_count_end_matches_walking_the_rule() -> None:
    chooser = random.Random(11)
    bodies = [
        "FREQ=DAILY",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=DAILY;BYMONTH=1,7",
        "FREQ=DAILY;BYMONTHDAY=1,15,-1",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;BYDAY=TU,SA",
        "FREQ=WEEKLY;BYDAY=SU;WKST=SU",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=WEEKLY;BYMONTH=3,9",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;INTERVAL=5",
        "FREQ=YEARLY",
        "FREQ=MONTHLY;BYDAY=1MO,-1FR",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    ]
    for body in bodies:
        for _ in range(6):
            count = chooser.choice([1, 2, 7, 53, 400, 2000])
            day = datetime(2026, 1, 1, 9, 30, tzinfo=PARIS) + timedelta(days=chooser.randrange(400))
            rule = f"{body};COUNT={count}"
            first = rrulestr(rule, dtstart=day)
            assert isinstance(first, rrule)
            start = next(iter(first))  # an occurrence, so the series is valid
            series = _series(start, rule)
            last = list(first)[-1].astimezone(UTC)  # walked occurrence by occurrence
            if last > start + timedelta(days=366 * 100):
                assert "within 100 years" in _raises_bad_input(check_series, series).message
                continue
            assert series_until(series) == last + timedelta(minutes=60), rule
            window = (last - timedelta(days=1), last + timedelta(days=365))
            assert expand(series, [], *window)[-1].start == last, rule


def test_a_huge_count_is_checked_without_walking_every_day() -> None:
    """COUNT=30 on 29 February ends after 100 years: walking the DAILY rule to find out steps
    through 36,600 days; the YEARLY-equivalent rule takes 100 yearly steps. Timed against
    that walk in the same run, so a busy machine slows both."""
    leap = datetime(2024, 2, 29, 9, 0, tzinfo=ZoneInfo("UTC"))
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=30"
    check_series(_series(leap, "FREQ=YEARLY"))  # load the zone list before timing
    began = monotonic()
    for minute in range(20):
        error = _raises_bad_input(check_series, _series(leap.replace(minute=minute), rule))
        assert "within 100 years" in error.message
    checked = monotonic() - began
    began = monotonic()
    for minute in range(20):
        walk = rrulestr(rule, dtstart=leap.replace(minute=minute))
        assert isinstance(walk, rrule)
        assert len(list(walk.replace(count=None, until=leap + timedelta(days=36600)))) < 30
    walked = monotonic() - began
    assert checked * 5 < walked, f"checked in {checked:.3f} s, walked in {walked:.3f} s"
