"""The socket takes the token as common clients send it; a refusal says where it goes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.socket_auth import REFUSED_REASON, connection_token
from support import Server, make_settings, serve, sign_up


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(make_settings(tmp_path_factory.mktemp("socket") / "data")) as running:
        yield running


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return sign_up(server.client(), "socket-auth@example.org")[0]


async def first_answer(server: Server, payload: Any) -> dict[str, Any]:
    async with connect(
        server.url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"]
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        async with asyncio.timeout(5):
            answer: dict[str, Any] = json.loads(await socket.recv())
        return answer


@pytest.mark.parametrize(
    "shape",
    [
        lambda t: {"authorization": f"Bearer {t}"},
        lambda t: {"Authorization": f"Bearer {t}"},
        lambda t: {"authorization": t},
        lambda t: {"Authorization": t},
        lambda t: {"authorization": f"bearer  {t} "},
    ],
    ids=["lower-bearer", "upper-bearer", "lower-bare", "upper-bare", "spaces"],
)
async def test_common_client_shapes_are_accepted(server: Server, token: str, shape: Any) -> None:
    assert (await first_answer(server, shape(token)))["type"] == "connection_ack"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"authorization": ""},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer cove_" + "A" * 43},
        {"token": "Bearer x"},
        {"authorization": ["Bearer x"]},
    ],
    ids=["none", "empty", "basic", "unknown-token", "other-key", "not-a-string"],
)
async def test_refusal_closes_with_4403_and_says_where_the_token_goes(
    server: Server, payload: dict[str, Any]
) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        await first_answer(server, payload)
    received = closed.value.rcvd
    assert received is not None and received.code == 4403
    assert received.reason == REFUSED_REASON
    assert '"authorization"' in received.reason and "connection_init" in received.reason
    assert len(received.reason.encode()) <= 123  # the most a close frame carries


def test_connection_token_shapes() -> None:
    assert connection_token({"authorization": "Bearer abc"}) == "abc"
    assert connection_token({"Authorization": "abc"}) == "abc"
    assert connection_token({"authorization": "Bearer"}) == "Bearer"  # a bare (unknown) token
    assert connection_token({"authorization": "Bearer a b"}) is None
    assert connection_token({"authorization": "Token abc"}) is None
    assert connection_token(None) is None
    assert connection_token({"authorization": 5}) is None


def test_the_example_client_still_uses_the_documented_shape() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "realtime_client.py"
    assert '"authorization": f"Bearer ' in example.read_text()
