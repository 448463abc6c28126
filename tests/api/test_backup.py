"""`cove backup`: keygen, create, verify, list, prune and restore, and the archives refused."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api import backup
from api.backup_prune import to_keep
from api.cli import main
from crypto.backup_seal import PREFIX_BYTES, ArchiveReader, ArchiveWriter, BackupIdentity
from crypto.stream import HEADER_BYTES, SEGMENT_BYTES

CANARY = "canary-backup-5d1e"


@pytest.fixture(autouse=True)
def _sqlite_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """These data dirs are SQLite ones, even in `make test-scylla` (which sets COVE_STORE)."""
    monkeypatch.setenv("COVE_STORE", "sqlite")


def cove(*argv: str | Path) -> int:
    return main([str(arg) for arg in argv])


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A data dir with a canary in clear in its database and in a (big) blob, an identity,
    and `backup_recipient` set to its public key."""
    data = tmp_path / "data"
    assert cove("init", "--data-dir", data) == 0
    with sqlite3.connect(data / "cove.db") as connection:
        connection.execute("CREATE TABLE canary (text TEXT)")
        connection.execute("INSERT INTO canary VALUES (?)", (CANARY,))
    blob = data / "blobs" / "files" / "f1" / "v1"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(CANARY.encode() + os.urandom(3 * SEGMENT_BYTES))
    identity = tmp_path / "identity.key"
    BackupIdentity.generate().save(identity)
    monkeypatch.setenv("COVE_BACKUP_RECIPIENT", str(BackupIdentity.load(identity).recipient))
    return {"data": data, "identity": identity, "out": tmp_path / "backups", "tmp": tmp_path}


