"""The Redis broker against real redis-server processes: nodes, outages, sealed envelopes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from crypto.realtime import BrokerSealer, new_realtime_key, open_from_broker
from integrations.broker import BrokerUnavailable, RedisBroker
from integrations.broker import redis as broker_redis

FAST = {"reconnect_initial": 0.05, "reconnect_max": 0.5}


class Server(Protocol):
    """What these tests need of conftest's RedisServer."""

    url: str

    def start(self) -> None: ...
    def kill(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


NewBroker = Callable[..., RedisBroker]


@pytest.fixture
async def new_broker() -> AsyncIterator[NewBroker]:
    """RedisBroker(...) that is closed after the test, however the test ends."""
    made: list[RedisBroker] = []

    def make(url: str, channel: str, **options: float) -> RedisBroker:
        made.append(RedisBroker(url, channel, **options))
        return made[-1]

    yield make
    for broker in made:
        await broker.close()


async def publish_all(broker: RedisBroker, payloads: list[bytes]) -> None:
    for payload in payloads:
        await broker.publish(payload)


async def publish_until_delivered(
    broker: RedisBroker, inbox: asyncio.Queue[bytes], probe: bytes
) -> None:
    """Publish `probe` every 100 ms until it comes back: payloads sent while down are lost."""
    while inbox.empty():  # bounded by the caller's asyncio.timeout
        await broker.publish(probe)
        await asyncio.sleep(0.1)
    while not inbox.empty():
        assert inbox.get_nowait() == probe


async def test_two_nodes_receive_each_others_payloads_in_order(
    new_broker: NewBroker, redis_url: str, channel: str
) -> None:
    async with asyncio.timeout(15):
        first, second = new_broker(redis_url, channel), new_broker(redis_url, channel)
        first_inbox, second_inbox = asyncio.Queue[bytes](), asyncio.Queue[bytes]()
        await first.start(first_inbox.put)
        await second.start(second_inbox.put)
        from_first = [b"1:%d" % n for n in range(200)]
        from_second = [b"2:%d" % n for n in range(200)]
        await asyncio.gather(publish_all(first, from_first), publish_all(second, from_second))
        for inbox in (first_inbox, second_inbox):
            got = [await inbox.get() for _ in range(400)]
            assert [p for p in got if p.startswith(b"1:")] == from_first
            assert [p for p in got if p.startswith(b"2:")] == from_second


async def test_delivery_resumes_after_redis_dies_and_returns(
    new_broker: NewBroker, own_redis: Server, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with asyncio.timeout(30):
        await asyncio.to_thread(own_redis.start)
        broker, inbox = new_broker(own_redis.url, channel, **FAST), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        await broker.publish(b"before")
        assert await inbox.get() == b"before"

        with caplog.at_level(logging.WARNING, logger="cove.broker"):
            await asyncio.to_thread(own_redis.kill)
            for n in range(10):  # none of these may raise: callers must not notice the outage
                await broker.publish(b"dropped-e41c %d" % n)
                await asyncio.sleep(0.1)
            with pytest.raises(BrokerUnavailable):
                await broker.ping()

            await asyncio.to_thread(own_redis.start)
            async with asyncio.timeout(5):
                await publish_until_delivered(broker, inbox, b"probe")
            await broker.ping()
            await publish_all(broker, [b"a", b"b", b"c"])
            assert [await inbox.get() for _ in range(3)] == [b"a", b"b", b"c"]

        messages = [r.getMessage() for r in caplog.records]
        assert messages.count("lost the Redis subscription: retrying") == 1
        assert messages.count("cannot publish to Redis: dropping events") == 1
        assert "e41c" not in caplog.text  # payloads never reach the log


async def test_a_silent_redis_is_noticed_by_probing(
    new_broker: NewBroker,
    own_redis: Server,
    channel: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A frozen server keeps its sockets open: only the listener's PING can tell."""
    monkeypatch.setattr(broker_redis, "_PROBE_AFTER", 0.2)
    async with asyncio.timeout(30):
        await asyncio.to_thread(own_redis.start)
        broker, inbox = new_broker(own_redis.url, channel, **FAST), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        await asyncio.sleep(1)  # several idle probes, each answered
        await broker.publish(b"after idle probes")
        assert await inbox.get() == b"after idle probes"

        with caplog.at_level(logging.WARNING, logger="cove.broker"):
            own_redis.pause()
            lost = "lost the Redis subscription: retrying"
            for _ in range(100):  # up to 5 s: a probe after 0.2 s, dead after 0.2 s more
                if lost in caplog.messages:
                    break
                await asyncio.sleep(0.05)
            assert lost in caplog.messages
            await broker.publish(b"dropped")  # times out inside, never raises
            own_redis.resume()
            async with asyncio.timeout(10):
                await publish_until_delivered(broker, inbox, b"probe")


async def test_a_node_starts_while_redis_is_down_and_catches_up(
    new_broker: NewBroker, own_redis: Server, channel: str
) -> None:
    async with asyncio.timeout(30):
        broker, inbox = new_broker(own_redis.url, channel, **FAST), asyncio.Queue[bytes]()
        await broker.start(inbox.put)  # returns, and keeps trying in the background
        await broker.publish(b"dropped")
        with pytest.raises(BrokerUnavailable):
            await broker.ping()
        await asyncio.to_thread(own_redis.start)
        async with asyncio.timeout(5):
            await publish_until_delivered(broker, inbox, b"probe")


@pytest.fixture
async def spy(redis_url: str, channel: str) -> AsyncIterator[PubSub]:
    """A raw redis-py subscriber on the broker's channel: what anyone with Redis access sees."""
    client = Redis.from_url(redis_url, decode_responses=False)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    confirmation = await pubsub.get_message(timeout=5)
    assert confirmation is not None and confirmation["type"] == "subscribe"
    yield pubsub
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()


async def test_redis_only_ever_sees_sealed_envelopes(
    new_broker: NewBroker, redis_url: str, channel: str, spy: PubSub
) -> None:
    async with asyncio.timeout(10):
        canary = b"CANARY plaintext 7f3a: meet at noon"
        key = new_realtime_key()
        broker, inbox = new_broker(redis_url, channel), asyncio.Queue[bytes]()
        await broker.start(inbox.put)

        await broker.publish(BrokerSealer(key).seal(canary))
        seen = await spy.get_message(timeout=5)
        assert seen is not None and seen["type"] == "message"
        raw: bytes = seen["data"]
        assert b"CANARY" not in raw and b"7f3a" not in raw
        assert open_from_broker(key, raw).payload == canary
        assert await inbox.get() == raw
