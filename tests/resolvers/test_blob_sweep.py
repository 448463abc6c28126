"""Leftovers swept soon: what a crashed upload left goes at the next sweep, on either blob
engine, while uploads other processes are running are spared and commit.

"Another process" is a second Services on the same SQLite file and the same directory or
bucket, as `cove serve --workers 2` or a second node has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.app import BLOB_SWEEP_EVERY, SWEEP_EVERY
from integrations.blobs import BlobStore
from persistence.blob_intents import BlobIntentRecord
from persistence.ids import new_id
from persistence.sqlite.engine import SqliteStore
from persistence.store import StoreUnavailable
from resolvers import drive_uploads, workspaces
from resolvers.blob_leases import CLOCK_SLACK, INTENT_LEASE, intent_hour
from resolvers.drive_access import blob_key
from resolvers.global_ids import from_global_id
from resolvers.services import Services
from resolvers.sweeper import run_sweeper, sweep_blobs, sweep_orphans
from resolvers.transfers import TransferError
from tests.accounts_support import signed_up
from tests.inprocess import Clock, build_services, ctx
from tests.integrations.blob_fixtures import (  # noqa: F401
    BlobBackend,
    blob_backend,
    blob_engine,
)

PASSWORD = "correct horse battery"


@dataclass
class Drive:
    """Two processes sharing one store and one blob backend, and a workspace to upload to."""

    here: Services
    other: Services
    backend: BlobBackend
    owner: str
    workspace_id: str
    clock: Clock


@pytest.fixture
async def drive(tmp_path: Path, blob_backend: BlobBackend) -> AsyncIterator[Drive]:  # noqa: F811
    made: list[tuple[SqliteStore, Services]] = []
    # Ids are made by the real clock: keep the two close (at the store's millisecond precision).
    clock = Clock(datetime.now(UTC).replace(microsecond=0))

    async def process(blobs: BlobStore) -> Services:
        store = await SqliteStore.open(tmp_path / "cove.db")
        made.append((store, build_services(store, blobs=blobs, clock=clock)))
        return made[-1][1]

    here = await process(blob_backend.store)
    other = await process(blob_backend.make_store())
    owner = await signed_up(ctx(here), "owner@example.org", PASSWORD, "Owner")
    workspace = await workspaces.create_workspace(ctx(here, owner.token), "Acme")
    yield Drive(here, other, blob_backend, owner.token, workspace.id, clock)
    for store, services in made:
        services.close()
        await store.close()


async def upload_url(drive: Drive, size: int) -> tuple[str, str]:
    """A new file's one-time upload token, and the key its contents will have."""
    url, made = await drive_uploads.create_upload(
        ctx(drive.here, drive.owner),
        workspace_id=drive.workspace_id,
        parent_id=None,
        file_id=None,
        name="notes.txt",
        size=size,
        content_type="text/plain",
    )
    return url.rsplit("/", 1)[1], blob_key(made.workspace_id, made.file_id, made.version_id)


