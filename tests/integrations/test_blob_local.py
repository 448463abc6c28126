"""What only the local directory store does: stay inside its root, and keep the disk tidy."""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from integrations.blobs import BlobKeyError, BlobNotFound, BlobStoreUnavailable, LocalBlobStore
from integrations.blobs.local import PARTIAL_DIR


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def read_all(store: LocalBlobStore, key: str) -> bytes:
    chunks = await store.read_range(key, 0, await store.size(key))
    return b"".join([chunk async for chunk in chunks])


async def all_keys(store: LocalBlobStore, prefix: str = "") -> list[str]:
    return sorted([key async for key in store.keys(prefix)])


def tree(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*")}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalBlobStore]:
    local = LocalBlobStore(tmp_path / "root", part_size=1024, read_size=1024)
    yield local
    await local.close()


async def test_objects_are_files_under_their_key_private_to_the_owner(
    store: LocalBlobStore,
) -> None:
    await store.put_stream("files/f1/v1", stream(b"sealed"))
    path = store.root / "files" / "f1" / "v1"
    assert path.read_bytes() == b"sealed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (store.root, store.root / "files", store.root / "files" / "f1"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("key", ["../escaped", "a/../../escaped", "/tmp/escaped", "..", "."])
async def test_no_key_reaches_outside_the_root(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "deep" / "root")
    await store.put_stream("inside", stream(b"sealed"))
    before = tree(tmp_path)
    with pytest.raises(BlobKeyError):
        await store.put_stream(key, stream(b"sealed"))
    with pytest.raises(BlobKeyError):
        await store.delete(key)
    assert tree(tmp_path) == before
    await store.close()


async def test_a_symlink_under_the_root_does_not_lead_outside(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not a blob")
    await store.ping()
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BlobKeyError):
        await store.put_stream("link/planted", stream(b"sealed"))
    with pytest.raises(BlobKeyError):
        await store.size("link/secret")
    with pytest.raises(BlobKeyError):
        await store.read_range("link/secret", 0, 1)
    with pytest.raises(BlobKeyError):
        await store.delete("link/secret")
    with pytest.raises(BlobKeyError):
        await all_keys(store, "link/")
    assert await all_keys(store) == []  # the walk never follows the link either
    assert sorted(os.listdir(outside)) == ["secret"]
    assert list((store.root / PARTIAL_DIR).iterdir()) == []


async def test_a_key_cannot_also_be_a_folder_of_keys(store: LocalBlobStore) -> None:
    await store.put_stream("a", stream(b"object a"))
    with pytest.raises(BlobKeyError, match="clashes"):
        await store.put_stream("a/b", stream(b"under a"))
    await store.put_stream("c/d", stream(b"under c"))
    with pytest.raises(BlobKeyError, match="clashes"):
        await store.put_stream("c", stream(b"object c"))
    with pytest.raises(BlobNotFound):
        await store.size("c")
    assert await all_keys(store) == ["a", "c/d"]
    assert await read_all(store, "a") == b"object a"
    assert list((store.root / PARTIAL_DIR).iterdir()) == []


async def test_delete_removes_the_folders_it_empties_and_no_more(store: LocalBlobStore) -> None:
    await store.put_stream("x/y/z", stream(b"1"))
    await store.put_stream("x/kept", stream(b"2"))
    await store.delete("x/y/z")
    assert not (store.root / "x" / "y").exists()
    assert (store.root / "x" / "kept").exists()
    await store.delete("x/kept")
    assert sorted(os.listdir(store.root)) == [PARTIAL_DIR]


async def test_writes_reach_the_disk_a_part_at_a_time(store: LocalBlobStore) -> None:
    partial = store.root / PARTIAL_DIR
    written_meanwhile = []

    async def source() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"s" * 700
            written_meanwhile.append(sum(p.stat().st_size for p in partial.iterdir()))

    assert await store.put_stream("doc", source()) == 3500
    # part_size is 1024: a write once 1024 bytes or more are buffered (after 1400 and 2800).
    assert written_meanwhile == [0, 1400, 1400, 2800, 2800]


async def test_cleanup_partials_removes_unlocked_partial_files_whatever_their_age(
    store: LocalBlobStore,
) -> None:
    partial = store.root / PARTIAL_DIR
    partial.mkdir(parents=True)
    (partial / "just-left.part").write_bytes(b"x")  # a writer that died a moment ago
    assert await store.cleanup_partials(older_than_seconds=3600) == 1
    assert os.listdir(partial) == []


# Holds an exclusive flock on the file named in argv[1] and says so; exits when stdin closes
# or when it is killed, as an uploading process that crashes would.
HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


async def test_a_partial_file_another_process_holds_is_spared_until_that_process_dies(
    store: LocalBlobStore,
) -> None:
    partial = store.root / PARTIAL_DIR
    partial.mkdir(parents=True)
    held = partial / "held.part"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(held),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), timeout=30) == b"locked\n"
        old = time.time() - 7200
        os.utime(held, (old, old))
        assert await store.cleanup_partials(older_than_seconds=0) == 0
        assert held.exists()
    finally:
        holder.kill()  # a crash: the kernel drops the lock with the process
        await asyncio.wait_for(holder.wait(), timeout=30)
    assert await store.cleanup_partials(older_than_seconds=3600) == 1
    assert not held.exists()


async def test_a_partial_file_taken_by_a_sweep_before_its_lock_is_made_again(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep in another process may lock and remove a partial file in the instant between
    its creation and its writer's lock: the writer starts a new one and the upload succeeds."""
    real_flock = fcntl.flock
    raced: list[str] = []

    def sweep_first(fd: int, operation: int) -> None:
        if not raced:
            [name] = os.listdir(store.root / PARTIAL_DIR)
            raced.append(name)
            # Another process's sweep takes the unlocked file first: its lock, then its removal.
            taken = os.open(store.root / PARTIAL_DIR / name, os.O_RDONLY)
            real_flock(taken, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(store.root / PARTIAL_DIR / name)
            os.close(taken)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", sweep_first)
    assert await store.put_stream("doc", stream(b"sealed")) == 6
    assert raced
    assert await read_all(store, "doc") == b"sealed"
    assert os.listdir(store.root / PARTIAL_DIR) == []


async def test_keys_skips_what_no_key_can_name(store: LocalBlobStore, tmp_path: Path) -> None:
    await store.put_stream("files/doc", stream(b"sealed"))
    (store.root / "files" / "stray file").write_bytes(b"x")
    (store.root / "files" / ".hidden").write_bytes(b"x")
    (tmp_path / "target").write_bytes(b"x")
    (store.root / "files" / "link").symlink_to(tmp_path / "target")
    assert await all_keys(store) == ["files/doc"]


async def test_ping_makes_a_missing_root_and_fails_when_it_is_a_file(tmp_path: Path) -> None:
    made = LocalBlobStore(tmp_path / "new" / "root")
    await made.ping()
    assert (tmp_path / "new" / "root" / PARTIAL_DIR).is_dir()
    (tmp_path / "file").write_bytes(b"not a directory")
    broken = LocalBlobStore(tmp_path / "file")
    with pytest.raises(BlobStoreUnavailable):
        await broken.ping()
    with pytest.raises(BlobStoreUnavailable):
        await broken.put_stream("doc", stream(b"sealed"))
    await made.close()
    await broken.close()
