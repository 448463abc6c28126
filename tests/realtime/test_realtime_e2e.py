"""Realtime over a real socket: sealed per subscriber, rotating keys, access checked live."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support import PASSWORD, GraphQLClient, Server, error_codes, make_settings, serve, sign_up

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_example", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

CANARY = "walrusrealtimecanary"
POST = "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) { message { id } } }"


@dataclass
class Room:
    server: Server
    alice: GraphQLClient
    bob: GraphQLClient
    bob_token: str
    workspace: str
    channel: str
    bob_id: str


@pytest.fixture
def room(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Room]:
    overrides = getattr(request, "param", {})
    with serve(make_settings(tmp_path / "data", **overrides)) as server:
        alice_token, _ = sign_up(server.client(), "alice@rt.example", name="Alice")
        bob_token, bob = sign_up(server.client(), "bob@rt.example", name="Bob")
        alice, bob_client = server.client(alice_token), server.client(bob_token)
        ws = alice.data('mutation { createWorkspace(input: {name: "RT"}) { workspace { id } } }')
        workspace = ws["createWorkspace"]["workspace"]["id"]
        invitation = alice.data(
            'mutation($w: ID!) { inviteMember(input: {workspaceId: $w, email: "bob@rt.example"}) { invitation { id } } }',
            {"w": workspace},
        )["inviteMember"]["invitation"]["id"]
        bob_client.data(
            "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
            {"i": invitation},
        )
        channel = alice.data(
            'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "live", visibility: PRIVATE}) { channel { id } } }',
            {"w": workspace},
        )["createChannel"]["channel"]["id"]
        alice.data(
            "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
            {"c": channel, "u": bob["id"]},
        )
        yield Room(server, alice, bob_client, bob_token, workspace, channel, bob["id"])


async def take(
    stream: AsyncIterator[dict[str, Any]], count: int, seconds: float = 10
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                break
    return got


async def registered(room: Room, session_id: str) -> None:
    """Wait (bounded) until the server's hub holds the session's subscription."""
    hub = room.server.server.config.app.state["services"].hub
    async with asyncio.timeout(10):
        # The hub lives in the server's thread and event loop: poll it, briefly.
        while not hub.has_session(session_id):
            await asyncio.sleep(0.02)


async def post_soon(
    room: Room, session_id: str, client: GraphQLClient, channel: str, texts: list[str]
) -> None:
    await registered(room, session_id)
    for text in texts:
        await asyncio.to_thread(client.data, POST, {"c": channel, "t": text})


async def test_events_are_sealed_for_the_subscriber_and_decrypt_with_its_key(room: Room) -> None:
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()
    first_key = next(iter(client.keys))
    poster = asyncio.create_task(
        post_soon(room, client.session_id, room.alice, room.channel, [f"{CANARY} one", "two"])
    )
    events = await take(client.events([room.channel]), 2)
    await poster
    await client.close()
    assert [e["type"] for e in events] == ["message.created", "message.created"]
    assert [e["data"]["text"] for e in events] == [f"{CANARY} one", "two"]
    assert all(e["topic"] == room.channel for e in events)
    assert list(client.keys) == [first_key]  # no rotation yet: the first key served
    assert client.last_seq == 2


@pytest.mark.parametrize("room", [{"realtime_rotate_events": 3}], indirect=True)
async def test_keys_rotate_by_count_and_the_client_follows(room: Room) -> None:
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()
    texts = [f"m{i}" for i in range(7)]
    poster = asyncio.create_task(
        post_soon(room, client.session_id, room.alice, room.channel, texts)
    )
    events = await take(client.events([room.channel]), 7)
    await poster
    assert [e["data"]["text"] for e in events] == texts
    assert len(client.keys) == 3  # keys for events 1-3, 4-6 and 7
    # After the session ends, its keys are refused.
    key_id = list(client.keys)[1]
    room.bob.data(
        "mutation($s: ID!) { closeRealtimeSession(input: {sessionId: $s}) { closedSessionId } }",
        {"s": client.session_id},
    )
    refused = room.bob.run(example.KEY, {"s": client.session_id, "k": key_id})
    assert error_codes(refused) == ["NOT_FOUND"]
    await client.close()


async def test_keys_opened_together_do_not_all_expire_together(room: Room) -> None:
    """Each key lives between 80 % and all of realtime_rotate_seconds (300), drawn anew: a
    crowd that subscribed at once does not rotate in one burst of key writes."""
    opened = datetime.now(UTC)
    lifetimes = []
    for _ in range(12):
        key = room.bob.data(example.OPEN)["openRealtimeSession"]["session"]["key"]
        expires = datetime.fromisoformat(key["expiresAt"].replace("Z", "+00:00"))
        lifetimes.append((expires - opened).total_seconds())
    assert all(240 - 5 <= seconds <= 300 + 5 for seconds in lifetimes), lifetimes
    assert len({round(seconds) for seconds in lifetimes}) > 3, lifetimes


async def raw_socket(url: str, token: str | None) -> Any:
    socket = await connect(
        url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def test_a_socket_without_a_valid_token_is_closed_with_4403(room: Room) -> None:
    for token in (None, "cove_" + "A" * 43):
        socket = await raw_socket(room.server.url, token)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def subscribe_raw(
    room: Room, session: str, topics: list[str], token: str | None = None
) -> Any:
    socket = await raw_socket(room.server.url, token or room.bob_token)
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    variables = {"s": session, "t": topics}
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": example.EVENTS, "variables": variables},
            }
        )
    )
    return socket


def open_session(client: GraphQLClient) -> tuple[str, str, bytes]:
    session = client.data(example.OPEN)["openRealtimeSession"]["session"]
    return session["id"], session["key"]["id"], base64.b64decode(session["key"]["secret"])


async def next_message(socket: Any, seconds: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] != "ping":
                return message


def socket_error_code(message: dict[str, Any]) -> str | None:
    """The code of an error frame: `error` before execution, `next` with errors during it."""
    if message["type"] == "error":
        return str(message["payload"][0]["extensions"]["code"])
    if message["type"] == "next" and message["payload"].get("errors"):
        return str(message["payload"]["errors"][0]["extensions"]["code"])
    return None


async def test_bad_subscriptions_get_clear_errors(room: Room) -> None:
    session, _, _ = open_session(room.bob)
    alice_session, _, _ = open_session(room.alice)
    stranger_token, _ = sign_up(room.server.client(), "stranger@rt.example")
    cases = [
        (session, ["not a topic"], room.bob_token, "NOT_FOUND"),
        (session, [room.workspace.replace("A", "B")], room.bob_token, "NOT_FOUND"),
        (alice_session, [room.channel], room.bob_token, "NOT_FOUND"),  # someone else's session
        ("01nosuchsession", [room.channel], room.bob_token, "NOT_FOUND"),
        (session, [room.channel], stranger_token, "NOT_FOUND"),  # a stranger's socket
        (session, [], room.bob_token, "BAD_USER_INPUT"),
    ]
    for session_id, topics, token, code in cases:
        socket = await subscribe_raw(room, session_id, topics, token)
        message = await next_message(socket)
        await socket.close()
        assert socket_error_code(message) == code, (topics, message)


async def test_queries_and_mutations_are_refused_over_the_socket(room: Room) -> None:
    socket = await raw_socket(room.server.url, room.bob_token)
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { id } }"}})
    )
    message = await next_message(socket)
    await socket.close()
    assert socket_error_code(message) == "BAD_USER_INPUT", message


async def test_a_removed_member_receives_nothing_after_the_removal(room: Room) -> None:
    session, key_id, secret = open_session(room.bob)
    socket = await subscribe_raw(room, session, [room.channel])
    await registered(room, session)
    await asyncio.to_thread(room.alice.data, POST, {"c": room.channel, "t": "before"})
    before = await next_message(socket)
    assert before["type"] == "next"
    envelope = before["payload"]["data"]["events"]
    assert example.decrypt(secret, session, envelope)["data"]["text"] == "before"
    await asyncio.to_thread(
        room.alice.data,
        "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": room.channel, "u": room.bob_id},
    )
    await asyncio.to_thread(room.alice.data, POST, {"c": room.channel, "t": f"{CANARY} after"})
    # Its only topic became unreadable: the subscription completes, carrying nothing more.
    after = await next_message(socket)
    await socket.close()
    assert after["type"] == "complete", after
    refused = room.bob.run(example.KEY, {"s": session, "k": key_id})
    assert error_codes(refused) == ["NOT_FOUND"]


async def test_log_out_completes_subscriptions_and_refuses_keys(room: Room) -> None:
    token = room.server.client().data(
        "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { token } }",
        {"e": "bob@rt.example", "p": PASSWORD},
    )["logIn"]["token"]
    device = room.server.client(token)
    session, key_id, _ = open_session(device)
    socket = await subscribe_raw(room, session, [room.channel], token)
    await registered(room, session)
    await asyncio.to_thread(device.data, "mutation { logOut { ok } }")
    message = await next_message(socket)
    await socket.close()
    assert message["type"] == "complete"
    # Another device of Bob's cannot fetch that session's keys either.
    assert error_codes(room.bob.run(example.KEY, {"s": session, "k": key_id})) == ["NOT_FOUND"]


async def test_workspace_and_personal_topics(room: Room) -> None:
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()

    async def act() -> None:
        await registered(room, client.session_id)
        await asyncio.to_thread(
            room.alice.data,
            'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "announce"}) { channel { id } } }',
            {"w": room.workspace},
        )
        await asyncio.to_thread(
            room.bob.data,
            "mutation($c: ID!) { typing(input: {channelId: $c}) { ok } }",
            {"c": room.channel},
        )

    actor = asyncio.create_task(act())
    events = await take(client.events([room.workspace, room.channel, room.bob_id]), 2)
    await actor
    await client.close()
    assert [(e["type"], e["topic"]) for e in events] == [
        ("channel.created", room.workspace),
        ("typing", room.channel),
    ]
    assert events[0]["data"]["name"] == "announce"


PRESENCE = """query($w: ID!) { node(id: $w) { ... on Workspace { members(first: 10) {
  edges { node { presence user { id } } } } } } }"""


def presence_of(room: Room, user_id: str) -> str:
    edges = room.alice.data(PRESENCE, {"w": room.workspace})["node"]["members"]["edges"]
    return next(e["node"]["presence"] for e in edges if e["node"]["user"]["id"] == user_id)


@pytest.mark.parametrize(
    "room",
    [{"presence_heartbeat_seconds": 1, "presence_timeout_seconds": 2, "away_after_seconds": 2}],
    indirect=True,
)
async def test_presence_follows_live_subscriptions_and_activity(room: Room) -> None:
    assert presence_of(room, room.bob_id) == "OFFLINE"
    session, _, _ = open_session(room.bob)
    socket = await subscribe_raw(room, session, [room.channel])
    await registered(room, session)
    assert await asyncio.to_thread(presence_of, room, room.bob_id) == "ONLINE"
    await asyncio.sleep(2.5)  # subscribed (heartbeats go on) but idle
    assert await asyncio.to_thread(presence_of, room, room.bob_id) == "AWAY"
    await asyncio.to_thread(room.bob.data, POST, {"c": room.channel, "t": "back"})
    assert await asyncio.to_thread(presence_of, room, room.bob_id) == "ONLINE"
    await socket.close()
    await asyncio.sleep(3)  # no heartbeat for longer than the timeout
    assert await asyncio.to_thread(presence_of, room, room.bob_id) == "OFFLINE"


@pytest.mark.parametrize("room", [{"realtime_max_sessions_per_user": 2}], indirect=True)
async def test_limits_on_sessions_and_subscriptions(room: Room) -> None:
    session, _, _ = open_session(room.bob)
    open_session(room.bob)
    too_many = room.bob.run(example.OPEN)
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    assert "closeRealtimeSession" in too_many["errors"][0]["message"]
    first = await subscribe_raw(room, session, [room.channel])
    await registered(room, session)
    second = await subscribe_raw(room, session, [room.channel])
    message = await next_message(second)
    assert socket_error_code(message) == "BAD_USER_INPUT"
    await second.close()
    await first.close()
    # Closing a session makes room for another.
    room.bob.data(
        "mutation($s: ID!) { closeRealtimeSession(input: {sessionId: $s}) { closedSessionId } }",
        {"s": session},
    )
    open_session(room.bob)


async def test_the_direct_path_and_the_usual_path_answer_alike(room: Room) -> None:
    """`events` with aliases and __typename takes the direct path; a fragment takes
    strawberry's usual one; both deliver the same decryptable envelope."""
    direct = "subscription($s: ID!, $t: [ID!]!) { e: events(sessionId: $s, topics: $t) { k: keyId seq nonce ciphertext __typename } }"
    usual = "subscription($s: ID!, $t: [ID!]!) { e: events(sessionId: $s, topics: $t) { ...F } } fragment F on RealtimeEvent { k: keyId seq nonce ciphertext __typename }"
    answers = []
    for document in (direct, usual):
        session, _, secret = open_session(room.bob)
        socket = await raw_socket(room.server.url, room.bob_token)
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        payload = {"query": document, "variables": {"s": session, "t": [room.channel]}}
        await socket.send(json.dumps({"id": "x", "type": "subscribe", "payload": payload}))
        await registered(room, session)
        await asyncio.to_thread(room.alice.data, POST, {"c": room.channel, "t": "same"})
        message = await next_message(socket)
        await socket.close()
        event = message["payload"]["data"]["e"]
        assert set(event) == {"k", "seq", "nonce", "ciphertext", "__typename"}
        assert event["__typename"] == "RealtimeEvent"
        envelope = {
            "keyId": event["k"],
            "seq": event["seq"],
            "nonce": event["nonce"],
            "ciphertext": event["ciphertext"],
        }
        answers.append(
            (
                message["type"],
                example.decrypt(secret, session, envelope)["data"]["text"],
                event["seq"],
            )
        )
    assert answers[0] == answers[1] == ("next", "same", 1)


