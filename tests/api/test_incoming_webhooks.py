"""Incoming webhooks through the real HTTP server: a URL made by a channel member posts into
the channel as a named bot (readable, delivered over realtime), answers clear errors, is
revoked at once, refused to guests, and rate-limited."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import (
    GraphQLClient,
    Server,
    clear_of_window_edge,
    error_codes,
    make_settings,
    serve,
    sign_up,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_example_hooks", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

CREATE = """mutation($c: ID!, $n: String!) { createIncomingWebhook(input: {channelId: $c, name: $n})
  { webhook { id name createdAt channel { id } bot { id displayName } } url } }"""
DELETE = """mutation($w: ID!) { deleteIncomingWebhook(input: {webhookId: $w})
  { deletedWebhookId } }"""
LIST = "query($c: ID!) { node(id: $c) { ... on Channel { incomingWebhooks { id name } } } }"
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel {
  messages(first: 10) { edges { node { text author { id displayName } } } } } } }"""


@dataclass
class Room:
    server: Server
    owner: GraphQLClient
    member: GraphQLClient
    member_token: str
    guest: GraphQLClient
    channel: str


def _join(server: Server, owner: GraphQLClient, workspace: str, email: str, role: str) -> Any:
    token, user = sign_up(server.client(), email, name=email.split("@", maxsplit=1)[0])
    invitation = owner.data(
        "mutation($w: ID!, $e: String!, $r: Role!) { inviteMember(input: "
        "{workspaceId: $w, email: $e, role: $r}) { invitation { id } } }",
        {"w": workspace, "e": email, "r": role},
    )["inviteMember"]["invitation"]["id"]
    server.client(token).data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    return token, user


@pytest.fixture
def room(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Room]:
    overrides = getattr(request, "param", {})
    with serve(make_settings(tmp_path / "data", **overrides)) as server:
        owner_token, _ = sign_up(server.client(), "olga@hooks.example", name="Olga")
        owner = server.client(owner_token)
        workspace = owner.data(
            'mutation { createWorkspace(input: {name: "H"}) { workspace { id } } }'
        )["createWorkspace"]["workspace"]["id"]
        member_token, member = _join(server, owner, workspace, "mia@hooks.example", "MEMBER")
        guest_token, guest = _join(server, owner, workspace, "gus@hooks.example", "GUEST")
        channel = owner.data(
            'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "ops", '
            "visibility: PRIVATE}) { channel { id } } }",
            {"w": workspace},
        )["createChannel"]["channel"]["id"]
        for user in (member, guest):
            owner.data(
                "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, "
                "userId: $u}) { channel { id } } }",
                {"c": channel, "u": user["id"]},
            )
        yield Room(
            server,
            owner,
            server.client(member_token),
            member_token,
            server.client(guest_token),
            channel,
        )


def hook(room: Room, who: GraphQLClient | None = None, name: str = "Deploy bot") -> dict[str, Any]:
    made: dict[str, Any] = (who or room.owner).data(CREATE, {"c": room.channel, "n": name})[
        "createIncomingWebhook"
    ]
    return made


def post(room: Room, url: str, body: Any = None, **options: Any) -> httpx.Response:
    with httpx.Client(base_url=room.server.url, timeout=10) as http:
        if body is not None:
            options["json"] = body
        return http.post(url, **options)


async def test_a_post_lands_in_the_channel_as_the_named_bot_and_over_realtime(
    room: Room,
) -> None:
    made = hook(room)
    assert made["url"].startswith("/hooks/cove_hook_")
    assert made["webhook"]["name"] == "Deploy bot"
    assert made["webhook"]["channel"]["id"] == room.channel
    bot = made["webhook"]["bot"]
    assert bot["displayName"] == "Deploy bot"

    client = example.RealtimeClient(room.server.url, room.member_token)
    await client.open()
    hub = room.server.server.config.app.state["services"].hub

    async def post_when_subscribed() -> httpx.Response:
        for _ in range(500):  # up to 10 s
            if hub.has_session(client.session_id):
                break
            await asyncio.sleep(0.02)
        return await asyncio.to_thread(post, room, made["url"], {"text": "deployed v1.2"})

    poster = asyncio.create_task(post_when_subscribed())
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        async for event in client.events([room.channel]):
            events.append(event)
            break
    answer = await poster
    await client.close()
    assert answer.status_code == 200 and answer.text == "ok"
    assert events[0]["type"] == "message.created"
    assert events[0]["data"]["text"] == "deployed v1.2"
    assert events[0]["data"]["authorId"] == bot["id"]

    edges = room.member.data(MESSAGES, {"c": room.channel})["node"]["messages"]["edges"]
    assert [(e["node"]["text"], e["node"]["author"]["displayName"]) for e in edges] == [
        ("deployed v1.2", "Deploy bot")
    ]
    listed = room.member.data(LIST, {"c": room.channel})["node"]["incomingWebhooks"]
    assert listed == [{"id": made["webhook"]["id"], "name": "Deploy bot"}]


def test_bad_bodies_get_clear_errors(room: Room) -> None:
    url = hook(room)["url"]
    for body, status in (
        (b"not json", 400),
        (b'{"text": 5}', 400),
        (b'{"text": ""}', 400),
        (b'{"blocks": []}', 400),
        (b"[]", 400),
        (b'{"text": "' + b"x" * 70_000 + b'"}', 413),
    ):
        answer = post(room, url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == status, (body[:20], answer.text)
        assert answer.json()["errors"][0]["message"]
    unknown = post(room, "/hooks/cove_hook_" + "A" * 43, {"text": "hi"})
    assert unknown.status_code == 404 and unknown.json()["errors"]
    edges = room.owner.data(MESSAGES, {"c": room.channel})["node"]["messages"]["edges"]
    assert edges == []


def test_a_revoked_url_answers_404_at_once(room: Room) -> None:
    made = hook(room, room.member, "CI")
    assert post(room, made["url"], {"text": "one"}).status_code == 200
    # Another member may not revoke it; its creator (or an admin) may.
    other = room.guest.run(DELETE, {"w": made["webhook"]["id"]})
    assert error_codes(other) == ["FORBIDDEN"]
    room.member.data(DELETE, {"w": made["webhook"]["id"]})
    assert post(room, made["url"], {"text": "two"}).status_code == 404
    assert room.owner.data(LIST, {"c": room.channel})["node"]["incomingWebhooks"] == []
    edges = room.owner.data(MESSAGES, {"c": room.channel})["node"]["messages"]["edges"]
    assert [e["node"]["text"] for e in edges] == ["one"]
    assert edges[0]["node"]["author"]["displayName"] == "CI"  # the name outlives the URL


def test_guests_cannot_create_one(room: Room) -> None:
    result = room.guest.run(CREATE, {"c": room.channel, "n": "Sneaky"})
    assert error_codes(result) == ["FORBIDDEN"]
    assert room.owner.data(LIST, {"c": room.channel})["node"]["incomingWebhooks"] == []


@pytest.mark.parametrize("room", [{"incoming_webhooks_per_minute": 3}], indirect=True)
def test_a_url_is_rate_limited(room: Room) -> None:
    url = hook(room)["url"]
    clear_of_window_edge(60)
    answers = [post(room, url, {"text": f"m{n}"}) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert answers[3].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
