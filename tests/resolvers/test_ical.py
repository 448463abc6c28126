"""iCalendar import and export: round trips, real-world files, and errors with line numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from resolvers.errors import CoveError, ErrorCode
from resolvers.ical import (
    MAX_ICS_BYTES,
    MAX_ICS_EVENTS,
    IcsAttendee,
    IcsError,
    IcsEvent,
    IcsOverride,
    ics_bad_input,
)
from resolvers.ical_parse import parse_ics
from resolvers.ical_write import render_ics
from resolvers.recurrence import Override, Series, check_series, expand

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _events() -> list[IcsEvent]:
    return [
        IcsEvent(
            uid="single@test",
            title="Lunch, with; punctuation",
            description="Line one\nline two: \\ backslash",
            location="Café Münster",
            series=Series(
                datetime(2026, 3, 2, 12, tzinfo=PARIS),
                datetime(2026, 3, 2, 13, 30, tzinfo=PARIS),
                "Europe/Paris",
                False,
                None,
            ),
            attendees=(
                IcsAttendee("bob@example.com", "ACCEPTED"),
                IcsAttendee("amy@example.com", "NEEDS_ACTION"),
                IcsAttendee("cy@example.com", "DECLINED"),
                IcsAttendee("di@example.com", "TENTATIVE"),
            ),
            reminders=(10, 60),
            video_url="https://meet.example.com/abc-def",
        ),
        IcsEvent(
            uid="holiday@test",
            title="Holiday",
            description=None,
            location=None,
            series=Series(
                datetime(2026, 3, 5, tzinfo=NEW_YORK),
                datetime(2026, 3, 7, tzinfo=NEW_YORK),
                "America/New_York",
                True,
                "FREQ=YEARLY",
            ),
            reminders=(24 * 60,),
        ),
        IcsEvent(
            uid="standup@test",
            title="Standup",
            description="Daily-ish",
            location="Room 1",
            series=Series(
                datetime(2026, 3, 2, 9, tzinfo=PARIS),
                datetime(2026, 3, 2, 9, 15, tzinfo=PARIS),
                "Europe/Paris",
                False,
                "FREQ=WEEKLY;COUNT=12;BYDAY=MO,WE",
                (_utc(2026, 3, 4, 8), _utc(2026, 3, 30, 7)),
            ),
            overrides=(
                IcsOverride(
                    _utc(2026, 3, 9, 8),
                    _utc(2026, 3, 9, 10),
                    _utc(2026, 3, 9, 11),
                    False,
                    title="Moved standup",
                    location="Room 2",
                ),
                IcsOverride(_utc(2026, 3, 11, 8), None, None, True),
                # moved out of its week, and across the DST change
                IcsOverride(
                    _utc(2026, 3, 25, 8), _utc(2026, 4, 2, 13), _utc(2026, 4, 2, 14), False
                ),
            ),
            attendees=(IcsAttendee("bob@example.com", "TENTATIVE"),),
        ),
        IcsEvent(
            uid="utc-infinite@test",
            title="Backup check",
            description=None,
            location=None,
            series=Series(
                _utc(2026, 1, 31, 23, 30),
                _utc(2026, 2, 1, 0, 30),
                "UTC",
                False,
                "FREQ=MONTHLY;BYMONTHDAY=-1",
            ),
        ),
        IcsEvent(
            uid="days@test",
            title="Offsite",
            description=None,
            location=None,
            series=Series(
                datetime(2026, 3, 27, tzinfo=PARIS),
                datetime(2026, 3, 30, tzinfo=PARIS),
                "Europe/Paris",
                True,
                "FREQ=MONTHLY;UNTIL=20260630;BYDAY=-1FR",
                (datetime(2026, 4, 24, tzinfo=PARIS).astimezone(UTC),),
            ),
            overrides=(
                # the first occurrence shrinks to an afternoon
                IcsOverride(
                    datetime(2026, 3, 27, tzinfo=PARIS).astimezone(UTC),
                    _utc(2026, 3, 27, 13),
                    _utc(2026, 3, 27, 15),
                    False,
                ),
                IcsOverride(
                    datetime(2026, 5, 29, tzinfo=PARIS).astimezone(UTC),
                    datetime(2026, 5, 27, tzinfo=PARIS).astimezone(UTC),
                    datetime(2026, 5, 28, tzinfo=PARIS).astimezone(UTC),
                    False,
                ),
            ),
        ),
    ]


def _normalised(event: IcsEvent) -> IcsEvent:
    return IcsEvent(
        uid=event.uid,
        title=event.title,
        description=event.description,
        location=event.location,
        series=check_series(event.series),
        attendees=event.attendees,
        reminders=event.reminders,
        video_url=event.video_url,
        overrides=tuple(sorted(event.overrides, key=lambda o: o.recurrence_id)),
    )


def _occurrences(event: IcsEvent, lower: datetime, upper: datetime) -> list[tuple[datetime, ...]]:
    overrides = [Override(o.recurrence_id, o.start, o.end, o.cancelled) for o in event.overrides]
    return [
        (o.start, o.end, *((o.recurrence_id,) if o.recurrence_id else ()))
        for o in expand(event.series, overrides, lower, upper)
    ]


def _bad(text: str) -> CoveError:
    with pytest.raises(CoveError) as caught:
        parse_ics(text)
    assert caught.value.code == ErrorCode.BAD_USER_INPUT
    assert caught.value.field == "ics"
    return caught.value


def _calendar(*lines: str) -> str:
    return "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *lines, "END:VCALENDAR", ""]
    )


# --- round trips ---------------------------------------------------------------------------------


def test_render_then_parse_round_trips_events() -> None:
    originals = _events()
    text = render_ics("Team calendar", originals, stamp=STAMP)
    parsed = parse_ics(text)
    assert parsed == [_normalised(e) for e in originals]
    # and the occurrences are the same
    window = (_utc(2026, 2, 1), _utc(2027, 1, 1))
    for original, back in zip(originals, parsed, strict=True):
        assert _occurrences(back, *window) == _occurrences(original, *window)
    # rendering is deterministic for a fixed stamp, and stable through a second round trip
    assert render_ics("Team calendar", parsed, stamp=STAMP) == text


def test_rendered_calendar_is_read_alike_by_recurring_ical_events() -> None:
    originals = _events()
    text = render_ics("Team calendar", originals, stamp=STAMP)
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["X-WR-CALNAME"]) == "Team calendar"
    assert str(calendar["VERSION"]) == "2.0"
    # all-day dates need no zone: only Paris times carry a TZID
    assert {tz.tz_name for tz in calendar.timezones} == {"Europe/Paris"}
    lower, upper = _utc(2026, 2, 1), _utc(2026, 12, 31)
    for event in originals:
        zone = ZoneInfo(event.series.time_zone)
        library = []
        for found in recurring_ical_events.of(calendar).between(lower, upper):
            if str(found["UID"]) != event.uid or str(found.get("STATUS", "")) == "CANCELLED":
                continue
            start = found["DTSTART"].dt
            if not isinstance(start, datetime):
                start = datetime.combine(start, time(0), tzinfo=zone)
            library.append(start.astimezone(UTC))
        ours = [o[0] for o in _occurrences(event, lower, upper)]
        assert sorted(library) == ours, event.uid
        assert ours


def test_rendered_properties() -> None:
    text = render_ics("Team", _events()[:3], stamp=STAMP)
    calendar = icalendar.Calendar.from_ical(text)
    single, holiday, standup, moved, cancelled, far = calendar.walk("VEVENT")
    assert str(single["URL"]) == "https://meet.example.com/abc-def"
    assert [a.params["PARTSTAT"] for a in single["ATTENDEE"]] == [
        "ACCEPTED",
        "NEEDS-ACTION",
        "DECLINED",
        "TENTATIVE",
    ]
    assert str(single["ATTENDEE"][0]) == "mailto:bob@example.com"
    assert sorted(a["TRIGGER"].dt for a in single.walk("VALARM")) == [
        timedelta(minutes=-60),
        timedelta(minutes=-10),
    ]
    assert single["DTSTART"].params["TZID"] == "Europe/Paris"
    assert holiday["DTSTART"].dt == date(2026, 3, 5)
    assert holiday["DTEND"].dt == date(2026, 3, 7)
    assert standup["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=12;BYDAY=MO,WE"
    assert [d.dt for d in standup["EXDATE"].dts] == [
        datetime(2026, 3, 4, 9, tzinfo=PARIS),
        datetime(2026, 3, 30, 9, tzinfo=PARIS),
    ]
    assert moved["RECURRENCE-ID"].dt == datetime(2026, 3, 9, 9, tzinfo=PARIS)
    assert str(moved["SUMMARY"]) == "Moved standup"
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert far["DTSTART"].dt == datetime(2026, 4, 2, 15, tzinfo=PARIS)
    assert calendar.get_missing_tzids() == set()


# --- real-world files ----------------------------------------------------------------------------

GOOGLE_STYLE = (
    "BEGIN:VCALENDAR\r\n"
    "PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
    "VERSION:2.0\r\n"
    "CALSCALE:GREGORIAN\r\n"
    "METHOD:PUBLISH\r\n"
    "X-WR-CALNAME:Team\r\n"
    "X-WR-TIMEZONE:America/New_York\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:America/New_York\r\n"
    "X-LIC-LOCATION:America/New_York\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:-0500\r\n"
    "TZOFFSETTO:-0400\r\n"
    "TZNAME:EDT\r\n"
    "DTSTART:19700308T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:-0400\r\n"
    "TZOFFSETTO:-0500\r\n"
    "TZNAME:EST\r\n"
    "DTSTART:19701101T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Custom Berlin\r\n"
    "X-LIC-LOCATION:Europe/Berlin\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\n"
    "DTSTART;TZID=America/New_York:20260105T100000\r\n"
    "DTEND;TZID=America/New_York:20260105T103000\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO,TH\r\n"
    "EXDATE;TZID=America/New_York:20260112T100000\r\n"
    "EXDATE;TZID=America/New_York:20260115T100000,20260119T100000\r\n"
    "DTSTAMP:20260301T120000Z\r\n"
    "ORGANIZER;CN=Alice Example:mailto:alice@example.com\r\n"
    "UID:7kukuqrfedlm2f9t0vr42q4lqs@google.com\r\n"
    "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Alice \r\n"
    " Example;X-NUM-GUESTS=0:mailto:alice@example.com\r\n"
    "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=bo\r\n"
    " b@example.com;X-NUM-GUESTS=0:mailto:bob@example.com\r\n"
    "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\r\n"
    "CREATED:20251201T090000Z\r\n"
    "DESCRIPTION:Weekly sync to go through the board. This description is long \r\n"
    " enough that Google folds it\\, twice\\; really: it goes on and on and on an\r\n"
    "\td on.\r\n"
    "LAST-MODIFIED:20260301T115959Z\r\n"
    "LOCATION:\r\n"
    "SEQUENCE:3\r\n"
    "STATUS:CONFIRMED\r\n"
    "SUMMARY:Weekly sync\r\n"
    "TRANSP:OPAQUE\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:DISPLAY\r\n"
    "DESCRIPTION:This is an event reminder\r\n"
    "TRIGGER:-P0DT0H10M0S\r\n"
    "END:VALARM\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:EMAIL\r\n"
    "DESCRIPTION:This is an event reminder\r\n"
    "SUMMARY:Alarm notification\r\n"
    "ATTENDEE:mailto:alice@example.com\r\n"
    "TRIGGER:-P1D\r\n"
    "END:VALARM\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "DTSTART;TZID=America/New_York:20260126T140000\r\n"
    "DTEND;TZID=America/New_York:20260126T143000\r\n"
    "DTSTAMP:20260301T120000Z\r\n"
    "UID:7kukuqrfedlm2f9t0vr42q4lqs@google.com\r\n"
    "RECURRENCE-ID;TZID=America/New_York:20260126T100000\r\n"
    "SUMMARY:Weekly sync (afternoon)\r\n"
    "SEQUENCE:4\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "DTSTART;VALUE=DATE:20260214\r\n"
    "DTSTAMP:20260301T120000Z\r\n"
    "UID:b1@google.com\r\n"
    "SUMMARY:Company holiday\r\n"
    "TRANSP:TRANSPARENT\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)

OUTLOOK_STYLE = (
    "BEGIN:VCALENDAR\n"
    "METHOD:PUBLISH\n"
    "PRODID:Microsoft Exchange Server 2010\n"
    "VERSION:2.0\n"
    "X-WR-CALNAME:Calendar\n"
    "BEGIN:VTIMEZONE\n"
    "TZID:W. Europe Standard Time\n"
    "BEGIN:STANDARD\n"
    "DTSTART:16010101T030000\n"
    "TZOFFSETFROM:+0200\n"
    "TZOFFSETTO:+0100\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\n"
    "END:STANDARD\n"
    "BEGIN:DAYLIGHT\n"
    "DTSTART:16010101T020000\n"
    "TZOFFSETFROM:+0100\n"
    "TZOFFSETTO:+0200\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\n"
    "END:DAYLIGHT\n"
    "END:VTIMEZONE\n"
    "BEGIN:VEVENT\n"
    "DESCRIPTION:\\n\n"
    "RRULE:FREQ=MONTHLY;UNTIL=20260701T070000Z;INTERVAL=1;BYDAY=1TU\n"
    "EXDATE;TZID=W. Europe Standard Time:20260407T090000\n"
    "UID:040000008200E00074C5B7101A82E00800000000A0F1B2C3D4E5F60100000000000000001\n"
    " 0000000B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7\n"
    "SUMMARY;LANGUAGE=en-US:Monthly review\n"
    "DTSTART;TZID=W. Europe Standard Time:20260106T090000\n"
    "DURATION:PT45M\n"
    "CLASS:PUBLIC\n"
    "PRIORITY:5\n"
    "DTSTAMP:20260301T101010Z\n"
    "TRANSP:OPAQUE\n"
    "STATUS:CONFIRMED\n"
    "SEQUENCE:0\n"
    "LOCATION;LANGUAGE=en-US:Teams\n"
    "X-MICROSOFT-CDO-APPT-SEQUENCE:0\n"
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY\n"
    "BEGIN:VALARM\n"
    "DESCRIPTION:REMINDER\n"
    "TRIGGER;RELATED=START:-PT15M\n"
    "ACTION:DISPLAY\n"
    "END:VALARM\n"
    "END:VEVENT\n"
    "BEGIN:VEVENT\n"
    "SUMMARY:No UID here\n"
    "DTSTART:20260210T150000Z\n"
    "DTEND:20260210T153000Z\n"
    "DTSTAMP:20260301T101010Z\n"
    "END:VEVENT\n"
    "END:VCALENDAR\n"
)


def test_parse_google_style_file() -> None:
    weekly, holiday = parse_ics(GOOGLE_STYLE)
    assert weekly.uid == "7kukuqrfedlm2f9t0vr42q4lqs@google.com"
    assert weekly.title == "Weekly sync"
    assert weekly.description is not None
    assert weekly.description.endswith("folds it, twice; really: it goes on and on and on and on.")
    assert weekly.series.time_zone == "America/New_York"
    assert weekly.series.start == _utc(2026, 1, 5, 15)
    assert weekly.series.end == _utc(2026, 1, 5, 15, 30)
    assert weekly.series.rrule == "FREQ=WEEKLY;BYDAY=MO,TH"
    assert weekly.series.exdates == (
        _utc(2026, 1, 12, 15),
        _utc(2026, 1, 15, 15),
        _utc(2026, 1, 19, 15),
    )
    assert weekly.attendees == (
        IcsAttendee("alice@example.com", "ACCEPTED"),
        IcsAttendee("bob@example.com", "NEEDS_ACTION"),
    )
    assert weekly.reminders == (10, 24 * 60)
    assert weekly.overrides == (
        IcsOverride(
            _utc(2026, 1, 26, 15),
            _utc(2026, 1, 26, 19),
            _utc(2026, 1, 26, 19, 30),
            False,
            title="Weekly sync (afternoon)",
        ),
    )
    starts = [o[0] for o in _occurrences(weekly, _utc(2026, 1, 1), _utc(2026, 2, 1))]
    assert starts == [
        _utc(2026, 1, 5, 15),
        _utc(2026, 1, 8, 15),
        _utc(2026, 1, 22, 15),
        _utc(2026, 1, 26, 19),
        _utc(2026, 1, 29, 15),
    ]
    # An all-day date without DTEND lasts one day; dates are read as UTC.
    assert holiday.series.all_day
    assert holiday.series.time_zone == "UTC"
    assert (holiday.series.start, holiday.series.end) == (_utc(2026, 2, 14), _utc(2026, 2, 15))


def test_parse_outlook_style_file() -> None:
    review, no_uid = parse_ics(OUTLOOK_STYLE)
    assert review.uid.startswith("040000008200E00074C5B7101A82E008") and review.uid.endswith("E6F7")
    assert review.series.time_zone == "Europe/Berlin"  # from the Windows zone name
    assert review.series.start == _utc(2026, 1, 6, 8)
    assert review.series.end - review.series.start == timedelta(minutes=45)
    assert review.series.rrule == "FREQ=MONTHLY;UNTIL=20260701T070000Z;BYDAY=1TU"
    assert review.series.exdates == (_utc(2026, 4, 7, 7),)
    assert review.location == "Teams"
    assert review.reminders == (15,)
    starts = [o[0] for o in _occurrences(review, _utc(2026, 1, 1), _utc(2026, 12, 1))]
    assert [s.astimezone(ZoneInfo("Europe/Berlin")).date() for s in starts] == [
        date(2026, 1, 6),
        date(2026, 2, 3),
        date(2026, 3, 3),
        date(2026, 5, 5),
        date(2026, 6, 2),
    ]
    # A generated UID is stable: the same event gives the same UID, whatever its DTSTAMP.
    assert no_uid.uid.endswith("@import.cove")
    restamped = OUTLOOK_STYLE.replace("DTSTAMP:20260301T101010Z", "DTSTAMP:20270101T000000Z")
    assert parse_ics(restamped)[1].uid == no_uid.uid
    renamed = OUTLOOK_STYLE.replace("SUMMARY:No UID here", "SUMMARY:Other")
    assert parse_ics(renamed)[1].uid != no_uid.uid


def test_time_zone_ids_from_vendors() -> None:
    text = _calendar(
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20260302T090000",
        "DTEND;TZID=Custom Berlin:20260302T100000",
        "END:VEVENT",
        "BEGIN:VTIMEZONE",
        "TZID:Custom Berlin",
        "X-LIC-LOCATION:Europe/Berlin",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        "UID:b",
        "DTSTART:20260302T090000",
        "DTEND:20260302T100000",
        "END:VEVENT",
    )
    with pytest.warns(UserWarning, match="globally unique TZID"):  # icalendar guessed it too
        vendor, floating = parse_ics(text)
    assert vendor.series.time_zone == "Europe/Paris"
    assert (vendor.series.start, vendor.series.end) == (_utc(2026, 3, 2, 8), _utc(2026, 3, 2, 9))
    assert floating.series.time_zone == "UTC"  # floating times are read as UTC
    assert floating.series.start == _utc(2026, 3, 2, 9)


def test_exdate_forms_and_alarm_triggers() -> None:
    text = _calendar(
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;TZID=Europe/Paris:20260302T090000",
        "DTEND;TZID=Europe/Paris:20260302T100000",
        "RRULE:FREQ=DAILY;COUNT=10",
        "EXDATE;VALUE=DATE:20260303",  # a date alone: that day's occurrence
        "EXDATE:20260304T090000,20260305T080000Z",  # floating: Paris time; UTC
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER;RELATED=END:-PT75M",  # 75 minutes before the end: 15 before the start
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER;VALUE=DATE-TIME:20260302T060000Z",  # two hours before
        "END:VALARM",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "TRIGGER:PT5M",  # after the start: not a reminder
        "END:VALARM",
        "END:VEVENT",
    )
    (event,) = parse_ics(text)
    assert event.series.exdates == (_utc(2026, 3, 3, 8), _utc(2026, 3, 4, 8), _utc(2026, 3, 5, 8))
    assert event.reminders == (15, 120)
    starts = [o[0] for o in _occurrences(event, _utc(2026, 3, 1), _utc(2026, 3, 8))]
    assert [s.day for s in starts] == [2, 6, 7]


def test_lone_changed_occurrence_becomes_a_single_event() -> None:
    text = _calendar(
        "BEGIN:VEVENT",
        "UID:invite@example.com",
        "RECURRENCE-ID:20260302T090000Z",
        "DTSTART:20260302T100000Z",
        "DTEND:20260302T110000Z",
        "SUMMARY:Just this one",
        "END:VEVENT",
    )
    (event,) = parse_ics(text)
    assert event.uid == "invite@example.com"
    assert event.series.rrule is None
    assert event.series.start == _utc(2026, 3, 2, 10)


def test_zero_length_and_cancelled_series() -> None:
    text = _calendar(
        "BEGIN:VEVENT",
        "UID:pin",
        "DTSTART:20260302T090000Z",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:gone",
        "DTSTART:20260302T090000Z",
        "DTEND:20260302T100000Z",
        "RRULE:FREQ=DAILY",
        "STATUS:CANCELLED",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:gone",
        "RECURRENCE-ID:20260303T090000Z",
        "DTSTART:20260303T120000Z",
        "DTEND:20260303T130000Z",
        "END:VEVENT",
    )
    (pin,) = parse_ics(text)
    assert pin.series.end - pin.series.start == timedelta(minutes=1)


# --- malformed input -----------------------------------------------------------------------------


def test_broken_content_line_reports_its_line() -> None:
    text = (
        "BEGIN:VCALENDAR\r\n"  # 1
        "VERSION:2.0\r\n"  # 2
        "PRODID:-//test//EN\r\n"  # 3
        "BEGIN:VEVENT\r\n"  # 4
        "DESCRIPTION:folded over\r\n"  # 5
        "  two lines\r\n"  # 6
        "THIS LINE HAS NO COLON\r\n"  # 7
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    error = _bad(text)
    assert error.message.startswith("line 7: ")
    assert "not a valid iCalendar line" in error.message
    # a broken parameter on a folded line is reported at the line where it starts
    assert _bad(
        text.replace("THIS LINE HAS NO COLON", "DTSTART;TZID\r\n =x:2026")
    ).message.startswith("line 7: ")


def test_dtend_before_dtstart_reports_the_dtend_line() -> None:
    text = _calendar(
        "BEGIN:VEVENT",  # 4
        "UID:a",
        "DTSTART:20260302T090000Z",
        "DTEND:20260302T080000Z",  # 7
        "END:VEVENT",
    )
    error = _bad(text)
    assert error.message == "line 7: The event ends (DTEND) before it starts (DTSTART)."


def test_unknown_tzid() -> None:
    text = _calendar(
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART;TZID=Mars/Olympus_Mons:20260302T090000",  # 6
        "DTEND;TZID=Mars/Olympus_Mons:20260302T100000",
        "END:VEVENT",
    )
    error = _bad(text)
    assert error.message.startswith("line 6: Unknown time zone 'Mars/Olympus_Mons'")


def test_file_too_large() -> None:
    padding = "X-PADDING:" + "x" * 70 + "\r\n"
    text = "BEGIN:VCALENDAR\r\n" + padding * (MAX_ICS_BYTES // len(padding) + 1)
    assert "2 MiB" in _bad(text + "END:VCALENDAR\r\n").message
    # multi-byte characters count as bytes
    assert "2 MiB" in _bad("é" * (MAX_ICS_BYTES // 2 + 1)).message


def test_too_many_events() -> None:
    event = ["BEGIN:VEVENT", "UID:x{}", "DTSTART:20260302T090000Z", "END:VEVENT"]
    lines = [line.format(i) for i in range(MAX_ICS_EVENTS + 1) for line in event]
    error = _bad(_calendar(*lines))
    first_line_of_last = 3 + 4 * MAX_ICS_EVENTS + 1
    assert (
        error.message
        == f"line {first_line_of_last}: A file can hold at most {MAX_ICS_EVENTS:,} events."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty."),
        ("\r\n\r\n", "The file is empty."),
        ("Hello, this is not a calendar", "line 1: This is not a valid iCalendar line"),
        ("BEGIN:VCARD\r\nFN:Bob\r\nEND:VCARD\r\n", "line 1: An iCalendar file must start with"),
        ('{"events": []}', "line 1: This is not a valid iCalendar line"),
        (" folded:first\r\n", "line 1: A folded line must continue"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n", "line 2: BEGIN:VEVENT is never closed."),
        ("BEGIN:VCALENDAR\r\nEND:VEVENT\r\n", "line 2: END:VEVENT does not close BEGIN:VCALENDAR"),
        (
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nX:1\r\n",
            "line 3: Nothing may follow END:VCALENDAR.",
        ),
        ("BEGIN:VCALENDAR\r\nBEGIN:VCALENDAR\r\n", "line 2: A VCALENDAR cannot hold another"),
        (
            "BEGIN:VCALENDAR\r\nSUMMARY:a\x00b\r\nEND:VCALENDAR\r\n",
            "line 2: The line holds a control",
        ),
    ],
)
def test_not_a_calendar(text: str, message: str) -> None:
    assert _bad(text).message.startswith(message)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["UID:a", "SUMMARY:no start"], "line 4: The event has no DTSTART."),
        (
            ["UID:a", "DTSTART:20260302T090000Z", "RRULE:FREQ=SECONDLY"],
            "line 7: An event can repeat at most daily.",
        ),
        (
            ["UID:a", "DTSTART:20260302T090000Z", "RRULE:FREQ=WEEKLY;BYDAY=XX"],
            "line 7: RRULE has an invalid value.",
        ),
        (
            ["UID:a", "DTSTART:20260303T090000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO"],
            "line 6: The start must be one of",
        ),
        (
            ["UID:a", "DTSTART:20260302T090000Z", "DURATION:PT1H", "DTEND:20260302T100000Z"],
            "line 7: An event can have DTEND or DURATION",
        ),
        (
            ["UID:a", "DTSTART:20260302T090000Z", "DURATION:P40D"],
            "line 7: An event can last at most 31 days.",
        ),
        (
            ["UID:a", "DTSTART;VALUE=DATE:20260302", "DTEND:20260303T000000Z"],
            "line 7: DTEND must be a date",
        ),
        (["UID:a", "DTSTART:20260302T090000Z", "RDATE:20260305T090000Z"], "line 7: RDATE"),
        (["UID:a", "DTSTART:2026-03-02"], "line 6: DTSTART has an invalid value."),
    ],
)
def test_invalid_events_report_a_line(lines: list[str], message: str) -> None:
    assert _bad(_calendar("BEGIN:VEVENT", *lines, "END:VEVENT")).message.startswith(message)


def test_override_problems_report_their_line() -> None:
    master = [
        "BEGIN:VEVENT",
        "UID:a",
        "DTSTART:20260302T090000Z",
        "DTEND:20260302T100000Z",
        "RRULE:FREQ=DAILY",
        "END:VEVENT",
    ]
    moved = [
        "BEGIN:VEVENT",
        "UID:a",
        "RECURRENCE-ID:20260303T090000Z",
        "DTSTART:20260303T110000Z",
        "DTEND:20260303T100000Z",
        "END:VEVENT",
    ]
    assert _bad(_calendar(*master, *moved)).message.startswith("line 14: The event ends (DTEND)")
    twice = [*master[:-1], "END:VEVENT"]
    assert (
        "second event with the same UID (the first is on line 4)"
        in _bad(_calendar(*master, *twice)).message
    )


def test_nothing_is_returned_half_parsed() -> None:
    good = ["BEGIN:VEVENT", "UID:good", "DTSTART:20260302T090000Z", "END:VEVENT"]
    bad = [
        "BEGIN:VEVENT",
        "UID:bad",
        "DTSTART:20260302T090000Z",
        "DTEND:20260301T090000Z",
        "END:VEVENT",
    ]
    assert len(parse_ics(_calendar(*good))) == 1
    error = _bad(_calendar(*good, *bad))
    assert error.message.startswith("line 11: ")


def test_ics_error_helper() -> None:
    error = ics_bad_input(IcsError(12, "Something is off."))
    assert (error.code, error.field, error.message) == (
        ErrorCode.BAD_USER_INPUT,
        "ics",
        "line 12: Something is off.",
    )
    assert ics_bad_input(IcsError(None, "The file is empty.")).message == "The file is empty."
