"""Video rooms through the real HTTP server: a channel's or an event's Jitsi room is named by
256 random bits, stable until its managers rotate it, shown only to those who may read the
channel or event, stored sealed; the Jitsi token is checked here as prosody's token module
checks it; the first join publishes `call.started`; the feature can be switched off."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import worlds
from drive_support import CREATE_CH, services_of
from worlds import team_fields

from resolvers.video_rooms import CALL_IDLE_SECONDS
from support import GraphQLClient, error_codes, make_settings, serve, settle, stored_contents

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_example_video", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

JITSI_URL = "https://meet.example.org"
APP_ID = "cove-video-test"
JOIN = """mutation($c: ID, $e: ID) { joinVideoRoom(input: {channelId: $c, eventId: $e})
  { room { name url } token expiresAt } }"""
ROTATE = """mutation($c: ID, $e: ID) { rotateVideoRoom(input: {channelId: $c, eventId: $e})
  { room { name url } } }"""
ADD_MEMBER = """mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u})
  { channel { id } } }"""
POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t})
  { message { id } } }"""
CREATE_CAL = """mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"})
  { calendar { id } } }"""
CREATE_EVENT = """mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Sync",
  start: "2026-01-05T09:00:00Z", end: "2026-01-05T10:00:00Z"}}) { event { id } } }"""
EVENT_URL = "query($e: ID!) { node(id: $e) { ... on Event { videoRoomUrl } } }"
# What a room name is: 52 characters of lowercase base32 (256 bits, Jitsi lowercases names).
ROOM_NAME = re.compile(r"[a-z2-7]{52}")


@dataclass
class Team(worlds.Team):
    secret: str = ""
    channel: str = ""

    def join(self, who: GraphQLClient, **target: str) -> dict[str, Any]:
        joined: dict[str, Any] = who.data(JOIN, target)["joinVideoRoom"]
        return joined

    def room(self, who: GraphQLClient, **target: str) -> str:
        name: str = self.join(who, **target)["room"]["name"]
        return name

    def new_channel(self, name: str, visibility: str = "PRIVATE") -> str:
        made = self.owner.data(CREATE_CH, {"w": self.ids["workspace"], "n": name, "v": visibility})
        channel: str = made["createChannel"]["channel"]["id"]
        return channel


def _team(server: Any, data_dir: Path, secret: str) -> Team:
    team = Team(**team_fields(server, data_dir, "video.example"), secret=secret)
    team.channel = team.new_channel("ops")
    team.owner.data(ADD_MEMBER, {"c": team.channel, "u": team.ids["member"]})
    return team


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    secret = secrets.token_urlsafe(32)
    settings = make_settings(
        tmp_path / "data", jitsi_url=JITSI_URL, jitsi_app_id=APP_ID, jitsi_app_secret=secret
    )
    with serve(settings) as server:
        yield _team(server, tmp_path / "data", secret)


def prosody_accepts(token: str, secret: str, room: str) -> dict[str, Any]:
    """The checks of Jitsi's token module (prosody `token/util.lib.lua` through luajwtjitsi):
    the HS256 signature under `app_secret`, `exp`, `iss` among `asap_accepted_issuers` (the
    app id by default), `aud` among `asap_accepted_audiences`, the `room` claim required and
    equal to the room joined, `sub` the domain when domain verification is on."""
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        audience="jitsi",
        issuer=APP_ID,
        options={"require": ["exp", "iss", "aud", "sub", "room"]},
    )
    assert claims["room"] == room == room.lower()
    assert claims["sub"] == "meet.example.org"
    return claims


