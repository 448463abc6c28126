"""A stream ends when its login does, noticed at the next key rotation (fake clock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.settings import load_settings
from crypto.keyring import Keyring
from crypto.realtime import BrokerSealer
from crypto.root_key import generate_install_salt, generate_root_key
from resolvers import channels, realtime, workspaces
from resolvers.context import RequestContext
from resolvers.global_ids import to_global_id
from resolvers.roles import Visibility
from resolvers.services import Services
from tests.accounts_support import signed_up
from tests.inprocess import Clock, sqlite_services


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Clock, bytes]]:
    clock = Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    root, salt = generate_root_key(), generate_install_salt()
    settings = load_settings(environ={}, overrides={"realtime_rotate_events": 1})
    async with sqlite_services(
        tmp_path, keyring=Keyring(root, salt), settings=settings, clock=clock
    ) as services:
        # The broker key is the services' own derivation; the test plays the broker.
        yield services, clock, Keyring(root, salt).derive(b"realtime broker")


async def test_a_stream_ends_at_the_first_rotation_after_its_login_expired(
    world: tuple[Services, Clock, bytes],
) -> None:
    services, clock, broker_key = world
    signed = await signed_up(
        RequestContext(services, "t"), "x@example.org", "correct horse battery", "X"
    )
    ctx = RequestContext(services, "t", signed.token)
    ws = await workspaces.create_workspace(ctx, "W")
    room = await channels.create_channel(ctx, ws.id, "c", Visibility.PUBLIC, None)
    session_id, _ = await realtime.open_session(ctx)
    topic = to_global_id("Channel", room.id)
    stream = realtime.subscribe(RequestContext(services, "ws", signed.token), session_id, [topic])
    received: list[int] = []

    async def consume() -> None:
        async for envelope in stream:
            received.append(envelope.seq)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    node = BrokerSealer(broker_key)

    async def publish(n: int) -> None:
        body = {"kind": "event", "topic": topic, "type": "t", "data": {"n": n}}
        await services.hub.on_payload(node.seal(json.dumps(body).encode()))
        await asyncio.sleep(0.1)

    await publish(1)
    await publish(2)  # a rotation (one event per key) while the login lives: delivered
    clock.now += timedelta(hours=2)  # the login has expired
    await publish(3)
    await asyncio.wait_for(consumer, 5)  # the stream ended by itself
    assert received == [1, 2]
