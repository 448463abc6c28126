"""The Broker contract: every engine must pass these tests unchanged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from integrations.broker import Broker, BrokerUnavailable

NewBroker = Callable[[], Broker]


async def drain(inbox: asyncio.Queue[bytes], count: int) -> list[bytes]:
    return [await inbox.get() for _ in range(count)]


async def test_a_published_payload_comes_back(new_broker: NewBroker, engine: str) -> None:
    async with asyncio.timeout(10):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()
        assert broker.name == engine
        await broker.start(inbox.put)
        await broker.publish(b"\x00sealed\xff")
        assert await inbox.get() == b"\x00sealed\xff"


async def test_a_thousand_payloads_arrive_in_publish_order(new_broker: NewBroker) -> None:
    async with asyncio.timeout(20):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        sent = [n.to_bytes(4, "big") for n in range(1000)]
        for payload in sent:
            await broker.publish(payload)
        assert await drain(inbox, 1000) == sent


async def test_a_slow_handler_delays_but_never_reorders(new_broker: NewBroker) -> None:
    async with asyncio.timeout(10):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()

        async def slow_on_first(payload: bytes) -> None:
            if payload == b"0":
                await asyncio.sleep(0.3)
            await inbox.put(payload)

        await broker.start(slow_on_first)
        for payload in (b"0", b"1", b"2"):
            await broker.publish(payload)
        assert await drain(inbox, 3) == [b"0", b"1", b"2"]


async def test_a_failing_handler_does_not_stop_delivery(
    new_broker: NewBroker, caplog: pytest.LogCaptureFixture
) -> None:
    async with asyncio.timeout(10):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()

        async def fails_once(payload: bytes) -> None:
            if payload == b"poison-9b1f":
                raise RuntimeError("handler bug")
            await inbox.put(payload)

        await broker.start(fails_once)
        with caplog.at_level(logging.ERROR, logger="cove.broker"):
            await broker.publish(b"poison-9b1f")
            await broker.publish(b"after")
            assert await inbox.get() == b"after"
        assert [r.getMessage() for r in caplog.records] == ["broker handler failed"]
        assert "9b1f" not in caplog.text  # the payload never reaches the log


async def test_close_is_idempotent_and_leaves_no_task(new_broker: NewBroker) -> None:
    async with asyncio.timeout(10):
        never_started = new_broker()
        await never_started.close()
        await never_started.close()
        broker, inbox = new_broker(), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        await broker.close()
        await broker.close()
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("cove-broker")]


async def test_publishing_after_close_is_dropped_quietly(new_broker: NewBroker) -> None:
    async with asyncio.timeout(10):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        await broker.close()
        await broker.publish(b"late")
        assert inbox.empty()


async def test_ping_answers_while_open_and_raises_once_closed(new_broker: NewBroker) -> None:
    async with asyncio.timeout(10):
        broker = new_broker()
        await broker.ping()
        await broker.close()
        with pytest.raises(BrokerUnavailable):
            await broker.ping()


@pytest.mark.parametrize("payload", ["text", bytearray(b"mutable"), memoryview(b"view"), None])
async def test_only_bytes_can_be_published(new_broker: NewBroker, payload: object) -> None:
    async with asyncio.timeout(10):
        broker = new_broker()
        with pytest.raises(TypeError, match="sealed bytes"):
            await broker.publish(payload)  # type: ignore[arg-type]


async def test_a_broker_starts_only_once(new_broker: NewBroker) -> None:
    async with asyncio.timeout(10):
        broker, inbox = new_broker(), asyncio.Queue[bytes]()
        await broker.start(inbox.put)
        with pytest.raises(RuntimeError, match="already started"):
            await broker.start(inbox.put)