def test_room_names_are_random_stable_and_changed_by_rotation(team: Team) -> None:
    joined = team.join(team.member, c=team.channel)
    name = joined["room"]["name"]
    assert ROOM_NAME.fullmatch(name), name
    assert joined["room"]["url"] == f"{JITSI_URL}/{name}"
    assert team.room(team.member, c=team.channel) == name  # stable across calls
    assert team.room(team.owner, c=team.channel) == name  # and across people
    other = team.new_channel("general", "PUBLIC")
    other_name = team.room(team.member, c=other)
    assert ROOM_NAME.fullmatch(other_name) and other_name != name
    # Not derived from the ids: no part of a channel's id shows in its name.
    raw_ids = {team.channel, other}
    assert not any(name in raw or raw.lower() in name for raw in raw_ids)

    assert error_codes(team.member.run(ROTATE, {"c": team.channel})) == ["FORBIDDEN"]
    assert team.room(team.member, c=team.channel) == name
    rotated = team.owner.data(ROTATE, {"c": team.channel})["rotateVideoRoom"]["room"]
    assert ROOM_NAME.fullmatch(rotated["name"]) and rotated["name"] != name
    assert rotated["url"] == f"{JITSI_URL}/{rotated['name']}"
    assert team.room(team.member, c=team.channel) == rotated["name"]
    assert team.room(team.member, c=other) == other_name  # the other room keeps its name


def test_outsiders_get_not_found_and_bad_input_names_a_field(team: Team) -> None:
    public = team.new_channel("general", "PUBLIC")
    for who, target in (
        (team.outsider, {"c": team.channel}),
        (team.guest, {"c": team.channel}),  # a private channel the guest is not in
        (team.guest, {"c": public}),  # guests read only the channels they were added to
        (team.outsider, {"c": "Q2hhbm5lbDpub3BlIQ=="}),
    ):
        assert error_codes(who.run(JOIN, target)) == ["NOT_FOUND"], target
        assert error_codes(who.run(ROTATE, target)) == ["NOT_FOUND"], target
    assert ROOM_NAME.fullmatch(team.room(team.member, c=public))  # members read public ones
    calendar = team.owner.data(CREATE_CAL, {"w": team.ids["workspace"]})["createCalendar"]
    event = team.owner.data(CREATE_EVENT, {"c": calendar["calendar"]["id"]})["createEvent"]
    for who in (team.outsider, team.guest):
        assert error_codes(who.run(JOIN, {"e": event["event"]["id"]})) == ["NOT_FOUND"]
    for target, field in (
        ({}, "channelId"),
        ({"c": team.channel, "e": event["event"]["id"]}, "eventId"),
    ):
        result = team.member.run(JOIN, target)
        assert error_codes(result) == ["BAD_USER_INPUT"]
        assert result["errors"][0]["extensions"]["field"] == field
        assert error_codes(team.owner.run(ROTATE, target)) == ["BAD_USER_INPUT"]


def test_the_token_is_what_jitsi_accepts_with_the_moderator_flag(team: Team) -> None:
    member = team.join(team.member, c=team.channel)
    owner = team.join(team.owner, c=team.channel)
    name = member["room"]["name"]
    mine = prosody_accepts(member["token"], team.secret, name)
    theirs = prosody_accepts(owner["token"], team.secret, name)
    assert mine["context"]["user"] == {
        "id": team.ids["member"],
        "name": "Member",
        "moderator": False,
        "affiliation": "member",
    }
    # The channel's creator (and workspace owners and admins) moderate.
    assert theirs["context"]["user"]["moderator"] is True
    assert theirs["context"]["user"]["affiliation"] == "owner"
    assert datetime.fromisoformat(member["expiresAt"]).timestamp() == mine["exp"]
    assert 3590 <= mine["exp"] - mine["iat"] <= 3600
    # Another secret, another audience or another room is refused.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(member["token"], "x" * 32, algorithms=["HS256"], audience="jitsi")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(member["token"], team.secret, algorithms=["HS256"], audience="other")
    other = team.room(team.member, c=team.new_channel("general", "PUBLIC"))
    with pytest.raises(AssertionError):
        prosody_accepts(member["token"], team.secret, other)


