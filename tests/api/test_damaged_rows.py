"""A damaged sealed row fails only its own item: the page still answers with the others, and
the damaged edge's node is null with a DATA_DAMAGED error at its path (docs/graphql.md)."""

from __future__ import annotations

import base64
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import GraphQLClient, make_settings, serve, sign_up, sqlite_only


def raw_id(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1]


def damage(database: Path, table: str, column: str, key: str, row_id: str, at: int) -> None:
    """Flip one byte of one sealed value in the SQLite file, as a failing disk might."""
    with sqlite3.connect(database, timeout=10) as db:
        (sealed,) = db.execute(
            f'SELECT "{column}" FROM "{table}" WHERE "{key}" = ?', (row_id,)
        ).fetchone()
        flipped = bytearray(sealed)
        flipped[at] ^= 0x01
        db.execute(
            f'UPDATE "{table}" SET "{column}" = ? WHERE "{key}" = ?', (bytes(flipped), row_id)
        )


@dataclass(frozen=True)
class Case:
    """A list of several sealed items, and where one of them is kept on disk."""

    table: str
    column: str
    key: str
    query: str
    edges: Callable[[dict[str, Any]], list[dict[str, Any]]]
    path: Callable[[int], list[str | int]]


def seed(client: GraphQLClient) -> dict[str, Any]:
    workspaces = [
        client.data(
            "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }",
            {"n": f"space {i}"},
        )["createWorkspace"]["workspace"]["id"]
        for i in range(3)
    ]
    channels = [
        client.data(
            "mutation($w: ID!, $n: String!) { createChannel(input: {workspaceId: $w, name: $n}) "
            "{ channel { id } } }",
            {"w": workspaces[0], "n": f"room-{i}"},
        )["createChannel"]["channel"]["id"]
        for i in range(3)
    ]
    messages = [
        client.data(
            "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) "
            "{ message { id } } }",
            {"c": channels[0], "t": f"note {i}"},
        )["postMessage"]["message"]["id"]
        for i in range(3)
    ]
    return {"workspaces": workspaces, "channels": channels, "messages": messages}


CASES = {
    "messages": Case(
        table="channel_messages",
        column="text_sealed",
        key="message_id",
        query="query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 10) "
        "{ edges { cursor node { id text } } } } } }",
        edges=lambda data: data["node"]["messages"]["edges"],
        path=lambda i: ["node", "messages", "edges", i, "node", "text"],
    ),
    "channels": Case(
        table="channels",
        column="name_sealed",
        key="channel_id",
        query="query($w: ID!) { node(id: $w) { ... on Workspace { channels(first: 10) "
        "{ edges { cursor node { id name } } } } } }",
        edges=lambda data: data["node"]["channels"]["edges"],
        path=lambda i: ["node", "channels", "edges", i, "node", "name"],
    ),
    "workspaces": Case(
        table="workspaces",
        column="name_sealed",
        key="workspace_id",
        query="{ viewer { workspaces(first: 10) { edges { cursor node { id name } } } } }",
        edges=lambda data: data["viewer"]["workspaces"]["edges"],
        path=lambda i: ["viewer", "workspaces", "edges", i, "node", "name"],
    ),
}
# Byte 2 lies in the key version (the key is then unknown); the last one in the GCM tag.
WHERE = {"key version": 2, "tag": -1}


@sqlite_only  # damages a row in the SQLite file (the check itself is the same on any engine)
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", CASES)
def test_one_damaged_row_fails_only_its_item(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str, where: str
) -> None:
    case = CASES[kind]
    settings = make_settings(tmp_path / "data")
    with serve(settings) as server:
        token, _ = sign_up(server.client(), "owner@damage.example")
        client = server.client(token)
        ids = seed(client)
        variables = {"c": ids["channels"][0], "w": ids["workspaces"][0]}
        before = client.data(case.query, variables)
        ordered = [edge["node"]["id"] for edge in case.edges(before)]
        assert len(ordered) == 3
        victim = ordered[1]
        damage(
            settings.database_file, case.table, case.column, case.key, raw_id(victim), WHERE[where]
        )

        with caplog.at_level(logging.INFO, logger="cove"):
            after = client.run(case.query, variables)

        edges = case.edges(after["data"])
        assert [edge["node"] and edge["node"]["id"] for edge in edges] == [
            ordered[0],
            None,
            ordered[2],
        ]
        assert all(edge["cursor"] for edge in edges)  # the cursor still pages past it
        [error] = after["errors"]
        assert error["extensions"]["code"] == "DATA_DAMAGED"
        assert error["path"] == case.path(1)
        request_id = error["extensions"]["requestId"]
        logged = [r for r in caplog.records if request_id in r.getMessage()]
        assert len(logged) == 1 and logged[0].levelno == logging.ERROR
        assert logged[0].exc_info is None  # an integrity alarm, not a crash
        assert raw_id(victim) in logged[0].getMessage()  # the operator learns which row
