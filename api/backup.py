"""Encrypted backups of a data dir (#18): create, verify and restore one archive.

An archive (crypto/backup_seal.py) holds a tar stream, read and written in streaming mode:

    cove-backup.json   format, created time, Cove version, engine, root key id
    cove.db            an online snapshot of the SQLite store (persistence/sqlite/snapshot.py)
    keys/install.salt  the install salt, when it is kept in the data dir
    blobs/<key>        every object of the local blob store (sealed file contents)
    manifest.json      the header again, plus each entry's path, size and SHA-256

The manifest comes last because the entries are hashed as they are written; readers hash
them as they are read and compare at the end. The root key is never in an archive: a
restore needs the one that was in use, recognised by its id in the header.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any, BinaryIO

from api import backup_s3_blobs as s3_blobs
from api.settings import Settings
from crypto.backup_seal import (
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    BackupIdentity,
    BackupRecipient,
)
from crypto.root_key import root_key_id
from integrations.blobs.keys import is_valid_key
from integrations.blobs.local import PARTIAL_DIR
from persistence.sqlite.snapshot import snapshot_database

FORMAT = "cove-backup"
FORMAT_VERSION = 1
HEADER = "cove-backup.json"
MANIFEST = "manifest.json"
DATABASE = "cove.db"
SALT = "keys/install.salt"
BLOBS = "blobs/"
SUFFIX = ".cove-backup"
_STAMP = "%Y%m%dT%H%M%SZ"
_COPY_BYTES = 1024 * 1024

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup cannot be made, or an archive cannot be verified or restored."""


def backup_dir(settings: Settings) -> Path:
    """Where archives go: `backup_dir`, default `<data_dir>/backups`."""
    return settings.backup_dir or settings.data_dir / "backups"


def archive_name(when: datetime) -> str:
    """`cove-20261205T062300Z.cove-backup`: the UTC time it was made, sortable."""
    return f"cove-{when.astimezone(UTC).strftime(_STAMP)}{SUFFIX}"


