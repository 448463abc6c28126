"""Two `cove serve` processes sharing one store and one Redis: delivery across nodes, nothing
readable or replayable on Redis, and recovery when Redis comes back."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis_server import RedisServer, free_port

from support import (
    FAST_ARGON2,
    GENEROUS_LIMITS,
    GraphQLClient,
    make_settings,
    sign_up,
    sink_mail_settings,
    store_under_test,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
_spec = importlib.util.spec_from_file_location("realtime_client_nodes", EXAMPLE)
assert _spec and _spec.loader
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

CANARY = "narwhalnodecanary"
POST = "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) { message { id } } }"


def start_node(data: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "COVE_BROKER_URL": redis_url, "COVE_LOG_LEVEL": "WARNING"}
    # The store of this run: the shared SQLite file, or the Cassandra node (make test-scylla).
    values = {**FAST_ARGON2, **GENEROUS_LIMITS, **sink_mail_settings(), **store_under_test(data)}
    env.update({f"COVE_{k.upper()}": str(v) for k, v in values.items()})
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--data-dir",
        str(data),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # bounded: 30 s
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("cove serve did not become ready")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[RedisServer, str, str]]:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    data = tmp_path / "data"
    make_settings(data)  # initialise keys once; both nodes share them and the store
    started = [start_node(data, redis_server.url) for _ in range(2)]
    try:
        yield redis_server, started[0][1], started[1][1]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=15)
        redis_server.stop()


def setup_room(url_a: str) -> tuple[GraphQLClient, str, str]:
    http = httpx.Client(base_url=url_a, timeout=30)
    alice_token, _ = sign_up(GraphQLClient(http), "alice@nodes.example", name="Alice")
    bob_token, _ = sign_up(GraphQLClient(http), "bob@nodes.example", name="Bob")
    alice = GraphQLClient(http, alice_token)
    ws = alice.data('mutation { createWorkspace(input: {name: "Nodes"}) { workspace { id } } }')[
        "createWorkspace"
    ]["workspace"]["id"]
    invitation = alice.data(
        'mutation($w: ID!) { inviteMember(input: {workspaceId: $w, email: "bob@nodes.example"}) { invitation { id } } }',
        {"w": ws},
    )["inviteMember"]["invitation"]["id"]
    GraphQLClient(http, bob_token).data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    channel = alice.data(
        'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "x"}) { channel { id } } }',
        {"w": ws},
    )["createChannel"]["channel"]["id"]
    GraphQLClient(http, bob_token).data(
        "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }",
        {"c": channel},
    )
    return alice, bob_token, channel


async def test_two_nodes_share_events_through_redis_which_sees_only_ciphertext(
    nodes: tuple[RedisServer, str, str],
) -> None:
    redis_server, url_a, url_b = nodes
    alice, bob_token, channel = await asyncio.to_thread(setup_room, url_a)
    raw = aioredis.from_url(redis_server.url)
    spy = raw.pubsub()
    await spy.subscribe("cove:events")
    bob = example.RealtimeClient(url_b, bob_token)  # Bob is served by node B only
    await bob.open()
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def listen() -> None:
        async for event in bob.events([channel]):
            received.append(event)
            arrived.set()
            if len(received) == 2:
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    await asyncio.to_thread(alice.data, POST, {"c": channel, "t": f"{CANARY} through redis"})
    await asyncio.wait_for(arrived.wait(), 10)
    assert received[0]["data"]["text"] == f"{CANARY} through redis"

    # What crossed Redis: sealed envelopes only.
    seen: list[bytes] = []
    for _ in range(20):  # None also stands for a skipped subscribe notice: read a few times
        message = await spy.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            seen.append(message["data"])
    assert seen, "the spy saw the events on Redis"
    assert not [m for m in seen if CANARY.encode() in m or b"through redis" in m]

    # Whoever holds Redis can publish what it saw again: no node acts on it twice.
    for envelope in seen:
        await raw.publish("cove:events", envelope)
    await asyncio.sleep(1)
    assert len(received) == 1
    await spy.aclose()
    await raw.aclose()

    # Redis goes away: mutations keep working, what was posted meanwhile still arrives (from
    # the store's history), and realtime comes back by itself.
    redis_server.kill()
    await asyncio.to_thread(alice.data, POST, {"c": channel, "t": "while redis is down"})
    redis_server.start()
    async with asyncio.timeout(30):
        while len(received) < 2:
            await asyncio.to_thread(alice.data, POST, {"c": channel, "t": "after redis returned"})
            await asyncio.sleep(1)
    await asyncio.wait_for(listener, 5)
    await bob.close()
    assert received[1]["data"]["text"] == "while redis is down"
    assert received[1]["position"] == received[0]["position"] + 1


def test_what_one_node_stores_the_other_serves(nodes: tuple[RedisServer, str, str]) -> None:
    """A message posted through node A is read through node B; a file uploaded through A
    downloads through B, with the URL A gave (one store, one blob directory)."""
    _, url_a, url_b = nodes
    alice, bob_token, channel = setup_room(url_a)
    alice.data(POST, {"c": channel, "t": "stored by node A"})
    with httpx.Client(base_url=url_b, timeout=30) as http_b:
        bob_on_b = GraphQLClient(http_b, bob_token)
        page = bob_on_b.data(
            "query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 5) { edges { node {"
            " text } } } } } }",
            {"c": channel},
        )
        texts = [edge["node"]["text"] for edge in page["node"]["messages"]["edges"]]
        assert texts == ["stored by node A"]
        workspace = bob_on_b.data("{ viewer { workspaces(first: 1) { edges { node { id } } } } }")[
            "viewer"
        ]["workspaces"]["edges"][0]["node"]["id"]
    upload = alice.data(
        'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "n.txt", size: 11}) {'
        " upload { url fileId } } }",
        {"w": workspace},
    )["createUpload"]["upload"]
    with httpx.Client(base_url=url_a, timeout=30) as http_a:
        assert http_a.put(upload["url"], content=b"hello nodes").status_code == 201
    download = alice.data(
        "query($f: ID!) { node(id: $f) { ... on File { downloadUrl } } }", {"f": upload["fileId"]}
    )["node"]["downloadUrl"]
    with httpx.Client(base_url=url_b, timeout=30) as http_b:
        fetched = http_b.get(download)
    assert fetched.status_code == 200 and fetched.content == b"hello nodes"
