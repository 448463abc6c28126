"""With `persisted_queries = "only"` the allow-list holds on the socket too."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from api.cli import main
from support import LOG_IN, SIGN_UP, VERIFY_EMAIL, make_settings, serve, sign_up

OPEN = "mutation { openRealtimeSession { session { id } } }"
VIEWER = "query { viewer { id } }"
EVENTS = """subscription($s: ID!, $t: [ID!]!) {
  events(sessionId: $s, topics: $t) { keyId seq nonce ciphertext } }"""
OTHER = """subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) { seq } }"""


async def first_frame(url: str, token: str, query: str, variables: dict[str, Any]) -> Any:
    async with connect(
        url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"]
    ) as socket:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        async with asyncio.timeout(5):
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            payload = {"query": query, "variables": variables}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            while True:
                frame = json.loads(await socket.recv())
                if frame["type"] != "ping":
                    return frame


async def register(data_dir: Path, tmp_path: Path, *documents: str) -> None:
    files = []
    for position, document in enumerate(documents):
        path = tmp_path / f"doc{position}.graphql"
        path.write_text(document)
        files.append(str(path))
    # The command runs its own event loop: in a thread, beside this test's.
    command = ["queries", "register", "--data-dir", str(data_dir), *files]
    assert await asyncio.to_thread(main, command) == 0


async def test_only_registered_subscriptions_run_on_the_socket(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, persisted_queries="only")
    await register(data_dir, tmp_path, SIGN_UP, VERIFY_EMAIL, LOG_IN, OPEN, VIEWER)
    with serve(settings) as server:
        token, user = sign_up(server.client(), "socket@example.org")
        session = server.client(token).data(OPEN)["openRealtimeSession"]["session"]["id"]
        variables = {"s": session, "t": [user["id"]]}
        refused = await first_frame(server.url, token, EVENTS, variables)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        await register(data_dir, tmp_path, EVENTS)  # registered while serving: found at once
        # Registered now; it runs (no event yet, so the socket stays quiet: a timeout).
        try:
            frame = await asyncio.wait_for(first_frame(server.url, token, EVENTS, variables), 1)
        except TimeoutError:
            frame = None
        assert frame is None or frame["type"] == "next"
        other = await first_frame(server.url, token, OTHER, variables)
        assert other["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
