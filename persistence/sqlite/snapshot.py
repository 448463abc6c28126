"""An online, consistent copy of the SQLite store while Cove keeps serving (for backups)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from persistence.store import StoreError


def snapshot_database(source: Path, target: Path, busy_timeout: float = 30.0) -> int:
    """Copy the database at `source` into a new file `target` (mode 0600); return its size.

    SQLite's online backup API in one step: the copy is the database as of one read
    transaction, which in WAL mode never blocks the server's writer (copying in several
    steps would restart whenever the server writes, and might never end under load).
    """
    if not source.is_file():
        raise StoreError(f"no SQLite database at {source}")
    os.close(os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    origin = sqlite3.connect(source, timeout=busy_timeout, isolation_level=None)
    try:
        origin.execute("PRAGMA query_only = ON")
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            origin.backup(copy, pages=-1)
            # One self-contained file: no WAL beside it to carry along.
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
    finally:
        origin.close()
    return target.stat().st_size
