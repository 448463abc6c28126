"""Incoming webhooks: secret URLs that post into one channel as a bot user.

Found by the SHA-256 of the URL's token (the token itself is never stored), and listed per
channel. The shown name is the bot user's display name, sealed in its user row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.accounts import USERS, UserRecord
from persistence.declare import Column, ColumnType, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP
_VALUES = (
    Column("webhook_id", _TEXT),
    Column("channel_id", _TEXT),
    Column("workspace_id", _TEXT),
    Column("bot_user_id", _TEXT),
    Column("creator_id", _TEXT),
    Column("created_at", _TIME),
)

INCOMING_WEBHOOKS_BY_TOKEN = Table(
    name="incoming_webhooks_by_token",
    partition_key=(Column("token_hash", ColumnType.BLOB),),
    values=_VALUES,
)

INCOMING_WEBHOOKS_BY_CHANNEL = Table(
    name="incoming_webhooks_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("webhook_id", _TEXT),),
    values=(
        *(c for c in _VALUES if c.name not in ("webhook_id", "channel_id")),
        Column("token_hash", ColumnType.BLOB),
    ),
)

INCOMING_WEBHOOK_TABLES = (INCOMING_WEBHOOKS_BY_TOKEN, INCOMING_WEBHOOKS_BY_CHANNEL)


@dataclass(frozen=True, slots=True)
class IncomingWebhookRecord:
    webhook_id: str
    channel_id: str
    workspace_id: str
    bot_user_id: str
    creator_id: str
    created_at: datetime
    token_hash: bytes


class IncomingWebhookRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, record: IncomingWebhookRecord, bot: UserRecord) -> None:
        """The bot user (no email, no password: it never signs in) and both webhook rows."""
        row = to_row(record)
        await self._store.batch(
            [
                Put(USERS, to_row(bot)),
                Put(INCOMING_WEBHOOKS_BY_TOKEN, row),
                Put(INCOMING_WEBHOOKS_BY_CHANNEL, row),
            ]
        )

    async def by_token(self, token_hash: bytes) -> IncomingWebhookRecord | None:
        row = await self._store.get(INCOMING_WEBHOOKS_BY_TOKEN, {"token_hash": token_hash})
        if row is None or row["webhook_id"] is None:
            return None
        return from_row(IncomingWebhookRecord, row)

    async def in_channel(self, channel_id: str, *, limit: int) -> list[IncomingWebhookRecord]:
        rows = await self._store.scan(
            INCOMING_WEBHOOKS_BY_CHANNEL, {"channel_id": channel_id}, limit=limit
        )
        return [from_row(IncomingWebhookRecord, row) for row in rows]

    async def get(self, channel_id: str, webhook_id: str) -> IncomingWebhookRecord | None:
        row = await self._store.get(
            INCOMING_WEBHOOKS_BY_CHANNEL, {"channel_id": channel_id, "webhook_id": webhook_id}
        )
        return None if row is None else from_row(IncomingWebhookRecord, row)

    async def delete(self, record: IncomingWebhookRecord) -> None:
        """Revoke the URL; the bot user stays, so the messages it posted keep its name."""
        await self._store.batch(
            [
                Delete(INCOMING_WEBHOOKS_BY_TOKEN, {"token_hash": record.token_hash}),
                Delete(
                    INCOMING_WEBHOOKS_BY_CHANNEL,
                    {"channel_id": record.channel_id, "webhook_id": record.webhook_id},
                ),
            ]
        )
