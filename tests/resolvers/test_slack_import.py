"""Importing a Slack export in process: the same workspace after a second run, row for row,
and a run stopped half-way that a second run completes without doubles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_fixture import CHANNELS, DAY2, ts, write_export

from persistence.messages import MessageLocation
from resolvers import channels, invitations, workspaces
from resolvers.roles import Role
from resolvers.services import Services
from resolvers.slack_export import read_export
from resolvers.slack_import import ImportRefused, import_export
from tests.accounts_support import signed_up
from tests.inprocess import ctx, sqlite_services

PASSWORD = "correct horse battery"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, str]]:
    """A workspace of owner@ and member@slack.example (the fixture's first two users)."""
    async with sqlite_services(tmp_path) as services:
        owner = await signed_up(ctx(services), "owner@slack.example", PASSWORD, "Olive")
        member = await signed_up(ctx(services), "member@slack.example", PASSWORD, "Mia")
        ws = await workspaces.create_workspace(ctx(services, owner.token), "Acme")
        invitation = await invitations.invite_member(
            ctx(services, owner.token), ws.id, "member@slack.example", Role.MEMBER
        )
        await invitations.accept_invitation(ctx(services, member.token), invitation.id)
        yield services, ws.id


async def rows(services: Services, workspace_id: str) -> list[Any]:
    """Every channel of the workspace with its members, messages, replies and reactions, as
    the store holds them (sealed bytes and all)."""
    found: list[Any] = []
    for ref in await services.channels.list_in_workspace(workspace_id, limit=100):
        found.append(await services.channels.get(ref.channel_id))
        found.append(await services.channels.list_members(ref.channel_id, limit=100))
        top = await services.messages.list_channel(ref.channel_id, workspace_id, limit=100)
        for message in top:
            found.append(message)
            found.append(await services.messages.list_replies(message.location, limit=100))
        ids = [m.message_id for m in top]
        found.append(await services.messages.reactions_many(ids))
    return found


async def test_a_second_run_leaves_every_row_as_it_was(
    world: tuple[Services, str], tmp_path: Path
) -> None:
    services, ws = world
    export = read_export(write_export(tmp_path / "export.zip"))
    first = await import_export(services, ws, export)
    assert (first.channels_created, first.messages_imported, first.reactions_added) == (2, 9, 4)
    # Olive and Mia's conversation; Mia and Zed's, and the group with Gus, have someone
    # unmatched (only owner@ and member@ have accounts here).
    assert first.directs_created == 1
    assert first.directs_skipped == {"someone not matched": 2}
    before = await rows(services, ws)
    again = await import_export(services, ws, export)
    assert (again.channels_reused, again.messages_present, again.reactions_present) == (2, 9, 4)
    assert (again.channels_created, again.messages_imported, again.reactions_added) == (0, 0, 0)
    assert (again.directs_created, again.directs_reused) == (0, 1)
    assert await rows(services, ws) == before


async def test_a_run_stopped_half_way_is_completed_by_the_next(
    world: tuple[Services, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ws = world
    export = read_export(write_export(tmp_path / "export.zip"))
    post = services.messages.post
    calls = 0

    async def post_then_fail(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError("the machine stops here")
        await post(*args, **kwargs)

    monkeypatch.setattr(services.messages, "post", post_then_fail)
    with pytest.raises(OSError, match="stops here"):
        await import_export(services, ws, export)
    monkeypatch.setattr(services.messages, "post", post)
    report = await import_export(services, ws, export)
    assert (report.messages_present, report.messages_imported) == (3, 6)
    assert report.channels_reused == 1 and report.channels_created == 1
    # Nine messages in all (two in a direct channel), each once; the thread counts both its
    # replies.
    refs = await services.channels.list_in_workspace(ws, limit=100)
    total = 0
    for ref in refs:
        top = await services.messages.list_channel(ref.channel_id, ws, limit=100)
        for message in top:
            replies = await services.messages.list_replies(message.location, limit=100)
            total += 1 + len(replies)
            parent = await services.messages.get(
                MessageLocation(message.message_id, ref.channel_id, ws, "")
            )
            assert parent is not None and parent.reply_count == len(replies)
    assert total == 9


async def test_a_run_stopped_before_a_thread_is_recounted_is_recounted_by_the_next(
    world: tuple[Services, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ws = world
    export = read_export(write_export(tmp_path / "export.zip"))

    async def stop(*args: Any) -> int:
        raise OSError("the machine stops here")

    refresh = services.messages.refresh_thread
    monkeypatch.setattr(services.messages, "refresh_thread", stop)
    with pytest.raises(OSError, match="stops here"):
        await import_export(services, ws, export)
    monkeypatch.setattr(services.messages, "refresh_thread", refresh)
    assert (await import_export(services, ws, export)).messages_present == 6
    counts = []
    for ref in await services.channels.list_in_workspace(ws, limit=100):
        top = await services.messages.list_channel(ref.channel_id, ws, limit=100)
        counts += [m.reply_count for m in top]
    assert sorted(counts) == [0, 0, 0, 0, 0, 0, 2]


async def test_a_private_channel_holds_only_its_matched_members(
    world: tuple[Services, str], tmp_path: Path
) -> None:
    services, ws = world
    private = {**CHANNELS[1], "id": "G0SECRET", "name": "secret", "members": ["U0MIA", "U0ZED"]}
    said = {"type": "message", "user": "U0MIA", "text": "just us", "ts": ts(DAY2)}
    more = {"groups.json": [private], "secret/2023-03-02.json": [said]}
    report = await import_export(
        services, ws, read_export(write_export(tmp_path / "e.zip", more=more))
    )
    assert report.channels_created == 3
    refs = await services.channels.list_in_workspace(ws, limit=100)
    [secret] = [r for r in refs if r.visibility == "PRIVATE"]
    members = await services.channels.list_members(secret.channel_id, limit=100)
    people = await services.workspaces.list_members(ws, limit=10)
    owner = next(m.user_id for m in people if m.role == "OWNER")
    assert [m.user_id for m in members] == [m.user_id for m in people if m.role == "MEMBER"]
    assert owner not in {m.user_id for m in members}


async def test_a_workspace_that_does_not_exist_is_refused(
    world: tuple[Services, str], tmp_path: Path
) -> None:
    services, _ = world
    export = read_export(write_export(tmp_path / "export.zip"))
    with pytest.raises(ImportRefused, match="no workspace nope"):
        await import_export(services, "nope", export)


async def test_a_direct_conversation_is_the_direct_channel_its_people_have(tmp_path: Path) -> None:
    """Imported into the channel `createDirectChannel` already made for the same people, and
    found by it afterwards; conversations Cove cannot hold are skipped with their reason."""
    async with sqlite_services(tmp_path) as services:
        owner = await signed_up(ctx(services), "owner@slack.example", PASSWORD, "Olive")
        member = await signed_up(ctx(services), "member@slack.example", PASSWORD, "Mia")
        ws = (await workspaces.create_workspace(ctx(services, owner.token), "Acme")).id
        invitation = await invitations.invite_member(
            ctx(services, owner.token), ws, "member@slack.example", Role.MEMBER
        )
        await invitations.accept_invitation(ctx(services, member.token), invitation.id)
        made = await channels.create_direct_channel(
            ctx(services, owner.token), ws, [member.user.id]
        )
        crowd = [f"U{n:03d}" for n in range(11)]
        more = {
            "dms.json": [
                {"id": "D0OLIVEMIA", "members": ["U0OLIVE", "U0MIA"]},
                {"id": "D0SELF", "members": ["U0OLIVE"]},
            ],
            "mpims.json": [{"id": "G0CROWD", "name": "mpdm-crowd-1", "members": crowd}],
        }
        export = read_export(write_export(tmp_path / "e.zip", more=more))
        report = await import_export(services, ws, export)
        assert (report.directs_created, report.directs_reused) == (0, 1)
        assert report.directs_skipped == {"fewer than two people": 1, "more than 10 people": 1}
        top = await services.messages.list_channel(made.id, ws, limit=10)
        assert len(top) == 2  # the conversation's two messages, in the channel of before
        again = await channels.create_direct_channel(
            ctx(services, member.token), ws, [owner.user.id]
        )
        assert again.id == made.id
        assert [r.visibility for r in await services.channels.list_in_workspace(ws, limit=10)] == [
            "DIRECT",
            "PUBLIC",
            "PUBLIC",
        ]