def test_event_rooms_follow_the_event_and_its_organiser_moderates(team: Team) -> None:
    calendar = team.owner.data(CREATE_CAL, {"w": team.ids["workspace"]})["createCalendar"]
    event = team.owner.data(CREATE_EVENT, {"c": calendar["calendar"]["id"]})["createEvent"][
        "event"
    ]["id"]
    assert team.member.data(EVENT_URL, {"e": event})["node"]["videoRoomUrl"] is None
    organiser = team.join(team.owner, e=event)
    member = team.join(team.member, e=event)
    name = organiser["room"]["name"]
    assert ROOM_NAME.fullmatch(name) and member["room"]["name"] == name
    assert name != team.room(team.owner, c=team.channel)
    assert prosody_accepts(organiser["token"], team.secret, name)["context"]["user"]["moderator"]
    claims = prosody_accepts(member["token"], team.secret, name)
    assert claims["context"]["user"]["moderator"] is False
    assert error_codes(team.member.run(ROTATE, {"e": event})) == ["FORBIDDEN"]
    rotated = team.owner.data(ROTATE, {"e": event})["rotateVideoRoom"]["room"]["name"]
    assert rotated != name and team.room(team.member, e=event) == rotated
    # Once the room exists, the event's videoRoomUrl shows it to whoever reads the event.
    shown = team.member.data(EVENT_URL, {"e": event})["node"]["videoRoomUrl"]
    assert shown == f"{JITSI_URL}/{rotated}"
    assert error_codes(team.guest.run(EVENT_URL, {"e": event})) == ["NOT_FOUND"]


def test_room_names_are_stored_sealed(team: Team) -> None:
    names = [
        team.room(team.member, c=team.channel),
        team.owner.data(ROTATE, {"c": team.channel})["rotateVideoRoom"]["room"]["name"],
    ]
    settle(services_of(team.server))
    for path, content in stored_contents(team.data_dir):
        for name in names:
            assert name.encode() not in content, path
            assert name.upper().encode() not in content, path


async def test_the_first_join_after_a_quiet_spell_publishes_call_started(team: Team) -> None:
    assert team.member.token
    client = example.RealtimeClient(team.server.url, team.member.token)
    await client.open()
    services = services_of(team.server)
    hub = services.hub
    real_clock = services.clock

    async def join_when_subscribed() -> None:
        for _ in range(500):  # up to 10 s
            if hub.has_session(client.session_id):
                break
            await asyncio.sleep(0.02)
        await asyncio.to_thread(team.join, team.member, c=team.channel)
        # Another join at once is the same call: no second notice, the message comes next.
        await asyncio.to_thread(team.join, team.owner, c=team.channel)
        await asyncio.to_thread(team.owner.data, POST, {"c": team.channel, "t": "hello"})
        # A quarter of an hour without a join: the next join starts a new call.
        services.clock = lambda: real_clock() + timedelta(seconds=CALL_IDLE_SECONDS)
        await asyncio.to_thread(team.join, team.owner, c=team.channel)

    joining = asyncio.create_task(join_when_subscribed())
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(10):
            async for event in client.events([team.channel]):
                events.append(event)
                if len(events) == 3:
                    break
        await joining
    finally:
        services.clock = real_clock
        await client.close()
    assert [e["type"] for e in events] == ["call.started", "message.created", "call.started"]
    assert events[0]["data"] == {"channelId": team.channel, "startedBy": team.ids["member"]}
    assert events[2]["data"] == {"channelId": team.channel, "startedBy": team.ids["owner"]}
    name = team.room(team.member, c=team.channel)
    assert name not in str(events)  # the room's name never travels in a notice


def test_without_an_app_secret_the_token_is_null_and_installs_differ(tmp_path: Path) -> None:
    names = []
    for install in ("one", "two"):
        data_dir = tmp_path / install
        with serve(make_settings(data_dir)) as server:
            team = _team(server, data_dir, "")
            joined = team.join(team.member, c=team.channel)
            assert joined["token"] is None and joined["expiresAt"] is None
            assert joined["room"]["url"] == "https://meet.jit.si/" + joined["room"]["name"]
            names.append(joined["room"]["name"])
    assert all(ROOM_NAME.fullmatch(name) for name in names) and names[0] != names[1]


def test_switched_off_the_feature_answers_a_clear_code(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir, jitsi_enabled=False)) as server:
        team = _team(server, data_dir, "")
        for document in (JOIN, ROTATE):
            result = team.owner.run(document, {"c": team.channel})
            assert error_codes(result) == ["UNAVAILABLE"]
            assert result["errors"][0]["extensions"]["reason"] == "FEATURE_DISABLED"
