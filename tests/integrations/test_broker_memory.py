"""The in-process broker: buffering before start, dropping the oldest when full, no sharing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from integrations.broker import MemoryBroker


async def test_payloads_published_before_start_are_delivered_in_order() -> None:
    async with asyncio.timeout(10):
        broker, inbox = MemoryBroker(), asyncio.Queue[bytes]()
        for payload in (b"a", b"b", b"c"):
            await broker.publish(payload)
        await broker.start(inbox.put)
        assert [await inbox.get() for _ in range(3)] == [b"a", b"b", b"c"]
        await broker.close()


async def test_a_full_queue_drops_the_oldest_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with asyncio.timeout(10):
        broker, inbox = MemoryBroker(max_pending=3), asyncio.Queue[bytes]()
        with caplog.at_level(logging.WARNING, logger="cove.broker"):
            for n in range(6):
                await broker.publish(bytes([n]))
            await broker.start(inbox.put)
            assert [await inbox.get() for _ in range(3)] == [b"\x03", b"\x04", b"\x05"]
            await broker.close()
        messages = [r.getMessage() for r in caplog.records]
        assert messages == ["broker queue full: dropping the oldest payloads", "broker caught up"]
        assert caplog.records[1].dropped == 3


async def test_two_memory_brokers_do_not_share() -> None:
    """Each MemoryBroker is a single node's bus: cross-node delivery needs Redis."""
    async with asyncio.timeout(10):
        first, second = MemoryBroker(), MemoryBroker()
        first_inbox, second_inbox = asyncio.Queue[bytes](), asyncio.Queue[bytes]()
        await first.start(first_inbox.put)
        await second.start(second_inbox.put)
        await first.publish(b"from first")
        assert await first_inbox.get() == b"from first"
        await asyncio.sleep(0.05)
        assert second_inbox.empty()
        await first.close()
        await second.close()


async def test_close_from_inside_the_handler_stops_delivery() -> None:
    async with asyncio.timeout(10):
        broker, seen = MemoryBroker(), asyncio.Queue[bytes]()

        async def closes(payload: bytes) -> None:
            await seen.put(payload)
            await broker.close()

        await broker.start(closes)
        await broker.publish(b"one")
        await broker.publish(b"two")
        assert await seen.get() == b"one"
        await asyncio.sleep(0.05)
        assert seen.empty()
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("cove-broker")]


def test_max_pending_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        MemoryBroker(max_pending=0)