async def send(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def drive_keys(services: Services) -> set[str]:
    return {key async for key in services.blobs.keys("drive/")}


async def pending(drive: Drive) -> int:
    return await asyncio.to_thread(drive.backend.pending_partials)


async def sweep_all(services: Services) -> int:
    """What the sweeper does at start: leftovers of crashed uploads, then orphans of any kind."""
    return await sweep_blobs(services) + await sweep_orphans(services)


def raw(global_id: str) -> str:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


async def test_an_upload_another_process_sweeps_past_survives_and_commits(drive: Drive) -> None:
    """Mid-stream (a partial file, or an S3 multipart upload with a part sent), then between
    its object and its version row: the other process's sweeps leave it be."""
    first = b"a" * (drive.backend.part_size + 2 * 1024 * 1024)  # a part is sent before the pause
    rest = b"b" * 1024
    token, key = await upload_url(drive, len(first) + len(rest))
    paused, resume = asyncio.Event(), asyncio.Event()
    stored, written = asyncio.Event(), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield first
        paused.set()
        await resume.wait()
        yield rest

    real_add_version = drive.here.drive.add_version

    async def add_version_later(*args: object, **kwargs: object) -> None:
        stored.set()  # the object is in the blob store; its version row is not written yet
        await written.wait()
        await real_add_version(*args, **kwargs)  # type: ignore[arg-type]

    drive.here.drive.add_version = add_version_later  # type: ignore[method-assign]
    upload = asyncio.create_task(
        drive_uploads.receive_upload(drive.here, token, body(), len(first) + len(rest))
    )
    await paused.wait()
    assert await pending(drive) == 1
    assert await sweep_all(drive.other) == 0
    assert await pending(drive) == 1
    resume.set()
    await stored.wait()
    assert await drive_keys(drive.other) == {key}
    assert await sweep_all(drive.other) == 0
    assert await drive_keys(drive.other) == {key}
    written.set()
    ids = await upload
    assert f"/{raw(ids['fileId'])}/" in key
    assert await sweep_all(drive.other) == 0
    assert await drive_keys(drive.other) == {key}
    assert await pending(drive) == 0
    assert await intent_of(drive.other, key) is None  # gone with the upload


async def test_the_next_start_sweeps_what_a_crash_left_at_once(drive: Drive) -> None:
    """A partial upload held by no one, an object whose intent lapsed without a version row
    and a dead intent with no object all go at the first sweep of the next start, however
    young, as does an old object from before intents; a live upload, a committed file and a
    young object with no intent (an older Cove node's upload about to write its version row)
    stay."""
    here, other = drive.here, drive.other
    token, _ = await upload_url(drive, 4)
    ids = await drive_uploads.receive_upload(here, token, send(b"kept"), 4)
    [committed] = await drive_keys(here)
    now = here.clock()

    def key(made_ago: timedelta = timedelta(0)) -> str:
        return blob_key(drive.workspace_id, new_id(), new_id(at=now - made_ago))

    async def intent(blob: str, alive_for: timedelta) -> None:
        hour = intent_hour(blob)
        assert hour is not None
        await here.blob_intents.hold(BlobIntentRecord(hour, blob, "crashed:1", now + alive_for))

    mid_stream, lapsed, running, older_cove = key(), key(), key(), key()
    before_intents = key(made_ago=timedelta(days=3))
    await intent(mid_stream, -timedelta(minutes=2))  # crashed mid-stream: intent, no object
    drive.backend.leave_partial(mid_stream)  # ...and a partial file or open multipart upload
    await intent(lapsed, -timedelta(minutes=2))  # crashed between object and version row
    await intent(running, timedelta(minutes=1))  # another node's upload, object just stored
    await intent(committed, -timedelta(minutes=2))  # a renewal that landed after the commit
    for blob in (lapsed, before_intents, running, older_cove):
        await here.blobs.put_stream(blob, send(b"sealed"))
    assert await pending(drive) == 1

    tokens_swept = asyncio.Event()
    real_audit_sweep = other.audit.sweep

    async def audit_sweep() -> int:
        tokens_swept.set()  # tokens and the audit log come after the blobs, at start too
        return await real_audit_sweep()

    other.audit.sweep = audit_sweep  # type: ignore[method-assign]
    sweeper = asyncio.create_task(
        run_sweeper(other, blobs_every=BLOB_SWEEP_EVERY, others_every=SWEEP_EVERY)
    )
    try:
        await tokens_swept.wait()  # the first turn, at start: no sleep came before it
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    assert await drive_keys(other) == {committed, running, older_cove}
    assert await pending(drive) == 0
    for blob, kept in ((mid_stream, False), (lapsed, False), (running, True), (committed, False)):
        hour = intent_hour(blob)
        assert hour is not None
        assert (await other.blob_intents.get(hour, blob) is not None) == kept, blob
    assert raw(ids["fileId"]) in committed


async def test_blobs_are_swept_every_few_minutes_and_tokens_hourly(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three turns of the sweeper within a moment: crashed uploads each turn, every object
    and the tokens once (hourly)."""
    services = drive.other
    turns: list[str] = []
    done = asyncio.Event()

    async def blobs(_: Services) -> int:
        turns.append("blobs")
        if turns.count("blobs") == 3:
            done.set()
        return 0

    async def tokens(_: Services) -> int:
        turns.append("tokens")
        return 0

    async def orphans(_: Services) -> int:
        turns.append("orphans")
        return 0

    monkeypatch.setattr("resolvers.sweeper.sweep_blobs", blobs)
    monkeypatch.setattr("resolvers.sweeper.sweep_tokens", tokens)
    monkeypatch.setattr("resolvers.sweeper.sweep_orphans", orphans)
    sweeper = asyncio.create_task(
        run_sweeper(services, blobs_every=timedelta(0), others_every=SWEEP_EVERY)
    )
    try:
        await done.wait()
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    assert turns[:5] == ["blobs", "orphans", "tokens", "blobs", "blobs"]
    assert timedelta(minutes=1) <= BLOB_SWEEP_EVERY <= timedelta(minutes=10)


async def intent_of(services: Services, blob: str) -> BlobIntentRecord | None:
    hour = intent_hour(blob)
    assert hour is not None
    return await services.blob_intents.get(hour, blob)


async def test_an_upload_that_cannot_renew_its_intent_is_cut_and_its_url_kept(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store stops answering mid-upload: before the lease runs out the upload is cut (503,
    nothing left behind), so no sweep can take what it writes; the same URL then succeeds."""
    monkeypatch.setattr("resolvers.blob_leases.INTENT_RENEW_EVERY", timedelta(milliseconds=5))
    token, key = await upload_url(drive, 8)
    intents = drive.here.blob_intents
    real_hold = intents.hold
    paused = asyncio.Event()
    held: list[BlobIntentRecord] = []

    async def hold_then_fail(intent: BlobIntentRecord) -> None:
        if held:
            raise StoreUnavailable("the store went away")
        held.append(intent)
        await real_hold(intent)

    async def body() -> AsyncIterator[bytes]:
        yield b"half"
        paused.set()
        await asyncio.Event().wait()  # the client never sends the rest: only the cut ends it

    intents.hold = hold_then_fail  # type: ignore[method-assign]
    upload = asyncio.create_task(drive_uploads.receive_upload(drive.here, token, body(), 8))
    await paused.wait()
    drive.clock.advance(INTENT_LEASE.total_seconds())  # renewals keep failing meanwhile
    with pytest.raises(TransferError) as refused:
        await asyncio.wait_for(upload, timeout=30)  # a lease that never lapses would hang
    assert refused.value.status == 503
    assert await pending(drive) == 0
    assert await drive_keys(drive.here) == set()
    intents.hold = real_hold  # type: ignore[method-assign]
    await drive_uploads.receive_upload(drive.here, token, send(b"all ", b"fine"), 8)
    assert await drive_keys(drive.here) == {key}
    assert await intent_of(drive.here, key) is None


async def test_a_failed_upload_ends_its_intent_and_a_sweep_forgets_it_soon(
    drive: Drive,
) -> None:
    """A body shorter than declared: the intent is ended, not deleted (an object the failure
    might have left would be found by it), and the sweep forgets it once clocks agree."""
    token, key = await upload_url(drive, 8)
    with pytest.raises(TransferError) as refused:
        await drive_uploads.receive_upload(drive.here, token, send(b"short"), None)
    assert refused.value.status == 400
    ended = await intent_of(drive.other, key)
    assert ended is not None and ended.alive_until == drive.clock.now
    assert await sweep_blobs(drive.other) == 0
    assert await intent_of(drive.other, key) == ended  # other clocks may lag this one's
    drive.clock.advance(CLOCK_SLACK.total_seconds() + 1)
    assert await sweep_blobs(drive.other) == 0  # no object to remove
    assert await intent_of(drive.other, key) is None
    assert await pending(drive) == 0


async def test_the_frequent_sweep_alone_removes_an_object_whose_intent_lapsed(
    drive: Drive,
) -> None:
    """Without listing every object: the lapsed intent leads to its object; an intent that
    outlived its committed upload (a renewal landing after the commit) goes alone."""
    here = drive.here
    token, committed = await upload_url(drive, 4)
    await drive_uploads.receive_upload(here, token, send(b"kept"), 4)
    lapsed = blob_key(drive.workspace_id, new_id(), new_id())
    await here.blobs.put_stream(lapsed, send(b"sealed"))
    for blob in (lapsed, committed):
        hour = intent_hour(blob)
        assert hour is not None
        alive_until = drive.clock.now - INTENT_LEASE
        await here.blob_intents.hold(BlobIntentRecord(hour, blob, "crashed:1", alive_until))
    assert await sweep_blobs(drive.other) == 1
    assert await drive_keys(drive.other) == {committed}
    assert await intent_of(drive.other, lapsed) is None
    assert await intent_of(drive.other, committed) is None