async def test_direct_path_subscriptions_are_counted_in_metrics(room: Room) -> None:
    session, _, _ = open_session(room.bob)
    socket = await subscribe_raw(room, session, [room.channel])
    await registered(room, session)
    room.bob.data(
        "mutation($s: ID!) { closeRealtimeSession(input: {sessionId: $s}) { closedSessionId } }",
        {"s": session},
    )
    assert (await next_message(socket))["type"] == "complete"
    await socket.close()
    text = await asyncio.to_thread(
        lambda: __import__("httpx").get(room.server.url + "/metrics").text
    )
    assert 'cove_graphql_operations_total{operation="subscription:events",outcome="ok"} 1.0' in text


async def test_a_drive_folder_is_a_topic_readers_of_it_may_follow(room: Room) -> None:
    from drive_support import CREATE_FOLDER, new_version, upload_file

    folder = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "n": "Live docs"})[
        "createFolder"
    ]["folder"]["id"]
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()

    async def work() -> None:
        await registered(room, client.session_id)
        file_id = await asyncio.to_thread(
            upload_file, room.server, room.alice, room.workspace, b"v1", parent=folder
        )
        await asyncio.to_thread(new_version, room.server, room.alice, file_id, b"v2")
        await asyncio.to_thread(
            room.alice.data,
            'mutation($i: ID!) { renameDriveItem(input: {itemId: $i, name: "renamed.txt"}) { item { id } } }',
            {"i": file_id},
        )
        await asyncio.to_thread(
            room.alice.data,
            "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id } } }",
            {"i": file_id},
        )

    worker = asyncio.create_task(work())
    events = await take(client.events([folder]), 4)
    await worker
    await client.close()
    assert [e["type"] for e in events] == [
        "drive.item_added",
        "drive.version_added",
        "drive.item_renamed",
        "drive.item_trashed",
    ]
    assert events[2]["data"]["name"] == "renamed.txt"
    assert all(e["topic"] == folder for e in events)


