"""Outgoing webhooks: endpoints, the delivery outbox with its claims, and each endpoint's log.

An endpoint's URL and signing secret are sealed; its owner, state and counters stay clear.
A delivery waits in the outbox (one partition, oldest first: delivery ids are time-ordered)
until its endpoint accepts it or it is given up; its payload is thin (event type and ids,
nothing decrypted), so it is kept clear. The log keeps each endpoint's latest attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Row, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Store

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT

WEBHOOK_ENDPOINTS = Table(
    name="webhook_endpoints",
    partition_key=(Column("endpoint_id", _TEXT),),
    values=(
        Column("owner_id", _TEXT),
        Column("url_sealed", ColumnType.BLOB),
        Column("secret_sealed", ColumnType.BLOB),
        Column("created_at", _TIME),
        Column("disabled_at", _TIME),
        Column("consecutive_failures", _INT),
        Column("failing_since", _TIME),
    ),
)

QUEUE = "webhooks"
WEBHOOK_OUTBOX = Table(
    name="webhook_outbox",
    partition_key=(Column("queue", _TEXT),),
    clustering=(Column("delivery_id", _TEXT),),
    values=(
        Column("endpoint_id", _TEXT),
        Column("message_id", _TEXT),  # the `webhook-id`, the same on every attempt
        Column("event_type", _TEXT),
        Column("payload", _TEXT),
        Column("created_at", _TIME),
        Column("attempts", _INT),
        Column("next_at", _TIME),
    ),
)

# "<attempt>:<lease slot>" rows inserted if absent, as for mail (persistence/outbox.py).
WEBHOOK_CLAIMS = Table(
    name="webhook_claims",
    partition_key=(Column("delivery_id", _TEXT),),
    clustering=(Column("claim", _TEXT),),
    values=(Column("node_id", _TEXT), Column("claimed_at", _TIME)),
)

# Every attempt, newest first per endpoint; trimmed to the newest LOG_KEEP.
WEBHOOK_LOG = Table(
    name="webhook_log",
    partition_key=(Column("endpoint_id", _TEXT),),
    clustering=(Column("attempt_id", _TEXT),),
    order=Order.DESC,
    values=(
        Column("delivery_id", _TEXT),
        Column("message_id", _TEXT),
        Column("event_type", _TEXT),
        Column("payload", _TEXT),
        Column("attempted_at", _TIME),
        Column("status_code", _INT),
        Column("duration_ms", _INT),
        Column("error", _TEXT),
        Column("succeeded", ColumnType.BOOLEAN),
    ),
)

WEBHOOK_TABLES = (WEBHOOK_ENDPOINTS, WEBHOOK_OUTBOX, WEBHOOK_CLAIMS, WEBHOOK_LOG)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    endpoint_id: str
    owner_id: str
    url_sealed: bytes
    secret_sealed: bytes
    created_at: datetime
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    delivery_id: str
    endpoint_id: str
    message_id: str
    event_type: str
    payload: str
    created_at: datetime
    attempts: int
    next_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    endpoint_id: str
    attempt_id: str
    delivery_id: str
    message_id: str
    event_type: str
    payload: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str
    succeeded: bool


def _endpoint(row: Row) -> EndpointRecord:
    return EndpointRecord(
        endpoint_id=row["endpoint_id"],
        owner_id=row["owner_id"] or "",
        url_sealed=row["url_sealed"] or b"",
        secret_sealed=row["secret_sealed"] or b"",
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        consecutive_failures=row["consecutive_failures"] or 0,
        failing_since=row["failing_since"],
    )


def _delivery(row: Row) -> DeliveryRecord | None:
    if row["created_at"] is None or row["endpoint_id"] is None:
        return None  # a row recreated by a late reschedule of a delivery already done
    return DeliveryRecord(
        delivery_id=row["delivery_id"],
        endpoint_id=row["endpoint_id"],
        message_id=row["message_id"] or row["delivery_id"],
        event_type=row["event_type"] or "",
        payload=row["payload"] or "{}",
        created_at=row["created_at"],
        attempts=row["attempts"] or 0,
        next_at=row["next_at"] or row["created_at"],
    )


class WebhookRepository:
    """Endpoints, queued deliveries, their claims and the per-endpoint log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Endpoints

    async def add_endpoint(self, record: EndpointRecord) -> None:
        await self._store.put(WEBHOOK_ENDPOINTS, to_row(record))

    async def endpoint(self, endpoint_id: str) -> EndpointRecord | None:
        row = await self._store.get(WEBHOOK_ENDPOINTS, {"endpoint_id": endpoint_id})
        return None if row is None or row["created_at"] is None else _endpoint(row)

    async def set_health(
        self,
        endpoint_id: str,
        *,
        consecutive_failures: int,
        failing_since: datetime | None,
        disabled_at: datetime | None,
    ) -> None:
        await self._store.update(
            WEBHOOK_ENDPOINTS,
            {"endpoint_id": endpoint_id},
            {
                "consecutive_failures": consecutive_failures,
                "failing_since": failing_since,
                "disabled_at": disabled_at,
            },
        )

    async def delete_endpoint(self, endpoint_id: str) -> None:
        await self._store.delete(WEBHOOK_ENDPOINTS, {"endpoint_id": endpoint_id})
        await self._store.delete_partition(WEBHOOK_LOG, {"endpoint_id": endpoint_id})

    # The outbox

    async def add(self, record: DeliveryRecord) -> None:
        await self._store.put(WEBHOOK_OUTBOX, {"queue": QUEUE, **to_row(record)})

    async def page(
        self, *, limit: int, after: str | None = None
    ) -> tuple[list[DeliveryRecord], str | None]:
        """Up to `limit` queued deliveries, oldest first, after `after`, and the id to page on
        from (None at the end). Leftover partial rows are deleted on the way."""
        rows = await self._store.scan(
            WEBHOOK_OUTBOX,
            {"queue": QUEUE},
            limit=limit,
            after=None if after is None else (after,),
        )
        records: list[DeliveryRecord] = []
        for row in rows:
            record = _delivery(row)
            if record is None:
                await self._forget(row["delivery_id"])
            else:
                records.append(record)
        last = rows[-1]["delivery_id"] if len(rows) == limit else None
        return records, last

    async def get(self, delivery_id: str) -> DeliveryRecord | None:
        row = await self._store.get(WEBHOOK_OUTBOX, {"queue": QUEUE, "delivery_id": delivery_id})
        return None if row is None else _delivery(row)

    async def count(self, *, limit: int = 10_000) -> int:
        return await self._store.count(WEBHOOK_OUTBOX, {"queue": QUEUE}, limit=limit)

    async def claims(self, delivery_id: str) -> list[tuple[int, datetime]]:
        """(attempt, claimed at) of each claim taken on a delivery."""
        rows = await self._store.scan(WEBHOOK_CLAIMS, {"delivery_id": delivery_id}, limit=1000)
        return [(int(str(row["claim"]).partition(":")[0]), row["claimed_at"]) for row in rows]

    async def claim(self, delivery_id: str, claim: str, node_id: str, at: datetime) -> bool:
        """Take an attempt: True for the one node whose insert landed first."""
        row = {"delivery_id": delivery_id, "claim": claim, "node_id": node_id, "claimed_at": at}
        return await self._store.put_if_absent(WEBHOOK_CLAIMS, row)

    async def release(self, delivery_id: str, claim: str) -> None:
        await self._store.delete(WEBHOOK_CLAIMS, {"delivery_id": delivery_id, "claim": claim})

    async def reschedule(self, delivery_id: str, attempts: int, next_at: datetime) -> None:
        await self._store.update(
            WEBHOOK_OUTBOX,
            {"queue": QUEUE, "delivery_id": delivery_id},
            {"attempts": attempts, "next_at": next_at},
        )

    async def remove(self, delivery_id: str) -> None:
        """The delivery was accepted (or given up): the row, then its claims."""
        await self._forget(delivery_id)

    async def _forget(self, delivery_id: str) -> None:
        await self._store.delete(WEBHOOK_OUTBOX, {"queue": QUEUE, "delivery_id": delivery_id})
        await self._store.delete_partition(WEBHOOK_CLAIMS, {"delivery_id": delivery_id})

    # The log

    async def log(self, attempt: AttemptRecord, *, keep: int) -> None:
        """Record an attempt, and delete what lies beyond the newest `keep` of its endpoint."""
        await self._store.put(WEBHOOK_LOG, to_row(attempt))
        old = await self._store.scan(
            WEBHOOK_LOG, {"endpoint_id": attempt.endpoint_id}, limit=keep + 50
        )
        if len(old) > keep:
            await self._store.batch(
                [
                    Delete(WEBHOOK_LOG, {"endpoint_id": attempt.endpoint_id, "attempt_id": a})
                    for a in (row["attempt_id"] for row in old[keep:])
                ]
            )

    async def attempts(
        self, endpoint_id: str, *, limit: int, before: str | None = None
    ) -> list[AttemptRecord]:
        """The newest attempts of an endpoint first, older than attempt `before` if given."""
        rows = await self._store.scan(
            WEBHOOK_LOG,
            {"endpoint_id": endpoint_id},
            limit=limit,
            after=None if before is None else (before,),
        )
        return [from_row(AttemptRecord, row) for row in rows]

    async def attempt(self, endpoint_id: str, attempt_id: str) -> AttemptRecord | None:
        row = await self._store.get(
            WEBHOOK_LOG, {"endpoint_id": endpoint_id, "attempt_id": attempt_id}
        )
        return None if row is None else from_row(AttemptRecord, row)
