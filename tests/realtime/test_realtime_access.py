"""Realtime follows every access change: keys, workspace events, no-op mutations, one stream
per session, access re-checked in broker order and sockets whose login ended."""

from __future__ import annotations

import asyncio

from support import GraphQLClient, error_codes, sign_up
from tests.realtime.test_realtime_e2e import (
    CANARY,
    Room,
    example,
    open_session,
    registered,
    room,
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


def add_guest(room: Room) -> tuple[str, GraphQLClient]:
    token, _ = sign_up(room.server.client(), "guest@rt.example", name="Guest")
    guest = room.server.client(token)
    invitation = room.alice.data(
        'mutation($w: ID!) { inviteMember(input: {workspaceId: $w, email: "guest@rt.example", role: GUEST}) { invitation { id } } }',
        {"w": room.workspace},
    )["inviteMember"]["invitation"]["id"]
    guest.data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    return token, guest


async def test_the_workspace_topic_tells_each_reader_only_of_channels_it_reads(room: Room) -> None:
    token, _ = add_guest(room)
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
