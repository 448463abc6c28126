"""Resuming a stream with `since`: the events missed come first, in position order, sealed
for the subscriber; a `resync` when the history no longer reaches back; the history holds
no plaintext."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from persistence.realtime_history import REALTIME_HISTORY
from support import make_settings, serve, settle, sign_up, stored_contents

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_resume", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

CANARY = "pangolinhistorycanary"
POST = "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) { message { id } } }"


async def take(stream: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                break
    return got


def room(server: Any) -> tuple[Any, str, str]:
    alice_token, _ = sign_up(server.client(), "alice@resume.example", name="Alice")
    alice = server.client(alice_token)
    ws = alice.data('mutation { createWorkspace(input: {name: "R"}) { workspace { id } } }')
    channel = alice.data(
        'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "r"}) { channel { id } } }',
        {"w": ws["createWorkspace"]["workspace"]["id"]},
    )["createChannel"]["channel"]["id"]
    return alice, alice_token, channel


async def post(alice: Any, channel: str, text: str) -> None:
    await asyncio.to_thread(alice.data, POST, {"c": channel, "t": text})


async def test_a_resumed_stream_starts_with_what_it_missed_in_order(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        alice, token, channel = await asyncio.to_thread(room, server)
        client = example.RealtimeClient(server.url, token)
        await client.open()
        first = client.events([channel])
        waiting = asyncio.create_task(take(first, 1))
        await asyncio.sleep(0.3)
        await post(alice, channel, f"{CANARY} one")
        [one] = await waiting
        await first.aclose()  # the socket closes: the stream is gone
        for n in range(2, 5):
            await post(alice, channel, f"{CANARY} {n}")
        resumed = client.events([channel])  # resumes after the position of "one"
        missed = await take(resumed, 3)
        live = asyncio.create_task(take(resumed, 1))
        await asyncio.sleep(0.3)
        await post(alice, channel, "live again")
        [after] = await live
        await resumed.aclose()

        assert [e["data"]["text"] for e in missed] == [f"{CANARY} {n}" for n in range(2, 5)]
        positions = [e["position"] for e in [one, *missed, after]]
        assert positions == list(range(one["position"], one["position"] + 5))
        assert after["data"]["text"] == "live again"
        assert client.last_seq == 4  # a new stream counts from 1: 3 missed, 1 live

        # The history's rows are sealed: no canary in them, nor anywhere in the files.
        services = server.server.config.app.state["services"]
        rows = await asyncio.to_thread(
            asyncio.run, services.store.scan(REALTIME_HISTORY, {"topic": channel}, limit=100)
        )
        assert len(rows) == 5
        assert all(CANARY.encode() not in row["sealed"] for row in rows)
        await asyncio.to_thread(settle, services)
        for path, content in stored_contents(tmp_path / "data"):
            assert CANARY.encode() not in content, path
        await client.close()


async def test_a_resume_beyond_the_history_gets_a_resync_then_live_events(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", realtime_history_events=10)) as server:
        alice, token, channel = await asyncio.to_thread(room, server)
        client = example.RealtimeClient(server.url, token)
        await client.open()
        first = client.events([channel])
        waiting = asyncio.create_task(take(first, 1))
        await asyncio.sleep(0.3)
        await post(alice, channel, "seen")
        [seen] = await waiting
        await first.aclose()
        for n in range(15):  # more than the history keeps
            await post(alice, channel, f"missed {n}")
        resumed = client.events([channel])
        live = asyncio.create_task(take(resumed, 2))
        await asyncio.sleep(0.5)
        await post(alice, channel, "after the resync")
        resync, after = await live
        await resumed.aclose()
        await client.close()
    assert resync["type"] == "resync" and resync["topic"] == channel
    assert resync["position"] == seen["position"] + 15
    assert after["data"]["text"] == "after the resync"
    assert after["position"] == resync["position"] + 1


async def test_since_positions_are_not_negative(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        _, token, channel = await asyncio.to_thread(room, server)
        client = example.RealtimeClient(server.url, token)
        await client.open()
        client.positions[channel] = -1
        stream = client.events([channel])
        with pytest.raises(RuntimeError, match="BAD_USER_INPUT"):
            await take(stream, 1)
        await client.close()
