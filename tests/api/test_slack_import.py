"""`cove import slack`: a Slack export becomes channels, messages, threads and reactions of a
workspace, sealed like any post; a second run adds nothing; bad input changes nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import worlds
from drive_support import services_of
from slack_fixture import CANARY, DAY2, ts, write_export
from worlds import team_fields

from api.cli import main
from support import make_settings, serve, settle, stored_contents

CHANNELS = """query($w: ID!) { node(id: $w) { ... on Workspace { channels(first: 10) {
  edges { node { id name topic visibility archived members(first: 5) { edges { node { id } } } } }
} } } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 10) { edges { node {
  ...M replies(first: 5) { edges { node { ...M } } } } } } } } }
fragment M on Message { text createdAt replyCount author { id } mentions { id }
  reactions { emoji count } }"""
SEARCH = """query($w: ID!) { search(workspaceId: $w, query: "code word") {
  edges { node { ... on Message { text } } } } }"""


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[worlds.Team]:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    with serve(settings) as server:
        # The command runs in this process against the served data dir, as an operator would.
        for name, value in settings.as_environment().items():
            monkeypatch.setenv(name, value)
        yield worlds.Team(**team_fields(server, data_dir, "slack.example"))


def cove_import(team: worlds.Team, path: Path, *extra: str) -> int:
    argv = ["import", "slack", str(path), "--workspace", team.ids["workspace"], *extra]
    return main([*argv, "--data-dir", str(team.data_dir)])


def snapshot(team: worlds.Team) -> list[dict[str, Any]]:
    found = team.owner.data(CHANNELS, {"w": team.ids["workspace"]})["node"]["channels"]["edges"]
    channels = sorted((e["node"] for e in found), key=lambda c: c["name"])
    for channel in channels:
        channel["messages"] = team.owner.data(MESSAGES, {"c": channel["id"]})["node"]["messages"]
    return channels


def test_an_export_imported_twice_gives_the_same_workspace(
    team: worlds.Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_export(tmp_path / "export.zip")
    assert cove_import(team, export, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "nothing was written" in dry and "messages would import: 7" in dry
    assert snapshot(team) == []

    assert cove_import(team, export) == 0
    report = capsys.readouterr().out
    assert "users matched: 2, unmatched: 1 (no Cove account with that email: 1)" in report
    assert "channels created: 2, reused: 0" in report
    assert "messages imported: 7, already imported: 0, skipped: 1 (channel_join: 1)" in report
    assert "reactions imported: 3, already imported: 0, skipped: 1 (unmatched user: 1)" in report
    assert "files imported: 0, already imported: 0, skipped: 1 (not in the export: 1)" in report

    first = snapshot(team)
    owner, member = team.ids["owner"], team.ids["member"]
    general, random = first
    assert (general["name"], general["topic"], general["visibility"]) == (
        "general",
        "Company-wide news",
        "PUBLIC",
    )
    assert {e["node"]["id"] for e in general["members"]["edges"]} == {owner, member}
    messages = [e["node"] for e in general["messages"]["edges"]]  # newest first
    assert [m["text"] for m in messages] == [
        "Zed Stranger (from Slack): hello from zed",
        "Here is the plan\n[file not imported: plan.pdf]",
        "Who has the deck?",
        f"Welcome @Mia Member! The code word is {CANARY}",
    ]
    assert [m["author"]["id"] for m in messages] == [owner, member, member, owner]
    assert messages[3]["createdAt"].startswith("2023-03-01T10:00:30")
    assert messages[3]["mentions"] == [{"id": member}]
    assert messages[0]["reactions"] == [{"emoji": "🎉", "count": 1}]
    thread = messages[2]
    assert thread["replyCount"] == 2
    assert thread["reactions"] == [{"emoji": "👍", "count": 1}]
    assert [(r["node"]["text"], r["node"]["author"]["id"]) for r in thread["replies"]["edges"]] == [
        ("I do, see the deck (https://example.com/deck)", owner),
        ("Zed Stranger (from Slack): Thanks & see you", owner),
    ]
    assert [e["node"]["text"] for e in random["messages"]["edges"]] == ["Lunch? <3 in #general"]

    assert cove_import(team, export) == 0
    again = capsys.readouterr().out
    assert "channels created: 0, reused: 2" in again
    assert "messages imported: 0, already imported: 7" in again
    assert "reactions imported: 0, already imported: 3" in again
    assert snapshot(team) == first

    # Sealed like any post: the canary is nowhere in clear in what the store writes.
    settle(services_of(team.server))
    for path, content in stored_contents(team.data_dir):
        assert CANARY.encode() not in content, path

    # A later export of the same Slack workspace adds only what is new.
    later = {
        "random/2023-03-03.json": [
            {"type": "message", "user": "U0MIA", "text": "Again?", "ts": ts(DAY2 + 86400)}
        ]
    }
    assert cove_import(team, write_export(tmp_path / "later.zip", more=later)) == 0
    assert "messages imported: 1, already imported: 7" in capsys.readouterr().out
    texts = [e["node"]["text"] for e in snapshot(team)[1]["messages"]["edges"]]
    assert texts == ["Again?", "Lunch? <3 in #general"]


ATTACHED = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 10) { edges { node {
  text author { id } attachments { name createdBy { id } } } } } } } }"""


