"""The restore drill: seed every kind of object through the API, back up while a writer keeps
posting, restore into a new data dir, start Cove on it and compare every object through the
API (docs/operations.md, "Restore drill")."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from drive_support import (
    CREATE_CH,
    CREATE_FOLDER,
    download_url,
    drive_team,
    get,
    new_version,
    upload_file,
)

from api.cli import main
from crypto.backup_seal import BackupIdentity
from support import LOG_IN, PASSWORD, GraphQLClient, make_settings, on_scylla, serve

pytestmark = pytest.mark.skipif(on_scylla(), reason="cove backup create covers SQLite only")

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) {
  message { id } } }"""
CALENDAR = """mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Plans"}) {
  calendar { id } } }"""
EVENT = """mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Review",
  start: "2026-03-02T09:00:00Z", end: "2026-03-02T10:00:00Z"}}) { event { id } } }"""
BOARD = """mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "Roadmap"}) {
  board { id } } }"""
LIST = """mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "Now"}) { list { id } } }"""
TASK = """mutation($l: ID!) { createTask(input: {listId: $l, title: "Ship backups"}) {
  task { id } } }"""
CHECK = """mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "drill"}) {
  task { id } } }"""

# Each under the query cost limit; together every kind of object the drill seeds.
EVERYTHING = (
    """query($w: ID!) { viewer { id email displayName } node(id: $w) { ... on Workspace {
      id name members(first: 10) { edges { node { role user { id displayName } } } } } } }""",
    """query($w: ID!) { node(id: $w) { ... on Workspace { channels(first: 10) { edges { node {
      id name topic visibility archived
      messages(first: 100) { edges { node { id text author { id } } } } } } } } } }""",
    """query($w: ID!) { node(id: $w) { ... on Workspace { calendars { id name color
      events(from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z", first: 20) {
      title start end } } } } }""",
    """query($w: ID!) { node(id: $w) { ... on Workspace { boards { id name lists { id name
      tasks(first: 20) { edges { node { id title status checklist { id text done } } } }
      } } } } }""",
    """query($w: ID!) { node(id: $w) { ... on Workspace { drive { id name
      children(first: 10) { edges { node { id name
      ... on File { size contentType sha256
        versions(first: 5) { edges { node { id number size } } } }
      ... on Folder { children(first: 10) { edges { node { id name } } } } } } } } } } }""",
)


def everything(client: GraphQLClient, workspace: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for query in EVERYTHING:
        answer = client.data(query, {"w": workspace})
        state.setdefault("node", {}).update(answer.pop("node"))
        state.update(answer)
    return state


def busy_messages(state: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    """The messages of the channel the writer posts to, taken out of `state`."""
    for edge in state["node"]["channels"]["edges"]:
        if edge["node"]["id"] == channel:
            edges = edge["node"].pop("messages")["edges"]
            return [e["node"] for e in edges]
    raise AssertionError(f"no channel {channel}")


def test_restore_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, restored = tmp_path / "data", tmp_path / "restored"
    identity = tmp_path / "identity.key"
    BackupIdentity.generate().save(identity)
    monkeypatch.setenv("COVE_BACKUP_RECIPIENT", str(BackupIdentity.load(identity).recipient))
    with serve(make_settings(data, max_query_cost=10**10)) as server:
        team = drive_team(server, data, "drill.example")
        workspace, owner = team.ids["workspace"], team.owner
        general = owner.data(CREATE_CH, {"w": workspace, "n": "general", "v": "PUBLIC"})
        general_id = general["createChannel"]["channel"]["id"]
        busy = owner.data(CREATE_CH, {"w": workspace, "n": "busy", "v": "PUBLIC"})
        busy_id = busy["createChannel"]["channel"]["id"]
        for n in range(5):
            owner.data(POST, {"c": general_id, "t": f"sealed message {n}"})
        folder = owner.data(CREATE_FOLDER, {"w": workspace, "p": None, "n": "Reports"})
        contents = {
            upload_file(server, owner, workspace, b"first file " * 5000, name="a.pdf"): None,
            upload_file(
                server,
                owner,
                workspace,
                b"in a folder",
                name="b.txt",
                parent=folder["createFolder"]["folder"]["id"],
                content_type="text/plain",
            ): None,
        }
        versioned = next(iter(contents))
        new_version(server, owner, versioned, b"second version " * 3000)
        calendar = owner.data(CALENDAR, {"w": workspace})["createCalendar"]["calendar"]["id"]
        owner.data(EVENT, {"c": calendar})
        board = owner.data(BOARD, {"w": workspace})["createBoard"]["board"]["id"]
        task_list = owner.data(LIST, {"b": board})["createTaskList"]["list"]["id"]
        task = owner.data(TASK, {"l": task_list})["createTask"]["task"]["id"]
        owner.data(CHECK, {"t": task})
        for file_id in contents:
            contents[file_id] = get(server, download_url(owner, file_id)).content

        # A writer keeps posting while the backup runs.
        stop, posted = threading.Event(), []
        writer = server.client(owner.token)

        def keep_posting() -> None:
            while not stop.is_set() and len(posted) < 90:
                answer = writer.data(POST, {"c": busy_id, "t": f"during {len(posted)}"})
                posted.append(answer["postMessage"]["message"]["id"])

        thread = threading.Thread(target=keep_posting, daemon=True)
        thread.start()
        while len(posted) < 3:
            stop.wait(0.01)
        before = len(posted)
        assert main(["backup", "create", "--data-dir", str(data), "--to", str(tmp_path)]) == 0
        stop.set()
        thread.join(timeout=30)
        archive = Path(capsys.readouterr().out.strip())
        original = everything(owner, workspace)
    original_busy = busy_messages(original, busy_id)

    key = data / "keys" / "root.key"
    restore = ["backup", "restore", str(archive), "--identity", str(identity)]
    assert main([*restore, "--data-dir", str(restored), "--root-key-file", str(key)]) == 0
    with serve(make_settings(restored, max_query_cost=10**10)) as server:
        client = server.client()
        token = client.data(LOG_IN, {"email": "owner@drill.example", "password": PASSWORD})
        owner = server.client(token["logIn"]["token"])
        back = everything(owner, workspace)
        back_busy = busy_messages(back, busy_id)
        assert back == original
        # The writer's channel as of one moment during the backup: a consistent prefix.
        assert len(back_busy) >= before
        assert back_busy == original_busy[len(original_busy) - len(back_busy) :]
        for file_id, body in contents.items():
            assert get(server, download_url(owner, file_id)).content == body
        # A session from before the backup still signs in on the restored copy.
        assert server.client(team.member.token).data("{ viewer { id } }")["viewer"]["id"]
