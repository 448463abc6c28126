"""A full volume, without mounting one: the SQLite engine and the local blob store turn "no
space left" into StorageFull (never a generic error), mark their volume full, refuse later
writes up front but those that free space, and a Volume keeps a reserve for those."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import integrations.blobs.local as local_blobs
import persistence.space as space
from integrations.blobs import LocalBlobStore
from persistence.declare import Column, ColumnType, Order, Table
from persistence.space import RESERVE_NAME, Volume, writes_when_full
from persistence.sqlite import SqliteStore
from persistence.store import StorageFull

MiB = 1024 * 1024
NOTES = Table(
    name="notes",
    partition_key=(Column("book", ColumnType.TEXT),),
    clustering=(Column("page", ColumnType.BIGINT),),
    order=Order.ASC,
    values=(Column("text", ColumnType.TEXT),),
)


class Disk:
    """The free bytes `free_bytes` reports, set by the test."""

    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self, path: Path) -> int:
        return self.free


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    found = Disk(100 * MiB)
    monkeypatch.setattr(space, "free_bytes", found)
    return found


def test_the_free_space_of_a_folder_not_made_yet_is_its_volumes(tmp_path: Path) -> None:
    measured = space.free_bytes(tmp_path)
    assert measured > 0
    not_yet = space.free_bytes(tmp_path / "not" / "made" / "yet")
    # The same volume: only what other processes wrote in between may differ.
    assert abs(not_yet - measured) < 64 * MiB


def test_a_volume_keeps_a_reserve_releases_it_when_full_and_makes_it_again(
    tmp_path: Path, disk: Disk
) -> None:
    volume = Volume("data_dir", tmp_path, min_free_bytes=4 * MiB, reserve=True)
    reserve = tmp_path / RESERVE_NAME
    assert volume.probe() is False
    assert reserve.stat().st_size == MiB and reserve.stat().st_blocks * 512 >= MiB
    volume.check_write()  # room: nothing refused

    disk.free = 3 * MiB  # below min_free_bytes
    assert volume.probe() is True
    assert not reserve.exists()  # its room is for the deletes
    with pytest.raises(StorageFull):
        volume.check_write()
    with writes_when_full():
        volume.check_write()  # deletes and a read's bookkeeping go through

    disk.free = 4 * MiB + MiB // 2  # min_free_bytes, but not the reserve on top
    assert volume.probe() is True and not reserve.exists()
    disk.free = 5 * MiB
    assert volume.probe() is False
    assert reserve.exists()
    volume.check_write()


def test_a_write_is_refused_as_soon_as_the_volume_runs_low_with_no_probe_between(
    tmp_path: Path, disk: Disk
) -> None:
    """Filled between two probes, the volume still refuses the next write: SQLite could fit
    it into room its files hold already, and would store it below min_free_bytes."""
    volume = Volume("data_dir", tmp_path, min_free_bytes=4 * MiB, reserve=True)
    assert volume.probe() is False
    volume.check_write()
    disk.free = 0
    with pytest.raises(StorageFull):
        volume.check_write()
    assert volume.full
    assert not (tmp_path / RESERVE_NAME).exists()  # released for the deletes
    with writes_when_full():
        volume.check_write()


def test_a_write_failed_for_space_fills_the_volume_until_a_probe_finds_room(
    tmp_path: Path, disk: Disk
) -> None:
    volume = Volume("blob_dir", tmp_path, min_free_bytes=MiB, reserve=False)
    assert volume.probe() is False
    error = volume.failed(OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(error, StorageFull)
    assert volume.full
    with pytest.raises(StorageFull):
        volume.check_write()
    assert volume.probe() is False  # the space is back (say, something was deleted)
    volume.check_write()
    assert not (tmp_path / RESERVE_NAME).exists()  # the blob volume keeps none


async def test_sqlite_full_is_storage_full_and_only_deletes_pass_until_there_is_room(
    tmp_path: Path, disk: Disk
) -> None:
    volume = Volume("data_dir", tmp_path, min_free_bytes=MiB, reserve=True)
    volume.probe()
    store = await SqliteStore.open(tmp_path / "cove.db", [NOTES], volume=volume)
    try:
        for page in range(5):
            await store.put(NOTES, {"book": "b", "page": page, "text": "kept"})

        def cap(connection: object) -> None:
            # SQLite answers SQLITE_FULL past max_page_count, as it does on a full disk.
            pages = connection.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[attr-defined]
            connection.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]

        await store._writer.run(cap)
        with pytest.raises(StorageFull):
            await store.put(NOTES, {"book": "b", "page": 99, "text": "x" * 200_000})
        assert volume.full
        # Refused up front from now on, whatever its size.
        with pytest.raises(StorageFull):
            await store.put(NOTES, {"book": "b", "page": 100, "text": "small"})
        # Nothing acknowledged was lost, and nothing of the refused writes is there.
        rows = await store.scan(NOTES, {"book": "b"}, limit=100)
        assert [(r["page"], r["text"]) for r in rows] == [(p, "kept") for p in range(5)]
        with writes_when_full():
            await store.delete(NOTES, {"book": "b", "page": 0})
        assert len(await store.scan(NOTES, {"book": "b"}, limit=100)) == 4
        await store._writer.run(
            lambda connection: connection.execute("PRAGMA max_page_count = 1073741823")
        )
        assert volume.probe() is False  # room again: writes work without reopening
        await store.put(NOTES, {"book": "b", "page": 100, "text": "after"})
    finally:
        await store.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_blob_upload_out_of_space_is_storage_full_and_leaves_no_partial(
    tmp_path: Path, disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = Volume("blob_dir", tmp_path / "blobs", min_free_bytes=MiB, reserve=False)
    store = LocalBlobStore(tmp_path / "blobs", part_size=1024, volume=volume)
    try:
        await store.put_stream("drive/w/f/old", _chunks(b"kept"))

        def no_room(fd: int, data: bytearray) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(local_blobs, "_write", no_room)
        with pytest.raises(StorageFull):
            await store.put_stream("drive/w/f/new", _chunks(b"x" * 4096))
        assert volume.full
        assert not list((store.root / ".partial").iterdir())
        monkeypatch.undo()
        monkeypatch.setattr(space, "free_bytes", disk)
        with pytest.raises(StorageFull):  # refused up front while full
            await store.put_stream("drive/w/f/new", _chunks(b"small"))
        assert [key async for key in store.keys("drive/")] == ["drive/w/f/old"]
        await store.delete("drive/w/f/old")  # deleting needs no room
        assert volume.probe() is False
        await store.put_stream("drive/w/f/new", _chunks(b"after"))
    finally:
        await store.close()


async def test_without_a_volume_no_space_is_still_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")

    def no_room(fd: int, data: bytearray) -> None:
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(local_blobs, "_write", no_room)
    try:
        with pytest.raises(StorageFull):
            await store.put_stream("k", _chunks(b"x"))
    finally:
        await store.close()
