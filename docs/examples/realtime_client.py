"""A minimal Cove realtime client: open a session over HTTPS, subscribe over WSS with
graphql-transport-ws, decrypt each event with the session's keys, follow key rotation,
and resume where it left off: it remembers each topic's last `position` and subscribes again
with `since`, so the server sends what was missed, or a `resync` event when it no longer can
(then fetch the topic's state over HTTP).

Needs `httpx`, `websockets` and `cryptography`. Usage:
    python realtime_client.py https://cove.example.org <bearer token> <topic id> [...]
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from websockets.asyncio.client import connect

OPEN = "mutation { openRealtimeSession { session { id key { id secret expiresAt } } } }"
KEY = """mutation($s: ID!, $k: ID!) {
  realtimeKey(input: {sessionId: $s, keyId: $k}) { key { id secret expiresAt } } }"""
EVENTS = """subscription($s: ID!, $t: [ID!]!) {
  events(sessionId: $s, topics: $t) { keyId seq nonce ciphertext } }"""
RESUME = """subscription($s: ID!, $t: [ID!]!, $since: [RealtimePositionInput!]) {
  events(sessionId: $s, topics: $t, since: $since) { keyId seq nonce ciphertext } }"""


def decrypt(secret: bytes, session_id: str, envelope: dict[str, Any]) -> dict[str, Any]:
    """Open one event: AES-256-GCM, associated data "<sessionId>:<seq>"."""
    aad = f"{session_id}:{envelope['seq']}".encode()
    nonce = base64.b64decode(envelope["nonce"])
    plaintext = AESGCM(secret).decrypt(nonce, base64.b64decode(envelope["ciphertext"]), aad)
    event: dict[str, Any] = json.loads(plaintext)
    return event


class RealtimeClient:
    """Keeps the session's keys, fetches a new one when an event names a key it lacks."""

    def __init__(self, base_url: str, token: str, *, verify: Any = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, verify=verify
        )
        self.session_id = ""
        self.keys: dict[str, bytes] = {}
        self.last_seq = 0
        # The last position received per topic: where a new subscription resumes.
        self.positions: dict[str, int] = {}

    async def _graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"][0]["message"])
        return body["data"]

    async def open(self) -> None:
        session = (await self._graphql(OPEN))["openRealtimeSession"]["session"]
        self.session_id = session["id"]
        self.keys[session["key"]["id"]] = base64.b64decode(session["key"]["secret"])

    async def key(self, key_id: str) -> bytes:
        if key_id not in self.keys:
            variables = {"s": self.session_id, "k": key_id}
            fetched = (await self._graphql(KEY, variables))["realtimeKey"]["key"]
            self.keys[key_id] = base64.b64decode(fetched["secret"])
        return self.keys[key_id]

    async def events(
        self, topics: list[str], ssl: Any = None, *, resume: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """Decrypted events, in order; raises on a gap or a replay in `seq`. With `resume`,
        starts after the positions already received (a `resync` event, when it comes, means
        "fetch that topic's state again")."""
        ws_url = "ws" + self.base_url.removeprefix("http") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"], ssl=ssl) as socket:
            init = {"authorization": f"Bearer {self.token}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await socket.recv())
            if ack["type"] != "connection_ack":
                raise RuntimeError(f"not acknowledged: {ack}")
            since = [
                {"topic": topic, "position": self.positions[topic]}
                for topic in topics
                if resume and topic in self.positions
            ]
            variables: dict[str, Any] = {"s": self.session_id, "t": topics}
            if since:
                variables["since"] = since
            self.last_seq = 0  # each subscription counts from 1 under a fresh key
            subscribe = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": RESUME if since else EVENTS, "variables": variables},
            }
            await socket.send(json.dumps(subscribe))
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                    continue
                if message["type"] == "complete":
                    return
                if message["type"] == "error":
                    raise RuntimeError(message["payload"])
                payload = message["payload"]
                if payload.get("errors"):
                    raise RuntimeError(payload["errors"])
                envelope = payload["data"]["events"]
                if envelope["seq"] != self.last_seq + 1:
                    raise RuntimeError(f"sequence broken: {self.last_seq} then {envelope['seq']}")
                self.last_seq = envelope["seq"]
                event = decrypt(await self.key(envelope["keyId"]), self.session_id, envelope)
                if "position" in event:  # typing has none
                    self.positions[event["topic"]] = event["position"]
                yield event

    async def close(self) -> None:
        await self.http.aclose()


async def main(base_url: str, token: str, topics: list[str]) -> None:
    client = RealtimeClient(base_url, token)
    await client.open()
    try:
        async for event in client.events(topics):
            print(json.dumps(event))
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
