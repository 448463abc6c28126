"""Local directory blob store: the embedded default, one file per key below a root directory.

An upload is written to a file of its own in `<root>/.partial/`, fsynced, then renamed into
place, so an object appears whole or not at all; a failed or cancelled upload removes its
file. The writer holds an exclusive `flock` on its partial file until the file has left
`.partial/`, and the kernel drops that lock when the writer's process dies: `cleanup_partials`
removes every partial file whose lock it can take at once, whatever its age, knowing that its
writer (in any process on this machine) is gone. A write the disk refuses for lack of space
(ENOSPC, EDQUOT) raises StorageFull, and with the root's `Volume` refuses the next uploads up
front until it has room again (persistence/space.py). Keys map to paths segment by
segment and cannot leave the root: they are validated, and a path that a symlink under the
root leads outside is refused. Unlike S3, a key here cannot also be a "folder" of other keys
("a" beside "a/b"): such a put is refused with BlobKeyError.
"""

from __future__ import annotations

import fcntl
import functools
import os
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from integrations.blobs.base import (
    DEFAULT_READ_SIZE,
    BlobKeyError,
    BlobNotFound,
    BlobStoreUnavailable,
    LiveCheck,
    MiB,
    check_part_sizes,
    check_range,
    log,
    require_bytes,
)
from integrations.blobs.keys import check_key, check_prefix, is_valid_key
from integrations.blobs.threads import Threads
from persistence.space import StorageFull, Volume, is_out_of_space

T = TypeVar("T")

PARTIAL_DIR = ".partial"
DEFAULT_PART_SIZE = MiB
_DIR_MODE = 0o700
_FILE_MODE = 0o600


