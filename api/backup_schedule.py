"""Backups on a schedule inside `cove serve` (`backup_schedule`): one task per process, and one
backup per scheduled time however many workers share the backup dir."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from api import backup_s3
from api.backup import backup_dir, create_backup
from api.backup_prune import archives, prune
from api.backup_times import next_run, schedule_times
from api.settings import Settings
from crypto.backup_seal import BackupRecipient

log = logging.getLogger("cove.backup")
LOCK_FILE = ".cove-backup.lock"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class BackupScheduler:
    """Sleeps until each scheduled time, then backs up and prunes in a thread; `on_success`
    gets the time of each archive made and `on_failure` hears of each failure (metrics)."""

    def __init__(
        self,
        settings: Settings,
        key_id: str,
        on_success: Callable[[datetime], None],
        on_failure: Callable[[], None],
        clock: Clock = _now,
    ) -> None:
        if not settings.backup_schedule or not settings.backup_recipient:
            raise ValueError("a backup schedule needs backup_schedule and backup_recipient")
        self._settings = settings
        self._key_id = key_id
        self._recipient = BackupRecipient.parse(settings.backup_recipient)
        self._times = schedule_times(settings.backup_schedule)
        self._on_success = on_success
        self._on_failure = on_failure
        self._clock = clock

    async def run(self) -> None:
        """Run until cancelled; a failed backup is logged and the next time tried."""
        while True:
            slot = next_run(self._clock(), self._times)
            await asyncio.sleep(max(0.0, (slot - self._clock()).total_seconds()))
            try:
                made = await asyncio.to_thread(self.back_up, slot)
            except Exception:
                log.exception("scheduled backup for %s failed", slot.isoformat())
                self._on_failure()
                continue
            if made is not None:
                self._on_success(made)

    def back_up(self, slot: datetime) -> datetime | None:
        """Make the backup of `slot` unless another process has (or is making) it."""
        directory = backup_dir(self._settings)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another worker is making it
            if self._made_since(slot.replace(microsecond=0)):
                return None  # another worker made it
            path = create_backup(self._settings, self._key_id, self._recipient, log.info)
            made = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            keep = (self._settings.backup_keep_daily, self._settings.backup_keep_monthly)
            if self._settings.backup_s3_bucket is None:
                gone: list[object] = list(prune(directory, *keep))
            else:
                log.info("uploaded to %s", asyncio.run(backup_s3.upload(self._settings, path)))
                path.unlink()
                gone = list(asyncio.run(backup_s3.prune(self._settings, *keep, dry_run=False)))
            log.info("backup %s made; %d old archives pruned", path.name, len(gone))
            return made
        finally:
            os.close(fd)  # drops the lock

    def _made_since(self, slot: datetime) -> bool:
        if self._settings.backup_s3_bucket is None:
            found = [when for when, _ in archives(backup_dir(self._settings))]
        else:
            found = [when for when, _, _ in asyncio.run(backup_s3.listing(self._settings))]
        return any(when >= slot for when in found)
