"""Top-level messages live in ten-day partitions per channel: pages and counts walk them
newest first, no partition holds more than ten days, and a database from before the buckets
is filled by its migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from persistence.ids import new_id
from persistence.messages import (
    BUCKET_MILLIS,
    CHANNEL_BUCKETS,
    CHANNEL_MESSAGES,
    MESSAGES_BY_CHANNEL,
    MessageRecord,
    MessageRepository,
    bucket_of,
)
from persistence.migrations import MIGRATIONS
from persistence.sqlite import SqliteStore
from persistence.store import Store

START = datetime(2026, 1, 1, tzinfo=UTC)
# 40 messages, one every 23 hours and 59 minutes: about 37 days, five ten-day buckets.
TIMES = [START + i * timedelta(hours=23, minutes=59) for i in range(40)]


def record(at: datetime, channel: str = "c1") -> MessageRecord:
    return MessageRecord(
        message_id=new_id(at=at),
        channel_id=channel,
        workspace_id="w1",
        thread_id="",
        author_id="u1",
        text_sealed=b"sealed",
        mentions=(),
        created_at=at,
        edited_at=None,
    )


async def test_pages_and_counts_walk_the_buckets_newest_first(store: Store) -> None:
    messages = MessageRepository(store)
    posted = [record(at) for at in TIMES]
    for message in posted:
        await messages.post(message)
    await messages.post(record(TIMES[5], channel="other"))  # another channel stays apart
    newest_first = [m.message_id for m in reversed(posted)]

    seen: list[str] = []
    after = None
    while page := await messages.list_channel("c1", "w1", limit=7, after_id=after):
        seen += [m.message_id for m in page]
        after = page[-1].message_id
    assert seen == newest_first

    assert await messages.count_newer("c1", None, limit=1000) == 40
    assert await messages.count_newer("c1", None, limit=15) == 15
    for index in (0, 9, 10, 25, 39):
        older = posted[index].message_id
        assert await messages.count_newer("c1", older, limit=1000) == 39 - index

    buckets = await store.scan(CHANNEL_BUCKETS, {"channel_id": "c1"}, limit=100)
    assert [row["bucket"] for row in buckets] == sorted(
        {bucket_of(m.message_id) for m in posted}, reverse=True
    )
    assert len(buckets) >= 4
    for row in buckets:
        part = await store.scan(
            CHANNEL_MESSAGES, {"channel_id": "c1", "bucket": row["bucket"]}, limit=100
        )
        span = [m.created_at for m in posted if bucket_of(m.message_id) == row["bucket"]]
        assert len(part) == len(span) <= 11  # ten days of one message a day, at most
        assert max(span) - min(span) < timedelta(milliseconds=BUCKET_MILLIS)


async def test_a_message_is_read_edited_and_deleted_in_its_bucket(store: Store) -> None:
    messages = MessageRepository(store)
    old, new = record(TIMES[0]), record(TIMES[-1])
    for message in (old, new):
        await messages.post(message)
    assert (await messages.get(old.location)) == old
    assert await messages.get_many([new.location, old.location]) == [new, old]
    await messages.edit(old, b"resealed", (), TIMES[-1])
    assert (await messages.get(old.location)).text_sealed == b"resealed"  # type: ignore[union-attr]
    await messages.delete(old)
    assert await messages.get(old.location) is None
    assert [m.message_id for m in await messages.list_channel("c1", "w1", limit=10)] == [
        new.message_id
    ]


async def test_messages_stored_before_the_buckets_are_filled_in_by_the_migration(
    tmp_path: Path,
) -> None:
    buckets = next(m.number for m in MIGRATIONS if CHANNEL_MESSAGES in m.creates)
    before = [m for m in MIGRATIONS if m.number < buckets]
    store = await SqliteStore.open(tmp_path / "cove.db", migrations=before)
    posted = [record(at) for at in TIMES[:25]]
    for message in posted:
        row = {
            "channel_id": "c1",
            "message_id": message.message_id,
            "author_id": "u1",
            "text_sealed": b"sealed",
            "mentions": "",
            "created_at": message.created_at,
            "edited_at": None,
            "reply_count": 0,
            "last_reply_at": None,
        }
        await store.put(MESSAGES_BY_CHANNEL, row)
    await store.close()

    store = await SqliteStore.open(tmp_path / "cove.db")
    try:
        page = await MessageRepository(store).list_channel("c1", "w1", limit=100)
        assert [m.message_id for m in page] == [m.message_id for m in reversed(posted)]
        assert await MessageRepository(store).count_newer("c1", None, limit=100) == 25
    finally:
        await store.close()
