"""The backup settings (`backup_*`, #18): a group of `Settings` kept in its own module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class BackupSettings:
    """Encrypted backups: where they go, whom they are sealed to, how many are kept."""

    backup_recipient: str | None = field(
        default=None,
        metadata=_doc(
            "The public key (`cove-backup-1:…`, from `cove backup keygen`) backups are sealed "
            "to; its identity stays offline, so this server cannot read its own backups."
        ),
    )
    backup_dir: Path | None = field(
        default=None,
        metadata=_doc(
            "Directory of the backup archives; default `<data_dir>/backups` (put it on "
            "another disk)."
        ),
    )
    backup_s3_bucket: str | None = field(
        default=None,
        metadata=_doc(
            "An S3 bucket (reached with the `s3_*` endpoint and credentials) that receives "
            "each archive under `cove-backups/`; the local copy is then removed, and "
            "`cove backup list` and `prune` work on the bucket."
        ),
    )
    backup_schedule: str | None = field(
        default=None,
        metadata=_doc(
            "Times of day (UTC, `HH:MM` or `HH:MM:SS`, comma-separated) at which `cove serve` "
            "makes a backup into `backup_dir`, then prunes; needs `backup_recipient` and the "
            "`sqlite` store."
        ),
    )
    backup_keep_daily: int = field(
        default=7,
        metadata=_doc("`cove backup prune` keeps the newest archive of this many last days."),
    )
    backup_keep_monthly: int = field(
        default=12,
        metadata=_doc("`cove backup prune` keeps the newest archive of this many last months."),
    )
