"""A stream ends when its login does, noticed at the next key rotation (fake clock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto.keyring import Keyring
from crypto.passwords import Argon2Params, PasswordHasher
from crypto.realtime import BrokerSealer
from crypto.root_key import generate_install_salt, generate_root_key
from persistence.sqlite.engine import SqliteStore
from resolvers import channels, realtime, workspaces
from resolvers.context import RequestContext
from resolvers.global_ids import to_global_id
from resolvers.passwords import PasswordService
from resolvers.ratelimit import AuthLimits
from resolvers.roles import Visibility
from resolvers.services import Policy, RealtimePolicy, Services
from tests.accounts_support import signed_up


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Clock, bytes]]:
    store = await SqliteStore.open(tmp_path / "cove.db")
    clock = Clock()
    root, salt = generate_root_key(), generate_install_salt()
    keyring = Keyring(root, salt)
    services = Services.build(
        store=store,
        keyring=keyring,
        passwords=PasswordService(PasswordHasher(Argon2Params.minimum()), 2),
        session_ttl=timedelta(hours=1),
        limits=AuthLimits.build(
            logins_per_ip_per_minute=100,
            failures_per_account=100,
            failure_window_seconds=60,
            signups_per_ip_per_hour=100,
        ),
        policy=Policy(realtime=RealtimePolicy(rotate_events=1)),
        clock=clock,
    )
    # The broker key is the services' own derivation; the test plays the broker.
    yield services, clock, Keyring(root, salt).derive(b"realtime broker")
    services.close()
    await store.close()


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
