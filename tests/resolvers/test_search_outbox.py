"""The search outbox: index writes queued in the store with what they index, drained by any
node, so a node that stops without flushing loses none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crypto.keyring import Keyring
from crypto.root_key import generate_install_salt, generate_root_key
from persistence.search import SEARCH_DOCUMENTS
from persistence.search_outbox import (
    BUCKET_SECONDS,
    SHARDS,
    SearchOutboxRepository,
    bucket_of,
)
from persistence.sqlite.engine import SqliteStore
from resolvers import channels, messages, workspaces
from resolvers.roles import Visibility
from resolvers.search import search
from resolvers.search_queue import FLUSH_SECONDS
from resolvers.services import Services
from tests.accounts_support import signed_up
from tests.inprocess import Clock, build_services, ctx

PASSWORD = "correct horse battery"


async def found(services: Services, token: str, workspace_id: str, query: str) -> list[str]:
    page = await search(
        ctx(services, token),
        workspace_id,
        query,
        kinds=None,
        channel_id=None,
        author_id=None,
        since=None,
        until=None,
        first=50,
        after=None,
    )
    return [result.view.id for _, result in page.edges]


async def waiting(services: Services) -> int:
    return await services.indexer.drainer.pending()


async def documents(services: Services, workspace_id: str) -> int:
    return await services.store.count(SEARCH_DOCUMENTS, {"workspace_id": workspace_id}, limit=10**6)


def new_keyring() -> Keyring:
    return Keyring(generate_root_key(), generate_install_salt())


class Node:
    """A node's services on the shared database file, with its own drainer."""

    def __init__(self, store: SqliteStore, services: Services) -> None:
        self.store = store
        self.services = services

    @classmethod
    async def start(cls, path: Path, keyring: Keyring, clock: Clock) -> Node:
        store = await SqliteStore.open(path)
        return cls(store, build_services(store, keyring=keyring, clock=clock))

    async def crash(self) -> None:
        """Stop as a killed process would: no flush, no release of claims."""
        self.services.close()
        await self.store.close()


async def seeded(node: Node) -> tuple[str, str, str]:
    svc = node.services
    person = await signed_up(ctx(svc, None), "ann@example.org", PASSWORD, "Ann")
    ws = await workspaces.create_workspace(ctx(svc, person.token), "Acme")
    room = await channels.create_channel(
        ctx(svc, person.token), ws.id, "general", Visibility.PUBLIC, None
    )
    return person.token, ws.id, room.id


async def test_a_node_that_stops_without_flushing_loses_no_index_write(tmp_path: Path) -> None:
    keyring_parts = (generate_root_key(), generate_install_salt())
    clock = Clock()
    first = await Node.start(tmp_path / "cove.db", Keyring(*keyring_parts), clock)
    token, ws, room = await seeded(first)
    await first.services.indexer.drainer.drain()  # the node holds every shard's lease now
    posted = [
        (await messages.post_message(ctx(first.services, token), room, f"quokka {n}", None, [])).id
        for n in range(30)
    ]
    assert await waiting(first.services) == 30  # queued with the messages, not yet indexed
    await first.crash()
    # The database and its WAL hold the entries, not the text.
    files = await asyncio.to_thread(lambda: {p: p.read_bytes() for p in tmp_path.iterdir()})
    assert files and all(b"quokka" not in content.lower() for content in files.values())

    clock.advance(1)
    second = await Node.start(tmp_path / "cove.db", Keyring(*keyring_parts), clock)
    try:
        # The dead node's leases still hold: nothing is taken from under it.
        assert await second.services.indexer.drainer.drain() == 0
        assert await found(second.services, token, ws, "quokka") == []
        clock.advance(first.services.policy.search_index.lease_seconds)
        assert await second.services.indexer.drainer.drain() == 30
        assert sorted(await found(second.services, token, ws, "quokka")) == sorted(posted)
        assert await waiting(second.services) == 0
    finally:
        await second.crash()


async def test_two_drainers_share_the_shards_and_apply_each_entry_once(tmp_path: Path) -> None:
    keyring_parts = (generate_root_key(), generate_install_salt())
    clock = Clock()
    one = await Node.start(tmp_path / "cove.db", Keyring(*keyring_parts), clock)
    two = await Node.start(tmp_path / "cove.db", Keyring(*keyring_parts), clock)
    try:
        token, ws, room = await seeded(one)
        for n in range(60):
            await messages.post_message(ctx(one.services, token), room, f"walrus {n}", None, [])
        a, b = one.services.indexer.drainer, two.services.indexer.drainer
        # The second node claims every shard first: the first drains none of them.
        assert await b.drain() == 60
        for n in range(60, 120):
            await messages.post_message(ctx(one.services, token), room, f"walrus {n}", None, [])
        assert await a.drain() == 0 and await waiting(one.services) == 60
        # At the next lease slot both race for the shards, draining at once.
        clock.advance(one.services.policy.search_index.lease_seconds)
        await asyncio.gather(a.drain(), b.drain())
        assert a.applied + b.applied == 120  # each entry once: a shard has one holder
        assert await waiting(one.services) == 0
        assert len(await found(two.services, token, ws, "walrus")) == 50  # first: 50
        assert await documents(one.services, ws) == 120
    finally:
        await one.crash()
        await two.crash()


