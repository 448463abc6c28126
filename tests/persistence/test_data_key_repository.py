"""DataKeyRepository over every engine: versions newest first, each added once."""

from __future__ import annotations

from datetime import UTC, datetime

from persistence.keys import DataKeyRecord, DataKeyRepository
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
