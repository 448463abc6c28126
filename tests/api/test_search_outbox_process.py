"""The search outbox with a real `cove serve`: a kill -9 loses no index write, and what the
outbox holds on disk is never the text."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from process_support import cove_serve, gql, seed_account

from api.settings import Settings
from support import make_settings, sqlite_only

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t})
  { message { id } } }"""
SEARCH = """query($w: ID!, $q: String!) { search(workspaceId: $w, query: $q, first: 50) {
  edges { node { ... on Message { id } } } } }"""
CANARY = "quetzalcanary"


def waiting(settings: Settings) -> int:
    # Closed at once: `with sqlite3.connect(...)` only ends a transaction, and a connection
    # this process left open would hold the WAL's shared memory across the server's kill
    # and restart.
    with closing(sqlite3.connect(f"file:{settings.database_file}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM search_outbox").fetchone()[0])


def hits(url: str, token: str, workspace: str, query: str) -> set[str]:
    data = gql(url, token, SEARCH, {"w": workspace, "q": query})
    edges = data["search"]["edges"]  # type: ignore[index]
    return {edge["node"]["id"] for edge in edges}


@sqlite_only  # counts the outbox in the SQLite file; the outbox is the same on ScyllaDB
def test_a_killed_server_loses_no_index_write_and_the_outbox_holds_no_text(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    token, workspace, channel = asyncio.run(seed_account(settings))
    # Ten seconds before indexing what is posted: the kill comes first.
    slow = {"COVE_SEARCH_INDEX_DELAY_MS": "10000", "COVE_SEARCH_INDEX_LEASE_SECONDS": "2"}
    with cove_serve(settings, **slow) as (server, url):
        posted = set()
        for n in range(20):
            data = gql(url, token, POST, {"c": channel, "t": f"{CANARY} number {n}"})
            posted.add(data["postMessage"]["message"]["id"])  # type: ignore[index]
        assert waiting(settings) == 20
        files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
        for path in files:  # the database, its WAL: the outbox's entries hold no text
            content = path.read_bytes()
            assert CANARY.encode() not in content and b"number 1" not in content, path
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=20)
    assert waiting(settings) == 20  # acknowledged, so queued: the kill lost none

    quick = {"COVE_SEARCH_INDEX_DELAY_MS": "0", "COVE_SEARCH_INDEX_LEASE_SECONDS": "2"}
    with cove_serve(settings, **quick) as (_, url):
        deadline = time.monotonic() + 30
        while hits(url, token, workspace, CANARY) != posted:
            assert time.monotonic() < deadline, "the queued messages were not indexed"
            time.sleep(0.2)
    assert waiting(settings) == 0
