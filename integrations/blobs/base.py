"""The BlobStore protocol every file-object engine implements, its errors and shared checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol

log = logging.getLogger("cove.blobs")

MiB = 1024 * 1024
DEFAULT_READ_SIZE = MiB

# Whether an upload to the key is still running somewhere (another process or node may be
# writing it): answered by whoever keeps track of uploads, such as the store's upload intents.
LiveCheck = Callable[[str], Awaitable[bool]]


class BlobError(Exception):
    """Base of the blob store's errors."""


class BlobNotFound(BlobError):
    """No object is stored under the key (or it was replaced while being read)."""


class BlobStoreUnavailable(BlobError):
    """The backend did not answer or refused the request, or the store is closed."""


class BlobKeyError(BlobError, ValueError):
    """The key is not a valid blob key, or names a path the store may not use."""


class BlobStore(Protocol):
    """Keeps sealed file objects (ciphertext) by key; never sees plaintext, never interprets bytes.

    A key is 1 to 512 characters of `[A-Za-z0-9/_.-]` in `/`-separated segments of at most
    255 characters, none empty and none starting with a dot (see `integrations.blobs.keys`).
    """

    @property
    def name(self) -> str:
        """The engine's name: "local" or "s3"."""

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the streamed bytes under `key`, replacing any object there; return the size.

        Atomic: the object becomes visible whole once the stream has ended, and if the stream
        raises or the call is cancelled before that, nothing new is visible under `key` and no
        partial data is left. A cancellation that lands while the object is being committed
        lets the commit finish, then propagates.
        """

    async def read_range(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        """Check `key` and the range, then stream bytes [start, start + length) in bounded chunks.

        Raises BlobNotFound for a missing key and ValueError for a range outside the object
        before returning; the iterator raises BlobNotFound if the object is replaced meanwhile.
        """

    async def size(self, key: str) -> int:
        """The object's size in bytes; BlobNotFound if there is none."""

    async def delete(self, key: str) -> None:
        """Remove the object if it exists; deleting a missing key is not an error."""

    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key starting with `prefix`, in no promised order."""

    async def cleanup_partials(
        self, older_than_seconds: float, *, live: LiveCheck | None = None
    ) -> int:
        """Remove what uploads that crashed left behind; return a count.

        Uploads this store is running are always spared, and so is what the engine can tell
        another process is still writing. The local engine knows that by its lock on each
        partial file, and removes the rest whatever their age. S3 cannot: it aborts the
        multipart uploads initiated more than `older_than_seconds` ago whose key `live` does
        not say is still being uploaded (without `live`, the cutoff must exceed the longest
        upload).
        """

    async def ping(self) -> None:
        """Raise BlobStoreUnavailable unless the backend answers."""

    async def close(self) -> None:
        """Wait for blocking calls in flight and release connections; idempotent."""


def require_bytes(chunk: object) -> bytes:
    """Refuse anything but bytes: sealed segments, never mutable buffers."""
    if not isinstance(chunk, bytes):
        raise TypeError(f"blob chunks are sealed bytes, not {type(chunk).__name__}")
    return chunk


def check_range(start: int, length: int, size: int) -> None:
    """Refuse a range that does not lie within an object of `size` bytes."""
    if start < 0 or length < 0:
        raise ValueError(f"a blob range needs start >= 0 and length >= 0, not {start}, {length}")
    if start + length > size:
        raise ValueError(f"range [{start}, {start + length}) runs past the blob's {size} bytes")


def check_part_sizes(part_size: int, read_size: int, *, minimum: int = 1) -> None:
    """Refuse buffer sizes an engine cannot work with."""
    if part_size < minimum:
        raise ValueError(f"part_size must be at least {minimum} bytes")
    if read_size < 1:
        raise ValueError("read_size must be at least 1 byte")
