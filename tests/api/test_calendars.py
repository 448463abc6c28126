"""Calendars as their users meet them: who sees which calendar, events with recurrence across
a daylight-saving change, occurrence edits, attendees, iCalendar feeds and imports, sealing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events
import worlds
from drive_support import CREATE_CH, services_of
from worlds import team_fields

from support import GraphQLClient, error_codes, make_settings, serve, settle, stored_contents

PARIS = ZoneInfo("Europe/Paris")
CREATE_CAL = """mutation($w: ID!, $n: String!, $p: Boolean! = false) {
  createCalendar(input: {workspaceId: $w, name: $n, personal: $p}) { calendar { id name personal viewerLevel } } }"""
CREATE_EVENT = """mutation($c: ID!, $e: EventFields!) {
  createEvent(input: {calendarId: $c, event: $e}) { event { id title start end timeZone recurrence } } }"""
UPDATE_EVENT = """mutation($i: ID!, $e: EventFields!, $s: EditScope!, $o: DateTime) {
  updateEvent(input: {eventId: $i, event: $e, scope: $s, occurrence: $o}) { event { id title } } }"""
DELETE_EVENT = """mutation($i: ID!, $s: EditScope!, $o: DateTime) {
  deleteEvent(input: {eventId: $i, scope: $s, occurrence: $o}) { deletedEventId } }"""
WINDOW = """query($c: ID!, $f: DateTime!, $t: DateTime!) { node(id: $c) { ... on Calendar {
  events(from: $f, to: $t) { occurrenceId start end title location changed event { id } } } } }"""
CALENDARS = (
    """query($w: ID!) { node(id: $w) { ... on Workspace { calendars { id name personal } } } }"""
)


@dataclass
class Team(worlds.Team):
    def calendar(
        self, name: str = "Team", *, who: GraphQLClient | None = None, personal: bool = False
    ) -> str:
        result = (who or self.owner).data(
            CREATE_CAL, {"w": self.ids["workspace"], "n": name, "p": personal}
        )
        calendar_id: str = result["createCalendar"]["calendar"]["id"]
        return calendar_id

    def event(self, calendar: str, who: GraphQLClient | None = None, **fields: Any) -> str:
        event_id: str = (who or self.owner).data(CREATE_EVENT, {"c": calendar, "e": fields})[
            "createEvent"
        ]["event"]["id"]
        return event_id

    def window(
        self, calendar: str, start: datetime, end: datetime, who: GraphQLClient | None = None
    ) -> list[dict[str, Any]]:
        result = (who or self.owner).data(
            WINDOW, {"c": calendar, "f": start.isoformat(), "t": end.isoformat()}
        )
        occurrences: list[dict[str, Any]] = result["node"]["events"]
        return occurrences


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        yield Team(**team_fields(server, data_dir, "cal.example"))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def starts(occurrences: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(o["start"]) for o in occurrences]


def test_who_sees_which_calendar(team: Team) -> None:
    shared = team.calendar("Team")
    mine = team.calendar("Olive's", personal=True)
    theirs = team.calendar("Member's", who=team.member, personal=True)
    owner_sees = {
        c["id"]
        for c in team.owner.data(CALENDARS, {"w": team.ids["workspace"]})["node"]["calendars"]
    }
    member_sees = {
        c["id"]
        for c in team.member.data(CALENDARS, {"w": team.ids["workspace"]})["node"]["calendars"]
    }
    guest_sees = team.guest.data(CALENDARS, {"w": team.ids["workspace"]})["node"]["calendars"]
    assert owner_sees == {shared, mine}  # not the member's personal calendar, even as owner
    assert member_sees == {shared, theirs}
    assert guest_sees == []
    assert error_codes(
        team.outsider.run(
            WINDOW, {"c": shared, "f": "2026-01-01T00:00:00Z", "t": "2026-02-01T00:00:00Z"}
        )
    ) == ["NOT_FOUND"]
    team.owner.data(
        "mutation($c: ID!, $u: ID) { shareCalendar(input: {calendarId: $c, userId: $u, level: READ}) { calendar { id } } }",
        {"c": shared, "u": team.ids["guest"]},
    )
    guest_now = team.guest.data(CALENDARS, {"w": team.ids["workspace"]})["node"]["calendars"]
    assert [c["id"] for c in guest_now] == [shared]
    refused = team.guest.run(
        CREATE_EVENT,
        {
            "c": shared,
            "e": {"title": "x", "start": "2026-01-05T09:00:00Z", "end": "2026-01-05T10:00:00Z"},
        },
    )
    assert error_codes(refused) == ["FORBIDDEN"]
    # Guests may keep a personal calendar, not make workspace ones.
    assert error_codes(team.guest.run(CREATE_CAL, {"w": team.ids["workspace"], "n": "G"})) == [
        "FORBIDDEN"
    ]
    assert team.calendar("Guest's", who=team.guest, personal=True)


def test_a_weekly_event_keeps_its_local_time_across_daylight_saving(team: Team) -> None:
    calendar = team.calendar()
    first = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)
    team.event(
        calendar,
        title="Stand-up",
        start=iso(first),
        end=iso(first + timedelta(minutes=15)),
        timeZone="Europe/Paris",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
    )
    window_start = datetime(2026, 3, 1, tzinfo=UTC)
    window_end = datetime(2026, 4, 30, tzinfo=UTC)
    found = team.window(calendar, window_start, window_end)
    got = starts(found)
    assert [g.astimezone(PARIS).hour for g in got] == [9] * len(got)
    assert [g.astimezone(UTC).hour for g in got][:2] == [8, 8]  # CET before 29 March
    assert [g.astimezone(UTC).hour for g in got][-1] == 7  # CEST after
    # The library's own expansion of the same rule agrees.
    event = icalendar.Event()
    event.add("uid", "x")
    event.add("dtstart", first)
    event.add("dtend", first + timedelta(minutes=15))
    event.add("rrule", icalendar.vRecur.from_ical("FREQ=WEEKLY;BYDAY=MO"))
    cal = icalendar.Calendar()
    cal.add_component(event)
    expected = [
        e["DTSTART"].dt for e in recurring_ical_events.of(cal).between(window_start, window_end)
    ]
    assert got == expected
    assert all(o["occurrenceId"] == o["start"] for o in found)


def test_editing_one_occurrence_this_and_following_and_all(team: Team) -> None:
    calendar = team.calendar()
    first = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)  # Mondays
    event = team.event(
        calendar,
        title="Review",
        start=iso(first),
        end=iso(first + timedelta(hours=1)),
        timeZone="Europe/Paris",
        recurrence="FREQ=WEEKLY;COUNT=6",
    )
    window = (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    original = team.window(calendar, *window)
    assert len(original) == 6
    # THIS: the second occurrence moves an hour later and gets its own title.
    second = original[1]["occurrenceId"]
    moved_start = datetime.fromisoformat(second) + timedelta(hours=1)
    team.owner.data(
        UPDATE_EVENT,
        {
            "i": event,
            "s": "THIS",
            "o": second,
            "e": {"title": "Review (moved)", "start": iso(moved_start)},
        },
    )
    now = team.window(calendar, *window)
    assert len(now) == 6
    assert now[1]["title"] == "Review (moved)" and now[1]["changed"] is True
    assert datetime.fromisoformat(now[1]["start"]) == moved_start
    assert now[1]["occurrenceId"] == second
    assert [o["title"] for o in now if o is not now[1]] == ["Review"] * 5
    # Changing more than time and text for one occurrence is refused.
    refused = team.owner.run(
        UPDATE_EVENT, {"i": event, "s": "THIS", "o": second, "e": {"recurrence": "FREQ=DAILY"}}
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    # An occurrence that does not exist is refused.
    refused = team.owner.run(
        UPDATE_EVENT, {"i": event, "s": "THIS", "o": "2026-05-05T08:00:00Z", "e": {"title": "x"}}
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    # THIS_AND_FOLLOWING from the fourth: a new series with the new title, same count in all.
    fourth = now[3]["occurrenceId"]
    team.owner.data(
        UPDATE_EVENT,
        {"i": event, "s": "THIS_AND_FOLLOWING", "o": fourth, "e": {"title": "Review v2"}},
    )
    split = team.window(calendar, *window)
    assert [o["title"] for o in split] == [
        "Review",
        "Review (moved)",
        "Review",
        "Review v2",
        "Review v2",
        "Review v2",
    ]
    assert len({o["event"]["id"] for o in split}) == 2
    assert starts(split)[3:] == starts(original)[3:]
    # ALL on the first series renames its three occurrences.
    team.owner.data(UPDATE_EVENT, {"i": event, "s": "ALL", "e": {"location": "Room 4"}})
    assert [o["location"] for o in team.window(calendar, *window)][:3] == ["Room 4"] * 3
    # Deleting one occurrence, then this and following.
    team.owner.data(DELETE_EVENT, {"i": event, "s": "THIS", "o": original[0]["occurrenceId"]})
    assert len(team.window(calendar, *window)) == 5
    later = split[4]["event"]["id"]
    team.owner.data(
        DELETE_EVENT, {"i": later, "s": "THIS_AND_FOLLOWING", "o": split[4]["occurrenceId"]}
    )
    assert [o["title"] for o in team.window(calendar, *window)] == [
        "Review (moved)",
        "Review",
        "Review v2",
    ]
    team.owner.data(DELETE_EVENT, {"i": later, "s": "ALL"})
    assert len(team.window(calendar, *window)) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T09:00:00Z"}, "end"),
        (
            {
                "start": "2026-01-05T09:00:00Z",
                "end": "2026-01-05T10:00:00Z",
                "timeZone": "Mars/Olympus",
            },
            "timeZone",
        ),
        (
            {
                "start": "2026-01-05T09:00:00Z",
                "end": "2026-01-05T10:00:00Z",
                "recurrence": "FREQ=SOMETIMES",
            },
            "rrule",
        ),
        (
            {
                "start": "2026-01-05T09:00:00Z",
                "end": "2026-01-05T10:00:00Z",
                "recurrence": "FREQ=SECONDLY",
            },
            "rrule",
        ),
        ({"start": "2026-01-05T09:00:00Z", "end": "2026-03-05T10:00:00Z"}, "end"),
        (
            {
                "start": "2026-01-05T09:00:00Z",
                "end": "2026-01-05T10:00:00Z",
                "videoRoomUrl": "javascript:alert(1)",
            },
            "videoRoomUrl",
        ),
        (
            {"start": "2026-01-05T09:00:00Z", "end": "2026-01-05T10:00:00Z", "reminders": [-5]},
            "reminders",
        ),
    ],
)
def test_bad_events_are_refused(team: Team, fields: dict[str, Any], field: str) -> None:
    calendar = team.calendar()
    result = team.owner.run(CREATE_EVENT, {"c": calendar, "e": {"title": "Bad", **fields}})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert (
        team.window(calendar, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
        == []
    )


def test_windows_are_bounded(team: Team) -> None:
    calendar = team.calendar()
    for n in range(15):
        team.event(
            calendar,
            title=f"Daily {n}",
            start="2026-01-01T08:00:00Z",
            end="2026-01-01T08:30:00Z",
            recurrence="FREQ=DAILY",
        )
    too_long = team.owner.run(
        WINDOW, {"c": calendar, "f": "2026-01-01T00:00:00Z", "t": "2027-01-03T00:00:00Z"}
    )
    assert error_codes(too_long) == ["BAD_USER_INPUT"]
    too_many = team.owner.run(
        WINDOW, {"c": calendar, "f": "2026-01-01T00:00:00Z", "t": "2026-12-31T00:00:00Z"}
    )
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert "5,000" in too_many["errors"][0]["message"]
    backwards = team.owner.run(
        WINDOW, {"c": calendar, "f": "2026-02-01T00:00:00Z", "t": "2026-01-01T00:00:00Z"}
    )
    assert error_codes(backwards) == ["BAD_USER_INPUT"]
    # An infinite rule inside a bounded window is fine.
    assert (
        len(
            team.window(
                calendar, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
            )
        )
        == 15 * 7
    )


def test_attendees_see_and_answer_and_non_members_are_refused(team: Team) -> None:
    calendar = team.calendar("Private", personal=True)
    event = team.event(
        calendar,
        title="1:1",
        start="2026-06-01T09:00:00Z",
        end="2026-06-01T09:30:00Z",
        attendeeIds=[team.ids["member"]],
        attendeeEmails=["Partner@Outside.example"],
    )
    read = "query($e: ID!) { node(id: $e) { ... on Event { title calendar { id } attendees { user { id } email response } } } }"
    seen = team.member.data(read, {"e": event})["node"]
    assert seen["title"] == "1:1" and seen["calendar"] is None  # through the invitation only
    assert {(a["user"] or {}).get("id") for a in seen["attendees"]} == {team.ids["member"], None}
    assert "partner@outside.example" in [a["email"] for a in seen["attendees"]]
    team.member.data(
        "mutation($e: ID!) { respondToEvent(input: {eventId: $e, response: ACCEPTED}) { event { id } } }",
        {"e": event},
    )
    answers = {
        (a["user"] or {}).get("id"): a["response"]
        for a in team.owner.data(read, {"e": event})["node"]["attendees"]
    }
    assert answers[team.ids["member"]] == "ACCEPTED"
    agenda = team.member.data(
        "query($f: DateTime!, $t: DateTime!) { viewer { agenda(from: $f, to: $t) { events { title event { id } } } } }",
        {"f": "2026-06-01T00:00:00Z", "t": "2026-06-02T00:00:00Z"},
    )["viewer"]["agenda"]["events"]
    assert [e["event"]["id"] for e in agenda] == [event]
    # An attendee cannot change it; the guest (not invited) cannot see it; outsiders cannot be invited.
    assert error_codes(
        team.member.run(UPDATE_EVENT, {"i": event, "s": "ALL", "e": {"title": "mine"}})
    ) == ["FORBIDDEN"]
    assert error_codes(team.guest.run(read, {"e": event})) == ["NOT_FOUND"]
    outsider_id = team.outsider.data("{ viewer { id } }")["viewer"]["id"]
    refused = team.owner.run(
        CREATE_EVENT,
        {
            "c": calendar,
            "e": {
                "title": "x",
                "start": "2026-06-01T09:00:00Z",
                "end": "2026-06-01T10:00:00Z",
                "attendeeIds": [outsider_id],
            },
        },
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]


def occurrences_of(ics: str, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """What another calendar app (recurring-ical-events) makes of the feed. All-day events
    carry dates; the ones in these tests are Paris days."""
    cal = icalendar.Calendar.from_ical(ics)
    found = []
    for e in recurring_ical_events.of(cal).between(start, end):
        begin = e["DTSTART"].dt
        if not isinstance(begin, datetime):
            begin = datetime.combine(begin, time(), PARIS)
        found.append((str(e["SUMMARY"]), begin.astimezone(UTC)))
    return sorted(found)


def test_feed_export_then_import_gives_the_same_occurrences(team: Team) -> None:
    calendar = team.calendar("Export me")
    first = datetime(2026, 10, 5, 9, 30, tzinfo=PARIS)  # across the end of summer time
    weekly = team.event(
        calendar,
        title="Weekly",
        start=iso(first),
        end=iso(first + timedelta(hours=1)),
        timeZone="Europe/Paris",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        reminders=[10],
        attendeeEmails=["guest@outside.example"],
    )
    team.event(
        calendar,
        title="Once",
        start="2026-10-14T12:00:00Z",
        end="2026-10-14T13:00:00Z",
        location="Lab",
    )
    team.event(
        calendar,
        title="Holiday",
        start="2026-11-11T00:00:00+01:00",
        end="2026-11-12T00:00:00+01:00",
        timeZone="Europe/Paris",
        allDay=True,
    )
    window = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    second = team.window(calendar, *window)[1]["occurrenceId"]
    team.owner.data(
        UPDATE_EVENT,
        {
            "i": weekly,
            "s": "THIS",
            "o": second,
            "e": {
                "title": "Weekly (moved)",
                "start": "2026-10-13T15:00:00Z",
                "end": "2026-10-13T16:00:00Z",
            },
        },
    )
    team.owner.data(
        DELETE_EVENT,
        {"i": weekly, "s": "THIS", "o": team.window(calendar, *window)[3]["occurrenceId"]},
    )
    api = sorted(
        (o["title"], datetime.fromisoformat(o["start"]).astimezone(UTC))
        for o in team.window(calendar, *window)
    )

    url = team.owner.data(
        "mutation($c: ID!) { createCalendarFeed(input: {calendarId: $c}) { url } }", {"c": calendar}
    )["createCalendarFeed"]["url"]
    with httpx.Client(base_url=team.server.url) as http:
        response = http.get(url)  # no token: the URL is the credential
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        ics = response.text
    assert occurrences_of(ics, *window) == api

    fresh = team.calendar("Imported")
    imported = team.owner.data(
        "mutation($c: ID!, $i: String!) { importCalendar(input: {calendarId: $c, ics: $i}) { created updated } }",
        {"c": fresh, "i": ics},
    )["importCalendar"]
    assert imported == {"created": 3, "updated": 0}
    again = sorted(
        (o["title"], datetime.fromisoformat(o["start"]).astimezone(UTC))
        for o in team.window(fresh, *window)
    )
    assert again == api
    # Importing the same file again updates by UID instead of doubling.
    twice = team.owner.data(
        "mutation($c: ID!, $i: String!) { importCalendar(input: {calendarId: $c, ics: $i}) { created updated } }",
        {"c": fresh, "i": ics},
    )["importCalendar"]
    assert twice == {"created": 0, "updated": 3}
    assert len(team.window(fresh, *window)) == len(api)

    team.owner.data(
        "mutation($c: ID!) { revokeCalendarFeed(input: {calendarId: $c}) { url } }", {"c": calendar}
    )
    with httpx.Client(base_url=team.server.url) as http:
        assert http.get(url).status_code == 404


def test_a_malformed_ics_names_its_line_and_imports_nothing(team: Team) -> None:
    calendar = team.calendar()
    good = "BEGIN:VEVENT\r\nUID:a@x\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nSUMMARY:Fine\r\nEND:VEVENT\r\n"
    broken = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        + good
        + "BEGIN:VEVENT\r\nUID:b@x\r\nDTSTART:20260106T090000Z\r\nDTEND:20260105T100000Z\r\nSUMMARY:Ends before it starts\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    result = team.owner.run(
        "mutation($c: ID!, $i: String!) { importCalendar(input: {calendarId: $c, ics: $i}) { created } }",
        {"c": calendar, "i": broken},
    )
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "line" in result["errors"][0]["message"]
    assert (
        team.window(calendar, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
        == []
    )


def test_calendar_canaries_stay_sealed(team: Team) -> None:
    calendar = team.calendar("otter-canary calendar")
    team.event(
        calendar,
        title="otter-canary title",
        description="otter-canary description",
        location="otter-canary place",
        start="2026-01-05T09:00:00Z",
        end="2026-01-05T10:00:00Z",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        attendeeEmails=["otter-canary@outside.example"],
        videoRoomUrl="https://meet.example/otter-canary",
    )
    services = services_of(team.server)
    settle(services)
    for path, content in stored_contents(team.data_dir):
        assert b"otter-canary" not in content, path
        assert b"FREQ=WEEKLY" not in content, path


def test_a_channel_share_reaches_its_members(team: Team) -> None:
    calendar = team.calendar("For the room", personal=True)
    channel = team.owner.data(CREATE_CH, {"w": team.ids["workspace"], "n": "room", "v": "PRIVATE"})[
        "createChannel"
    ]["channel"]["id"]
    team.owner.data(
        "mutation($c: ID!, $ch: ID) { shareCalendar(input: {calendarId: $c, channelId: $ch, level: WRITE}) { calendar { id } } }",
        {"c": calendar, "ch": channel},
    )
    assert error_codes(
        team.member.run(
            WINDOW, {"c": calendar, "f": "2026-01-01T00:00:00Z", "t": "2026-01-02T00:00:00Z"}
        )
    ) == ["NOT_FOUND"]
    team.owner.data(
        "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": channel, "u": team.ids["member"]},
    )
    assert team.event(
        calendar,
        who=team.member,
        title="From the room",
        start="2026-01-01T09:00:00Z",
        end="2026-01-01T10:00:00Z",
    )


def test_an_occurrence_moved_past_the_series_end_is_still_found(team: Team) -> None:
    calendar = team.calendar()
    event = team.event(
        calendar,
        title="Short run",
        start="2026-02-02T09:00:00Z",
        end="2026-02-02T10:00:00Z",
        recurrence="FREQ=DAILY;COUNT=3",
    )
    last = team.window(
        calendar, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)
    )[-1]
    team.owner.data(
        UPDATE_EVENT,
        {
            "i": event,
            "s": "THIS",
            "o": last["occurrenceId"],
            "e": {"start": "2026-03-20T09:00:00Z", "end": "2026-03-20T10:00:00Z"},
        },
    )
    later = team.window(
        calendar, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert [(o["start"], o["changed"]) for o in later] == [("2026-03-20T09:00:00+00:00", True)]
    # Renaming the series keeps it reachable there.
    team.owner.data(UPDATE_EVENT, {"i": event, "s": "ALL", "e": {"title": "Renamed"}})
    assert (
        len(
            team.window(
                calendar, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
            )
        )
        == 1
    )


def test_deleting_a_calendar_deletes_its_events_everywhere(team: Team) -> None:
    calendar = team.calendar("Doomed")
    single = team.event(
        calendar,
        title="Once",
        start="2026-07-01T09:00:00Z",
        end="2026-07-01T10:00:00Z",
        attendeeIds=[team.ids["member"]],
    )
    series = team.event(
        calendar,
        title="Often",
        start="2026-07-01T11:00:00Z",
        end="2026-07-01T12:00:00Z",
        recurrence="FREQ=DAILY;COUNT=5",
    )
    second = team.window(
        calendar, datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 8, tzinfo=UTC)
    )[2]["occurrenceId"]
    team.owner.data(UPDATE_EVENT, {"i": series, "s": "THIS", "o": second, "e": {"title": "Moved"}})
    assert error_codes(
        team.member.run(
            "mutation($c: ID!) { deleteCalendar(input: {calendarId: $c}) { deletedCalendarId } }",
            {"c": calendar},
        )
    ) == ["FORBIDDEN"]
    team.owner.data(
        "mutation($c: ID!) { deleteCalendar(input: {calendarId: $c}) { deletedCalendarId } }",
        {"c": calendar},
    )
    for event in (single, series):
        assert error_codes(
            team.owner.run("query($e: ID!) { node(id: $e) { id } }", {"e": event})
        ) == ["NOT_FOUND"]
    agenda = team.member.data(
        'query { viewer { agenda(from: "2026-07-01T00:00:00Z", to: "2026-07-08T00:00:00Z") { events { title } } } }'
    )["viewer"]["agenda"]["events"]
    assert agenda == []
