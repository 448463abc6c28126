"""Realtime follows every access change: keys, workspace events, no-op mutations, one stream
per session, access re-checked in broker order and sockets whose login ended."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from drive_support import CREATE_FOLDER
from websockets.exceptions import ConnectionClosed

from support import PASSWORD, GraphQLClient, error_codes, sign_up
from tests.realtime.test_realtime_e2e import (
    CANARY,
    POST,
    Room,
    example,
    next_message,
    open_session,
    raw_socket,
    registered,
    room,
    socket_error_code,
    subscribe_raw,
    take,
)

__all__ = ["room"]  # the fixture, shared with the end-to-end tests

REMOVE = "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"


async def test_a_key_needs_every_subscribed_topic_to_stay_readable(room: Room) -> None:
    session, key_id, _ = open_session(room.bob)
    socket = await subscribe_raw(room, session, [room.workspace, room.channel])
    await registered(room, session)
    assert error_codes(room.bob.run(example.KEY, {"s": session, "k": key_id})) == []
    await asyncio.to_thread(room.alice.data, REMOVE, {"c": room.channel, "u": room.bob_id})
    # The workspace is still readable, the channel is not: no key of the session is handed out.
    assert error_codes(room.bob.run(example.KEY, {"s": session, "k": key_id})) == ["NOT_FOUND"]
    await socket.close()


def add_person(room: Room, email: str, role: str) -> tuple[str, GraphQLClient]:
    token, _ = sign_up(room.server.client(), email, name=email.split("@", maxsplit=1)[0])
    person = room.server.client(token)
    invitation = room.alice.data(
        f"mutation($w: ID!, $e: String!) {{ inviteMember(input: {{workspaceId: $w, email: $e, role: {role}}}) {{ invitation {{ id }} }} }}",
        {"w": room.workspace, "e": email},
    )["inviteMember"]["invitation"]["id"]
    person.data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    return token, person


async def test_the_workspace_topic_tells_each_reader_only_of_channels_it_reads(room: Room) -> None:
    token, _ = add_person(room, "guest@rt.example", "GUEST")
    client = example.RealtimeClient(room.server.url, token)
    await client.open()

    async def act() -> None:
        await registered(room, client.session_id)
        public = await asyncio.to_thread(
            room.alice.data,
            f'mutation($w: ID!) {{ createChannel(input: {{workspaceId: $w, name: "{CANARY}"}}) {{ channel {{ id }} }} }}',
            {"w": room.workspace},
        )
        channel = public["createChannel"]["channel"]["id"]
        await asyncio.to_thread(
            room.alice.data,
            f'mutation($c: ID!) {{ renameChannel(input: {{channelId: $c, name: "{CANARY}2"}}) {{ channel {{ id }} }} }}',
            {"c": channel},
        )
        await asyncio.to_thread(
            room.alice.data,
            "mutation($c: ID!) { archiveChannel(input: {channelId: $c}) { channel { id } } }",
            {"c": channel},
        )
        await asyncio.to_thread(
            room.alice.data,
            'mutation($w: ID!) { renameWorkspace(input: {workspaceId: $w, name: "RT2"}) { workspace { id } } }',
            {"w": room.workspace},
        )

    actor = asyncio.create_task(act())
    events = await take(client.events([room.workspace]), 1)
    await actor
    await client.close()
    # The guest reads no public channel: it learns of none of them, only of the workspace.
    assert [e["type"] for e in events] == ["workspace.renamed"], events
    assert CANARY not in repr(events)


REACTION = 'mutation($m: ID!) { %s(input: {messageId: $m, emoji: "+1"}) { message { id } } }'
ON_MESSAGE = "mutation($m: ID!) { %s(input: {messageId: $m}) { message { id } } }"
ON_CHANNEL = "mutation($c: ID!) { %s(input: {channelId: $c}) { channel { id } } }"


async def test_mutations_that_change_nothing_publish_nothing(room: Room) -> None:
    _, carol = add_person(room, "carol@rt.example", "MEMBER")
    channel = room.alice.data(
        'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "open"}) { channel { id } } }',
        {"w": room.workspace},
    )["createChannel"]["channel"]["id"]
    message = room.alice.data(POST, {"c": channel, "t": "hello"})["postMessage"]["message"]["id"]
    room.alice.data(REACTION % "addReaction", {"m": message})
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()

    async def act() -> None:
        await registered(room, client.session_id)

        def run(who: GraphQLClient, document: str, variables: dict[str, str]) -> None:
            who.run(document, variables)  # refusals are fine: only what is published counts

        steps = [
            (carol, REACTION % "removeReaction", {"m": message}),  # carol never reacted
            (room.alice, ON_MESSAGE % "pinMessage", {"m": message}),
            (room.alice, ON_MESSAGE % "pinMessage", {"m": message}),  # already pinned
            (room.alice, ON_MESSAGE % "unpinMessage", {"m": message}),
            (room.alice, ON_MESSAGE % "unpinMessage", {"m": message}),  # not pinned
            (room.alice, ON_CHANNEL % "archiveChannel", {"c": channel}),
            (room.alice, ON_CHANNEL % "archiveChannel", {"c": channel}),  # already archived
            (carol, REACTION % "removeReaction", {"m": message}),  # a non-member, archived
            (room.alice, REACTION % "removeReaction", {"m": message}),  # archived
            (room.alice, ON_CHANNEL % "unarchiveChannel", {"c": channel}),
        ]
        for who, document, variables in steps:
            await asyncio.to_thread(run, who, document, variables)

    actor = asyncio.create_task(act())
    events = await take(client.events([channel]), 4)
    await actor
    await client.close()
    assert [(e["type"], e["data"].get("pinned", e["data"].get("archived"))) for e in events] == [
        ("pin.changed", True),
        ("pin.changed", False),
        ("channel.archived", True),
        ("channel.archived", False),
    ]


async def test_answers_and_task_updates_that_change_nothing_publish_nothing(room: Room) -> None:
    calendar = room.alice.data(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"}) '
        "{ calendar { id } } }",
        {"w": room.workspace},
    )["createCalendar"]["calendar"]["id"]
    event = room.alice.data(
        "mutation($c: ID!, $b: ID!) { createEvent(input: {calendarId: $c, event: {title: "
        '"Sync", start: "2026-12-07T10:00:00Z", end: "2026-12-07T11:00:00Z", '
        "attendeeIds: [$b]}}) { event { id } } }",
        {"c": calendar, "b": room.bob_id},
    )["createEvent"]["event"]["id"]
    board = room.alice.data(
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "B"}) { board { id } } }',
        {"w": room.workspace},
    )["createBoard"]["board"]["id"]
    task_list = room.alice.data(
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "L"}) { list { id } } }',
        {"b": board},
    )["createTaskList"]["list"]["id"]
    task = room.alice.data(
        'mutation($l: ID!) { createTask(input: {listId: $l, title: "Write", description: "d"}) '
        "{ task { id } } }",
        {"l": task_list},
    )["createTask"]["task"]["id"]
    respond = (
        "mutation($e: ID!, $r: Rsvp!) { respondToEvent(input: {eventId: $e, response: $r}) "
        "{ event { id } } }"
    )
    update = (
        "mutation($t: ID!, $n: String) { updateTask(input: {taskId: $t, title: $n, "
        'description: "d", status: TODO}) { task { id } } }'
    )
    client = example.RealtimeClient(room.server.url, room.bob_token)
    await client.open()

    async def act() -> None:
        await registered(room, client.session_id)
        steps = [
            (room.bob, respond, {"e": event, "r": "ACCEPTED"}),
            (room.bob, respond, {"e": event, "r": "ACCEPTED"}),  # the same answer
            (room.alice, update, {"t": task, "n": "Write"}),  # all as it is
            (room.alice, update, {"t": task, "n": None}),  # nothing new either
            (room.bob, respond, {"e": event, "r": "DECLINED"}),
            (room.alice, update, {"t": task, "n": "Rewrite"}),
        ]
        for who, document, variables in steps:
            await asyncio.to_thread(who.data, document, variables)

    actor = asyncio.create_task(act())
    events = await take(client.events([calendar, board]), 3)
    await actor
    await client.close()
    assert [e["type"] for e in events] == [
        "event.rsvp_changed",
        "event.rsvp_changed",
        "task.changed",
    ]
    assert [e["data"].get("response") for e in events[:2]] == ["ACCEPTED", "DECLINED"]


CLOSE = "mutation($s: ID!) { closeRealtimeSession(input: {sessionId: $s}) { closedSessionId } }"


async def outcome(socket: Any) -> str:
    """How a subscription ended: its error's code, `complete`, or `open` if it goes on."""
    try:
        message = await next_message(socket, seconds=3)
    except TimeoutError:
        return "open"
    return socket_error_code(message) or message["type"]


