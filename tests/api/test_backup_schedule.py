"""`backup_schedule`: the times, the settings it needs, one backup per time, and `cove serve`
making them with a last-success metric."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import httpx
import pytest

from api.backup_prune import archives
from api.backup_schedule import LOCK_FILE, BackupScheduler
from api.backup_times import next_run, schedule_times
from api.settings import SettingsError, load_settings
from crypto.backup_seal import BackupIdentity
from crypto.root_key import root_key_id
from support import make_settings, on_scylla, serve

RECIPIENT = str(BackupIdentity.generate().recipient)


def test_schedule_times_and_the_next_run() -> None:
    times = schedule_times("15:15, 03:15:30,03:15:30")
    assert times == [day_time(3, 15, 30), day_time(15, 15)]
    now = datetime(2026, 12, 5, 3, 15, 30, tzinfo=UTC)
    assert next_run(now, times) == datetime(2026, 12, 5, 15, 15, tzinfo=UTC)
    assert next_run(now - timedelta(seconds=1), times) == now
    late = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert next_run(late, times) == datetime(2027, 1, 1, 3, 15, 30, tzinfo=UTC)
    for bad in ("3pm", "25:00", "03", ""):
        with pytest.raises(ValueError, match="HH:MM"):
            schedule_times(bad)


def test_a_schedule_needs_a_recipient_and_the_embedded_engines() -> None:
    with pytest.raises(SettingsError, match=r"backup_schedule.*needs backup_recipient"):
        load_settings(environ={}, overrides={"backup_schedule": "03:15"})
    with pytest.raises(SettingsError, match=r"backup_schedule.*sqlite"):
        load_settings(
            environ={},
            overrides={
                "backup_schedule": "03:15",
                "backup_recipient": RECIPIENT,
                "store": "scylla",
            },
        )
    with pytest.raises(SettingsError, match=r"backup_schedule.*HH:MM"):
        load_settings(environ={}, overrides={"backup_schedule": "nightly"})
    with pytest.raises(SettingsError, match=r"backup_recipient.*starts with"):
        load_settings(environ={}, overrides={"backup_recipient": "AAAA"})


@pytest.mark.skipif(on_scylla(), reason="backs up the SQLite store")
def test_one_backup_per_scheduled_time_across_workers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", backup_schedule="03:15", backup_recipient=RECIPIENT)
    with sqlite3.connect(settings.database_file) as connection:
        connection.execute("CREATE TABLE t (x)")
    made: list[datetime] = []

    def scheduler() -> BackupScheduler:
        key_id = root_key_id(os.urandom(32))
        return BackupScheduler(settings, key_id, made.append, lambda: None)

    slot = datetime.now(UTC) - timedelta(seconds=1)
    assert scheduler().back_up(slot) is not None
    assert scheduler().back_up(slot) is None  # another worker made this one
    directory = settings.data_dir / "backups"
    assert len(archives(directory)) == 1
    fd = os.open(directory / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker is making one now
        assert scheduler().back_up(datetime.now(UTC) + timedelta(seconds=5)) is None
    finally:
        os.close(fd)
    assert len(archives(directory)) == 1


@pytest.mark.skipif(on_scylla(), reason="backs up the SQLite store")
def test_serve_backs_up_on_schedule_and_reports_the_last_success(tmp_path: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%H:%M:%S")
    settings = make_settings(tmp_path / "data", backup_schedule=soon, backup_recipient=RECIPIENT)
    with serve(settings) as server:
        deadline = time.monotonic() + 20
        while not archives(settings.data_dir / "backups") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(archives(settings.data_dir / "backups")) == 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = httpx.get(f"{server.url}/metrics").text
            line = next(
                line
                for line in text.splitlines()
                if line.startswith("cove_backup_last_success_timestamp_seconds ")
            )
            if float(line.split()[1]) > 0:
                break
            time.sleep(0.1)
        assert abs(float(line.split()[1]) - time.time()) < 30
