"""A deleted row's bytes leave every file of the SQLite engine once checkpointed."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from persistence.declare import Column, ColumnType, Table
from persistence.sqlite import SqliteStore
from persistence.store import StoreError

SECRETS = Table(
    name="secrets",
    partition_key=(Column("id", ColumnType.TEXT),),
    values=(Column("sealed", ColumnType.BLOB),),
)


@pytest.fixture(autouse=True)
def secure_delete_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection starts with secure_delete off, as in SQLite's default build.

    Debian's SQLite turns it on by default, which would hide a missing PRAGMA in Cove.
    """
    connect = sqlite3.connect

    def connect_without_secure_delete(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete = OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect_without_secure_delete)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cove.db"


@pytest.fixture
async def store(db: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(db, [SECRETS])
    yield opened
    await opened.close()


def every_byte(db: Path) -> bytes:
    """The database file, its WAL and its shared-memory file, end to end."""
    files = [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]
    assert db.exists()
    return b"".join(path.read_bytes() for path in files if path.exists())


async def put_neighbours(store: SqliteStore) -> None:
    # Rows on either side share the page, so only zeroing can take the value's bytes away.
    for name in ("before", "later"):
        await store.put(SECRETS, {"id": name, "sealed": os.urandom(64)})


@pytest.mark.parametrize("deleted", [True, False], ids=["deleted", "kept"])
async def test_a_deleted_value_is_gone_from_every_file(
    store: SqliteStore, db: Path, deleted: bool
) -> None:
    value = os.urandom(64)
    await put_neighbours(store)
    await store.put(SECRETS, {"id": "message", "sealed": value})
    await store.checkpoint()
    assert value in every_byte(db)
    if deleted:
        await store.delete(SECRETS, {"id": "message"})
    await store.checkpoint()
    # Present when kept: the search can find it, so its absence means something.
    assert (value in every_byte(db)) is not deleted
    assert db.with_name(db.name + "-wal").stat().st_size == 0


async def test_without_secure_delete_the_value_would_survive(store: SqliteStore, db: Path) -> None:
    # The control: what the engine's PRAGMA prevents, so the test above can fail.
    await store._write("unsafe", lambda connection: connection.execute("PRAGMA secure_delete = 0"))
    value = os.urandom(64)
    await put_neighbours(store)
    await store.put(SECRETS, {"id": "message", "sealed": value})
    await store.checkpoint()
    await store.delete(SECRETS, {"id": "message"})
    await store.checkpoint()
    assert await store.get(SECRETS, {"id": "message"}) is None
    assert value in every_byte(db)


async def test_the_writer_zeroes_deleted_rows(store: SqliteStore) -> None:
    setting = await store._write(
        "pragma", lambda connection: connection.execute("PRAGMA secure_delete").fetchone()
    )
    assert setting == (1,)


async def test_a_checkpoint_blocked_by_a_reader_says_so(db: Path) -> None:
    store = await SqliteStore.open(db, [SECRETS], busy_timeout=0.05)
    try:
        await store.put(SECRETS, {"id": "a", "sealed": b"a"})
        with closing(sqlite3.connect(db, isolation_level=None)) as other:
            # Another process reads in a transaction: its snapshot pins the WAL frames.
            other.execute("BEGIN")
            other.execute("SELECT * FROM secrets").fetchall()
            await store.put(SECRETS, {"id": "b", "sealed": b"b"})
            with pytest.raises(StoreError, match="blocked"):
                await store.checkpoint()
            other.execute("COMMIT")
        await store.checkpoint()
        assert db.with_name(db.name + "-wal").stat().st_size == 0
    finally:
        await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.checkpoint()
