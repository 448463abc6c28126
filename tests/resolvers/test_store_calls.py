"""No N+1: a page of messages with authors, reactions and pins costs a fixed number of reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from resolvers import channels, invitations, messages, workspaces
from resolvers.notice_types import MessageNotice
from resolvers.roles import Role, Visibility
from resolvers.services import Services
from schema.build import build_schema
from schema.context import CONTEXT_KEY
from schema.relay import to_global_id
from support import CountingStore
from tests.accounts_support import signed_up
from tests.inprocess import ctx, sqlite_services

PASSWORD = "correct horse battery"
PAGE = """query($c: ID!, $first: Int!) { node(id: $c) { ... on Channel { messages(first: $first) {
  edges { node { id text createdAt author { id displayName } reactions { emoji count viewerReacted }
  pinned replyCount } } } } } }"""


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[Services, CountingStore]]:
    counted: list[CountingStore] = []

    def counting(store: object) -> CountingStore:
        counted.append(CountingStore(store))
        return counted[0]

    async with sqlite_services(tmp_path, wrap=counting) as built:
        yield built, counted[0]


async def test_a_page_of_messages_costs_the_same_reads_at_10_and_50(
    services: tuple[Services, CountingStore],
) -> None:
    svc, counting = services
    people = [
        await signed_up(ctx(svc, None), f"p{i}@example.org", PASSWORD, f"Person {i}")
        for i in range(5)
    ]
    owner = people[0].token
    ws = await workspaces.create_workspace(ctx(svc, owner), "Acme")
    for person in people[1:]:
        email = await person.user.email()
        assert email is not None
        invitation = await invitations.invite_member(ctx(svc, owner), ws.id, email, Role.MEMBER)
        await invitations.accept_invitation(ctx(svc, person.token), invitation.id)
    room = await channels.create_channel(ctx(svc, owner), ws.id, "general", Visibility.PUBLIC, None)
    for person in people[1:]:
        await channels.join_channel(ctx(svc, person.token), room.id)
    for i in range(60):
        author = people[i % 5].token
        posted = await messages.post_message(ctx(svc, author), room.id, f"message {i}", None, [])
        if i % 3 == 0:
            await messages.add_reaction(ctx(svc, people[(i + 1) % 5].token), posted.id, "👍")
        if i % 7 == 0:
            await messages.set_pinned(ctx(svc, owner), posted.id, True)

    schema = build_schema()
    await svc.indexer.flush()  # index writes queued by the posts are not the page's reads

    async def reads(first: int) -> dict[str, int]:
        counting.reads = 0
        answer = await schema.execute(
            PAGE,
            variable_values={"c": to_global_id("Channel", room.id), "first": first},
            context_value={CONTEXT_KEY: ctx(svc, people[1].token)},
        )
        assert answer.errors is None, answer.errors
        assert answer.data is not None
        edges = answer.data["node"]["messages"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["author"]["displayName"].startswith("Person") for e in edges)
        return dict(counting.calls)

    at_ten, at_fifty = await reads(10), await reads(50)
    assert at_fifty == at_ten
    # session; channel, its workspace membership, the workspace's two-factor requirement
    # and channel membership; the channel's newest ten-day buckets, then the page (one
    # bucket holds it); its authors, reactions and pins: each one batched read.
    assert at_fifty == {"get": 1, "get_many": 6, "scan": 2, "scan_many": 1}


async def test_page_size_does_not_change_reads_for_members_either(
    services: tuple[Services, CountingStore],
) -> None:
    svc, counting = services
    people = [
        await signed_up(ctx(svc, None), f"m{i}@example.org", PASSWORD, f"M {i}") for i in range(12)
    ]
    ws = await workspaces.create_workspace(ctx(svc, people[0].token), "Big")
    for person in people[1:]:
        email = await person.user.email()
        assert email is not None
        invitation = await invitations.invite_member(
            ctx(svc, people[0].token), ws.id, email, Role.MEMBER
        )
        await invitations.accept_invitation(ctx(svc, person.token), invitation.id)
    schema = build_schema()
    query = """query($w: ID!, $first: Int!) { node(id: $w) { ... on Workspace {
      members(first: $first) { edges { node { role user { displayName } } } } } } }"""

    async def reads(first: int) -> dict[str, Any]:
        counting.reads = 0
        answer = await schema.execute(
            query,
            variable_values={"w": to_global_id("Workspace", ws.id), "first": first},
            context_value={CONTEXT_KEY: ctx(svc, people[3].token)},
        )
        assert answer.errors is None, answer.errors
        return dict(counting.calls)

    assert await reads(3) == await reads(12)


async def test_a_post_where_no_app_is_installed_costs_apps_no_read(
    services: tuple[Services, CountingStore],
) -> None:
    """Telling apps of events (resolvers/app_events.py) reads nothing for a channel whose
    workspace has no app, once the channel's workspace and that answer are known."""
    svc, counting = services
    owner = (await signed_up(ctx(svc, None), "o@example.org", PASSWORD, "Olga")).token
    ws = await workspaces.create_workspace(ctx(svc, owner), "Acme")
    room = await channels.create_channel(ctx(svc, owner), ws.id, "general", Visibility.PUBLIC, None)
    await messages.post_message(ctx(svc, owner), room.id, "first", None, [])
    counting.reads = 0
    await svc.app_events.notice(
        to_global_id("Channel", room.id), MessageNotice.CREATED, {"id": "x"}, None
    )
    assert counting.reads == 0
    svc.app_events.forget(ws.id)  # an install here: its installs are read again
    await svc.app_events.notice(
        to_global_id("Channel", room.id), MessageNotice.CREATED, {"id": "x"}, None
    )
    assert counting.calls == {"scan": 1}
