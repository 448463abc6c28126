"""`cove import slack`: a Slack export becomes channels, direct channels, messages, threads
and reactions of a workspace, sealed like any post; direct messages are read by their people
alone; a second run adds nothing; bad input changes nothing."""

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
from api.operator import operator_name
from support import error_codes, make_settings, serve, settle, stored_contents

CHANNELS = """query($w: ID!) { node(id: $w) { ... on Workspace { channels(first: 10) {
  edges { node { id name topic visibility archived members(first: 5) { edges { node { id } } } } }
} } } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 10) { edges { node {
  ...M replies(first: 5) { edges { node { ...M } } } } } } } } }
fragment M on Message { text createdAt replyCount author { id } mentions { id }
  reactions { emoji count } }"""
SEARCH = """query($w: ID!) { search(workspaceId: $w, query: "code word") {
  edges { node { ... on Message { text } } } } }"""
AUDIT = """query($w: ID!) { node(id: $w) { ... on Workspace { auditLog(first: 5,
  kinds: [SLACK_IMPORTED]) { edges { node { kind actorId targetIds clientAddress
  details { name value } } } } } } }"""


def imports_audited(team: worlds.Team) -> list[dict[str, str]]:
    """The details of the workspace's SLACK_IMPORTED events, newest first (no actor: the
    command line has no Cove user; the operator is in the details)."""
    found = team.owner.data(AUDIT, {"w": team.ids["workspace"]})["node"]["auditLog"]["edges"]
    assert all(e["node"]["actorId"] is None for e in found)
    assert all(e["node"]["clientAddress"] == "" for e in found)
    return [{d["name"]: d["value"] for d in e["node"]["details"]} for e in found]


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


def snapshot(team: worlds.Team, who: str = "owner") -> list[dict[str, Any]]:
    """The channels `who` sees with their messages: direct ones first, in the order they
    were made, then the others by name."""
    client = getattr(team, who)
    found = client.data(CHANNELS, {"w": team.ids["workspace"]})["node"]["channels"]["edges"]
    channels = sorted((e["node"] for e in found), key=lambda c: (c["visibility"], c["name"]))
    for channel in channels:
        channel["messages"] = client.data(MESSAGES, {"c": channel["id"]})["node"]["messages"]
    return channels


def texts(channel: dict[str, Any]) -> list[str]:
    return [e["node"]["text"] for e in channel["messages"]["edges"]]


def people(channel: dict[str, Any]) -> set[str]:
    return {e["node"]["id"] for e in channel["members"]["edges"]}


