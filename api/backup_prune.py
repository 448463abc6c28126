"""Which backup archives to keep: the newest of each of the last N days and M months that have
one (restic's `forget --keep-daily N --keep-monthly M`), judged by the time in their names."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from api.backup import SUFFIX, archive_time

# A partial archive this old is from a backup that died: no backup takes a day.
STALE_PARTIAL_SECONDS = 24 * 3600


def archives(directory: Path) -> list[tuple[datetime, Path]]:
    """The archives in `directory`, newest first (files whose names are not archives' are
    left out, and so are partial ones)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        when = archive_time(path.name)
        if when is not None and path.is_file():
            found.append((when, path))
    return sorted(found, reverse=True)


def to_keep(times: Iterable[datetime], daily: int, monthly: int) -> set[datetime]:
    """The times kept: for each of the last `daily` days with an archive its newest, and the
    same for the last `monthly` months. An archive may count for both."""
    kept: set[datetime] = set()
    days: set[object] = set()
    months: set[object] = set()
    for when in sorted(times, reverse=True):
        day, month = when.date(), (when.year, when.month)
        if day not in days and len(days) < daily:
            days.add(day)
            kept.add(when)
        if month not in months and len(months) < monthly:
            months.add(month)
            kept.add(when)
    return kept


def prune(directory: Path, daily: int, monthly: int, *, dry_run: bool = False) -> list[Path]:
    """Delete the archives the policy does not keep, and partial archives a crashed backup
    left over a day ago; return what was (or, dry, would be) deleted."""
    found = archives(directory)
    kept = to_keep((when for when, _ in found), daily, monthly)
    doomed = [path for when, path in found if when not in kept]
    if directory.is_dir():
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for path in directory.glob(f".cove-*{SUFFIX}.partial"):
            if path.stat().st_mtime < cutoff:
                doomed.append(path)
    if not dry_run:
        for path in doomed:
            path.unlink(missing_ok=True)
    return doomed
