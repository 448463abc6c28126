"""`backup_s3_bucket`: archives go to an S3 bucket (moto's S3 server, a real HTTP S3 API), and
list, verify, restore and prune work on it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api import backup
from api.backup_schedule import BackupScheduler
from api.cli import main
from api.settings import load_settings
from crypto.backup_seal import BackupIdentity

CANARY = "canary-s3-backup-91c2"


@pytest.fixture(autouse=True)
def _sqlite_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """These data dirs are SQLite ones, even in `make test-scylla` (which sets COVE_STORE)."""
    monkeypatch.setenv("COVE_STORE", "sqlite")


def cove(*argv: str | Path) -> int:
    return main([str(arg) for arg in argv])


@pytest.fixture
def bucket_env(
    monkeypatch: pytest.MonkeyPatch, s3_endpoint_url: str, s3_bucket: str, tmp_path: Path
) -> Path:
    identity = tmp_path / "identity.key"
    BackupIdentity.generate().save(identity)
    for name, value in {
        "BACKUP_RECIPIENT": str(BackupIdentity.load(identity).recipient),
        "BACKUP_S3_BUCKET": s3_bucket,
        "S3_ENDPOINT_URL": s3_endpoint_url,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(f"COVE_{name}", value)
    return identity


def test_create_uploads_and_verify_restore_read_from_the_bucket(
    tmp_path: Path,
    bucket_env: Path,
    s3_bucket: str,
    s3_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    assert cove("init", "--data-dir", data) == 0
    with sqlite3.connect(data / "cove.db") as connection:
        connection.execute("CREATE TABLE canary (text TEXT)")
        connection.execute("INSERT INTO canary VALUES (?)", (CANARY,))
    capsys.readouterr()
    assert cove("backup", "create", "--data-dir", data) == 0
    address = capsys.readouterr().out.strip()
    assert address.startswith(f"s3://{s3_bucket}/cove-backups/cove-")
    assert list((data / "backups").iterdir()) == []  # the local copy is gone
    key = address.split("/", 3)[3]
    stored = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert CANARY.encode() not in stored

    assert cove("backup", "list", "--data-dir", data) == 0
    assert capsys.readouterr().out.startswith(address + "\t")
    assert cove("backup", "verify", address, "--identity", bucket_env) == 0
    assert "ok, 2 entries verified" in capsys.readouterr().out
    new = tmp_path / "new"
    root_key = data / "keys" / "root.key"
    args = ("--identity", bucket_env, "--root-key-file", root_key, "--data-dir", new)
    assert cove("backup", "restore", address, *args) == 0
    with sqlite3.connect(new / "cove.db") as connection:
        assert connection.execute("SELECT text FROM canary").fetchall() == [(CANARY,)]

    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=stored[:-100])
    assert cove("backup", "verify", address, "--identity", bucket_env) == 1
    assert "chunk 0" in capsys.readouterr().err


def test_prune_in_the_bucket(
    tmp_path: Path,
    bucket_env: Path,
    s3_bucket: str,
    s3_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    times = [start - timedelta(days=n) for n in range(5)]
    for when in times:
        key = f"cove-backups/{backup.archive_name(when)}"
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    s3_client.put_object(Bucket=s3_bucket, Key="cove-backups/notes.txt", Body=b"x")
    args = ("--data-dir", tmp_path, "--keep-daily", "2", "--keep-monthly", "0")
    assert cove("backup", "prune", *args) == 0
    assert capsys.readouterr().out.count("deleted s3://") == 3
    left = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    expected = [f"cove-backups/{backup.archive_name(t)}" for t in times[:2]]
    assert left == sorted([*expected, "cove-backups/notes.txt"])


def test_scheduled_backups_go_to_the_bucket_once_per_time(
    tmp_path: Path, bucket_env: Path, s3_bucket: str, s3_client: Any
) -> None:
    data = tmp_path / "data"
    assert cove("init", "--data-dir", data) == 0
    with sqlite3.connect(data / "cove.db") as connection:
        connection.execute("CREATE TABLE t (x)")
    settings = load_settings(overrides={"data_dir": data, "backup_schedule": "03:15"})
    slot = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(2):  # two workers wake for the same time
        BackupScheduler(settings, "id", lambda when: None, lambda: None).back_up(slot)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("cove-backups/cove-")
    assert [p for p in (data / "backups").iterdir() if p.name.endswith(".cove-backup")] == []


@pytest.fixture
def s3_blob_dir(tmp_path: Path, bucket_env: Path, s3_bucket: str, s3_client: Any) -> Path:
    """A data dir whose blob store is the (versioned) bucket, holding two objects."""
    data = tmp_path / "data"
    assert cove("init", "--data-dir", data) == 0
    with sqlite3.connect(data / "cove.db") as connection:
        connection.execute("CREATE TABLE t (x)")
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("drive/w/f1/v1", "drive/w/f2/v1"):
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=f"sealed {key}".encode())
    return data


def blob_store_env(monkeypatch: pytest.MonkeyPatch, bucket: str) -> None:
    monkeypatch.setenv("COVE_BLOB_STORE", "s3")
    monkeypatch.setenv("COVE_S3_BUCKET", bucket)
    monkeypatch.delenv("COVE_BACKUP_S3_BUCKET")


def test_an_s3_blob_store_is_referenced_by_version_and_put_back(
    tmp_path: Path,
    s3_blob_dir: Path,
    bucket_env: Path,
    s3_bucket: str,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blob_store_env(monkeypatch, s3_bucket)
    capsys.readouterr()
    assert cove("backup", "create", "--data-dir", s3_blob_dir) == 0
    archive = Path(capsys.readouterr().out.strip())
    assert cove("backup", "verify", archive, "--identity", bucket_env) == 0
    assert "ok, 3 entries verified" in capsys.readouterr().out  # db, salt, references

    # After the backup: one object replaced, the other deleted.
    s3_client.put_object(Bucket=s3_bucket, Key="drive/w/f1/v1", Body=b"replaced")
    s3_client.delete_object(Bucket=s3_bucket, Key="drive/w/f2/v1")
    args = ("--identity", bucket_env, "--root-key-file", s3_blob_dir / "keys/root.key")
    assert cove("backup", "restore", archive, *args, "--data-dir", tmp_path / "new") == 0
    assert "2 S3 objects put back" in capsys.readouterr().err
    for key in ("drive/w/f1/v1", "drive/w/f2/v1"):
        body = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert body == f"sealed {key}".encode()

    # A version the bucket no longer keeps cannot be put back: restore says which.
    versions = s3_client.list_object_versions(Bucket=s3_bucket, Prefix="drive/w/f2/v1")
    for version in versions.get("Versions", []):
        s3_client.delete_object(
            Bucket=s3_bucket, Key="drive/w/f2/v1", VersionId=version["VersionId"]
        )
    assert cove("backup", "restore", archive, *args, "--data-dir", tmp_path / "again") == 1
    err = capsys.readouterr().err
    assert "drive/w/f2/v1 is gone" in err
    assert not (tmp_path / "again" / "cove.db").exists()


def test_an_unversioned_bucket_is_refused(
    tmp_path: Path,
    s3_blob_dir: Path,
    s3_bucket: str,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = f"{s3_bucket}-plain"
    s3_client.create_bucket(Bucket=other)
    blob_store_env(monkeypatch, other)
    assert cove("backup", "create", "--data-dir", s3_blob_dir) == 1
    assert "enable S3 versioning" in capsys.readouterr().err
    assert list((s3_blob_dir / "backups").iterdir()) == []
