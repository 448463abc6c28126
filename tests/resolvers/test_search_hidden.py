"""Search never times hidden files: the engine is asked only for what the caller may read.

A guest reads a few files (through a folder shared with them, a folder below it, a folder
shared with one of their channels, and a file shared on its own); thousands of other files
match the same word. The guest's search must ask the engine only for readable documents, so
its store reads, its engine requests and its results are the same with 0 hidden files or
2,000 (the count, not a timing, is asserted: timings are noisy here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.search import SearchHit, SearchQuery
from persistence.sqlite.engine import SqliteStore
from resolvers import channels, drive, invitations, search, workspaces
from resolvers.context import RequestContext
from resolvers.roles import AccessLevel, Role, Visibility
from resolvers.services import Services
from support import CountingStore
from tests.accounts_support import signed_up
from tests.inprocess import build_services, plant_files

PASSWORD = "correct horse battery"
HIDDEN = 2_000


@dataclass
class Drive:
    svc: Services
    counting: CountingStore
    ws: str
    owner: str  # tokens
    guest: str
    member: str
    owner_id: str
    secret: str  # a folder only the role reaches
    readable: dict[str, str]  # file id -> name, what the guest may read
    queries: list[SearchQuery]

    def ctx(self, token: str) -> RequestContext:
        return RequestContext(services=self.svc, request_id="t", bearer_token=token)

    async def search(self, token: str, query: str = "plan", **options: Any) -> list[str]:
        """The ids of every result, page after page (pages of 3)."""
        found: list[str] = []
        after: str | None = None
        while True:
            page = await search.search(
                self.ctx(token),
                self.ws,
                query,
                kinds=options.get("kinds"),
                channel_id=None,
                author_id=None,
                since=None,
                until=None,
                first=3,
                after=after,
            )
            found += [result.view.id for _, result in page.edges]
            if not page.has_next_page:
                return found
            after = page.end_cursor

    async def add_files(self, folder: str, names: list[str]) -> list[str]:
        """Files straight into the store and the index: search never opens their contents."""
        return await plant_files(self.svc, self.ws, folder, self.owner_id, names)


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Drive]:
    store = await SqliteStore.open(tmp_path / "cove.db")
    counting = CountingStore(store)
    svc = build_services(counting)  # type: ignore[arg-type]

    def ctx(token: str | None) -> RequestContext:
        return RequestContext(services=svc, request_id="t", bearer_token=token)

    owner = await signed_up(ctx(None), "owner@hidden.example", PASSWORD, "Owner")
    ws = await workspaces.create_workspace(ctx(owner.token), "Acme")
    people = {}
    for name, role in (("guest", Role.GUEST), ("member", Role.MEMBER)):
        person = await signed_up(ctx(None), f"{name}@hidden.example", PASSWORD, name)
        email = await person.user.email()
        assert email is not None
        invitation = await invitations.invite_member(ctx(owner.token), ws.id, email, role)
        await invitations.accept_invitation(ctx(person.token), invitation.id)
        people[name] = person
    guest = people["guest"]
    room = await channels.create_channel(ctx(owner.token), ws.id, "room", Visibility.PRIVATE, None)
    await channels.add_channel_member(ctx(owner.token), room.id, guest.user.id)

    async def folder(name: str, parent: str | None = None) -> str:
        return (await drive.create_folder(ctx(owner.token), ws.id, parent, name)).id

    shared, secret, for_room = await folder("shared"), await folder("secret"), await folder("room")
    below = await folder("below", shared)
    hidden_below = await folder("hidden below", secret)
    await drive.share_item(ctx(owner.token), shared, guest.user.id, None, AccessLevel.READ)
    await drive.share_item(ctx(owner.token), for_room, None, room.id, AccessLevel.READ)
    team = Drive(
        svc, counting, ws.id, owner.token, guest.token, people["member"].token,
        owner.user.id, secret, {}, [],
    )  # fmt: skip
    for where, name in ((shared, "plan a"), (below, "plan b"), (for_room, "plan c")):
        (file_id,) = await team.add_files(where, [name])
        team.readable[file_id] = name
    (alone,) = await team.add_files(hidden_below, ["plan d"])  # shared on its own
    await drive.share_item(ctx(owner.token), alone, guest.user.id, None, AccessLevel.READ)
    team.readable[alone] = "plan d"
    (trashed,) = await team.add_files(shared, ["plan trashed"])
    await drive.trash_item(ctx(owner.token), trashed)

    engine = svc.indexer.engine
    real = engine.search

    async def spy(workspace_id: str, query: SearchQuery) -> list[SearchHit]:
        team.queries.append(query)
        return await real(workspace_id, query)

    engine.search = spy  # type: ignore[method-assign]
    yield team
    svc.close()
    await store.close()


async def test_hidden_matches_change_neither_reads_nor_results(team: Drive) -> None:
    before = await team.search(team.guest)
    assert sorted(before) == sorted(team.readable)
    team.counting.reads = 0
    team.queries.clear()
    assert sorted(await team.search(team.guest)) == sorted(team.readable)
    reads_before, queries_before = dict(team.counting.calls), len(team.queries)

    await team.add_files(team.secret, [f"plan secret {n}" for n in range(HIDDEN)])
    team.queries.clear()
    team.counting.reads = 0
    assert await team.search(team.guest) == before
    assert dict(team.counting.calls) == reads_before
    assert len(team.queries) == queries_before


async def test_the_engine_is_asked_only_for_readable_files(team: Drive) -> None:
    await team.add_files(team.secret, [f"plan secret {n}" for n in range(20)])
    team.queries.clear()
    await team.search(team.guest)
    assert team.queries
    wanted = {f"file:{file_id}" for file_id in team.readable}
    for query in team.queries:
        assert query.scopes is not None and "drive" not in query.scopes
        assert all(not scope.startswith(("file", "folder")) for scope in query.scopes)
        assert set(query.doc_ids or ()) == wanted


async def test_whom_the_role_lets_read_the_whole_drive_still_finds_every_file(
    team: Drive,
) -> None:
    hidden = await team.add_files(team.secret, [f"plan secret {n}" for n in range(5)])
    everything = sorted([*team.readable, *hidden])
    for token in (team.owner, team.member):
        team.queries.clear()
        assert sorted(await team.search(token)) == everything
        assert all(query.doc_ids is None for query in team.queries)


async def test_other_kinds_skip_the_walk_of_the_drive(team: Drive) -> None:
    team.counting.reads = 0
    assert await team.search(team.guest, kinds=[search.SearchKind.MESSAGE]) == []
    assert all(query.doc_ids is None for query in team.queries)
    assert "scan" in team.counting.calls  # the guest's channels, but no folder was listed
