"""Free space on the local volumes Cove writes: the data dir (SQLite) and the local blob root.

A write a volume refuses for lack of space (ENOSPC, EDQUOT, SQLite's SQLITE_FULL) raises
`StorageFull`, which clients see as `UNAVAILABLE` with reason `STORAGE_FULL` (HTTP 507 on the
file routes), never as an internal error. A `Volume` is *full* while its free space is below
`min_free_bytes` or since a write there failed for space, until a probe finds room again:
meanwhile writes are refused up front, except those run inside `writes_when_full()` (deletes
that free space, and the small bookkeeping reads need, such as a download URL's token).

So that those deletes can commit on a volume filled to the last byte (SQLite writes a delete
into its WAL before the pages it frees can be reused), the data volume keeps a reserve file
that is removed the moment the volume fills, and made again once space has returned.

ScyllaDB keeps its data on its own nodes: their disks are the cluster's business, not this.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

from persistence.store import StorageFull

__all__ = [
    "RESERVE_NAME",
    "StorageFull",
    "Volume",
    "is_out_of_space",
    "writes_when_full",
]

log = logging.getLogger("cove.space")

# The errors a file system answers when it has no room left (for anyone, or for this user).
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# The reserve file in the data dir: a fraction of `min_free_bytes`, released when it fills.
RESERVE_NAME = "space.reserve"
RESERVE_FRACTION = 4
_CHUNK = 1024 * 1024

_allowed: ContextVar[bool] = ContextVar("cove_writes_when_full", default=False)


def is_out_of_space(error: BaseException) -> bool:
    """Whether an OS error means the volume has no room left."""
    return isinstance(error, OSError) and error.errno in _FULL_ERRNOS


@contextmanager
def writes_when_full() -> Iterator[None]:
    """Let the writes made inside through on a full volume: deletes that free space (and the
    bookkeeping that goes with them), and the small writes a read needs. Only these may use
    the room the reserve leaves, so they still work once everything else is refused."""
    token = _allowed.set(True)
    try:
        yield
    finally:
        _allowed.reset(token)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the volume holding `path` (or, while
    it does not exist yet, its nearest existing parent)."""
    try:
        found = os.statvfs(path)
    except FileNotFoundError:
        for candidate in path.parents:  # ends at the file system root, which exists
            try:
                found = os.statvfs(candidate)
            except FileNotFoundError:
                continue
            break
        else:
            raise FileNotFoundError(path) from None
    return found.f_bavail * found.f_frsize


class Volume:
    """One local directory Cove writes, watched for free space (see the module's doc).

    `probe` (blocking: run it in a thread) measures and updates the state, making the reserve
    again once there is room; `check_write` measures too and refuses a write up front while
    full; `failed` records a write refused for space.
    """

    def __init__(self, name: str, path: Path, *, min_free_bytes: int, reserve: bool) -> None:
        self.name = name
        self.path = Path(path)
        self.min_free_bytes = min_free_bytes
        self.reserve_bytes = min_free_bytes // RESERVE_FRACTION if reserve else 0
        self._reserve = self.path / RESERVE_NAME if self.reserve_bytes else None
        self._full = False

    @property
    def full(self) -> bool:
        return self._full

    def check_write(self) -> None:
        """Refuse a write while the volume is full, unless inside `writes_when_full()`.

        The free space is measured here too (one statvfs, under a microsecond), not only by
        the probes: the volume may fill between two of them, and SQLite may then fit a write
        into room its files already hold, so it would succeed below `min_free_bytes`."""
        if not self._full:
            free = free_bytes(self.path)
            if free < self.min_free_bytes:
                self._fill(f"{free:,} bytes free, below min_free_bytes {self.min_free_bytes:,}")
        if self._full and not _allowed.get():
            raise StorageFull(f"the {self.name} volume is full; delete to free space")

    def failed(self, error: BaseException) -> StorageFull:
        """A write here failed for lack of space: the volume is full from now on (until a
        probe finds room); answers the StorageFull to raise."""
        self._fill(f"a write failed for lack of space ({error})")
        return StorageFull(f"no space left on the {self.name} volume: {error}")

    def probe(self) -> bool:
        """Measure the free space and update the state; True while full. Blocking."""
        free = free_bytes(self.path)
        if not self._full:
            if free < self.min_free_bytes:
                self._fill(f"{free:,} bytes free, below min_free_bytes {self.min_free_bytes:,}")
            else:
                self._make_reserve(free)
            return self._full
        # Full: room again once the reserve can be made and min_free_bytes still stays free.
        missing = self._reserve is not None and not self._reserve.exists()
        needed = self.min_free_bytes + (self.reserve_bytes if missing else 0)
        if free >= needed and self._make_reserve(free):
            self._full = False
            log.warning("the %s volume has room again (%s bytes free)", self.name, f"{free:,}")
        return self._full

    def _fill(self, why: str) -> None:
        if not self._full:
            log.error(
                "the %s volume at %s is full: %s; new content is refused until space returns",
                self.name,
                self.path,
                why,
            )
        self._full = True
        if self._reserve is not None:
            with suppress(FileNotFoundError):
                self._reserve.unlink()  # its room is for the deletes that free space

    def _make_reserve(self, free: int) -> bool:
        """Make the reserve file if it is missing and fits; False when it could not be made."""
        if self._reserve is None or self._reserve.exists():
            return True
        if not self.path.is_dir() or free < self.min_free_bytes + self.reserve_bytes:
            return False
        temp = self._reserve.with_name(RESERVE_NAME + ".new")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                _allocate(fd, self.reserve_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self._reserve)
        except OSError:
            log.warning("could not make the reserve file %s", self._reserve, exc_info=True)
            with suppress(OSError):
                temp.unlink()
            return False
        return True


def _allocate(fd: int, size: int) -> None:
    """Give the file `size` bytes of real blocks (not a sparse hole)."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    zeros = b"\0" * _CHUNK
    done = 0
    while done < size:  # each turn writes at least one byte or raises
        done += os.write(fd, zeros[: min(_CHUNK, size - done)])
