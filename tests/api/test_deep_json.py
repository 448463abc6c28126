"""JSON nested 50,000 deep is the client's fault: a coded 400, never a 500, wherever it hides."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support import Server, error_codes

DEPTH = 50_000
DEEP_ARRAY = "[" * DEPTH + "]" * DEPTH
DEEP_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH


@pytest.mark.parametrize(
    "body",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        '{"query": "{ __typename }", "variables": {"v": ' + DEEP_ARRAY + "}}",
        '{"query": "{ __typename }", "extensions": ' + DEEP_OBJECT + "}",
    ],
    ids=["array", "object", "variables", "extensions"],
)
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
def test_a_deep_body_is_a_coded_400(shared_server: Server, body: str, accept: str) -> None:
    response = httpx.post(
        shared_server.url + "/graphql",
        content=body.encode(),
        headers={"content-type": "application/json", "accept": accept},
    )
    assert response.status_code == 400, response.text
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    assert "deep" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("param", ["variables", "extensions"])
def test_deep_get_parameters_are_a_coded_400(shared_server: Server, param: str) -> None:
    depth = 3_000  # what fits in a URL the server reads; deep enough to exhaust the stack
    deep = "[" * depth + "]" * depth
    response = httpx.get(
        shared_server.url + "/graphql", params={"query": "{ __typename }", param: deep}
    )
    assert response.status_code == 400, response.text
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


def test_shallow_json_still_runs(shared_server: Server) -> None:
    nested: object = "x"
    for _ in range(50):
        nested = [nested]
    body = {"query": "{ __typename }", "extensions": {"deep": nested}}
    response = httpx.post(shared_server.url + "/graphql", json=body)
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}


async def test_a_deep_socket_frame_closes_the_socket_without_a_crash(
    shared_server: Server,
) -> None:
    url = shared_server.url.replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as socket:
        await socket.send(DEEP_ARRAY)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    # The server still serves.
    still = await asyncio.to_thread(
        httpx.post, shared_server.url + "/graphql", json={"query": "{ __typename }"}
    )
    assert still.json()["data"] == {"__typename": "Query"}
