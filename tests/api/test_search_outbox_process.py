"""The search outbox with a real `cove serve`: a kill -9 loses no index write, and what the
outbox holds on disk is never the text."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
from redis_server import free_port

from api.app import running_services
from api.bootstrap import load_keyring
from api.settings import Settings
from resolvers import channels, workspaces
from resolvers.roles import Visibility
from schema.relay import to_global_id
from support import FAST_ARGON2, PASSWORD, make_settings, sqlite_only
from tests.accounts_support import signed_up
from tests.inprocess import ctx

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t})
  { message { id } } }"""
SEARCH = """query($w: ID!, $q: String!) { search(workspaceId: $w, query: $q, first: 50) {
  edges { node { ... on Message { id } } } } }"""
CANARY = "quetzalcanary"


async def _seed(settings: Settings) -> tuple[str, str, str]:
    """An account's token, a workspace and a channel (global ids), made in process."""
    async with running_services(settings, load_keyring(settings)) as services:
        person = await signed_up(ctx(services, None), "kim@example.org", PASSWORD, "Kim")
        ws = await workspaces.create_workspace(ctx(services, person.token), "Acme")
        room = await channels.create_channel(
            ctx(services, person.token), ws.id, "general", Visibility.PUBLIC, None
        )
    return person.token, to_global_id("Workspace", ws.id), to_global_id("Channel", room.id)


@contextmanager
def cove_serve(settings: Settings, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    environ = {**os.environ, **{f"COVE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()}}
    environ |= {"COVE_LOG_LEVEL": "WARNING", **env}
    command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(settings.data_dir)]
    server = subprocess.Popen([*command, "--port", str(port)], env=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "cove serve stopped"
            assert time.monotonic() < deadline, "cove serve did not become ready"
            time.sleep(0.1)
        yield server, url
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)


def waiting(settings: Settings) -> int:
    # Closed at once: `with sqlite3.connect(...)` only ends a transaction, and a connection
    # this process left open would hold the WAL's shared memory across the server's kill
    # and restart.
    with closing(sqlite3.connect(f"file:{settings.database_file}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM search_outbox").fetchone()[0])


def gql(url: str, token: str, query: str, variables: dict[str, str]) -> dict[str, object]:
    answer = httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    data: dict[str, object] = answer["data"]
    return data


def hits(url: str, token: str, workspace: str, query: str) -> set[str]:
    data = gql(url, token, SEARCH, {"w": workspace, "q": query})
    edges = data["search"]["edges"]  # type: ignore[index]
    return {edge["node"]["id"] for edge in edges}


@sqlite_only  # counts the outbox in the SQLite file; the outbox is the same on ScyllaDB
def test_a_killed_server_loses_no_index_write_and_the_outbox_holds_no_text(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    token, workspace, channel = asyncio.run(_seed(settings))
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