DRIVE = """query($w: ID!) { node(id: $w) { ... on Workspace { drive {
  children(first: 10) { edges { node { name } } } } } } }"""


def test_files_carried_in_the_export_are_attached_sealed_once(
    team: worlds.Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = (
        "query($u: ID!) { node(id: $u) { ... on User { sessions { edges { node { id } } } } } }"
    )
    before = team.owner.data(sessions, {"u": team.ids["owner"]})
    contents = b"%PDF-1.4 " + CANARY.encode() + b" the plan"
    export = write_export(tmp_path / "export.zip", more={"__uploads/F0PLAN/plan.pdf": contents})
    assert cove_import(team, export) == 0
    assert "files imported: 1, already imported: 0, skipped: 0" in capsys.readouterr().out
    general = snapshot(team)[0]["id"]
    shared = team.owner.data(ATTACHED, {"c": general})["node"]["messages"]["edges"][1]["node"]
    assert shared["text"] == "Here is the plan"
    assert shared["author"]["id"] == team.ids["member"]
    assert shared["attachments"] == [{"name": "plan.pdf", "createdBy": {"id": team.ids["owner"]}}]
    assert cove_import(team, export) == 0
    assert "messages imported: 0, already imported: 7" in capsys.readouterr().out
    drive = team.owner.data(DRIVE, {"w": team.ids["workspace"]})["node"]["drive"]["children"]
    assert [e["node"]["name"] for e in drive["edges"]] == ["plan.pdf"]  # stored once
    # The session the uploads went through was ended.
    assert team.owner.data(sessions, {"u": team.ids["owner"]}) == before
    settle(services_of(team.server))
    for path, content in stored_contents(team.data_dir):
        assert CANARY.encode() not in content, path


def test_imported_messages_are_found_by_search(
    team: worlds.Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cove_import(team, write_export(tmp_path / "export.zip")) == 0
    capsys.readouterr()
    # The import leaves each message's outbox entry; the server's indexer takes it up
    # within its poll (another node holds the outbox shards, so the command cannot).
    deadline = time.monotonic() + 30
    while True:
        found = team.owner.data(SEARCH, {"w": team.ids["workspace"]})["search"]["edges"]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [e["node"]["text"] for e in found] == [f"Welcome @Mia Member! The code word is {CANARY}"]


@pytest.mark.parametrize(
    ("make", "workspace", "message"),
    [
        (lambda p: p.write_bytes(b"PK not really"), None, "is not a zip file"),
        (lambda p: write_export(p, without="users.json"), None, "has no users.json"),
        (write_export, "VGhlcmUgaXMgbm8gc3VjaCB3b3Jrc3BhY2U", "no workspace"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    team: worlds.Team,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    workspace: str | None,
    message: str,
) -> None:
    path = tmp_path / "export.zip"
    make(path)
    argv = ["import", "slack", str(path), "--workspace", workspace or team.ids["workspace"]]
    assert main([*argv, "--data-dir", str(team.data_dir)]) == 2
    assert message in capsys.readouterr().err
    assert snapshot(team) == []
    assert os.path.exists(path)
