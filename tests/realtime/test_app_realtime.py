"""Realtime for apps (#16 item 7): an app with realtime:read opens sessions with its token and
gets each event sealed for its own session, exactly as people do (the documented client works
unchanged); the topics it may follow are limited by its scopes and its bot's membership, and
uninstalling ends a live subscription at once, and a narrower approval closes live sockets."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apps_support import ADD, APPROVE, POST, REDIRECT, UNINSTALL, Installed, enum_name, install_app
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support import GraphQLClient, Server, error_codes, make_settings, serve, sign_up

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_example_apps", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

CREATE_CH = """mutation($w: ID!, $n: String!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: PUBLIC}) { channel { id } } }"""
LIVE = ["realtime:read", "channels:read", "messages:read"]


@dataclass
class Team:
    server: Server
    owner: GraphQLClient
    workspace: str
    joined: str  # a channel the bot was added to
    other: str  # one it was not


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    with serve(make_settings(tmp_path / "data")) as server:
        token, _ = sign_up(server.client(), "owner@apps-rt.example", name="Olga")
        owner = server.client(token)
        ws = owner.data('mutation { createWorkspace(input: {name: "RT"}) { workspace { id } } }')
        workspace = ws["createWorkspace"]["workspace"]["id"]
        joined, other = (
            owner.data(CREATE_CH, {"w": workspace, "n": n})["createChannel"]["channel"]["id"]
            for n in ("standup", "random")
        )
        yield Team(server, owner, workspace, joined, other)


def installed(team: Team, scopes: list[str]) -> Installed:
    app = install_app(team.server, team.owner, team.workspace, scopes)
    team.owner.data(ADD, {"c": team.joined, "u": app.bot_user_id})
    return app


async def socket_for(team: Team, token: str) -> Any:
    socket = await connect(
        team.server.url.replace("http", "ws", 1) + "/graphql",
        subprotocols=["graphql-transport-ws"],
    )
    payload = {"authorization": f"Bearer {token}"}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def subscribe(team: Team, token: str, session: str, topics: list[str]) -> Any:
    socket = await socket_for(team, token)
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    message = {"query": example.EVENTS, "variables": {"s": session, "t": topics}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": message}))
    return socket


async def next_message(socket: Any, seconds: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] != "ping":
                return message


async def close_code(socket: Any, seconds: float = 5) -> int | None:
    """The code the server closes `socket` with, within `seconds` (pings and a `complete` may
    come first; anything else fails)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await socket.recv())
                assert message["type"] in ("ping", "complete"), message
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code


async def registered(team: Team, session_id: str) -> None:
    hub = team.server.server.config.app.state["services"].hub
    async with asyncio.timeout(10):
        while not hub.has_session(session_id):
            await asyncio.sleep(0.02)


async def test_an_app_follows_its_channel_with_the_documented_client(team: Team) -> None:
    app = installed(team, LIVE)
    client = example.RealtimeClient(team.server.url, app.token["access_token"])
    await client.open()

    async def post() -> None:
        await registered(team, client.session_id)
        await asyncio.to_thread(team.owner.data, POST, {"c": team.joined, "t": "standup at 10"})

    poster = asyncio.create_task(post())
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        async for event in client.events([team.joined]):
            got.append(event)
            break
    await poster
    await client.close()
    assert got[0]["type"] == "message.created"
    assert got[0]["data"]["text"] == "standup at 10"


async def test_topics_are_limited_by_membership_and_scopes(team: Team) -> None:
    app = installed(team, LIVE)
    session = app.bot.data(example.OPEN)["openRealtimeSession"]["session"]["id"]
    for topic in (team.other, team.owner.data("{ viewer { id } }")["viewer"]["id"]):
        socket = await subscribe(team, app.token["access_token"], session, [topic])
        message = await next_message(socket)
        await socket.close()
        assert message["type"] in ("error", "next"), message
        payload = message["payload"]
        errors = payload if message["type"] == "error" else payload["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND", topic
    # Without messages:read, not even the channel its bot is in: it carries messages.
    reader = installed(team, ["realtime:read", "channels:read"])
    session = reader.bot.data(example.OPEN)["openRealtimeSession"]["session"]["id"]
    socket = await subscribe(team, reader.token["access_token"], session, [team.joined])
    message = await next_message(socket)
    await socket.close()
    assert "NOT_FOUND" in json.dumps(message)


async def test_without_realtime_read_an_app_opens_nothing(team: Team) -> None:
    app = installed(team, ["channels:read", "messages:read"])
    refused = app.bot.run(example.OPEN)
    assert refused.get("data") is None and set(error_codes(refused)) == {"FORBIDDEN"}
    socket = await socket_for(team, app.token["access_token"])
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_uninstall_ends_a_live_subscription(team: Team) -> None:
    app = installed(team, LIVE)
    session = app.bot.data(example.OPEN)["openRealtimeSession"]["session"]
    socket = await subscribe(team, app.token["access_token"], session["id"], [team.joined])
    await registered(team, session["id"])
    await asyncio.to_thread(team.owner.data, UNINSTALL, {"w": team.workspace, "a": app.app_id})
    message = await next_message(socket)
    await socket.close()
    assert message["type"] == "complete"
    assert error_codes(app.bot.run(example.OPEN)) == ["UNAUTHENTICATED"]


async def test_a_narrower_approval_closes_live_sockets(team: Team) -> None:
    """A socket keeps the scopes of the token it was opened with: when an admin approves the
    app again with fewer, its sockets close, and reconnecting gets only what remains."""
    app = installed(team, LIVE)
    token = app.token["access_token"]
    session = app.bot.data(example.OPEN)["openRealtimeSession"]["session"]
    socket = await subscribe(team, token, session["id"], [team.joined])
    await registered(team, session["id"])
    approval = {
        "clientId": app.client_id,
        "workspaceId": team.workspace,
        "scopes": [enum_name(s) for s in ("realtime:read", "channels:read")],
        "redirectUri": REDIRECT,
        "codeChallenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "codeChallengeMethod": "S256",
    }
    await asyncio.to_thread(team.owner.data, APPROVE, {"i": approval})
    assert await close_code(socket) == 4403
    # The token lives on, narrowed: the channel's messages are no longer its to follow.
    session = app.bot.data(example.OPEN)["openRealtimeSession"]["session"]
    socket = await subscribe(team, token, session["id"], [team.joined])
    message = await next_message(socket)
    await socket.close()
    assert "NOT_FOUND" in json.dumps(message)
