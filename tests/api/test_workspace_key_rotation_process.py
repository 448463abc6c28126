"""A workspace key rotation in a real `cove serve` killed with kill -9 while it runs: the
next start resumes it and it ends with every value under the new key, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from process_support import cove_serve, gql, seed_account

from crypto.field_seal import sealed_key_version
from resolvers.workspace_seals import SEALED_TABLES, sealed_columns
from support import make_settings, sqlite_only

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t})
  { message { id } } }"""
ROTATE = """mutation($w: ID!) { rotateWorkspaceKey(input: {workspaceId: $w}) {
  rotation { version } } }"""
ROTATION = """query($w: ID!) { workspaceKeyRotation(workspaceId: $w) { state phase version
  valuesResealed damagedValues } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 100) {
  edges { node { text } } } } } }"""
SEARCH = """query($w: ID!, $q: String!) { search(workspaceId: $w, query: $q, first: 50) {
  edges { node { ... on Message { id } } } } }"""
# A node waits twice this after its first pass before checking: time to kill it then.
ENV = {
    "COVE_KEY_REFRESH_SECONDS": "3",
    "COVE_KEY_ROTATION_LEASE_SECONDS": "5",
    "COVE_KEY_ROTATION_POLL_SECONDS": "1",
}
COUNT = 90


def rotation_row(db_file: Path) -> tuple[str, int, int] | None:
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT phase, pass_number, step FROM key_rotations").fetchone()
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]))


def versions(db_file: Path) -> set[int]:
    """Key versions of every value sealed under a workspace key (one workspace here)."""
    found: set[int] = set()
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        for sealed in SEALED_TABLES:
            for column in sealed_columns(sealed.table):
                where = (
                    " WHERE log_id LIKE 'workspace:%'"
                    if sealed.table.name == "audit_events"
                    else ""
                )
                query = f'SELECT "{column}" FROM "{sealed.table.name}"{where}'
                found |= {sealed_key_version(v) for (v,) in db.execute(query) if v}
    return found


@sqlite_only  # reads the rotation's row in the SQLite file to know when to kill
def test_a_rotation_killed_mid_way_resumes_on_the_next_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    token, workspace, channel = asyncio.run(seed_account(settings))
    db_file = settings.database_file
    with cove_serve(settings, **ENV) as (server, url):
        for n in range(COUNT):
            gql(url, token, POST, {"c": channel, "t": f"kiwi note {n}"})
        assert versions(db_file) == {1}
        gql(url, token, ROTATE, {"w": workspace})
        deadline = time.monotonic() + 30
        while (row := rotation_row(db_file)) is None or row[2] < len(SEALED_TABLES):
            assert time.monotonic() < deadline, f"the first pass did not end: {row}"
            time.sleep(0.02)
        assert row[:2] == ("RESEALING", 1), row  # first pass done, waiting for every node
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    with cove_serve(settings, **ENV) as (server, url):
        deadline = time.monotonic() + 60
        while True:
            state = gql(url, token, ROTATION, {"w": workspace})["workspaceKeyRotation"]
            if state["state"] == "DONE":  # type: ignore[index]
                break
            assert time.monotonic() < deadline, f"the rotation did not resume: {state}"
            time.sleep(0.2)
        assert state["damagedValues"] == 0 and state["version"] == 2  # type: ignore[index]
        assert versions(db_file) == {2}
        answer = gql(url, token, MESSAGES, {"c": channel})
        texts = {e["node"]["text"] for e in answer["node"]["messages"]["edges"]}  # type: ignore[index]
        assert texts == {f"kiwi note {n}" for n in range(COUNT)}
        found = gql(url, token, SEARCH, {"w": workspace, "q": "kiwi"})
        assert len(found["search"]["edges"]) == 50  # type: ignore[index]
