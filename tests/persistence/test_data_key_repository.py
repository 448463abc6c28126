"""DataKeyRepository over every engine: versions newest first, each added once, indexed with
the root key that wrapped them (filled in by its migration for keys stored before)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from persistence.keys import DATA_KEY_INDEX, DATA_KEYS, DataKeyRecord, DataKeyRepository
from persistence.migrations import MIGRATIONS
from persistence.sqlite import SqliteStore
from persistence.store import Store

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def key(version: int, scope: str = "ws1", wrapped: bytes = b"\x00wrapped") -> DataKeyRecord:
    return DataKeyRecord(scope=scope, version=version, wrapped=wrapped, created_at=T0)


async def test_a_version_is_added_once(store: Store) -> None:
    keys = DataKeyRepository(store)
    assert await keys.add_if_absent(key(1)) is True
    assert await keys.add_if_absent(key(1, wrapped=b"another")) is False
    assert await keys.list_versions("ws1") == [key(1)]


async def test_versions_list_newest_first_past_one_page(store: Store) -> None:
    keys = DataKeyRepository(store)
    for version in range(1, 251):
        await keys.add_if_absent(key(version))
    await keys.add_if_absent(key(1, scope="ws2"))
    assert await keys.list_versions("ws1") == [key(v) for v in range(250, 0, -1)]
    assert await keys.list_versions("ws2") == [key(1, scope="ws2")]
    assert await keys.list_versions("none") == []


async def test_keys_are_indexed_with_the_root_key_that_wrapped_them(store: Store) -> None:
    keys = DataKeyRepository(store)
    await keys.add_if_absent(key(1), "old")
    await keys.add_if_absent(key(2), "old")
    await keys.add_if_absent(key(1, scope="account"), "old")
    assert await keys.index_page(10) == [
        ("account", 1, "old"),
        ("ws1", 1, "old"),
        ("ws1", 2, "old"),
    ]
    assert await keys.index_page(1, after=("account", 1)) == [("ws1", 1, "old")]
    assert await keys.count() == 3

    await keys.rewrap(key(2), b"\x00rewrapped", "new")
    assert await keys.get("ws1", 2) == key(2, wrapped=b"\x00rewrapped")
    assert await keys.wrapped_by("ws1", 2) == "new"
    assert await keys.wrapped_by("ws1", 1) == "old"
    assert await keys.wrapped_by("ws1", 9) == ""
    assert await keys.get("ws1", 9) is None


async def test_keys_stored_before_the_index_are_filled_in_by_the_migration(
    tmp_path: Path,
) -> None:
    index = next(m.number for m in MIGRATIONS if DATA_KEY_INDEX in m.creates)
    store = await SqliteStore.open(
        tmp_path / "cove.db", migrations=[m for m in MIGRATIONS if m.number < index]
    )
    for record in (key(1), key(2), key(1, scope="account")):
        await store.put(DATA_KEYS, dataclasses.asdict(record))
    await store.close()

    store = await SqliteStore.open(tmp_path / "cove.db")
    try:
        entries = await DataKeyRepository(store).index_page(10)
        assert entries == [("account", 1, ""), ("ws1", 1, ""), ("ws1", 2, "")]
    finally:
        await store.close()
