"""The BlobStore contract: every engine must pass these tests unchanged."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from integrations.blobs import BlobKeyError, BlobNotFound, BlobStore, BlobStoreUnavailable
from tests.integrations.blob_fixtures import BlobBackend

CHUNK = 99_991  # aligned with no part and no read chunk


def data_of(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def stream(data: bytes, chunk: int = CHUNK) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), chunk):
        yield data[offset : offset + chunk]


async def read_all(store: BlobStore, key: str) -> bytes:
    chunks = await store.read_range(key, 0, await store.size(key))
    return b"".join([chunk async for chunk in chunks])


async def all_keys(store: BlobStore, prefix: str = "") -> list[str]:
    return sorted([key async for key in store.keys(prefix)])


async def pending(backend: BlobBackend) -> int:
    return await asyncio.to_thread(backend.pending_partials)


async def test_the_engine_names_itself_and_answers_ping(
    blob_store: BlobStore, blob_engine: str
) -> None:
    assert blob_store.name == blob_engine
    await blob_store.ping()


# size from the part size, and the chunk size the source yields (None: all in one chunk)
SIZES: dict[str, tuple[Callable[[int], int], int | None]] = {
    "empty": (lambda part: 0, CHUNK),
    "one-byte": (lambda part: 1, CHUNK),
    "just-under-a-part": (lambda part: part - 1, CHUNK),
    "just-over-a-part-in-one-chunk": (lambda part: part + 1, None),
    "several-parts": (lambda part: 2 * part + 1, CHUNK),
}


@pytest.mark.parametrize(("size_of", "chunk"), SIZES.values(), ids=SIZES.keys())
async def test_a_stored_object_reads_back_whole_and_uploads_held_at_most_a_part(
    blob_backend: BlobBackend, size_of: Callable[[int], int], chunk: int | None
) -> None:
    store, part = blob_backend.store, blob_backend.part_size
    data = data_of(size_of(part))
    most_held = 0

    async def note_what_is_held(given: int) -> None:
        # What the store took from us and has not yet written out, it holds in memory.
        nonlocal most_held
        written = sum(await asyncio.to_thread(blob_backend.partial_sizes))
        most_held = max(most_held, given - written)

    async def watched() -> AsyncIterator[bytes]:
        given = 0
        async for piece in stream(data, chunk or max(len(data), 1)):
            if given // part != (given - CHUNK) // part:  # just past a part boundary
                await note_what_is_held(given)
            given += len(piece)
            yield piece
        await note_what_is_held(given)

    assert await store.put_stream("files/f1/v1", watched()) == len(data)
    assert most_held <= part
    assert await store.size("files/f1/v1") == len(data)
    assert await read_all(store, "files/f1/v1") == data
    assert await all_keys(store) == ["files/f1/v1"]
    assert await pending(blob_backend) == 0


OBJECT_SIZE = 3 * 64 * 1024 + 17
RANGES = {
    "start": (0, 10),
    "middle": (64 * 1024 + 123, 1000),
    "end": (OBJECT_SIZE - 10, 10),
    "across-chunks": (64 * 1024 - 5, 2 * 64 * 1024 + 10),
    "whole": (0, OBJECT_SIZE),
    "empty": (7, 0),
    "empty-at-the-end": (OBJECT_SIZE, 0),
}


@pytest.mark.parametrize(("start", "length"), RANGES.values(), ids=RANGES.keys())
async def test_a_range_reads_exactly_its_bytes_in_bounded_chunks(
    blob_backend: BlobBackend, start: int, length: int
) -> None:
    store = blob_backend.store
    assert blob_backend.read_size == 64 * 1024
    data = data_of(OBJECT_SIZE)
    await store.put_stream("doc", stream(data))
    chunks = [chunk async for chunk in await store.read_range("doc", start, length)]
    assert b"".join(chunks) == data[start : start + length]
    assert all(0 < len(chunk) <= blob_backend.read_size for chunk in chunks)
    assert len(chunks) == -(-length // blob_backend.read_size)


@pytest.mark.parametrize(
    ("start", "length"),
    [(OBJECT_SIZE - 1, 2), (OBJECT_SIZE + 1, 0), (-1, 1), (0, -1)],
    ids=["past-the-end", "starts-past-the-end", "negative-start", "negative-length"],
)
async def test_a_range_outside_the_object_is_refused_before_reading(
    blob_store: BlobStore, start: int, length: int
) -> None:
    await blob_store.put_stream("doc", stream(data_of(OBJECT_SIZE)))
    with pytest.raises(ValueError, match="range"):
        await blob_store.read_range("doc", start, length)


async def test_a_missing_key_is_not_found_and_deleting_it_is_fine(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await blob_store.size("files/none")
    with pytest.raises(BlobNotFound):
        await blob_store.read_range("files/none", 0, 0)
    await blob_store.delete("files/none")


async def test_delete_removes_the_object_and_is_idempotent(blob_store: BlobStore) -> None:
    await blob_store.put_stream("a/doc", stream(b"sealed"))
    await blob_store.put_stream("a/other", stream(b"kept"))
    await blob_store.delete("a/doc")
    await blob_store.delete("a/doc")
    with pytest.raises(BlobNotFound):
        await blob_store.size("a/doc")
    assert await all_keys(blob_store) == ["a/other"]
    assert await read_all(blob_store, "a/other") == b"kept"


async def test_a_put_replaces_the_object_under_the_key(blob_store: BlobStore) -> None:
    await blob_store.put_stream("doc", stream(data_of(5000, seed=1)))
    await blob_store.put_stream("doc", stream(data_of(300, seed=2)))
    assert await read_all(blob_store, "doc") == data_of(300, seed=2)
    assert await all_keys(blob_store) == ["doc"]


async def test_keys_lists_what_starts_with_the_prefix(blob_store: BlobStore) -> None:
    stored = ["a/1", "a/2", "a/sub/3", "ab/4", "b/5", "top"]
    for key in stored:
        await blob_store.put_stream(key, stream(key.encode()))
    assert await all_keys(blob_store) == stored
    assert await all_keys(blob_store, "a/") == ["a/1", "a/2", "a/sub/3"]
    assert await all_keys(blob_store, "a") == ["a/1", "a/2", "a/sub/3", "ab/4"]
    assert await all_keys(blob_store, "a/s") == ["a/sub/3"]
    assert await all_keys(blob_store, "t") == ["top"]
    assert await all_keys(blob_store, "zzz/") == []


async def test_concurrent_uploads_keep_their_own_bytes(blob_store: BlobStore) -> None:
    payloads = {f"files/{n}": data_of(20_000 + n, seed=n) for n in range(8)}
    await asyncio.gather(*(blob_store.put_stream(k, stream(v, 4096)) for k, v in payloads.items()))
    for key, data in payloads.items():
        assert await read_all(blob_store, key) == data


INTERRUPTIONS = ["source-raises", "cancelled-awaiting-the-source", "cancelled-while-writing"]


@pytest.mark.parametrize("how", INTERRUPTIONS)
async def test_an_interrupted_upload_leaves_nothing_new_and_no_partial(
    blob_backend: BlobBackend, how: str
) -> None:
    store = blob_backend.store
    old = data_of(1000, seed=1)
    await store.put_stream("doc", stream(old))
    new = data_of(blob_backend.part_size + 1, seed=2)  # over a part: S3 goes multipart
    reached = asyncio.Event()
    partials_meanwhile: list[int] = []
    upload: asyncio.Task[int] | None = None

    async def source() -> AsyncIterator[bytes]:
        pieces = [new[offset : offset + CHUNK] for offset in range(0, len(new), CHUNK)]
        for number, piece in enumerate(pieces, 1):
            if how == "cancelled-while-writing" and number == len(pieces):
                assert upload is not None
                # Lands at the store's next wait: the write (or upload start) this piece triggers.
                asyncio.get_running_loop().call_soon(upload.cancel)
            yield piece
        partials_meanwhile.append(await pending(blob_backend))
        if how == "source-raises":
            raise RuntimeError("the source broke")
        reached.set()
        await asyncio.Event().wait()

    upload = asyncio.create_task(store.put_stream("doc", source()))
    if how == "source-raises":
        with pytest.raises(RuntimeError, match="the source broke"):
            await upload
    else:
        if how == "cancelled-awaiting-the-source":
            await reached.wait()
            upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
    if how != "cancelled-while-writing":
        assert partials_meanwhile == [1]  # the upload was under way, so there was a partial
    assert await read_all(store, "doc") == old
    assert await all_keys(store) == ["doc"]
    assert await pending(blob_backend) == 0


@pytest.mark.parametrize("chunk", ["text", bytearray(b"mutable"), memoryview(b"view"), None])
async def test_only_bytes_can_be_stored(blob_backend: BlobBackend, chunk: object) -> None:
    async def source() -> AsyncIterator[object]:
        yield b"sealed"
        yield chunk

    with pytest.raises(TypeError, match="sealed bytes"):
        await blob_backend.store.put_stream("doc", source())  # type: ignore[arg-type]
    assert await all_keys(blob_backend.store) == []
    assert await pending(blob_backend) == 0


async def test_cleanup_partials_removes_what_crashed_uploads_left(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    await store.put_stream("kept", stream(b"sealed"))
    blob_backend.leave_partial("crashed/1")
    blob_backend.leave_partial("crashed/2")
    assert await pending(blob_backend) == 2
    assert await store.cleanup_partials(older_than_seconds=3600) == 2
    assert await pending(blob_backend) == 0
    assert await store.cleanup_partials(older_than_seconds=3600) == 0
    assert await all_keys(store) == ["kept"]
    assert await read_all(store, "kept") == b"sealed"
    with pytest.raises(ValueError, match="negative"):
        await store.cleanup_partials(older_than_seconds=-1)


async def test_cleanup_partials_spares_the_uploads_the_store_is_running(
    blob_backend: BlobBackend,
) -> None:
    store = blob_backend.store
    data = data_of(blob_backend.part_size + 1)
    paused, resume = asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        async for piece in stream(data):
            yield piece
        paused.set()
        await resume.wait()

    upload = asyncio.create_task(store.put_stream("doc", source()))
    await paused.wait()
    assert await pending(blob_backend) == 1
    assert await store.cleanup_partials(older_than_seconds=0) == 0
    assert await pending(blob_backend) == 1
    resume.set()
    assert await upload == len(data)
    assert await read_all(store, "doc") == data


async def test_another_store_on_the_same_backend_spares_an_upload_still_running(
    blob_backend: BlobBackend,
) -> None:
    """Another process sharing the directory or bucket sweeps with no cutoff: the local
    engine knows the upload alive by its lock, S3 by the `live` check (the upload's intent)."""
    store, other = blob_backend.store, blob_backend.make_store()
    data = data_of(blob_backend.part_size + 1)
    paused, resume = asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        async for piece in stream(data):
            yield piece
        paused.set()
        await resume.wait()

    async def live(key: str) -> bool:
        return key == "doc"

    upload = asyncio.create_task(store.put_stream("doc", source()))
    await paused.wait()
    assert await pending(blob_backend) == 1
    assert await other.cleanup_partials(older_than_seconds=0, live=live) == 0
    assert await pending(blob_backend) == 1
    resume.set()
    assert await upload == len(data)
    assert await read_all(other, "doc") == data
    assert await pending(blob_backend) == 0


async def test_another_store_removes_at_once_what_a_crashed_upload_left(
    blob_backend: BlobBackend,
) -> None:
    """A partial upload whose writer is gone goes at the next sweep, not after a day: on the
    local engine whatever its age, on S3 once past the grace unless `live` holds its key."""
    blob_backend.leave_partial("drive/w/f/crashed")
    blob_backend.leave_partial("drive/w/f/running")

    async def live(key: str) -> bool:
        return key == "drive/w/f/running"

    other = blob_backend.make_store()
    expected = 2 if blob_backend.engine == "local" else 1  # local partial files have no key
    assert await other.cleanup_partials(older_than_seconds=60, live=live) == expected
    assert await pending(blob_backend) == 2 - expected


INVALID_KEYS = {
    "empty": "",
    "parent": "../x",
    "parent-inside": "a/../../x",
    "dot": "./a",
    "hidden": ".partial/x",
    "absolute": "/abs",
    "empty-segment": "a//b",
    "trailing-slash": "a/",
    "newline": "a\nb",
    "nul": "a\x00b",
    "escape": "a\x1bb",
    "space": "a b",
    "backslash": "a\\..\\b",
    "non-ascii": "caf\u00e9",
    "too-long": "k" * 513,
    "segment-too-long": "a/" + "s" * 256,
}


@pytest.mark.parametrize("key", INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
async def test_invalid_keys_are_refused_by_every_operation(
    blob_backend: BlobBackend, key: str
) -> None:
    store = blob_backend.store
    pulled = []

    async def source() -> AsyncIterator[bytes]:
        pulled.append(True)
        yield b"sealed"

    with pytest.raises(BlobKeyError):
        await store.put_stream(key, source())
    assert pulled == []
    with pytest.raises(BlobKeyError):
        await store.size(key)
    with pytest.raises(BlobKeyError):
        await store.read_range(key, 0, 0)
    with pytest.raises(BlobKeyError):
        await store.delete(key)
    assert await all_keys(store) == []
    assert await pending(blob_backend) == 0


@pytest.mark.parametrize("prefix", ["/", "../", "a//", "a/../", "a\n"])
async def test_invalid_prefixes_are_refused(blob_store: BlobStore, prefix: str) -> None:
    with pytest.raises(BlobKeyError):
        await all_keys(blob_store, prefix)


@pytest.mark.parametrize(
    "key",
    ["a", "A-z_0.9", "files/0b9f/v1.seg", "a" * 255 + "/" + "b" * 254 + "/c"],
    ids=["one-letter", "whole-alphabet", "nested", "longest"],
)
async def test_valid_keys_round_trip(blob_store: BlobStore, key: str) -> None:
    await blob_store.put_stream(key, stream(b"sealed"))
    assert await all_keys(blob_store) == [key]
    assert await read_all(blob_store, key) == b"sealed"


async def test_a_reader_of_an_object_replaced_since_raises_not_found(blob_store: BlobStore) -> None:
    await blob_store.put_stream("doc", stream(data_of(1000, seed=1)))
    reader = await blob_store.read_range("doc", 0, 1000)
    await blob_store.put_stream("doc", stream(data_of(1200, seed=2)))
    with pytest.raises(BlobNotFound, match="replaced"):
        [chunk async for chunk in reader]


async def test_a_closed_store_refuses_work(blob_backend: BlobBackend) -> None:
    store = blob_backend.make_store()
    await store.put_stream("doc", stream(b"sealed"))
    await store.close()
    await store.close()
    with pytest.raises(BlobStoreUnavailable):
        await store.ping()
    with pytest.raises(BlobStoreUnavailable):
        await store.put_stream("doc", stream(b"late"))
    with pytest.raises(BlobStoreUnavailable):
        await store.size("doc")
    assert await read_all(blob_backend.store, "doc") == b"sealed"