class LocalBlobStore:
    """Stores each object as a file under `root`; uploads buffer `part_size` bytes per write."""

    def __init__(
        self,
        root: Path,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        read_size: int = DEFAULT_READ_SIZE,
        max_threads: int = 4,
        volume: Volume | None = None,
    ) -> None:
        check_part_sizes(part_size, read_size)
        # The root's volume: uploads are refused up front while it is full. Without it, a
        # write refused for lack of space still raises StorageFull.
        self._volume = volume
        self._root = Path(root).resolve()
        self._partial = self._root / PARTIAL_DIR
        self._part_size = part_size
        self._read_size = read_size
        self._threads = Threads(max_threads, "cove-blob-local")
        self._closed = False

    @property
    def name(self) -> str:
        return "local"

    @property
    def root(self) -> Path:
        """The directory holding the objects (resolved)."""
        return self._root

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Write to a locked partial file, fsync, then rename it over `<root>/<key>`."""
        target = self._path(key)
        self._check_open()
        if self._volume is not None:
            self._volume.check_write()
        temp: Path | None = None
        try:
            fd, made = await self._io(self._create_partial, undo=_close_partial)
            temp = made
            try:
                written = await self._write_all(fd, chunks)
            except BaseException:
                await self._threads.finish(functools.partial(os.close, fd))
                raise
            await self._io_to_the_end(functools.partial(self._commit, fd, made, target, key))
        except BaseException:
            # No-op after a commit that a cancellation let finish: the file was renamed.
            if temp is not None:
                await self._threads.finish(functools.partial(_unlink_quietly, temp))
            raise
        return written

    async def read_range(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        """Stat the file and check the range; the iterator reads it with pread in chunks."""
        path = self._path(key)
        self._check_open()
        real, found = await self._io(functools.partial(self._stat_object, path, key))
        check_range(start, length, found.st_size)
        return self._read(key, real, found, start, length)

    async def size(self, key: str) -> int:
        path = self._path(key)
        self._check_open()
        _, found = await self._io(functools.partial(self._stat_object, path, key))
        return found.st_size

    async def delete(self, key: str) -> None:
        """Unlink the file, then the folders it leaves empty."""
        path = self._path(key)
        self._check_open()
        await self._io(functools.partial(self._delete, path))

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Walk the folders a key with `prefix` can be in, one folder per thread call."""
        check_prefix(prefix)
        self._check_open()
        head = prefix.rpartition("/")[0]
        pending = [(self._root.joinpath(*head.split("/")) if head else self._root, head)]
        while pending:  # ends: every folder is listed once and symlinks are never followed
            directory, relative = pending.pop()
            files, folders = await self._io(functools.partial(self._list, directory))
            for folder in sorted(folders, reverse=True):
                below = f"{relative}/{folder}" if relative else folder
                if f"{below}/".startswith(prefix) or prefix.startswith(f"{below}/"):
                    pending.append((directory / folder, below))
            for file in sorted(files):
                key = f"{relative}/{file}" if relative else file
                if key.startswith(prefix) and is_valid_key(key):
                    yield key

    async def cleanup_partials(
        self, older_than_seconds: float, *, live: LiveCheck | None = None
    ) -> int:
        """Remove the partial files no process holds locked, whatever their age: their writers
        are gone. The cutoff and `live` are not needed here (a lock proves its writer alive)."""
        if older_than_seconds < 0:
            raise ValueError("older_than_seconds must not be negative")
        self._check_open()
        return await self._io(self._sweep)

    async def ping(self) -> None:
        """Check that the root (and its partial folder) exist or can be made, and are writable."""
        if self._closed:
            raise BlobStoreUnavailable("the blob store is closed")
        await self._io(self._check_root)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._threads.close()

    # --- on the event loop

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def _check_open(self) -> None:
        if self._closed:
            raise BlobStoreUnavailable("the blob store is closed")

    async def _io(self, call: Callable[[], T], *, undo: Callable[[T], object] | None = None) -> T:
        return await _translated(self._threads.run(call, undo=undo), self._volume)

    async def _io_to_the_end(self, call: Callable[[], T]) -> T:
        return await _translated(self._threads.finish(call), self._volume)

    async def _write_all(self, fd: int, chunks: AsyncIterable[bytes]) -> int:
        written = 0
        buffer = bytearray()
        async for chunk in chunks:
            buffer += require_bytes(chunk)
            written += len(chunk)
            if len(buffer) >= self._part_size:
                # The thread reads `buffer` while this coroutine waits: it is cleared only after.
                await self._io(functools.partial(_write, fd, buffer))
                buffer.clear()
        if buffer:
            await self._io(functools.partial(_write, fd, buffer))
        return written

    async def _read(
        self, key: str, real: Path, expected: os.stat_result, start: int, length: int
    ) -> AsyncIterator[bytes]:
        if length == 0:
            return
        fd = await self._io(functools.partial(_open_same, real, expected, key), undo=os.close)
        try:
            offset, end = start, start + length
            while offset < end:  # each turn reads at least one byte or raises
                size = min(self._read_size, end - offset)
                chunk = await self._io(functools.partial(os.pread, fd, size, offset))
                if not chunk:
                    raise BlobNotFound(f"blob {key!r} was truncated while being read")
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)  # no thread is using fd here: each read was awaited to its end

    # --- in the store's threads

    def _inside(self, path: Path) -> Path:
        """The real path, refused if a symlink under the root leads it outside."""
        real = path.resolve()
        if real != self._root and not real.is_relative_to(self._root):
            raise BlobKeyError("the blob path leads outside the store's root")
        return real

    def _check_root(self) -> None:
        _make_folders(self._partial)
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise BlobStoreUnavailable(f"the blob root {self._root} is not writable")

    def _create_partial(self) -> tuple[int, Path]:
        """A new partial file, open and exclusively locked, and its path."""
        _make_folders(self._partial)
        for _ in range(3):  # a sweep may take a file between its creation and its lock
            temp = self._partial / f"{uuid.uuid4().hex}.part"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
            try:
                if _lock_at_once(fd) and _still_named(fd, temp):
                    return fd, temp
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the sweep that took it removes it
        raise BlobStoreUnavailable("could not lock a new partial upload file")

    def _commit(self, fd: int, temp: Path, target: Path, key: str) -> None:
        """Fsync and place the file; its lock is held until it has left `.partial/`."""
        try:
            os.fsync(fd)
            self._place(temp, target, key)
        finally:
            os.close(fd)

    def _place(self, temp: Path, target: Path, key: str) -> None:
        for _ in range(3):  # a delete may remove an emptied parent folder between the two steps
            real = self._inside(target)
            try:
                _make_folders(real.parent)
                os.replace(temp, real)
            except FileNotFoundError:
                continue
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                raise BlobKeyError(
                    f"blob key {key!r} clashes with another key: here a key cannot also be "
                    "a folder of keys"
                ) from exc
            _fsync_dir(real.parent)
            return
        raise BlobStoreUnavailable(f"could not place blob {key!r}: its folder kept vanishing")

    def _stat_object(self, path: Path, key: str) -> tuple[Path, os.stat_result]:
        real = self._inside(path)
        try:
            found = real.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no blob under {key!r}") from None
        if not stat.S_ISREG(found.st_mode):
            raise BlobNotFound(f"no blob under {key!r}")
        return real, found

    def _delete(self, path: Path) -> None:
        real = self._inside(path)
        try:
            if not stat.S_ISREG(real.lstat().st_mode):
                return  # a folder of other keys, not an object
            real.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        for folder in real.parents:  # ends at the root, or at the first folder still in use
            if folder == self._root or not folder.is_relative_to(self._root):
                break
            try:
                folder.rmdir()
            except OSError:
                break

    def _list(self, directory: Path) -> tuple[list[str], list[str]]:
        if directory != self._root:
            self._inside(directory)
        files: list[str] = []
        folders: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue  # .partial, and nothing a key can name
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.name)
                    elif entry.is_file(follow_symlinks=False):
                        files.append(entry.name)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return files, folders

    def _sweep(self) -> int:
        try:
            with os.scandir(self._partial) as listing:
                entries = list(listing)
        except FileNotFoundError:
            return 0
        removed = 0
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and _remove_if_abandoned(Path(entry.path)):
                removed += 1
        return removed