def archive_time(name: str) -> datetime | None:
    """The time in an archive's name, or None for a name that is not an archive's."""
    if not (name.startswith("cove-") and name.endswith(SUFFIX)):
        return None
    try:
        return datetime.strptime(name[5 : -len(SUFFIX)], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str


class _Hashing(io.RawIOBase):
    """Reads from `source`, hashing what passes."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        return len(data)


# --- create ---------------------------------------------------------------------------------


def create_backup(
    settings: Settings, key_id: str, recipient: BackupRecipient, progress: Progress
) -> Path:
    """Write one archive of the data dir to the backup dir while Cove serves; return its path.

    The archive is written under a temporary name, fsynced, then renamed, so a crash leaves
    no half archive under an archive's name. `key_id` is the root key's id (`root_key_id`).
    """
    if settings.store != "sqlite":
        raise BackupError(
            "the scylla engine is backed up by its own snapshots: see docs/operations.md, "
            "'Backups on ScyllaDB'"
        )
    created = datetime.now(UTC)
    target_dir = backup_dir(settings)
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = target_dir / archive_name(created)
    if final.exists():
        raise BackupError(f"{final} already exists")
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": created.isoformat(),
        "cove_version": version("cove"),
        "engine": settings.store,
        "root_key_id": key_id,
    }
    # The snapshot holds what cove.db holds: it stays in the data dir, as private as cove.db.
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=settings.data_dir) as scratch:
        progress("snapshot of the SQLite store")
        snapshot = Path(scratch) / DATABASE
        snapshot_database(settings.database_file, snapshot)
        s3_objects = None
        if settings.blob_store == "s3":
            progress("references to the S3 bucket's object versions")
            try:
                s3_objects = s3_blobs.references(settings)
            except s3_blobs.S3ReferenceError as exc:
                raise BackupError(str(exc)) from None
        partial = target_dir / f".{final.name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as sink:
                writer = ArchiveWriter(sink, recipient)
                _write_tar(writer, header, settings, snapshot, s3_objects, progress=progress)
                writer.finish()
                sink.flush()
                os.fsync(sink.fileno())
            os.rename(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    _fsync_dir(target_dir)
    progress(f"written {final} ({final.stat().st_size} bytes)")
    return final


def _write_tar(
    writer: ArchiveWriter,
    header: dict[str, Any],
    settings: Settings,
    snapshot: Path,
    s3_objects: bytes | None,
    *,
    progress: Progress,
) -> None:
    entries: list[Entry] = []
    with tarfile.open(
        fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_COPY_BYTES
    ) as tar:
        _add_bytes(tar, HEADER, json.dumps(header, indent=1).encode())
        entries.append(_add_file(tar, DATABASE, snapshot))
        if settings.install_salt is None and settings.install_salt_file.is_file():
            entries.append(_add_file(tar, SALT, settings.install_salt_file))
        if s3_objects is not None:
            _add_bytes(tar, s3_blobs.ENTRY, s3_objects)
            digest = hashlib.sha256(s3_objects).hexdigest()
            entries.append(Entry(s3_blobs.ENTRY, len(s3_objects), digest))
        count = 0
        local = settings.resolved_blob_dir if settings.blob_store == "local" else None
        for key, path in _blob_files(local):
            try:
                entries.append(_add_file(tar, BLOBS + key, path))
            except FileNotFoundError:
                continue  # deleted since it was listed: gone from the store too
            count += 1
            if count % 1000 == 0:
                progress(f"blobs: {count}")
        progress(f"blobs: {count} in all")
        manifest = {**header, "entries": [e.__dict__ for e in entries]}
        _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())


def _blob_files(root: Path | None) -> Iterator[tuple[str, Path]]:
    if root is None or not root.is_dir():
        return
    for folder, folders, files in os.walk(root):
        here = Path(folder)
        folders[:] = sorted(f for f in folders if not (here == root and f == PARTIAL_DIR))
        for name in sorted(files):
            key = (here / name).relative_to(root).as_posix()
            if is_valid_key(key):
                yield key, here / name


def _tarinfo(path: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = size, 0o600, 0
    return info


def _add_bytes(tar: tarfile.TarFile, path: str, data: bytes) -> None:
    tar.addfile(_tarinfo(path, len(data)), io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, path: str, source: Path) -> Entry:
    with source.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        hashing = _Hashing(handle)
        tar.addfile(_tarinfo(path, size), hashing)
    return Entry(path, size, hashing.digest.hexdigest())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- read: verify and restore ---------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    header: dict[str, Any]
    entries: list[Entry]


def verify_backup(archive: Path, identity: BackupIdentity) -> Verified:
    """Decrypt the whole archive and check every entry against the manifest; write nothing."""
    return _read_archive(archive, identity, lambda header: None, lambda entry: None)


def restore_backup(
    archive: Path,
    identity: BackupIdentity,
    settings: Settings,
    root_key: bytes | None,
    progress: Progress,
) -> Verified:
    """Restore into the empty data dir of `settings`, every checksum verified first.

    Nothing lands under its final name until the whole archive has been verified; then the
    entries move into place from a scratch folder in the data dir. `root_key` must be the one
    in use when the archive was made.
    """
    if settings.store != "sqlite":
        raise BackupError("restore into the sqlite store (ScyllaDB: docs/operations.md)")
    data_dir = settings.data_dir
    for folder in {data_dir, settings.resolved_blob_dir}:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise BackupError(f"{folder} is not empty: restore only into an empty data dir")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    scratch = Path(tempfile.mkdtemp(prefix=".restoring-", dir=data_dir))
    try:

        def check_key(header: dict[str, Any]) -> None:
            wanted = header.get("root_key_id")
            if root_key is None:
                raise BackupError(
                    f"the root key in use when this backup was made (id {wanted}) is missing: "
                    "give it with --root-key-file or COVE_ROOT_KEY"
                )
            if root_key_id(root_key) != wanted:
                raise BackupError(
                    f"wrong root key: this backup needs the root key with id {wanted}, "
                    f"not {root_key_id(root_key)}"
                )

        def keep(entry: _Reading) -> None:
            entry.target = scratch / entry.path

        verified = _read_archive(archive, identity, check_key, keep, progress)
        paths = {entry.path for entry in verified.entries}
        if settings.blob_store != "local" and any(p.startswith(BLOBS) for p in paths):
            raise BackupError("this backup holds local blobs: restore with blob_store = local")
        if s3_blobs.ENTRY in paths:
            progress("every checksum verified; putting the S3 object versions back")
            try:
                copied = s3_blobs.put_back(settings, (scratch / s3_blobs.ENTRY).read_bytes())
            except s3_blobs.S3ReferenceError as exc:
                raise BackupError(str(exc)) from None
            progress(f"{copied} S3 objects put back to their backed-up version")
        progress("every checksum verified; moving the restored files into place")
        blob_root = settings.resolved_blob_dir
        for entry in verified.entries:
            if entry.path == s3_blobs.ENTRY:
                continue
            source = scratch / entry.path
            if entry.path.startswith(BLOBS):
                target = blob_root / entry.path[len(BLOBS) :]
            else:
                target = data_dir / entry.path
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(source, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return verified


@dataclass
class _Reading:
    path: str
    size: int
    target: Path | None = None


def _read_archive(
    archive: Path,
    identity: BackupIdentity,
    on_header: Callable[[dict[str, Any]], None],
    on_entry: Callable[[_Reading], None],
    progress: Progress = lambda _: None,
) -> Verified:
    try:
        with archive.open("rb") as source:
            reader = ArchiveReader(source, os.fstat(source.fileno()).st_size, identity)
            return _read_tar(reader, on_header, on_entry, progress)
    except FileNotFoundError:
        raise BackupError(f"{archive}: no such archive") from None
    except ArchiveError as exc:
        raise BackupError(f"{archive}: {exc}") from None


def _read_tar(
    reader: ArchiveReader,
    on_header: Callable[[dict[str, Any]], None],
    on_entry: Callable[[_Reading], None],
    progress: Progress,
) -> Verified:
    found: list[Entry] = []
    seen: set[str] = set()
    header: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    current = "the archive's start"
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=_COPY_BYTES) as tar:
            for member in tar:
                current = member.name
                if manifest is not None:
                    raise BackupError(f"entry {current}: after the manifest")
                if current in seen:
                    raise BackupError(f"entry {current}: twice in the archive")
                seen.add(current)
                if not member.isfile():
                    raise BackupError(f"entry {current}: not a regular file")
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file always has one
                if header is None:
                    if current != HEADER:
                        raise BackupError(f"entry {current}: the archive must start with {HEADER}")
                    header = _json(handle, current)
                    if header.get("format") != FORMAT or header.get("format_version") != 1:
                        raise BackupError(f"entry {current}: not a version 1 Cove backup")
                    on_header(header)
                elif current == MANIFEST:
                    manifest = _json(handle, current)
                else:
                    found.append(_take(handle, member, on_entry))
                    if len(found) % 1000 == 0:
                        progress(f"entries verified: {len(found)}")
            current = "the tar stream's end"
            # tarfile stops at the end-of-archive marker; the chunks after it (padding) must
            # still authenticate, or a truncated or extended archive would pass.
            while reader.read(_COPY_BYTES):
                pass
    except ArchiveError as exc:
        raise BackupError(f"{exc} (in entry {current})") from None
    except tarfile.TarError as exc:
        raise BackupError(f"entry {current}: not a valid tar entry ({exc})") from None
    if header is None or manifest is None:
        raise BackupError(f"entry {current}: the archive ends before its manifest")
    _compare(header, manifest, found)
    return Verified(header, found)


def _json(handle: IO[bytes], name: str) -> dict[str, Any]:
    try:
        value = json.loads(handle.read())
    except ValueError:
        raise BackupError(f"entry {name}: not JSON") from None
    if not isinstance(value, dict):
        raise BackupError(f"entry {name}: not a JSON object")
    return value


def _take(
    handle: IO[bytes], member: tarfile.TarInfo, on_entry: Callable[[_Reading], None]
) -> Entry:
    name = member.name
    simple = name in (DATABASE, SALT, s3_blobs.ENTRY)
    if not (simple or (name.startswith(BLOBS) and is_valid_key(name[len(BLOBS) :]))):
        raise BackupError(f"entry {name}: not a path a Cove backup holds")
    reading = _Reading(name, member.size)
    on_entry(reading)
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        sink: BinaryIO | None = None
        if reading.target is not None:
            reading.target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(reading.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            sink = stack.enter_context(os.fdopen(fd, "wb"))
        while chunk := handle.read(_COPY_BYTES):
            digest.update(chunk)
            if sink is not None:
                sink.write(chunk)
        if sink is not None:
            sink.flush()
            os.fsync(sink.fileno())
    return Entry(name, member.size, digest.hexdigest())


def _compare(header: dict[str, Any], manifest: dict[str, Any], found: list[Entry]) -> None:
    if {k: v for k, v in manifest.items() if k != "entries"} != header:
        raise BackupError(f"entry {MANIFEST}: does not match {HEADER}")
    listed = manifest.get("entries")
    if not isinstance(listed, list):
        raise BackupError(f"entry {MANIFEST}: no list of entries")
    try:
        expected = {e["path"]: Entry(e["path"], e["size"], e["sha256"]) for e in listed}
    except (KeyError, TypeError):
        raise BackupError(f"entry {MANIFEST}: malformed entries") from None
    for entry in found:
        if expected.get(entry.path) != entry:
            raise BackupError(f"entry {entry.path}: its SHA-256 or size is not the manifest's")
    missing = sorted(expected.keys() - {entry.path for entry in found})
    if missing:
        raise BackupError(f"entry {missing[0]}: in the manifest but not in the archive")