def test_an_export_imported_twice_gives_the_same_workspace(
    team: worlds.Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_export(tmp_path / "export.zip")
    assert cove_import(team, export, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "nothing was written" in dry and "messages would import: 10" in dry
    assert "direct conversations created: 2, reused: 0, skipped: 1" in dry
    assert snapshot(team) == []

    assert cove_import(team, export) == 0
    report = capsys.readouterr().out
    assert "users matched: 3, unmatched: 1 (no Cove account with that email: 1)" in report
    assert "channels created: 2, reused: 0" in report
    assert (
        "direct conversations created: 2, reused: 0, skipped: 1 (someone not matched: 1)"
    ) in report
    assert (
        "messages imported: 10, already imported: 0, skipped: 2 "
        "(author not in the direct conversation: 1, channel_join: 1)"
    ) in report
    assert (
        "reactions imported: 4, already imported: 0, skipped: 2 "
        "(not in the direct conversation: 1, unmatched user: 1)"
    ) in report
    assert "files imported: 0, already imported: 0, skipped: 1 (not in the export: 1)" in report

    first = snapshot(team)
    owner, member, guest = team.ids["owner"], team.ids["member"], team.ids["guest"]
    pair, trio, general, random = first
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

    # Direct messages: a direct channel of their people, nobody else, the owner neither.
    assert (pair["visibility"], trio["visibility"]) == ("DIRECT", "DIRECT")
    assert (people(pair), people(trio)) == ({owner, member}, {owner, member, guest})
    said = [e["node"] for e in pair["messages"]["edges"]]
    assert [(m["text"], m["author"]["id"]) for m in said] == [
        ("Understood @Olive Owner", member),
        (f"Just between us: {CANARY}-dm", owner),
    ]
    assert said[0]["mentions"] == [{"id": owner}]
    assert said[0]["reactions"] == [{"emoji": "👀", "count": 1}]
    assert texts(trio) == ["The three of us, then"]
    assert trio["messages"]["edges"][0]["node"]["author"]["id"] == guest
    # Readable by their people only.
    assert [c["id"] for c in snapshot(team, "member")[:2]] == [pair["id"], trio["id"]]
    assert [c["id"] for c in snapshot(team, "guest")] == [trio["id"]]
    assert error_codes(team.guest.run(MESSAGES, {"c": pair["id"]})) == ["NOT_FOUND"]
    assert error_codes(team.outsider.run(MESSAGES, {"c": trio["id"]})) == ["NOT_FOUND"]
    # The direct channel the people would open themselves is this one.
    direct = """mutation($w: ID!, $u: [ID!]!) { createDirectChannel(input: {workspaceId: $w,
      userIds: $u}) { channel { id } } }"""
    opened = team.member.data(direct, {"w": team.ids["workspace"], "u": [owner]})
    assert opened["createDirectChannel"]["channel"]["id"] == pair["id"]

    # Recorded in the workspace's audit log, by whom and with what it did (the dry run not).
    [audited] = imports_audited(team)
    assert audited == {
        "operator": operator_name(),
        "file": "export.zip",
        "users": "matched: 3, unmatched: 1 (no Cove account with that email: 1)",
        "channels": "created: 2, reused: 0",
        "direct conversations": "created: 2, reused: 0, skipped: 1 (someone not matched: 1)",
        "messages": "imported: 10, already imported: 0, skipped: 2 "
        "(author not in the direct conversation: 1, channel_join: 1)",
        "reactions": "imported: 4, already imported: 0, skipped: 2 "
        "(not in the direct conversation: 1, unmatched user: 1)",
        "files": "imported: 0, already imported: 0, skipped: 1 (not in the export: 1)",
    }

    assert cove_import(team, export) == 0
    again = capsys.readouterr().out
    newest, _ = imports_audited(team)
    assert newest["messages"].startswith("imported: 0, already imported: 10, skipped: 2")
    assert "channels created: 0, reused: 2" in again
    assert "direct conversations created: 0, reused: 2" in again
    assert "messages imported: 0, already imported: 10" in again
    assert "reactions imported: 0, already imported: 4" in again
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
    assert "messages imported: 1, already imported: 10" in capsys.readouterr().out
    assert texts(snapshot(team)[3]) == ["Again?", "Lunch? <3 in #general"]


def test_an_import_stopped_by_an_error_is_audited_as_stopped(
    team: worlds.Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fails(*args: Any, **kwargs: Any) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr("api.import_cli.import_export", fails)
    with pytest.raises(OSError, match="went away"):
        cove_import(team, write_export(tmp_path / "export.zip"))
    assert imports_audited(team) == [
        {"operator": operator_name(), "file": "export.zip", "stopped": "by an error (OSError)"}
    ]


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
    general = snapshot(team)[2]["id"]
    shared = team.owner.data(ATTACHED, {"c": general})["node"]["messages"]["edges"][1]["node"]
    assert shared["text"] == "Here is the plan"
    assert shared["author"]["id"] == team.ids["member"]
    assert shared["attachments"] == [{"name": "plan.pdf", "createdBy": {"id": team.ids["owner"]}}]
    assert cove_import(team, export) == 0
    assert "messages imported: 0, already imported: 10" in capsys.readouterr().out
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
    assert imports_audited(team) == []  # refused before anything was written
    assert os.path.exists(path)