async def _translated(call: Awaitable[T], volume: Volume | None) -> T:
    """The store's own errors as they are; no room left is StorageFull; any other OS error
    means the disk failed us."""
    try:
        return await call
    except (BlobNotFound, BlobKeyError, BlobStoreUnavailable):
        raise
    except OSError as exc:
        if is_out_of_space(exc):
            if volume is not None:
                raise volume.failed(exc) from exc
            raise StorageFull(f"local blob store: {exc.strerror or exc}") from exc
        raise BlobStoreUnavailable(f"local blob store: {exc.strerror or exc}") from exc


def _write(fd: int, data: bytearray) -> None:
    with memoryview(data) as view:
        done = 0
        while done < len(view):  # os.write may write less than asked; never nothing
            done += os.write(fd, view[done:])


def _open_same(real: Path, expected: os.stat_result, key: str) -> int:
    """Open the file that was stat'ed, or raise BlobNotFound if it was replaced since."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        raise BlobNotFound(f"blob {key!r} was deleted while being opened") from None
    found = os.fstat(fd)
    if (found.st_dev, found.st_ino, found.st_size) != (
        expected.st_dev,
        expected.st_ino,
        expected.st_size,
    ):
        os.close(fd)
        raise BlobNotFound(f"blob {key!r} was replaced while being opened")
    return fd


def _lock_at_once(fd: int) -> bool:
    """Take the exclusive lock on an open file if no one holds it; never wait."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_named(fd: int, path: Path) -> bool:
    """Whether `path` still names the open file (no one removed or replaced it meanwhile)."""
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    found = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (found.st_dev, found.st_ino)


def _remove_if_abandoned(path: Path) -> bool:
    """Remove a partial file if its lock can be taken at once (its writer is gone); True when
    it was removed. The lock is held while the file is unlinked, so no writer can take it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return False  # finished or removed meanwhile
    try:
        if not _lock_at_once(fd) or not _still_named(fd, path):
            return False
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def _close_partial(made: tuple[int, Path]) -> None:
    """Undo a partial file made for a call that was cancelled: remove it, then let go."""
    fd, path = made
    _unlink_quietly(path)
    os.close(fd)


def _unlink_quietly(path: Path) -> None:
    """Remove a partial file if there is one; never raise over the error being handled."""
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        log.warning("could not remove a partial upload file", exc_info=True)


def _make_folders(folder: Path) -> None:
    """Make `folder` and its missing parents, each private to the owner (mkdir's `parents`
    would give the parents the umask's mode)."""
    missing = []
    while not folder.is_dir():  # ends at the first existing ancestor, or the file system root
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=_DIR_MODE, exist_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