async def test_racing_subscribes_on_one_session_open_one_stream(room: Room) -> None:
    session, _, _ = open_session(room.bob)
    sockets = []
    for _ in range(4):
        socket = await raw_socket(room.server.url, room.bob_token)
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        sockets.append(socket)
    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": example.EVENTS, "variables": {"s": session, "t": [room.channel]}},
    }
    await asyncio.gather(*(socket.send(json.dumps(subscribe)) for socket in sockets))
    await registered(room, session)
    await asyncio.to_thread(room.bob.data, CLOSE, {"s": session})
    # All but one were refused; closing the session ended the other: no stream of it runs on.
    outcomes = await asyncio.gather(*(outcome(socket) for socket in sockets))
    for socket in sockets:
        await socket.close()
    assert sorted(outcomes) == ["BAD_USER_INPUT"] * 3 + ["complete"], outcomes


ADD = "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"


def add_guest_to_channel(room: Room) -> tuple[str, GraphQLClient]:
    token, guest = add_person(room, "carol@rt.example", "GUEST")
    guest_id = guest.data("{ viewer { id } }")["viewer"]["id"]
    room.alice.data(ADD, {"c": room.channel, "u": guest_id})
    return token, guest


async def ends_after(room: Room, token: str, topic: str, change: Callable[[], object]) -> str:
    """Subscribe the guest to `topic`, make the change, and say how its stream went on."""
    session, _, _ = open_session(room.server.client(token))
    socket = await subscribe_raw(room, session, [topic], token)
    await registered(room, session)
    await asyncio.to_thread(change)
    result = await outcome(socket)
    await socket.close()
    return result


