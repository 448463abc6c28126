"""Backup archives sealed to a public key: round trip, and every way a damaged one is refused."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from crypto import stream
from crypto.backup_seal import (
    PREFIX_BYTES,
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    BackupIdentity,
    BackupRecipient,
)
from crypto.errors import CryptoError, KeyFileError
from crypto.root_key import write_root_key_file

SEGMENT = stream.SEGMENT_BYTES


def seal(plaintext: bytes, identity: BackupIdentity, pieces: int = 7) -> bytes:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, identity.recipient)
    step = max(1, len(plaintext) // pieces)
    for start in range(0, len(plaintext), step):
        writer.write(plaintext[start : start + step])
    writer.finish()
    return sink.getvalue()


def unseal(archive: bytes, identity: BackupIdentity) -> bytes:
    return ArchiveReader(io.BytesIO(archive), len(archive), identity).read()


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5])
def test_round_trip_at_every_segment_edge(size: int) -> None:
    identity = BackupIdentity.generate()
    plaintext = os.urandom(size)
    assert unseal(seal(plaintext, identity), identity) == plaintext


def test_the_archive_does_not_hold_the_plaintext() -> None:
    identity = BackupIdentity.generate()
    canary = b"canary-7f3e1b" * 1000
    assert b"canary-7f3e1b" not in seal(canary, identity)


def test_two_archives_of_the_same_data_differ() -> None:
    identity = BackupIdentity.generate()
    assert seal(b"same", identity) != seal(b"same", identity)


def test_another_identity_cannot_open_it() -> None:
    archive = seal(b"secret", BackupIdentity.generate())
    with pytest.raises(ArchiveError, match="not sealed to this identity"):
        unseal(archive, BackupIdentity.generate())


def test_a_flipped_byte_names_its_chunk() -> None:
    identity = BackupIdentity.generate()
    archive = bytearray(seal(os.urandom(3 * SEGMENT), identity))
    archive[PREFIX_BYTES + stream.HEADER_BYTES + SEGMENT + 16 + 100] ^= 1  # inside chunk 1
    reader = ArchiveReader(io.BytesIO(bytes(archive)), len(archive), identity)
    assert len(reader.read(SEGMENT)) == SEGMENT  # chunk 0 is whole and opens
    with pytest.raises(ArchiveError, match="chunk 1: does not authenticate"):
        reader.read()


@pytest.mark.parametrize("cut", [1, 16, SEGMENT + 16, SEGMENT + 17])
def test_a_truncated_archive_is_refused(cut: int) -> None:
    identity = BackupIdentity.generate()
    archive = seal(os.urandom(2 * SEGMENT + 10), identity)
    with pytest.raises(ArchiveError, match="chunk"):
        unseal(archive[:-cut], identity)


def test_a_damaged_header_or_foreign_file_is_refused() -> None:
    identity = BackupIdentity.generate()
    archive = bytearray(seal(b"x" * 100, identity))
    with pytest.raises(ArchiveError, match="not a Cove backup"):
        unseal(b"PK\x03\x04" + bytes(archive[4:]), identity)
    archive[8] = 9
    with pytest.raises(ArchiveError, match="unknown archive version 9"):
        unseal(bytes(archive), identity)
    with pytest.raises(ArchiveError, match="truncated in its header"):
        unseal(bytes(seal(b"x", identity)[:40]), identity)


def test_data_appended_after_the_last_chunk_is_refused() -> None:
    identity = BackupIdentity.generate()
    archive = seal(b"x" * 100, identity) + b"more"
    with pytest.raises(ArchiveError):
        unseal(archive, identity)


def test_identity_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    identity = BackupIdentity.generate()
    path = tmp_path / "backup.key"
    identity.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(BackupIdentity.load(path).recipient) == str(identity.recipient)
    with pytest.raises(KeyFileError, match="already exists"):
        BackupIdentity.generate().save(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="0600"):
        BackupIdentity.load(path)


def test_a_root_key_file_is_not_taken_for_an_identity(tmp_path: Path) -> None:
    write_root_key_file(tmp_path / "root.key", os.urandom(32))
    with pytest.raises(KeyFileError, match="not a backup identity"):
        BackupIdentity.load(tmp_path / "root.key")


def test_recipient_text_round_trips_and_refuses_other_keys() -> None:
    recipient = BackupIdentity.generate().recipient
    assert str(BackupRecipient.parse(str(recipient))) == str(recipient)
    with pytest.raises(CryptoError, match="starts with"):
        BackupRecipient.parse(str(recipient).split(":", 1)[1])
    with pytest.raises(CryptoError, match="32 bytes"):
        BackupRecipient.parse("cove-backup-1:AAAA")
