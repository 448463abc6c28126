"""Messages and thread replies, where each lives, reactions, pins and mentions: tables,
records and the repository."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence.declare import Column, ColumnType, Copy, Order, Row, Table
from persistence.ids import id_time
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update
from persistence.timestamps import to_millis

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT

_MESSAGE_VALUES = (
    Column("author_id", _TEXT),
    Column("text_sealed", _BLOB),
    Column("mentions", _TEXT),  # space-separated user ids
    Column("created_at", _TIME),
    Column("edited_at", _TIME),
)

MESSAGES_BY_CHANNEL = Table(
    name="messages_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(*_MESSAGE_VALUES, Column("reply_count", _INT), Column("last_reply_at", _TIME)),
)

# Top-level messages live in partitions of one channel and ten days (the Discord model), so
# that no partition grows without end: a busy channel writes a new partition every ten days,
# and a page reads the newest buckets first. CHANNEL_BUCKETS lists the buckets that hold
# messages, newest first, so quiet stretches cost no empty reads. Migration 16 filled both
# from MESSAGES_BY_CHANNEL, which nothing reads since.
BUCKET_MILLIS = 10 * 24 * 3600 * 1000

CHANNEL_MESSAGES = Table(
    name="channel_messages",
    partition_key=(Column("channel_id", _TEXT), Column("bucket", _INT)),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(*_MESSAGE_VALUES, Column("reply_count", _INT), Column("last_reply_at", _TIME)),
)

CHANNEL_BUCKETS = Table(
    name="channel_message_buckets",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("bucket", _INT),),
    order=Order.DESC,
)


def bucket_of(message_id: str) -> int:
    """The ten-day bucket of a message, from the time in its id."""
    return to_millis(id_time(message_id)) // BUCKET_MILLIS


def _bucketed(row: Row) -> Row:
    return {**row, "bucket": bucket_of(row["message_id"])}


def _bucket_row(row: Row) -> Row:
    return {"channel_id": row["channel_id"], "bucket": bucket_of(row["message_id"])}


BUCKETED_MESSAGE_TABLES = (CHANNEL_MESSAGES, CHANNEL_BUCKETS)
BUCKETED_MESSAGE_COPIES = (
    Copy(MESSAGES_BY_CHANNEL, CHANNEL_MESSAGES, _bucketed),
    Copy(MESSAGES_BY_CHANNEL, CHANNEL_BUCKETS, _bucket_row),
)

REPLIES_BY_THREAD = Table(
    name="replies_by_thread",
    partition_key=(Column("thread_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    values=_MESSAGE_VALUES,
)

# Where a message lives, for node(id), edits and deletes; thread_id is empty at top level.
MESSAGE_LOCATIONS = Table(
    name="message_locations",
    partition_key=(Column("message_id", _TEXT),),
    values=(Column("channel_id", _TEXT), Column("workspace_id", _TEXT), Column("thread_id", _TEXT)),
)

# Reactions grouped by a keyed hash of the emoji, so counts need no decryption.
REACTIONS = Table(
    name="reactions",
    partition_key=(Column("message_id", _TEXT),),
    clustering=(Column("emoji_index", _BLOB), Column("user_id", _TEXT)),
    values=(Column("emoji_sealed", _BLOB), Column("created_at", _TIME)),
)

PINS_BY_CHANNEL = Table(
    name="pins_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(Column("pinned_by", _TEXT), Column("pinned_at", _TIME)),
)

MENTIONS_BY_USER = Table(
    name="mentions_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(Column("channel_id", _TEXT), Column("workspace_id", _TEXT)),
)

MESSAGE_TABLES = (
    MESSAGES_BY_CHANNEL,
    REPLIES_BY_THREAD,
    MESSAGE_LOCATIONS,
    REACTIONS,
    PINS_BY_CHANNEL,
    MENTIONS_BY_USER,
)


@dataclass(frozen=True, slots=True)
class MessageLocation:
    message_id: str
    channel_id: str
    workspace_id: str
    thread_id: str  # "" for a top-level message


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: str
    channel_id: str
    workspace_id: str
    thread_id: str  # "" for a top-level message
    author_id: str
    text_sealed: bytes
    mentions: tuple[str, ...]
    created_at: datetime
    edited_at: datetime | None
    reply_count: int = 0
    last_reply_at: datetime | None = None

    @property
    def location(self) -> MessageLocation:
        return MessageLocation(self.message_id, self.channel_id, self.workspace_id, self.thread_id)


@dataclass(frozen=True, slots=True)
class ReactionRecord:
    message_id: str
    emoji_index: bytes
    user_id: str
    emoji_sealed: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PinRecord:
    channel_id: str
    message_id: str
    pinned_by: str
    pinned_at: datetime


@dataclass(frozen=True, slots=True)
class MentionRecord:
    user_id: str
    message_id: str
    channel_id: str
    workspace_id: str


# Reactions read per message at most this many (people x emoji) rows.
MAX_REACTION_ROWS = 2000
_PAGE = 100
# Bucket rows read at a time while walking a channel's history.
_BUCKET_PAGE = 16


def _table_and_key(location: MessageLocation) -> tuple[Table, dict[str, Any]]:
    if location.thread_id:
        return REPLIES_BY_THREAD, {
            "thread_id": location.thread_id,
            "message_id": location.message_id,
        }
    return CHANNEL_MESSAGES, {
        "channel_id": location.channel_id,
        "bucket": bucket_of(location.message_id),
        "message_id": location.message_id,
    }


def _where(location: MessageLocation) -> tuple[str, str, str]:
    return location.channel_id, location.workspace_id, location.thread_id


def _message(row: Row, channel_id: str, workspace_id: str, thread_id: str) -> MessageRecord:
    # Built field by field, not through `from_row`: a page converts fifty rows, and the
    # generic conversion (two dict copies and a filter per row) was most of that cost.
    return MessageRecord(
        message_id=row["message_id"],
        channel_id=channel_id,
        workspace_id=workspace_id,
        thread_id=thread_id,
        author_id=row["author_id"],
        text_sealed=row["text_sealed"],
        mentions=tuple((row.get("mentions") or "").split()),
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        reply_count=row.get("reply_count") or 0,
        last_reply_at=row.get("last_reply_at"),
    )


def _message_row(message: MessageRecord) -> Row:
    row: Row = {
        "message_id": message.message_id,
        "author_id": message.author_id,
        "text_sealed": message.text_sealed,
        "mentions": " ".join(message.mentions),
        "created_at": message.created_at,
        "edited_at": message.edited_at,
    }
    if message.thread_id:
        return {**row, "thread_id": message.thread_id}
    return {
        **row,
        "channel_id": message.channel_id,
        "bucket": bucket_of(message.message_id),
        "reply_count": message.reply_count,
        "last_reply_at": message.last_reply_at,
    }


def _mention_ops(
    message: MessageRecord, user_ids: Sequence[str], *, delete: bool
) -> list[Put | Delete | Update]:
    ops: list[Put | Delete | Update] = []
    for user_id in user_ids:
        key = {"user_id": user_id, "message_id": message.message_id}
        if delete:
            ops.append(Delete(MENTIONS_BY_USER, key))
        else:
            ops.append(
                Put(
                    MENTIONS_BY_USER,
                    {**key, "channel_id": message.channel_id, "workspace_id": message.workspace_id},
                )
            )
    return ops


class MessageRepository:
    """Messages stay sealed bytes here; deleting one removes every copy of its text."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def post_ops(message: MessageRecord) -> list[Put | Delete | Update]:
        """The rows of a new message: itself, its bucket (top level), where it lives, and its
        mentions."""
        table = REPLIES_BY_THREAD if message.thread_id else CHANNEL_MESSAGES
        row = _message_row(message)
        return [
            Put(table, row),
            *([] if message.thread_id else [Put(CHANNEL_BUCKETS, _bucket_row(row))]),
            Put(MESSAGE_LOCATIONS, to_row(message.location)),
            *_mention_ops(message, message.mentions, delete=False),
        ]

    async def post(self, message: MessageRecord, also: Sequence[Put] = ()) -> None:
        """The message, where it lives, its mentions and `also` (its search outbox entry),
        in one batch."""
        await self._store.batch([*self.post_ops(message), *also])

    async def location(self, message_id: str) -> MessageLocation | None:
        row = await self._store.get(MESSAGE_LOCATIONS, {"message_id": message_id})
        return None if row is None else from_row(MessageLocation, row)

    async def locations(self, message_ids: Sequence[str]) -> list[MessageLocation | None]:
        rows = await self._store.get_many(
            MESSAGE_LOCATIONS, [{"message_id": m} for m in message_ids]
        )
        return [None if row is None else from_row(MessageLocation, row) for row in rows]

    async def get(self, location: MessageLocation) -> MessageRecord | None:
        table, key = _table_and_key(location)
        row = await self._store.get(table, key)
        return None if row is None else _message(row, *_where(location))

    async def get_many(self, locations: Sequence[MessageLocation]) -> list[MessageRecord | None]:
        """Messages at these locations, in order; top-level and replies in two reads at most."""
        found: list[MessageRecord | None] = [None] * len(locations)
        for table in (CHANNEL_MESSAGES, REPLIES_BY_THREAD):
            picked = [
                (i, loc) for i, loc in enumerate(locations) if _table_and_key(loc)[0] is table
            ]
            if not picked:
                continue
            rows = await self._store.get_many(table, [_table_and_key(loc)[1] for _, loc in picked])
            for (i, loc), row in zip(picked, rows, strict=True):
                found[i] = None if row is None else _message(row, *_where(loc))
        return found

    async def list_channel(
        self,
        channel_id: str,
        workspace_id: str,
        *,
        limit: int,
        after_id: str | None = None,
    ) -> list[MessageRecord]:
        """Top-level messages, newest first, read bucket by bucket until the page is full."""
        rows: list[Row] = []
        start = None if after_id is None else bucket_of(after_id)
        async for bucket in self._buckets(channel_id, start):
            after = (after_id,) if after_id is not None and bucket == start else None
            rows += await self._store.scan(
                CHANNEL_MESSAGES,
                {"channel_id": channel_id, "bucket": bucket},
                limit=limit - len(rows),
                after=after,
            )
            if len(rows) >= limit:
                break
        return [_message(row, channel_id, workspace_id, "") for row in rows]

    async def _buckets(self, channel_id: str, start: int | None) -> AsyncIterator[int]:
        """The channel's buckets that hold messages, newest first, from `start` (inclusive)."""
        # Descending: rows "after" a bucket are older ones; start + 1 includes `start`.
        after = None if start is None else (start + 1,)
        while True:
            rows = await self._store.scan(
                CHANNEL_BUCKETS, {"channel_id": channel_id}, limit=_BUCKET_PAGE, after=after
            )
            for row in rows:
                yield row["bucket"]
            if len(rows) < _BUCKET_PAGE:
                return
            after = (rows[-1]["bucket"],)

    async def list_replies(
        self, parent: MessageLocation, *, limit: int, after_id: str | None = None
    ) -> list[MessageRecord]:
        """A thread's replies, oldest first."""
        rows = await self._store.scan(
            REPLIES_BY_THREAD,
            {"thread_id": parent.message_id},
            limit=limit,
            after=None if after_id is None else (after_id,),
        )
        return [
            _message(row, parent.channel_id, parent.workspace_id, parent.message_id) for row in rows
        ]

    async def count_newer(self, channel_id: str, than_id: str | None, *, limit: int) -> int:
        """How many top-level messages are newer than `than_id` (all if None), up to `limit`."""
        floor = None if than_id is None else bucket_of(than_id)
        total = 0
        async for bucket in self._buckets(channel_id, None):
            if floor is not None and bucket < floor:
                break
            # The table runs newest first, so "newer" rows come before `than_id`.
            total += await self._store.count(
                CHANNEL_MESSAGES,
                {"channel_id": channel_id, "bucket": bucket},
                limit=limit - total,
                before=(than_id,) if than_id is not None and bucket == floor else None,
            )
            if total >= limit:
                break
        return total

    async def refresh_thread(self, parent: MessageLocation, now: datetime) -> int:
        """Recount a thread's replies onto its parent; returns the count.

        Recounting (rather than incrementing) makes the stored count right again after any
        race, at the next reply or delete in the thread.
        """
        count = await self._store.count(
            REPLIES_BY_THREAD, {"thread_id": parent.message_id}, limit=1_000_000
        )
        table, key = _table_and_key(parent)
        await self._store.update(table, key, {"reply_count": count, "last_reply_at": now})
        return count

    async def edit(
        self,
        message: MessageRecord,
        text_sealed: bytes,
        mentions: tuple[str, ...],
        edited_at: datetime,
        also: Sequence[Put] = (),
    ) -> None:
        table, key = _table_and_key(message.location)
        removed = [u for u in message.mentions if u not in mentions]
        added = [u for u in mentions if u not in message.mentions]
        await self._store.batch(
            [
                Update(
                    table,
                    key,
                    {
                        "text_sealed": text_sealed,
                        "mentions": " ".join(mentions),
                        "edited_at": edited_at,
                    },
                ),
                *_mention_ops(message, removed, delete=True),
                *_mention_ops(message, added, delete=False),
                *also,
            ]
        )

    async def delete(
        self, message: MessageRecord, also: Callable[[MessageRecord], Sequence[Put]] | None = None
    ) -> None:
        """Delete a message with its reactions, pin and mentions; a parent takes its replies.
        `also` gives for each message deleted what goes in its batch (its outbox entry)."""
        if not message.thread_id:
            while replies := await self.list_replies(message.location, limit=_PAGE):
                for reply in replies:
                    await self._delete_one(reply, () if also is None else also(reply))
        await self._delete_one(message, () if also is None else also(message))

    async def _delete_one(self, message: MessageRecord, also: Sequence[Put]) -> None:
        table, key = _table_and_key(message.location)
        await self._store.batch(
            [
                Delete(table, key),
                Delete(MESSAGE_LOCATIONS, {"message_id": message.message_id}),
                Delete(
                    PINS_BY_CHANNEL,
                    {"channel_id": message.channel_id, "message_id": message.message_id},
                ),
                *_mention_ops(message, message.mentions, delete=True),
                *also,
            ]
        )
        await self._store.delete_partition(REACTIONS, {"message_id": message.message_id})

    async def add_reaction(self, reaction: ReactionRecord) -> bool:
        """False when this person already reacted with this emoji."""
        return await self._store.put_if_absent(REACTIONS, to_row(reaction))

    async def remove_reaction(self, message_id: str, emoji_index: bytes, user_id: str) -> bool:
        """False when this person had no such reaction."""
        key = {"message_id": message_id, "emoji_index": emoji_index, "user_id": user_id}
        if await self._store.get(REACTIONS, key) is None:
            return False
        await self._store.delete(REACTIONS, key)
        return True

    async def reactions_many(self, message_ids: Sequence[str]) -> list[list[ReactionRecord]]:
        """Each message's reactions, grouped by emoji index, in one read."""
        groups = await self._store.scan_many(
            REACTIONS,
            [{"message_id": m} for m in message_ids],
            limit_per_partition=MAX_REACTION_ROWS,
        )
        return [[from_row(ReactionRecord, row) for row in rows] for rows in groups]

    async def pin(self, pin: PinRecord) -> bool:
        """False when the message was pinned already."""
        return await self._store.put_if_absent(PINS_BY_CHANNEL, to_row(pin))

    async def unpin(self, channel_id: str, message_id: str) -> bool:
        """False when the message was not pinned."""
        key = {"channel_id": channel_id, "message_id": message_id}
        if await self._store.get(PINS_BY_CHANNEL, key) is None:
            return False
        await self._store.delete(PINS_BY_CHANNEL, key)
        return True

    async def pins_many(self, keys: Sequence[tuple[str, str]]) -> list[PinRecord | None]:
        """Pins for (channel id, message id) pairs, in order."""
        rows = await self._store.get_many(
            PINS_BY_CHANNEL, [{"channel_id": c, "message_id": m} for c, m in keys]
        )
        return [None if row is None else from_row(PinRecord, row) for row in rows]

    async def list_pins(
        self, channel_id: str, *, limit: int, after_id: str | None = None
    ) -> list[PinRecord]:
        rows = await self._store.scan(
            PINS_BY_CHANNEL,
            {"channel_id": channel_id},
            limit=limit,
            after=None if after_id is None else (after_id,),
        )
        return [from_row(PinRecord, row) for row in rows]

    async def list_mentions(
        self, user_id: str, *, limit: int, after_id: str | None = None
    ) -> list[MentionRecord]:
        rows = await self._store.scan(
            MENTIONS_BY_USER,
            {"user_id": user_id},
            limit=limit,
            after=None if after_id is None else (after_id,),
        )
        return [from_row(MentionRecord, row) for row in rows]
