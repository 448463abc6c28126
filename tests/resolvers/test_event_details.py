"""The pure merge of a whole-series edit (`merge_change`) and when it orphans overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from resolvers.errors import CoveError, ErrorCode
from resolvers.event_details import (
    EventChanges,
    EventDetails,
    merge_change,
    merged_texts,
    series_retimed,
)
from resolvers.recurrence import Series

START = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
END = START + timedelta(hours=1)
WEEKLY = "FREQ=WEEKLY;BYDAY=MO"
SERIES = Series(START, END, "Europe/Paris", False, WEEKLY, (START + timedelta(weeks=2),))
DETAILS = EventDetails(
    uid="e1@cove",
    title="Standup",
    description="Daily sync",
    location="Room 4",
    rrule=WEEKLY,
    exdates=SERIES.exdates,
    reminders=(5, 15),
    video_url="https://meet.example/standup",
)


def _merge(**fields: object) -> tuple[Series, EventDetails]:
    return merge_change(SERIES, DETAILS, EventChanges(**fields))  # type: ignore[arg-type]


def _error(**fields: object) -> CoveError:
    with pytest.raises(CoveError) as caught:
        _merge(**fields)
    assert caught.value.code is ErrorCode.BAD_USER_INPUT
    return caught.value


def test_no_change_keeps_everything() -> None:
    series, details = _merge()
    assert series == SERIES
    assert details == DETAILS


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("title", "  Retro  ", "Retro"),
        ("description", "Weekly sync", "Weekly sync"),
        ("description", "   ", None),
        ("location", "Room 5", "Room 5"),
        ("location", "", None),
        ("video_url", " https://meet.example/retro ", "https://meet.example/retro"),
        ("video_url", "", None),
    ],
)
def test_text_fields_replaced_or_cleared(name: str, given: str, expected: str | None) -> None:
    series, details = _merge(**{name: given})
    assert getattr(details, name) == expected
    assert series == SERIES
    others = {f: getattr(DETAILS, f) for f in ("title", "description", "location", "video_url")}
    assert {f: getattr(details, f) for f in others if f != name} == {
        f: v for f, v in others.items() if f != name
    }


def test_reminders_replaced_sorted_and_unique_or_cleared() -> None:
    assert _merge(reminders=[30, 0, 30])[1].reminders == (0, 30)
    assert _merge(reminders=[])[1].reminders == ()
    assert _merge()[1].reminders == (5, 15)


def test_uid_never_changes() -> None:
    assert _merge(title="Other", rrule="FREQ=DAILY")[1].uid == "e1@cove"


def test_start_alone_moves_the_start_and_keeps_the_end() -> None:
    series, _ = _merge(start=START - timedelta(weeks=1))
    assert (series.start, series.end) == (START - timedelta(weeks=1), END)


def test_start_and_end_shift_together_given_in_any_offset() -> None:
    paris = timezone(timedelta(hours=1))
    later = START + timedelta(weeks=1, hours=2)
    series, details = _merge(start=later.astimezone(paris), end=(later + timedelta(hours=1)))
    assert series.start == later
    assert series.start.tzinfo is UTC
    assert series.end == later + timedelta(hours=1)
    assert details.rrule == WEEKLY


def test_end_alone_lengthens_every_occurrence() -> None:
    series, _ = _merge(end=END + timedelta(minutes=30))
    assert (series.start, series.end) == (START, END + timedelta(minutes=30))


def test_time_zone_replaced_but_an_empty_one_keeps_the_old() -> None:
    assert _merge(time_zone="America/New_York")[0].time_zone == "America/New_York"
    assert _merge(time_zone="")[0].time_zone == "Europe/Paris"


def test_all_day_kept_unless_given() -> None:
    assert _merge()[0].all_day is False
    midnight = datetime(2026, 3, 1, 23, tzinfo=UTC)  # midnight in Paris, a Monday there
    series, _ = _merge(all_day=True, start=midnight, end=midnight + timedelta(days=1))
    assert series.all_day is True


def test_rule_replaced_in_canonical_form_and_copied_to_the_details() -> None:
    series, details = _merge(rrule="freq=weekly;interval=1;byday=MO;count=4")
    assert series.rrule == "FREQ=WEEKLY;COUNT=4;BYDAY=MO"
    assert details.rrule == series.rrule


def test_an_empty_rule_ends_the_repeating() -> None:
    series, details = _merge(rrule="", exdates=[])
    assert series.rrule is None
    assert details.rrule is None
    assert details.exdates == series.exdates == ()


def test_exdates_replaced_in_utc_sorted_and_unique_or_cleared() -> None:
    third = START + timedelta(weeks=3)
    first = START + timedelta(weeks=1)
    series, details = _merge(exdates=[third, first.astimezone(timezone(timedelta(hours=5))), third])
    assert series.exdates == details.exdates == (first, third)
    assert _merge(exdates=[])[0].exdates == ()
    assert _merge()[0].exdates == SERIES.exdates


def test_ending_the_repeating_while_keeping_exdates_is_refused() -> None:
    assert _error(rrule="").field == "exdates"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start": datetime(2026, 3, 2, 9)}, "start"),
        ({"end": datetime(2026, 3, 2, 10)}, "end"),
        ({"exdates": [datetime(2026, 3, 9, 9)]}, "exdates"),
        ({"end": START - timedelta(minutes=1)}, "end"),
        ({"time_zone": "Mars/Olympus"}, "timeZone"),
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"title": "  "}, "title"),
        ({"reminders": [99_999]}, "reminders"),
        ({"video_url": "http://insecure.example"}, "videoRoomUrl"),
    ],
)
def test_bad_fields_are_refused_with_their_field(fields: dict[str, object], field: str) -> None:
    assert _error(**fields).field == field


def test_the_series_is_checked_before_the_details() -> None:
    assert _error(title="  ", end=START).field == "end"


@pytest.mark.parametrize(
    ("changes", "retimed"),
    [
        (EventChanges(), False),
        (EventChanges(title="Other", reminders=[1]), False),
        (EventChanges(end=END + timedelta(hours=1)), False),
        (EventChanges(exdates=[]), False),
        (EventChanges(start=START - timedelta(weeks=1)), True),
        (EventChanges(rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=3"), True),
        (EventChanges(time_zone="America/New_York"), True),
    ],
)
def test_series_retimed_when_original_starts_move(changes: EventChanges, retimed: bool) -> None:
    series, _ = merge_change(SERIES, DETAILS, changes)
    assert series_retimed(SERIES, series) is retimed


def test_merged_texts_keep_an_occurrence_s_unset_texts() -> None:
    assert merged_texts(EventChanges(), None, None, "Room 4") == (None, None, "Room 4")
    changed = merged_texts(EventChanges(title=" Moved ", location=""), None, "Notes", "Room 4")
    assert changed == ("Moved", "Notes", None)
