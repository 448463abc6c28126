"""Realtime that notices and recovers loss: two `cove serve` nodes on one store, Redis killed,
then frozen, while messages are posted through both. Every subscriber gets every message, by
position and in order, or a `resync` event: never silence."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from realtime.test_realtime_nodes import POST, setup_room, start_node
from redis_server import RedisServer

from support import GraphQLClient, make_settings

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_recovery", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

PER_OUTAGE = 40  # messages posted while Redis is away, half through each node


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[RedisServer, str, str]]:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    data = tmp_path / "data"
    make_settings(data)
    started = [start_node(data, redis_server.url) for _ in range(2)]
    try:
        yield redis_server, started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=15)
        redis_server.stop()


class Listener:
    """One subscriber's stream, recorded: messages by text, positions, resyncs."""

    def __init__(self, client: Any, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.texts: list[str] = []
        self.positions: list[int] = []
        self.resyncs: list[int] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async for event in self.client.events([self.channel]):
            if event["type"] == "resync":
                self.resyncs.append(event["position"])
            elif event["type"] == "message.created":
                self.texts.append(event["data"]["text"])
            if "position" in event:
                self.positions.append(event["position"])

    def accounted_for(self, texts: list[str]) -> bool:
        """Every text received, or a resync after the outage began."""
        return all(text in self.texts for text in texts) or bool(self.resyncs)


async def wait_for(listeners: list[Listener], texts: list[str], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not all(listener.accounted_for(texts) for listener in listeners):
            for listener in listeners:
                if listener.task is not None and listener.task.done():
                    listener.task.result()  # raises what ended the stream
                    pytest.fail("a stream ended")
            await asyncio.sleep(0.2)


async def post_all(posters: list[GraphQLClient], channel: str, texts: list[str]) -> None:
    for n, text in enumerate(texts):
        await asyncio.to_thread(posters[n % 2].data, POST, {"c": channel, "t": text})


async def test_subscribers_on_both_nodes_recover_every_message_lost_while_redis_is_away(
    nodes: tuple[RedisServer, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server, url_a, url_b = nodes
    alice, bob_token, channel = await asyncio.to_thread(setup_room, url_a)
    with httpx.Client(base_url=url_b, timeout=30) as http_b:
        bob_on_b = GraphQLClient(http_b, bob_token)
        bob = example.RealtimeClient(url_b, bob_token)  # served by node B
        carol = example.RealtimeClient(url_a, alice.token)  # Alice's own stream, on node A
        listeners = [Listener(bob, channel), Listener(carol, channel)]
        for listener in listeners:
            await listener.client.open()
            listener.task = asyncio.create_task(listener.run())
        try:
            await asyncio.sleep(0.5)
            warm = ["before any outage"]
            await post_all([alice, bob_on_b], channel, warm)
            await wait_for(listeners, warm, 10)

            outages: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
                ("killed", redis_server.kill, redis_server.start),
                ("frozen", redis_server.pause, redis_server.resume),
            ]
            figures = []
            for name, stop, restart in outages:
                lost = [f"{name} {n}" for n in range(PER_OUTAGE)]
                stop()
                try:
                    await post_all([alice, bob_on_b], channel, lost)
                finally:
                    restart()
                after = [f"after {name}"]
                await post_all([alice, bob_on_b], channel, after)
                await wait_for(listeners, lost + after, 30)
                for who, listener in zip(("bob@B", "alice@A"), listeners, strict=True):
                    got = sum(text in listener.texts for text in lost)
                    figures.append(
                        f"{name}: {who} got {got}/{PER_OUTAGE}, {len(listener.resyncs)} resyncs"
                    )
        finally:
            for listener in listeners:
                assert listener.task is not None
                listener.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener.task
                await listener.client.close()
    with capsys.disabled():
        print("\n" + "\n".join(figures))
    for listener in listeners:
        # Each position once, in order, without a hole: nothing went missing unannounced.
        assert listener.positions == list(range(listener.positions[0], listener.positions[-1] + 1))
        assert not listener.resyncs  # the history reaches back further than these outages
        # In the order they were posted, each once.
        assert [t for t in listener.texts if t != "before any outage"] == [
            *(f"killed {n}" for n in range(PER_OUTAGE)),
            "after killed",
            *(f"frozen {n}" for n in range(PER_OUTAGE)),
            "after frozen",
        ]


async def test_what_the_broker_lost_reaches_only_those_who_may_still_read_it(
    nodes: tuple[RedisServer, str, str],
) -> None:
    """Bob is removed from the workspace while Redis is down, so the `access` change never
    reaches his node: the history is read for him only after checking his rights again."""
    redis_server, url_a, url_b = nodes
    alice, bob_token, channel = await asyncio.to_thread(setup_room, url_a)
    with httpx.Client(base_url=url_b, timeout=30) as http_b:
        bob_id = GraphQLClient(http_b, bob_token).data("{ viewer { id } }")["viewer"]["id"]
    workspace = alice.data(
        "query($c: ID!) { node(id: $c) { ... on Channel { workspace { id } } } }", {"c": channel}
    )["node"]["workspace"]["id"]
    bob = example.RealtimeClient(url_b, bob_token)
    await bob.open()
    listener = Listener(bob, channel)
    listener.task = asyncio.create_task(listener.run())
    try:
        await asyncio.sleep(0.5)
        await post_all([alice, alice], channel, ["while bob is in"])
        await wait_for([listener], ["while bob is in"], 10)
        redis_server.kill()
        await asyncio.to_thread(
            alice.data,
            "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u})"
            " { __typename } }",
            {"w": workspace, "u": bob_id},
        )
        secrets = [f"after bob left {n}" for n in range(3)]
        await post_all([alice, alice], channel, secrets)
        # Bob's node finds the channel ahead of him, checks him again and ends his stream.
        await asyncio.wait_for(asyncio.shield(listener.task), 15)
    finally:
        listener.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener.task
        await bob.close()
        redis_server.start()
    assert listener.texts == ["while bob is in"]


async def test_what_the_broker_lost_is_not_sent_to_a_login_that_ended(
    nodes: tuple[RedisServer, str, str],
) -> None:
    """Bob logs out while Redis is down, so his node never hears of it: before reading the
    history for him, it finds his login gone and ends the stream."""
    redis_server, url_a, url_b = nodes
    alice, bob_token, channel = await asyncio.to_thread(setup_room, url_a)
    bob = example.RealtimeClient(url_b, bob_token)
    await bob.open()
    listener = Listener(bob, channel)
    listener.task = asyncio.create_task(listener.run())
    try:
        await asyncio.sleep(0.5)
        await post_all([alice, alice], channel, ["before bob left"])
        await wait_for([listener], ["before bob left"], 10)
        redis_server.kill()
        with httpx.Client(base_url=url_a, timeout=30) as http_a:
            GraphQLClient(http_a, bob_token).data("mutation { logOut { ok } }")
        await post_all([alice, alice], channel, [f"after bob left {n}" for n in range(3)])
        await asyncio.wait_for(asyncio.shield(listener.task), 15)
    finally:
        listener.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener.task
        await bob.close()
        redis_server.start()
    assert listener.texts == ["before bob left"]
