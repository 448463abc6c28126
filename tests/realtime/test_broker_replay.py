"""Broker envelopes cannot be replayed, forged or delivered stale: through a real Redis, where
anyone with Redis access can capture and re-publish them, and at the hub itself."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis_server import RedisServer

from crypto.realtime import new_realtime_key
from integrations.broker import RedisBroker
from resolvers.authz import Principal
from resolvers.hub import Hub, Subscription
from resolvers.notices import Notices

KEY = new_realtime_key()
CHANNEL = "cove:events"


async def can_read(principal: Principal, topic: str) -> bool:
    return True


def subscription(user: str = "u", session: str = "s-u") -> Subscription:
    return Subscription(
        session_id=session,
        login_session_id=f"login-{user}",
        principal=Principal(user, f"login-{user}"),
        topics={"t"},
        queue_limit=100,
    )


async def drain(sub: Subscription) -> list[dict[str, Any]]:
    sub.end()
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(2):
        async for plaintext in sub.stream():
            got.append(json.loads(plaintext))
    return got


class Recorder:
    """A broker that keeps what a node publishes: the test then plays Redis, replays included."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def publish(self, payload: bytes) -> None:
        self.sent.append(payload)

    async def ping(self) -> None:
        return None


def shifted_clock(seconds: float) -> Callable[[], float]:
    return lambda: time.time() + seconds


# --- through a real Redis -------------------------------------------------------------------


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    server = RedisServer(tmp_path)
    await asyncio.to_thread(server.start)
    yield server.url
    await asyncio.to_thread(server.stop)


async def test_an_envelope_captured_on_redis_and_published_again_is_delivered_once(
    redis_url: str,
) -> None:
    sender, receiver = RedisBroker(redis_url), RedisBroker(redis_url)
    raw = Redis.from_url(redis_url)
    spy = raw.pubsub()
    try:
        async with asyncio.timeout(15):
            await spy.subscribe(CHANNEL)
            await spy.get_message(timeout=2)  # the subscribe confirmation
            hub = Hub(KEY, can_read)
            sub = subscription()
            hub.add(sub)
            await receiver.start(hub.on_payload)
            await sender.start(_ignore)
            notices = Notices(sender, KEY)

            await notices.publish("t", "message", {"n": 1})
            captured = await _next_message(spy)
            for _ in range(3):  # whoever holds Redis re-publishes the sealed envelope as is
                await raw.publish(CHANNEL, captured)
            await notices.publish("t", "message", {"n": 2})
            await _next_message(spy)  # ...which the receiver saw after the replays
            for _ in range(3):
                await _next_message(spy)
            await asyncio.sleep(0.3)

            assert [e["data"]["n"] for e in await drain(sub)] == [1, 2]
            assert hub.drops["replayed"] == 3
    finally:
        await spy.aclose()
        await raw.aclose()
        await sender.close()
        await receiver.close()


async def _ignore(payload: bytes) -> None:
    return None


async def _next_message(spy: Any) -> bytes:
    while True:
        message = await spy.get_message(ignore_subscribe_messages=True, timeout=2)
        if message is not None:
            return bytes(message["data"])


# --- at the hub -----------------------------------------------------------------------------


async def test_every_kind_of_envelope_is_acted_on_once() -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    hub = Hub(KEY, can_read)
    first = subscription(session="s-1")
    hub.add(first)
    await notices.publish("t", "message", {"n": 1})
    await notices.session_ended("s-1")
    for envelope in recorder.sent:
        await hub.on_payload(envelope)
    assert [e["data"]["n"] for e in await drain(first)] == [1]

    # A new subscription that happens to reuse the ended session's id (a resumed session):
    # neither the old notice nor the old `session_ended` may reach it again.
    hub.remove(first)
    second = subscription(session="s-1")
    hub.add(second)
    for envelope in recorder.sent:
        await hub.on_payload(envelope)
    await notices.publish("t", "message", {"n": 2})
    await hub.on_payload(recorder.sent[-1])
    assert [e["data"]["n"] for e in await drain(second)] == [2]
    assert hub.drops["replayed"] == 2


async def test_an_older_envelope_from_the_same_node_is_dropped() -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    hub = Hub(KEY, can_read)
    sub = subscription()
    hub.add(sub)
    for n in range(3):
        await notices.publish("t", "message", {"n": n})
    await hub.on_payload(recorder.sent[0])
    await hub.on_payload(recorder.sent[2])
    await hub.on_payload(recorder.sent[1])  # held back by the attacker, then let through
    assert [e["data"]["n"] for e in await drain(sub)] == [0, 2]


async def test_two_nodes_are_tracked_apart() -> None:
    recorder = Recorder()
    node_a, node_b = Notices(recorder, KEY), Notices(recorder, KEY)
    hub = Hub(KEY, can_read)
    sub = subscription()
    hub.add(sub)
    for n in range(4):
        await (node_a if n % 2 else node_b).publish("t", "message", {"n": n})
    for envelope in recorder.sent:
        await hub.on_payload(envelope)
    assert [e["data"]["n"] for e in await drain(sub)] == [0, 1, 2, 3]
    assert sum(hub.drops.values()) == 0


async def test_a_tampered_or_forged_envelope_is_dropped() -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    hub = Hub(KEY, can_read)
    sub = subscription()
    hub.add(sub)
    await notices.publish("t", "message", {"n": 1})
    original = recorder.sent[0]
    # Every byte matters: the node, counter and time as much as the ciphertext and tag.
    for index in range(len(original)):
        tampered = bytearray(original)
        tampered[index] ^= 0x01
        await hub.on_payload(bytes(tampered))
    await hub.on_payload(original[:-1])
    await hub.on_payload(b"garbage")
    await Notices(recorder, new_realtime_key()).publish("t", "message", {"n": 2})
    await hub.on_payload(recorder.sent[-1])  # sealed under another key
    assert await drain(sub) == []
    assert hub.drops["unauthentic"] == len(original) + 3


@pytest.mark.parametrize(("offset", "reason"), [(120, "stale"), (-120, "future")])
async def test_an_envelope_outside_the_freshness_window_is_dropped(
    offset: float, reason: str
) -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    # The receiving node's clock: two minutes after the sender's, or before it.
    hub = Hub(KEY, can_read, clock=shifted_clock(offset))
    sub = subscription()
    hub.add(sub)
    await notices.publish("t", "message", {"n": 1})
    await hub.on_payload(recorder.sent[0])
    assert await drain(sub) == []
    assert hub.drops[reason] == 1


async def test_clocks_a_little_apart_still_deliver() -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    hub = Hub(KEY, can_read, clock=shifted_clock(2))
    sub = subscription()
    hub.add(sub)
    await notices.publish("t", "message", {"n": 1})
    await hub.on_payload(recorder.sent[0])
    assert [e["data"]["n"] for e in await drain(sub)] == [1]


async def test_drops_are_logged_at_most_once_a_minute_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    notices = Notices(recorder, KEY)
    hub = Hub(KEY, can_read)
    await notices.publish("t", "message", {"n": 1})
    with caplog.at_level(logging.WARNING, logger="cove.realtime"):
        for _ in range(50):
            await hub.on_payload(recorder.sent[0])
    assert hub.drops["replayed"] == 49
    assert len([r for r in caplog.records if "replayed" in r.getMessage()]) == 1