async def test_calendars_and_boards_are_topics_too(room: Room) -> None:
    calendar = room.alice.data(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"}) { calendar { id } } }',
        {"w": room.workspace},
    )["createCalendar"]["calendar"]["id"]
    board = room.alice.data(
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "Sprint"}) { board { id } } }',
        {"w": room.workspace},
    )["createBoard"]["board"]["id"]
    todo = room.alice.data(
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "To do"}) { list { id } } }',
        {"b": board},
    )["createTaskList"]["list"]["id"]
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()

    async def work() -> None:
        await registered(room, client.session_id)
        await asyncio.to_thread(
            room.alice.data,
            'mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Planning", start: "2026-05-04T09:00:00Z", end: "2026-05-04T10:00:00Z"}}) { event { id } } }',
            {"c": calendar},
        )
        task = await asyncio.to_thread(
            room.alice.data,
            'mutation($l: ID!) { createTask(input: {listId: $l, title: "Estimate"}) { task { id } } }',
            {"l": todo},
        )
        await asyncio.to_thread(
            room.alice.data,
            "mutation($t: ID!) { updateTask(input: {taskId: $t, status: DONE}) { task { id } } }",
            {"t": task["createTask"]["task"]["id"]},
        )

    worker = asyncio.create_task(work())
    events = await take(client.events([calendar, board]), 3)
    await worker
    await client.close()
    assert [(e["topic"], e["type"]) for e in events] == [
        (calendar, "event.created"),
        (board, "task.created"),
        (board, "task.completed"),
    ]
    assert events[0]["data"]["title"] == "Planning"
    assert events[1]["data"]["title"] == "Estimate"