def make_archive(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> Path:
    assert cove("backup", "create", "--data-dir", world["data"], "--to", world["out"]) == 0
    return Path(capsys.readouterr().out.strip())


def test_keygen_writes_a_private_identity_and_prints_its_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "id.key"
    assert cove("backup", "keygen", "--out", out) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    printed = capsys.readouterr().out.strip()
    assert printed == str(BackupIdentity.load(out).recipient)
    assert printed.startswith("cove-backup-1:")
    assert cove("backup", "keygen", "--out", out) == 1
    assert "already exists" in capsys.readouterr().err


def test_create_verify_restore_round_trip(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    assert archive.parent == world["out"] and backup.archive_time(archive.name) is not None
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert CANARY.encode() not in archive.read_bytes()
    assert [p.name for p in world["out"].iterdir()] == [archive.name]  # no partial left

    assert cove("backup", "verify", archive, "--identity", world["identity"]) == 0
    assert "ok, 3 entries verified" in capsys.readouterr().out
    assert cove("backup", "list", "--dir", world["out"]) == 0
    assert archive.name in capsys.readouterr().out

    new = world["tmp"] / "restored"
    root_key = world["data"] / "keys" / "root.key"
    assert (
        cove("backup", "restore", archive, "--identity", world["identity"], "--data-dir", new) == 1
    )
    assert "is missing" in capsys.readouterr().err
    assert not new.exists() or not any(new.iterdir())
    assert (
        cove(
            "backup", "restore", archive, "--identity", world["identity"],
            "--data-dir", new, "--root-key-file", root_key,
        )
        == 0
    )  # fmt: skip
    for name in ("cove.db", "keys/install.salt", "keys/root.key", "blobs/files/f1/v1"):
        if name != "cove.db":  # a copy of a database has its own change counter
            assert (new / name).read_bytes() == (world["data"] / name).read_bytes(), name
        assert stat.S_IMODE((new / name).stat().st_mode) == 0o600
    with sqlite3.connect(new / "cove.db") as connection:
        assert connection.execute("SELECT text FROM canary").fetchall() == [(CANARY,)]
    assert cove("check", "--data-dir", new) == 0


def test_restore_refuses_a_data_dir_that_is_not_empty(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    args = ("--identity", world["identity"], "--root-key-file", world["data"] / "keys/root.key")
    assert cove("backup", "restore", archive, *args, "--data-dir", world["data"]) == 1
    assert "not empty" in capsys.readouterr().err


def test_restore_refuses_another_root_key(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    other = world["tmp"] / "other"
    assert cove("init", "--data-dir", other) == 0
    new = world["tmp"] / "new"
    args = ("--identity", world["identity"], "--root-key-file", other / "keys/root.key")
    assert cove("backup", "restore", archive, *args, "--data-dir", new) == 1
    assert "wrong root key" in capsys.readouterr().err
    assert not any(new.iterdir())


def test_a_tampered_byte_is_refused_naming_the_entry(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    data = bytearray(archive.read_bytes())
    # Two chunks into the body: inside the blob, which follows the small header and database.
    data[PREFIX_BYTES + HEADER_BYTES + 2 * (SEGMENT_BYTES + 16) + 10] ^= 0x20
    archive.write_bytes(bytes(data))
    for verb in ("verify", "restore"):
        root_key = ("--root-key-file", world["data"] / "keys/root.key")
        extra = ("--data-dir", world["tmp"] / "new", *root_key) if verb == "restore" else ()
        assert cove("backup", verb, archive, "--identity", world["identity"], *extra) == 1
        err = capsys.readouterr().err
        assert "chunk 2: does not authenticate" in err and "blobs/files/f1/v1" in err, err


def test_a_truncated_archive_is_refused(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    archive.write_bytes(archive.read_bytes()[:-SEGMENT_BYTES])
    assert cove("backup", "verify", archive, "--identity", world["identity"]) == 1
    assert "does not authenticate" in capsys.readouterr().err


def test_a_missing_last_chunk_is_refused_even_past_the_tar_end(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reseal an archive with two chunks of zeros after its tar stream, then cut the last:
    tar alone would stop at its end marker and never notice."""
    archive = make_archive(world, capsys)
    identity = BackupIdentity.load(world["identity"])
    with archive.open("rb") as source:
        plaintext = ArchiveReader(source, archive.stat().st_size, identity).read()
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, identity.recipient)
    writer.write(plaintext + bytes(2 * SEGMENT_BYTES))
    writer.finish()
    archive.write_bytes(sink.getvalue())
    assert cove("backup", "verify", archive, "--identity", world["identity"]) == 0
    capsys.readouterr()
    archive.write_bytes(sink.getvalue()[: -(SEGMENT_BYTES // 2 + 16)])
    assert cove("backup", "verify", archive, "--identity", world["identity"]) == 1
    assert "(in entry the tar stream's end)" in capsys.readouterr().err


def test_another_identity_is_refused(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(world, capsys)
    other = world["tmp"] / "other.key"
    BackupIdentity.generate().save(other)
    assert cove("backup", "verify", archive, "--identity", other) == 1
    assert "not sealed to this identity" in capsys.readouterr().err


def test_a_backup_that_fails_midway_leaves_no_archive(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = backup._add_file

    def crash(tar: object, path: str, source: Path) -> backup.Entry:
        if path.startswith(backup.BLOBS):
            raise OSError("disk unplugged")
        return real(tar, path, source)  # type: ignore[arg-type]

    monkeypatch.setattr(backup, "_add_file", crash)
    assert cove("backup", "create", "--data-dir", world["data"], "--to", world["out"]) == 1
    assert "disk unplugged" in capsys.readouterr().err
    assert list(world["out"].iterdir()) == []
    assert [p.name for p in world["data"].iterdir() if p.name.startswith(".")] == []


def test_create_refuses_the_scylla_engine(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COVE_STORE", "scylla")
    assert cove("backup", "create", "--data-dir", world["data"]) == 1
    assert "Backups on ScyllaDB" in capsys.readouterr().err


def test_create_needs_a_recipient(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVE_BACKUP_RECIPIENT")
    assert cove("backup", "create", "--data-dir", world["data"]) == 1
    assert "backup_recipient" in capsys.readouterr().err


def test_prune_keeps_the_newest_of_each_day_and_month(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    # Two a day for 400 days.
    times = [start - timedelta(hours=12 * n) for n in range(800)]
    kept = to_keep(times, daily=7, monthly=12)
    days = sorted({t.date() for t in kept}, reverse=True)
    assert days[:7] == [(start - timedelta(days=n)).date() for n in range(7)]
    assert all(max(t for t in times if t.date() == d) in kept for d in days[:7])
    months = sorted({(t.year, t.month) for t in kept}, reverse=True)
    assert len(months) == 12 and months[0] == (2026, 12) and months[-1] == (2026, 1)
    assert len(kept) == 7 + 10  # December's and November's newest are daily ones already
    assert to_keep(times, daily=0, monthly=1) == {start}

    for when in times[:40]:
        (tmp_path / backup.archive_name(when)).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not an archive")
    assert cove("backup", "prune", "--dir", tmp_path, "--dry-run") == 0
    assert capsys.readouterr().out.count("would delete") == 40 - 7 - 0
    assert cove("backup", "prune", "--dir", tmp_path, "--keep-daily", "2") == 0
    november = max(t for t in times if t.month == 11)
    left = sorted(p.name for p in tmp_path.iterdir())
    expected = [backup.archive_name(t) for t in (times[0], times[1], november)]
    assert left == sorted([*expected, "notes.txt"])
