"""Opening SQLite connections: a private WAL database file, tuned for one writer."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from persistence.store import StoreError

_PRIVATE = 0o600
_SIDE_FILES = ("-wal", "-shm")
# Statements cached per connection; readers hold a select, eight scans and four counts per
# table, and batched reads in a few sizes each.
_CACHED_STATEMENTS = 512


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # isolation_level=None leaves transactions to us: BEGIN IMMEDIATE ... COMMIT in batches.
    connection = sqlite3.connect(
        path,
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,  # one thread uses it; another only closes it at shutdown
        cached_statements=_CACHED_STATEMENTS,
    )
    # NORMAL is durable across application crashes in WAL mode; only power loss may
    # roll back the last transactions, and never corrupts.
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def connect_writer(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """The writer's connection; creates the database file with mode 0600 if need be."""
    # O_CREAT with 0600 leaves no moment where the file is readable by others, whatever
    # the umask; chmod then tightens a file that existed already.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, _PRIVATE))
    os.chmod(path, _PRIVATE)
    connection = _connect(path, busy_timeout)
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        connection.close()
        raise StoreError(f"SQLite at {path} refused WAL mode (journal mode is {mode})")
    # Zeroes the bytes of deleted rows in place, so once checkpointed a deleted message's
    # ciphertext is provably gone from the files. Only this connection ever deletes.
    if connection.execute("PRAGMA secure_delete = ON").fetchone() != (1,):
        connection.close()
        raise StoreError(f"SQLite at {path} cannot zero deleted rows (secure_delete)")
    return connection


def connect_reader(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A reader's connection, refusing writes so a bug cannot bypass the writer thread."""
    connection = _connect(path, busy_timeout)
    connection.execute("PRAGMA query_only = ON")
    return connection


def restrict_side_files(path: Path) -> None:
    """Give the WAL and shared-memory files the database file's mode 0600."""
    # SQLite copies the database file's mode to them; chmod keeps that true regardless.
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, _PRIVATE)