async def test_unsharing_a_calendar_from_a_channel_ends_its_readers_streams(room: Room) -> None:
    token, _ = add_guest_to_channel(room)
    calendar = room.alice.data(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"}) { calendar { id } } }',
        {"w": room.workspace},
    )["createCalendar"]["calendar"]["id"]
    variables = {"k": calendar, "c": room.channel}
    room.alice.data(
        "mutation($k: ID!, $c: ID!) { shareCalendar(input: {calendarId: $k, channelId: $c}) { calendar { id } } }",
        variables,
    )
    unshare = "mutation($k: ID!, $c: ID!) { unshareCalendar(input: {calendarId: $k, channelId: $c}) { calendar { id } } }"
    assert await ends_after(room, token, calendar, lambda: room.alice.data(unshare, variables)) == (
        "complete"
    )


async def test_unsharing_a_folder_from_a_channel_ends_its_readers_streams(room: Room) -> None:
    token, _ = add_guest_to_channel(room)
    folder = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "n": "Shared"})["createFolder"][
        "folder"
    ]["id"]
    inner = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "p": folder, "n": "Inner"})[
        "createFolder"
    ]["folder"]["id"]
    variables = {"i": folder, "c": room.channel}
    room.alice.data(
        "mutation($i: ID!, $c: ID!) { shareDriveItem(input: {itemId: $i, channelId: $c}) { shares { level } } }",
        variables,
    )
    unshare = "mutation($i: ID!, $c: ID!) { unshareDriveItem(input: {itemId: $i, channelId: $c}) { shares { level } } }"
    # A reader of a folder inside the shared one loses it too.
    assert await ends_after(room, token, inner, lambda: room.alice.data(unshare, variables)) == (
        "complete"
    )


async def test_moving_a_folder_out_of_a_shared_one_ends_its_readers_streams(room: Room) -> None:
    token, _ = add_guest_to_channel(room)
    folder = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "n": "Shared"})["createFolder"][
        "folder"
    ]["id"]
    inner = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "p": folder, "n": "Inner"})[
        "createFolder"
    ]["folder"]["id"]
    deeper = room.alice.data(CREATE_FOLDER, {"w": room.workspace, "p": inner, "n": "Deeper"})[
        "createFolder"
    ]["folder"]["id"]
    room.alice.data(
        "mutation($i: ID!, $c: ID!) { shareDriveItem(input: {itemId: $i, channelId: $c}) { shares { level } } }",
        {"i": folder, "c": room.channel},
    )
    move = "mutation($i: ID!) { moveDriveItem(input: {itemId: $i}) { item { id } } }"
    assert await ends_after(room, token, deeper, lambda: room.alice.data(move, {"i": inner})) == (
        "complete"
    )


async def test_a_socket_is_closed_when_its_login_runs_out(room: Room) -> None:
    services = room.server.server.config.app.state["services"]
    real_clock = services.clock
    ttl = services.session_ttl
    # A login made "ttl less two seconds ago" by the server's clock: it runs out in 2 s.
    services.clock = lambda: real_clock() - ttl + timedelta(seconds=2)
    try:
        token = room.server.client().data(
            "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) "
            "{ token } }",
            {"e": "bob@rt.example", "p": PASSWORD},
        )["logIn"]["token"]
    finally:
        services.clock = real_clock
    idle = await raw_socket(room.server.url, token)
    assert json.loads(await idle.recv())["type"] == "connection_ack"
    with pytest.raises(ConnectionClosed) as closed:
        await next_message(idle, seconds=8)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert "login ended" in closed.value.rcvd.reason


async def test_a_socket_whose_login_ends_is_closed(room: Room) -> None:
    token = room.server.client().data(
        "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { token } }",
        {"e": "bob@rt.example", "p": PASSWORD},
    )["logIn"]["token"]
    device = room.server.client(token)
    session, _, _ = open_session(device)
    streaming = await subscribe_raw(room, session, [room.channel], token)
    await registered(room, session)
    idle = await raw_socket(room.server.url, token)  # acknowledged, subscribed to nothing
    assert json.loads(await idle.recv())["type"] == "connection_ack"
    other = await raw_socket(room.server.url, room.bob_token)  # another login of Bob's
    assert json.loads(await other.recv())["type"] == "connection_ack"
    await asyncio.to_thread(device.data, "mutation { logOut { ok } }")
    assert (await next_message(streaming))["type"] == "complete"
    for socket in (streaming, idle):
        with pytest.raises(ConnectionClosed) as closed:
            await next_message(socket)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        assert "login ended" in closed.value.rcvd.reason
    await other.send(json.dumps({"type": "ping"}))
    assert json.loads(await other.recv())["type"] == "pong"
    await other.close()