async def test_entries_applied_again_or_late_leave_the_index_as_the_records_are(
    tmp_path: Path,
) -> None:
    clock = Clock()
    node = await Node.start(tmp_path / "cove.db", new_keyring(), clock)
    svc = node.services
    try:
        token, ws, room = await seeded(node)
        kept = await messages.post_message(ctx(svc, token), room, "narwhal first", None, [])
        gone = await messages.post_message(ctx(svc, token), room, "narwhal second", None, [])
        await messages.edit_message(ctx(svc, token), kept.id, "platypus now", None)
        await messages.delete_message(ctx(svc, token), gone.id)
        # An old entry for each, as a node that died mid-batch would leave them.
        stale = [svc.indexer.entry(ws, "message", m) for m in (kept.id, gone.id)]
        await svc.indexer.drainer.drain()
        await SearchOutboxRepository(svc.store).add(stale)
        svc.indexer.queued()
        assert await svc.indexer.drainer.drain() == 2
        assert await found(svc, token, ws, "narwhal") == []
        assert await found(svc, token, ws, "platypus") == [kept.id]
        assert await documents(svc, ws) == 1
    finally:
        await node.crash()


async def test_drained_buckets_are_left_behind_and_a_clock_set_back_still_finds(
    tmp_path: Path,
) -> None:
    clock = Clock()
    node = await Node.start(tmp_path / "cove.db", new_keyring(), clock)
    svc = node.services
    try:
        token, ws, room = await seeded(node)
        await messages.post_message(ctx(svc, token), room, "early bird", None, [])
        written_in = bucket_of(clock())
        await svc.indexer.drainer.drain()
        clock.advance(3 * BUCKET_SECONDS)
        await messages.post_message(ctx(svc, token), room, "late owl", None, [])
        assert await found(svc, token, ws, "early") and await found(svc, token, ws, "owl")
        await svc.indexer.drainer.drain()  # a search reads its own buckets; a drain moves on
        cursors = await SearchOutboxRepository(svc.store).cursors()
        assert len(cursors) == SHARDS
        assert all(c is not None and written_in < c <= bucket_of(clock()) for c in cursors)
        # Written in a bucket every cursor has passed: the node that wrote it looks there.
        clock.advance(-3 * BUCKET_SECONDS)
        late = await messages.post_message(ctx(svc, token), room, "stray heron", None, [])
        assert bucket_of(clock()) < min(c for c in cursors if c is not None)
        assert await found(svc, token, ws, "heron") == [late.id]
        assert await waiting(svc) == 0
    finally:
        await node.crash()


async def test_a_quiet_node_claims_its_leases_again_as_they_pass(tmp_path: Path) -> None:
    clock = Clock()
    node = await Node.start(tmp_path / "cove.db", new_keyring(), clock)
    svc = node.services
    try:
        token, ws, room = await seeded(node)
        lease = svc.policy.search_index.lease_seconds
        for n in range(3):
            clock.advance(lease * 1.5)
            await messages.post_message(ctx(svc, token), room, f"heron {n}", None, [])
            assert len(await found(svc, token, ws, "heron")) == n + 1
        clock.advance(50 * 60)  # past every lease and several buckets (sessions last an hour)
        await messages.post_message(ctx(svc, token), room, "heron again", None, [])
        assert len(await found(svc, token, ws, "heron")) == 4
    finally:
        await node.crash()


async def test_a_search_waits_for_the_pass_under_way_to_index_what_it_read(
    tmp_path: Path,
) -> None:
    """A drain that has read the node's entries but not yet indexed them: a search on the
    node waits for it (it used to count the write as done once the pass began)."""
    node = await Node.start(tmp_path / "cove.db", new_keyring(), Clock())
    svc = node.services
    drainer = svc.indexer.drainer
    try:
        token, ws, room = await seeded(node)
        await drainer.drain()
        loading, release = asyncio.Event(), asyncio.Event()
        load = drainer._load
        assert load is not None

        async def held_load(workspace_id: str, kind: str, raw_ids: Sequence[str]) -> Any:
            loading.set()
            await release.wait()
            return await load(workspace_id, kind, raw_ids)

        drainer.bind(held_load)
        posted = await messages.post_message(ctx(svc, token), room, "ibis at dawn", None, [])
        background = asyncio.create_task(drainer.drain())
        await asyncio.wait_for(loading.wait(), 5)
        searching = asyncio.create_task(found(svc, token, ws, "ibis"))
        await asyncio.sleep(0.2)
        assert not searching.done()  # waiting for the pass, not answering without the post
        release.set()
        assert await asyncio.wait_for(searching, 5) == [posted.id]
        assert await background == 1
    finally:
        await node.crash()


async def test_a_search_does_not_wait_for_a_long_catch_up(tmp_path: Path) -> None:
    """A fresh node's first drain reads a day of buckets; a search meanwhile waits for one
    pass and the buckets it wrote in, not for the whole catch-up (it used to time out)."""
    node = await Node.start(tmp_path / "cove.db", new_keyring(), Clock())
    svc = node.services
    drainer = svc.indexer.drainer
    try:
        token, ws, room = await seeded(node)
        reading = asyncio.Event()
        read = drainer.outbox.read

        async def slow_catch_up(partitions: Sequence[tuple[int, int]], **kw: Any) -> Any:
            if len(partitions) > 3 * SHARDS:  # a catch-up pass, not the node's own buckets
                reading.set()
                await asyncio.sleep(FLUSH_SECONDS / 2)
            return await read(partitions, **kw)

        drainer.outbox.read = slow_catch_up  # type: ignore[method-assign]
        background = asyncio.create_task(drainer.drain())
        await asyncio.wait_for(reading.wait(), 5)
        posted = await messages.post_message(ctx(svc, token), room, "egret in reeds", None, [])
        started = time.monotonic()
        assert await found(svc, token, ws, "egret") == [posted.id]
        assert time.monotonic() - started < FLUSH_SECONDS
        await background
    finally:
        await node.crash()
