"""Audit events: a workspace's log, each account's security log, and the day index that
lets retention find old events without scanning every partition.

Kind, actor, targets and time stay clear (they are what the log is filtered by); the client
address and the details are personal data and are stored sealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Row, Table
from persistence.store import Delete, Put, Store

_TEXT = ColumnType.TEXT
_VALUES = (
    Column("kind", _TEXT),
    Column("actor_id", _TEXT),
    Column("target_ids", _TEXT),
    Column("at", ColumnType.TIMESTAMP),
    Column("details_sealed", ColumnType.BLOB),
)

# A log is either a workspace's ("workspace:<id>") or an account's ("user:<id>").
AUDIT_EVENTS = Table(
    name="audit_events",
    partition_key=(Column("log_id", _TEXT),),
    clustering=(Column("event_id", _TEXT),),
    order=Order.DESC,
    values=_VALUES,
)

# The logs written to on each UTC day, so retention visits only logs that hold old events.
AUDIT_LOGS_BY_DAY = Table(
    name="audit_logs_by_day",
    partition_key=(Column("day", ColumnType.BIGINT),),
    clustering=(Column("log_id", _TEXT),),
)

AUDIT_TABLES = (AUDIT_EVENTS, AUDIT_LOGS_BY_DAY)


def workspace_log(workspace_id: str) -> str:
    return f"workspace:{workspace_id}"


def account_log(user_id: str) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    log_id: str
    event_id: str
    kind: str
    actor_id: str  # "" when nobody signed in acted (a share link used)
    target_ids: tuple[str, ...]
    at: datetime
    details_sealed: bytes


def _record(row: Row) -> AuditRecord:
    return AuditRecord(
        log_id=row["log_id"],
        event_id=row["event_id"],
        kind=row["kind"],
        actor_id=row["actor_id"] or "",
        target_ids=tuple((row["target_ids"] or "").split()),
        at=row["at"],
        details_sealed=row["details_sealed"],
    )


class AuditRepository:
    """Events stay sealed bytes here; logs read newest first."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, record: AuditRecord, day: int) -> None:
        """The event and its day's index row, in one batch."""
        row: Row = {
            "log_id": record.log_id,
            "event_id": record.event_id,
            "kind": record.kind,
            "actor_id": record.actor_id,
            "target_ids": " ".join(record.target_ids),
            "at": record.at,
            "details_sealed": record.details_sealed,
        }
        await self._store.batch(
            [Put(AUDIT_EVENTS, row), Put(AUDIT_LOGS_BY_DAY, {"day": day, "log_id": record.log_id})]
        )

    async def events(
        self,
        log_id: str,
        *,
        limit: int,
        after_id: str | None = None,
        before_id: str | None = None,
    ) -> list[AuditRecord]:
        """Events older than `after_id` and newer than `before_id`, newest first."""
        rows = await self._store.scan(
            AUDIT_EVENTS,
            {"log_id": log_id},
            limit=limit,
            after=None if after_id is None else (after_id,),
            before=None if before_id is None else (before_id,),
        )
        return [_record(row) for row in rows]

    async def logs_of_day(self, day: int, *, limit: int, after: str | None = None) -> list[str]:
        rows = await self._store.scan(
            AUDIT_LOGS_BY_DAY, {"day": day}, limit=limit, after=None if after is None else (after,)
        )
        return [row["log_id"] for row in rows]

    async def delete_older(self, log_id: str, than_id: str, *, limit: int) -> int:
        """Delete up to `limit` of the log's events older than `than_id`; returns how many."""
        rows = await self._store.scan(
            AUDIT_EVENTS, {"log_id": log_id}, limit=limit, after=(than_id,)
        )
        if rows:
            await self._store.batch(
                [Delete(AUDIT_EVENTS, {"log_id": log_id, "event_id": r["event_id"]}) for r in rows]
            )
        return len(rows)

    async def forget_day(self, day: int, log_ids: Sequence[str]) -> None:
        await self._store.batch(
            [Delete(AUDIT_LOGS_BY_DAY, {"day": day, "log_id": i}) for i in log_ids]
        )
