"""The hub: fan-out that no slow subscriber can hold up, and access checked in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from crypto.realtime import BrokerSealer, new_realtime_key
from resolvers.authz import Principal
from resolvers.errors import CoveError, ErrorCode
from resolvers.hub import Hub, Subscription

KEY = new_realtime_key()
NODE = BrokerSealer(KEY)  # the node these tests publish from


def payload(**fields: Any) -> bytes:
    return NODE.seal(json.dumps(fields).encode())


def subscription(user: str, topics: set[str], limit: int = 5) -> Subscription:
    return Subscription(
        session_id=f"s-{user}-{sorted(topics)}",
        login_session_id=f"login-{user}",
        principal=Principal(user, f"login-{user}"),
        topics=set(topics),
        queue_limit=limit,
    )


async def drain(sub: Subscription) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(2):
        async for plaintext in sub.stream():
            got.append(json.loads(plaintext))
    return got


async def test_a_slow_subscriber_is_closed_and_the_others_keep_receiving() -> None:
    readable = {"t"}

    async def can_read(principal: Principal, topic: str) -> bool:
        return topic in readable

    hub = Hub(KEY, can_read)
    slow, fast = subscription("slow", {"t"}, limit=3), subscription("fast", {"t"}, limit=100)
    hub.add(slow)
    hub.add(fast)
    for n in range(10):
        await hub.on_payload(payload(kind="event", topic="t", type="x", data={"n": n}))
    fast.end()
    assert [e["data"]["n"] for e in await drain(fast)] == list(range(10))
    with pytest.raises(CoveError) as closed:
        await drain(slow)
    assert closed.value.code == ErrorCode.RATE_LIMITED


async def test_access_is_checked_before_later_events() -> None:
    readable = {"a", "b"}

    async def can_read(principal: Principal, topic: str) -> bool:
        return topic in readable

    hub = Hub(KEY, can_read)
    sub = subscription("u", {"a", "b"}, limit=100)
    hub.add(sub)
    await hub.on_payload(payload(kind="event", topic="a", type="x", data={"n": 1}))
    readable.discard("a")
    await hub.on_payload(payload(kind="access", user="u"))
    await hub.on_payload(payload(kind="event", topic="a", type="x", data={"n": 2}))
    await hub.on_payload(payload(kind="event", topic="b", type="x", data={"n": 3}))
    readable.clear()
    await hub.on_payload(payload(kind="access", user="u"))
    await hub.on_payload(payload(kind="event", topic="b", type="x", data={"n": 4}))
    # Losing every topic completes the stream; nothing after the losses arrives.
    assert [e["data"]["n"] for e in await drain(sub)] == [1, 3]


async def test_a_callers_many_subscriptions_are_checked_once_per_topic() -> None:
    asked: list[tuple[str, str]] = []

    async def can_read(principal: Principal, topic: str) -> bool:
        asked.append((principal.user_id, topic))
        return topic != "gone"

    hub = Hub(KEY, can_read)
    mine = [
        Subscription(
            session_id=f"s-{n}",
            login_session_id="login-u",
            principal=Principal("u", "login-u"),
            topics={"t", "gone"},
            queue_limit=10,
        )
        for n in range(200)
    ]
    other = subscription("v", {"t"})
    for sub in (*mine, other):
        hub.add(sub)
    await hub.on_payload(payload(kind="access", user="u"))
    # One answer per caller and topic, however many of its subscriptions hold the topic.
    assert sorted(asked) == [("u", "gone"), ("u", "t")]
    assert all(sub.topics == {"t"} for sub in mine)
    asked.clear()
    await hub.on_payload(payload(kind="event", topic="t", type="x", data={}, about="t"))
    assert sorted(asked) == [("u", "t"), ("v", "t")]


async def test_payloads_that_do_not_open_are_dropped() -> None:
    async def can_read(principal: Principal, topic: str) -> bool:
        return True

    hub = Hub(KEY, can_read)
    sub = subscription("u", {"t"})
    hub.add(sub)
    await hub.on_payload(BrokerSealer(new_realtime_key()).seal(b'{"kind": "event"}'))
    await hub.on_payload(b"garbage")
    await hub.on_payload(payload(kind="login_ended", login="login-u"))
    assert await drain(sub) == []


async def test_numbered_notices_carry_their_position_and_pass_it_to_those_left_out() -> None:
    async def can_read(principal: Principal, topic: str) -> bool:
        return principal.user_id == "member" or topic == "workspace"

    hub = Hub(KEY, can_read)
    member, guest = subscription("member", {"workspace"}), subscription("guest", {"workspace"})
    hub.add(member)
    hub.add(guest)
    await hub.on_payload(
        payload(kind="event", topic="workspace", type="x", data={}, about="channel", position=7)
    )
    for sub in (member, guest):
        sub.end()
    [told] = [d async for d in member.deliveries()]
    [passed] = [d async for d in guest.deliveries()]
    assert json.loads(told.plaintext or b"")["position"] == 7
    # The guest learns only that position 7 is taken, so it does not read the history for it.
    assert (passed.topic, passed.position, passed.plaintext) == ("workspace", 7, b"")


async def test_subscriptions_behind_the_store_are_asked_to_catch_up_once() -> None:
    async def can_read(principal: Principal, topic: str) -> bool:
        return True

    hub = Hub(KEY, can_read)
    behind, current = subscription("behind", {"t"}), subscription("current", {"t"})
    hub.add(behind)
    hub.add(current)
    behind.positions["t"], current.positions["t"] = 3, 9
    asked: list[list[str]] = []

    async def heads(topics: list[str]) -> dict[str, int]:
        asked.append(topics)
        return {"t": 9}

    await hub.compare_positions(heads)
    await hub.compare_positions(heads)  # still behind: no second request while one waits
    for sub in (behind, current):
        sub.end()
    assert asked == [["t"], ["t"]]
    assert [(d.topic, d.position, d.plaintext) async for d in behind.deliveries()] == [
        ("t", 9, None)
    ]
    assert [d async for d in current.deliveries()] == []
