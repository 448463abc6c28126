"""Bad input is the caller's fault: a coded error, as a literal and as a variable, and no
traceback in the log. Out-of-range or mistyped scalars are BAD_USER_INPUT; empty or garbage
ids are NOT_FOUND, wherever an id is read (global ids, realtime session and key ids)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import connect

from support import GraphQLClient, Server, error_codes, sign_up


@dataclass
class Caller:
    server: Server
    client: GraphQLClient
    token: str
    workspace: str


@pytest.fixture
def caller(shared_server: Server, email: str) -> Caller:
    token, _ = sign_up(shared_server.client(), email)
    client = shared_server.client(token)
    workspace = client.data(
        'mutation { createWorkspace(input: {name: "In"}) { workspace { id } } }'
    )
    return Caller(shared_server, client, token, workspace["createWorkspace"]["workspace"]["id"])


@pytest.fixture
def quiet_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test when anything logs an error or a traceback meanwhile."""
    with caplog.at_level(logging.INFO, logger="cove"):
        yield
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


def _gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _literal(value: Any) -> str:
    """`value` written as a GraphQL literal (JSON's forms are GraphQL's for these values)."""
    return json.dumps(value)


# (argument's GraphQL type, a document with `%s` where the argument goes, bad values)
SCALARS = [
    (
        "Long!",
        'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "f", size: %s}) '
        "{ upload { url } } }",
        [-1, 2**53, 2**64, "5", 1.5, True],
    ),
    (
        "Int!",
        'query($w: ID!) { search(workspaceId: $w, query: "x", first: %s) '
        "{ pageInfo { hasNextPage } } }",
        [2**31, -(2**31) - 1, 2**53, "5", 1.5, False],
    ),
    (
        "DateTime",
        'query($w: ID!) { search(workspaceId: $w, query: "x", since: %s) '
        "{ pageInfo { hasNextPage } } }",
        ["nope", "99999-01-01T00:00:00Z", "2024-13-45T00:00:00Z", 5, 1.5, True],
    ),
]


@pytest.mark.parametrize(("type_name", "document", "values"), SCALARS)
def test_bad_scalar_values_are_bad_user_input_as_literals_and_variables(
    caller: Caller, quiet_log: None, type_name: str, document: str, values: list[Any]
) -> None:
    for value in values:
        literal = caller.client.run(document % _literal(value), {"w": caller.workspace})
        assert error_codes(literal) == ["BAD_USER_INPUT"], (value, literal)
        with_variable = document.replace("($w: ID!)", f"($w: ID!, $v: {type_name})") % "$v"
        variable = caller.client.run(with_variable, {"w": caller.workspace, "v": value})
        assert error_codes(variable) == ["BAD_USER_INPUT"], (value, variable)


BAD_IDS = ["", " ", "!!!", "=", _gid("Channel:"), _gid(":x"), _gid("Channel"), "x" * 5000]
ID_DOCUMENTS = [
    "query($id: ID!) { node(id: %s) { id } }",
    'mutation($id: ID!) { postMessage(input: {channelId: %s, text: "hi"}) { message { id } } }',
    "mutation($id: ID!) { closeRealtimeSession(input: {sessionId: %s}) { closedSessionId } }",
    'mutation($id: ID!) { realtimeKey(input: {sessionId: %s, keyId: "k"}) { key { id } } }',
    "mutation($id: ID!) { typing(input: {channelId: %s}) { ok } }",
    'mutation($id: ID!) { createFolder(input: {workspaceId: %s, name: "d"}) { folder { id } } }',
]


@pytest.mark.parametrize("document", ID_DOCUMENTS)
def test_empty_and_garbage_ids_are_not_found_as_literals_and_variables(
    caller: Caller, quiet_log: None, document: str
) -> None:
    for bad in BAD_IDS:
        literal = caller.client.run(document.replace("($id: ID!)", "") % _literal(bad))
        assert error_codes(literal) == ["NOT_FOUND"], (bad, literal)
        variable = caller.client.run(document % "$id", {"id": bad})
        assert error_codes(variable) == ["NOT_FOUND"], (bad, variable)


def test_an_empty_or_garbage_realtime_key_id_is_not_found(caller: Caller, quiet_log: None) -> None:
    opened = caller.client.data("mutation { openRealtimeSession { session { id } } }")
    session = opened["openRealtimeSession"]["session"]["id"]
    for bad in ("", "x" * 5000, "no such key"):
        result = caller.client.run(
            "mutation($s: ID!, $k: ID!) "
            "{ realtimeKey(input: {sessionId: $s, keyId: $k}) { key { id } } }",
            {"s": session, "k": bad},
        )
        assert error_codes(result) == ["NOT_FOUND"], (bad, result)


# The socket answers `events` on a direct path when the selection is plain envelope fields,
# and through graphql-core otherwise (here: a directive); both must code the same way.
SUBSCRIPTIONS = [
    "subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) { seq } }",
    "subscription($s: ID!, $t: [ID!]!) "
    "{ events(sessionId: $s, topics: $t) { seq @include(if: true) } }",
]


@pytest.mark.parametrize("document", SUBSCRIPTIONS)
async def test_an_empty_or_garbage_session_id_on_the_socket_is_not_found(
    caller: Caller, quiet_log: None, document: str
) -> None:
    url = caller.server.url.replace("http", "ws", 1) + "/graphql"
    topic = caller.workspace
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {caller.token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        for number, bad in enumerate(["", "x" * 5000, "!!!"]):
            literal = (
                document.replace("($s: ID!, $t: [ID!]!)", "")
                .replace("$s", _literal(bad))
                .replace("$t", _literal([topic]))
            )
            for query, variables in ((document, {"s": bad, "t": [topic]}), (literal, {})):
                subscribe = {
                    "id": f"{number}-{len(variables)}",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
                await socket.send(json.dumps(subscribe))
                async with asyncio.timeout(10):
                    answer = json.loads(await socket.recv())
                assert answer["type"] in ("next", "error"), answer
                errors = (
                    answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
                )
                assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], (bad, answer)
                if answer["type"] == "next":
                    async with asyncio.timeout(10):
                        assert json.loads(await socket.recv())["type"] == "complete"
