"""Calendar work stays bounded (#11): an .ics bomb is checked in a worker thread while other
requests answer, sub-daily rules are refused everywhere, and imports are capped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from worlds import CREATE_WS, join

from support import (
    GraphQLClient,
    Server,
    error_codes,
    make_settings,
    on_scylla,
    serve,
    sign_up,
)

CREATE_CAL = """mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"}) {
  calendar { id } } }"""
CREATE_EVENT = """mutation($c: ID!, $e: EventFields!) {
  createEvent(input: {calendarId: $c, event: $e}) { event { id } } }"""
UPDATE_EVENT = """mutation($i: ID!, $e: EventFields!) {
  updateEvent(input: {eventId: $i, event: $e, scope: ALL}) { event { id } } }"""
IMPORT = """mutation($c: ID!, $i: String!) {
  importCalendar(input: {calendarId: $c, ics: $i}) { created updated } }"""
AGENDA = """{ viewer { agenda(from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z") {
  events { title } } } }"""
EVERY_SECOND = (
    "FREQ=DAILY;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60)))
    + ";BYSECOND="
    + ",".join(map(str, range(60)))
)


def bomb(events: int, rule: str = "FREQ=DAILY;COUNT=10000") -> str:
    """The issue's file: `events` VEVENTs, each repeating daily 10,000 times."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bomb//EN"]
    for i in range(events):
        lines += [
            "BEGIN:VEVENT",
            f"UID:bomb-{i}@example.org",
            f"DTSTART:20260101T{i // 60 % 24:02d}{i % 60:02d}00Z",
            f"DTEND:20260101T{i // 60 % 24:02d}{i % 60:02d}30Z",
            f"RRULE:{rule}",
            f"SUMMARY:Bomb {i}",
            "END:VEVENT",
        ]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


def _team(server: Server) -> tuple[GraphQLClient, GraphQLClient, str]:
    token, _ = sign_up(server.client(), "owner@bounded.example", name="Olive")
    owner = server.client(token)
    workspace = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
    member, _ = join(server, owner, workspace, "member@bounded.example", "MEMBER")
    calendar = owner.data(CREATE_CAL, {"w": workspace})["createCalendar"]["calendar"]["id"]
    return owner, member, calendar


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Server, GraphQLClient, GraphQLClient, str]]:
    settings = make_settings(tmp_path / "data", ics_max_events=5, ics_check_seconds=1)
    with serve(settings) as server:
        yield (server, *_team(server))


def _event(title: str, rule: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": title,
        "start": "2026-03-02T09:00:00+00:00",
        "end": "2026-03-02T09:30:00+00:00",
    }
    if rule:
        fields["recurrence"] = rule
    return fields


def _latencies_during_import(
    owner: GraphQLClient, member: GraphQLClient, calendar: str, text: str
) -> tuple[list[float], dict[str, Any]]:
    """`{ viewer { id } }` answer times while `owner` imports `text`, and the import's result."""
    outcome: dict[str, Any] = {}

    def run_import() -> None:
        outcome["result"] = owner.run(IMPORT, {"c": calendar, "i": text})

    importer = threading.Thread(target=run_import)
    importer.start()
    latencies: list[float] = []
    while importer.is_alive() or not latencies:
        began = time.monotonic()
        assert member.data("{ viewer { id } }")["viewer"]["id"]
        latencies.append(time.monotonic() - began)
        time.sleep(0.02)
    importer.join()
    return latencies, outcome["result"]


# What this measures is whether the import blocks this process's event loop, which does not
# depend on the engine; on ScyllaDB the Cassandra node shares the machine's two cores and its
# pauses under the import's writes land in the viewer's answer times.
@pytest.mark.skipif(on_scylla(), reason="times this process's loop; a node's pauses add noise")
def test_viewer_answers_within_200_ms_while_the_ics_bomb_is_imported(tmp_path: Path) -> None:
    text = bomb(1000)
    assert 140_000 < len(text) < 200_000
    with serve(make_settings(tmp_path / "data")) as server:
        owner, member, calendar = _team(server)
        member.data("{ viewer { id } }")  # warm the connection and the schema
        attempts = []
        # The server, both clients and the import share this process and a machine that may
        # be busy: a second import (the same events, updated) tells a scheduling hiccup from
        # a stall. Before this change every attempt stalled for seconds.
        for expected in ("created", "updated"):
            latencies, result = _latencies_during_import(owner, member, calendar, text)
            assert not result.get("errors"), result  # within the budget: imported
            assert result["data"]["importCalendar"][expected] == 1000
            assert len(latencies) > 5  # the import lasted long enough to measure
            attempts.append(max(latencies))
            if max(latencies) < 0.2:
                break
        assert min(attempts) < 0.2, f"slowest viewer answer per attempt: {attempts}"


def test_the_budget_refuses_a_file_that_takes_too_long(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", ics_check_seconds=1)) as server:
        owner, _, calendar = _team(server)
        began = time.monotonic()
        # Weekdays only: no closed form, so each COUNT is found by dateutil (a few ms each).
        text = bomb(1000, "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10000")
        result = owner.run(IMPORT, {"c": calendar, "i": text})
        assert error_codes(result) == ["BAD_USER_INPUT"]
        assert "took more than 1 s" in result["errors"][0]["message"]
        assert time.monotonic() - began < 3


def test_the_event_cap_is_enforced_with_a_clear_message(small: Any) -> None:
    _, owner, _, calendar = small
    result = owner.run(IMPORT, {"c": calendar, "i": bomb(6, "FREQ=WEEKLY")})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    message = result["errors"][0]["message"]
    assert message == "line 39: A file can hold at most 5 events.", message
    assert (
        owner.data(IMPORT, {"c": calendar, "i": bomb(5, "FREQ=WEEKLY")})["importCalendar"][
            "created"
        ]
        == 5
    )


def test_a_sub_daily_rule_is_refused_everywhere_and_others_agendas_keep_working(
    small: Any,
) -> None:
    _, owner, member, calendar = small
    owner.data(CREATE_EVENT, {"c": calendar, "e": _event("Stand-up", "FREQ=DAILY")})
    for rule in (EVERY_SECOND, "FREQ=DAILY;BYHOUR=9,18", "FREQ=HOURLY"):
        result = member.run(CREATE_EVENT, {"c": calendar, "e": _event("Flood", rule)})
        assert error_codes(result) == ["BAD_USER_INPUT"], result
        assert "at most daily" in result["errors"][0]["message"]
    event = member.data(CREATE_EVENT, {"c": calendar, "e": _event("Mine", "FREQ=WEEKLY")})
    event_id = event["createEvent"]["event"]["id"]
    result = member.run(UPDATE_EVENT, {"i": event_id, "e": _event("Flood", EVERY_SECOND)})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "at most daily" in result["errors"][0]["message"]
    result = member.run(IMPORT, {"c": calendar, "i": bomb(1, EVERY_SECOND)})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["message"].startswith("line 8: An event can repeat at most daily")
    for who in (owner, member):
        titles = [e["title"] for e in who.data(AGENDA)["viewer"]["agenda"]["events"]]
        assert titles.count("Stand-up") == 30
        assert "Flood" not in titles
