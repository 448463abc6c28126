"""Upload intents on every engine: held and renewed by upsert, read back by key, listed one
hour's partition at a time in pages, deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.blob_intents import (
    BLOB_INTENT_TABLES,
    BLOB_INTENTS,
    BlobIntentRecord,
    BlobIntentRepository,
)
from persistence.migrations import MIGRATIONS, Migration
from persistence.scylla.cql import create_table_cql
from persistence.store import Store

TABLES = BLOB_INTENT_TABLES
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_intents_are_migration_18_and_compile_to_cql() -> None:
    assert MIGRATIONS[17] == Migration(18, "upload intents", TABLES)
    assert "PRIMARY KEY ((hour), blob_key)" in create_table_cql(BLOB_INTENTS, "cove")


async def test_an_intent_is_held_renewed_listed_and_forgotten(store: Store) -> None:
    intents = BlobIntentRepository(store)
    held = BlobIntentRecord(7, "drive/w/f/v", "node:1", AT)
    await intents.hold(held)
    assert await intents.get(7, "drive/w/f/v") == held
    assert await intents.get(8, "drive/w/f/v") is None  # another hour's partition
    renewed = BlobIntentRecord(7, "drive/w/f/v", "node:2", AT + timedelta(seconds=60))
    await intents.hold(renewed)  # a renewal, or a retry of the same URL taking it over
    assert await intents.get(7, "drive/w/f/v") == renewed
    await intents.forget(7, "drive/w/f/v")
    assert await intents.get(7, "drive/w/f/v") is None


async def test_an_hour_is_listed_in_pages(store: Store) -> None:
    intents = BlobIntentRepository(store)
    keys = [f"drive/w/f/v{n}" for n in range(5)]
    for key in keys:
        await intents.hold(BlobIntentRecord(7, key, "node:1", AT))
    await intents.hold(BlobIntentRecord(8, "drive/w/f/other", "node:1", AT))
    first = await intents.in_hour(7, limit=3)
    rest = await intents.in_hour(7, limit=3, after=first[-1].blob_key)
    assert [i.blob_key for i in first + rest] == keys
