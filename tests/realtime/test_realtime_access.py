"""Realtime follows every access change: keys, workspace events, no-op mutations, one stream
per session, access re-checked in broker order and sockets whose login ended."""

from __future__ import annotations

import asyncio

from support import error_codes
from tests.realtime.test_realtime_e2e import (
    Room,
    example,
    open_session,
    registered,
    room,
    subscribe_raw,
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
