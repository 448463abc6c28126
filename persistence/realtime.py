"""Realtime sessions and their rotating keys, shared by every node through the store.

A realtime session belongs to one login session and ends with it; its keys are sealed
under the account data key, so the database holds no usable key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP

REALTIME_SESSIONS = Table(
    name="realtime_sessions",
    partition_key=(Column("session_id", _TEXT),),
    values=(
        Column("user_id", _TEXT),
        Column("login_session_id", _TEXT),
        Column("topics", _TEXT),  # space-separated topic ids of the live subscription
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

REALTIME_SESSIONS_BY_USER = Table(
    name="realtime_sessions_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("session_id", _TEXT),),
    values=(Column("login_session_id", _TEXT), Column("expires_at", _TIME)),
)

REALTIME_KEYS = Table(
    name="realtime_keys",
    partition_key=(Column("session_id", _TEXT),),
    clustering=(Column("key_id", _TEXT),),
    values=(
        Column("secret_sealed", ColumnType.BLOB),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

REALTIME_TABLES = (REALTIME_SESSIONS, REALTIME_SESSIONS_BY_USER, REALTIME_KEYS)

# One row per person: when a node last saw them subscribed, and when they last did something.
USER_PRESENCE = Table(
    name="user_presence",
    partition_key=(Column("user_id", _TEXT),),
    values=(Column("seen_at", _TIME), Column("active_at", _TIME)),
)

PRESENCE_TABLES = (USER_PRESENCE,)


@dataclass(frozen=True, slots=True)
class RealtimeSessionRecord:
    session_id: str
    user_id: str
    login_session_id: str
    topics: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RealtimeKeyRecord:
    session_id: str
    key_id: str
    secret_sealed: bytes
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    user_id: str
    seen_at: datetime | None
    active_at: datetime | None


class RealtimeRepository:
    """Sessions and keys; secrets go in and come out sealed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, session: RealtimeSessionRecord, first_key: RealtimeKeyRecord) -> None:
        await self._store.batch(
            [
                Put(REALTIME_SESSIONS, to_row(session)),
                Put(
                    REALTIME_SESSIONS_BY_USER,
                    to_row(session, "user_id", "session_id", "login_session_id", "expires_at"),
                ),
                Put(REALTIME_KEYS, to_row(first_key)),
            ]
        )

    async def get(self, session_id: str) -> RealtimeSessionRecord | None:
        row = await self._store.get(REALTIME_SESSIONS, {"session_id": session_id})
        return None if row is None else from_row(RealtimeSessionRecord, row)

    async def count_for_user(self, user_id: str, *, limit: int) -> int:
        return await self._store.count(REALTIME_SESSIONS_BY_USER, {"user_id": user_id}, limit=limit)

    async def list_for_user(self, user_id: str, *, limit: int) -> list[RealtimeSessionRecord]:
        rows = await self._store.scan(REALTIME_SESSIONS_BY_USER, {"user_id": user_id}, limit=limit)
        found = await self._store.get_many(
            REALTIME_SESSIONS, [{"session_id": row["session_id"]} for row in rows]
        )
        return [from_row(RealtimeSessionRecord, row) for row in found if row is not None]

    async def set_topics(self, session_id: str, topics: str) -> None:
        await self._store.update(REALTIME_SESSIONS, {"session_id": session_id}, {"topics": topics})

    async def add_key(self, key: RealtimeKeyRecord) -> None:
        await self._store.put(REALTIME_KEYS, to_row(key))

    async def latest_key(self, session_id: str) -> RealtimeKeyRecord | None:
        rows = await self._store.scan(
            REALTIME_KEYS, {"session_id": session_id}, limit=1, reverse=True
        )
        return from_row(RealtimeKeyRecord, rows[0]) if rows else None

    async def get_key(self, session_id: str, key_id: str) -> RealtimeKeyRecord | None:
        row = await self._store.get(REALTIME_KEYS, {"session_id": session_id, "key_id": key_id})
        return None if row is None else from_row(RealtimeKeyRecord, row)

    async def delete(self, session: RealtimeSessionRecord) -> None:
        """End a session: its row, its listing and every key it had."""
        await self._store.batch(
            [
                Delete(REALTIME_SESSIONS, {"session_id": session.session_id}),
                Delete(
                    REALTIME_SESSIONS_BY_USER,
                    {"user_id": session.user_id, "session_id": session.session_id},
                ),
            ]
        )
        await self._store.delete_partition(REALTIME_KEYS, {"session_id": session.session_id})

    async def mark_seen(self, user_ids: Sequence[str], now: datetime) -> None:
        """A node saw these people subscribed just now (a heartbeat)."""
        if user_ids:
            await self._store.batch(
                [Update(USER_PRESENCE, {"user_id": u}, {"seen_at": now}) for u in user_ids]
            )

    async def mark_active(self, user_id: str, now: datetime) -> None:
        await self._store.update(USER_PRESENCE, {"user_id": user_id}, {"active_at": now})

    async def presence_many(self, user_ids: Sequence[str]) -> list[PresenceRecord]:
        rows = await self._store.get_many(USER_PRESENCE, [{"user_id": u} for u in user_ids])
        return [
            PresenceRecord(u, None, None) if row is None else from_row(PresenceRecord, row)
            for u, row in zip(user_ids, rows, strict=True)
        ]
