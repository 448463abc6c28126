"""The mail outbox: messages waiting to be sent, sealed, and the claims of their attempts.

A message is written here before the request that made it answers, and deleted once a mail
server has accepted it, so a crash or a mail server that is down delays mail but loses none.
The whole message (headers with the recipient, and the body with any link) is one sealed
value; the kind ("verify-email"), the times and the attempt count stay clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Row, Table
from persistence.store import Store

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP

# Every waiting mail in one partition, oldest first (mail ids are time-ordered). The outbox
# holds only what is not yet sent, so it stays small unless mail servers stay down.
QUEUE = "mail"
MAIL_OUTBOX = Table(
    name="mail_outbox",
    partition_key=(Column("queue", _TEXT),),
    clustering=(Column("mail_id", _TEXT),),
    values=(
        Column("kind", _TEXT),
        Column("message_sealed", ColumnType.BLOB),
        Column("created_at", _TIME),
        Column("attempts", ColumnType.BIGINT),
        Column("next_at", _TIME),
    ),
)

# One row per attempt a node took on ("<attempt>:<lease slot>"), inserted if absent, so two
# nodes do not normally send one mail; a node that died mid-send leaves its claim, and the
# mail is tried again once the lease has passed.
MAIL_CLAIMS = Table(
    name="mail_claims",
    partition_key=(Column("mail_id", _TEXT),),
    clustering=(Column("claim", _TEXT),),
    values=(Column("node_id", _TEXT), Column("claimed_at", _TIME)),
)

OUTBOX_TABLES = (MAIL_OUTBOX, MAIL_CLAIMS)


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    mail_id: str
    kind: str
    message_sealed: bytes
    created_at: datetime
    attempts: int
    next_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    mail_id: str
    attempt: int
    claim: str
    node_id: str
    claimed_at: datetime


def claim_name(attempt: int, slot: int) -> str:
    return f"{attempt:06d}:{slot}"


def _record(row: Row) -> OutboxRecord | None:
    if row["message_sealed"] is None or row["created_at"] is None:
        return None  # a row recreated by a late reschedule of a mail already sent
    return OutboxRecord(
        mail_id=row["mail_id"],
        kind=row["kind"] or "mail",
        message_sealed=row["message_sealed"],
        created_at=row["created_at"],
        attempts=row["attempts"] or 0,
        next_at=row["next_at"] or row["created_at"],
    )


class OutboxRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, record: OutboxRecord) -> None:
        await self._store.put(
            MAIL_OUTBOX,
            {
                "queue": QUEUE,
                "mail_id": record.mail_id,
                "kind": record.kind,
                "message_sealed": record.message_sealed,
                "created_at": record.created_at,
                "attempts": record.attempts,
                "next_at": record.next_at,
            },
        )

    async def page(
        self, *, limit: int, after: str | None = None
    ) -> tuple[list[OutboxRecord], str | None]:
        """Up to `limit` waiting mails, oldest first, after mail id `after`, and the id to page
        on from (None at the end). Leftover partial rows are deleted on the way."""
        rows = await self._store.scan(
            MAIL_OUTBOX,
            {"queue": QUEUE},
            limit=limit,
            after=None if after is None else (after,),
        )
        records: list[OutboxRecord] = []
        for row in rows:
            record = _record(row)
            if record is None:
                await self._store.delete(MAIL_OUTBOX, {"queue": QUEUE, "mail_id": row["mail_id"]})
            else:
                records.append(record)
        last = rows[-1]["mail_id"] if len(rows) == limit else None
        return records, last

    async def get(self, mail_id: str) -> OutboxRecord | None:
        row = await self._store.get(MAIL_OUTBOX, {"queue": QUEUE, "mail_id": mail_id})
        return None if row is None else _record(row)

    async def count(self, *, limit: int = 10_000) -> int:
        return await self._store.count(MAIL_OUTBOX, {"queue": QUEUE}, limit=limit)

    async def claims(self, mail_id: str) -> list[ClaimRecord]:
        rows = await self._store.scan(MAIL_CLAIMS, {"mail_id": mail_id}, limit=1000)
        return [
            ClaimRecord(
                mail_id=mail_id,
                attempt=int(str(row["claim"]).partition(":")[0]),
                claim=row["claim"],
                node_id=row["node_id"] or "",
                claimed_at=row["claimed_at"],
            )
            for row in rows
        ]

    async def claim(self, mail_id: str, claim: str, node_id: str, at: datetime) -> bool:
        """Take an attempt: True for the one node whose insert landed first."""
        row = {"mail_id": mail_id, "claim": claim, "node_id": node_id, "claimed_at": at}
        return await self._store.put_if_absent(MAIL_CLAIMS, row)

    async def release(self, mail_id: str, claim: str) -> None:
        await self._store.delete(MAIL_CLAIMS, {"mail_id": mail_id, "claim": claim})

    async def reschedule(self, mail_id: str, attempts: int, next_at: datetime) -> None:
        await self._store.update(
            MAIL_OUTBOX,
            {"queue": QUEUE, "mail_id": mail_id},
            {"attempts": attempts, "next_at": next_at},
        )

    async def remove(self, mail_id: str) -> None:
        """The mail was handed on (or given up): the row, then its claims."""
        await self._store.delete(MAIL_OUTBOX, {"queue": QUEUE, "mail_id": mail_id})
        await self._store.delete_partition(MAIL_CLAIMS, {"mail_id": mail_id})
