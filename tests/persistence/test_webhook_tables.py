"""The webhook tables on every engine: migration 20, the outbox paged oldest first, claims
taken once, the log newest first and trimmed, incoming webhooks found by token hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.accounts import UserRecord
from persistence.ids import new_id
from persistence.incoming_webhooks import (
    INCOMING_WEBHOOK_TABLES,
    IncomingWebhookRecord,
    IncomingWebhookRepository,
)
from persistence.migrations import MIGRATIONS, Migration
from persistence.scylla.cql import create_table_cql
from persistence.store import Store
from persistence.webhooks import (
    WEBHOOK_LOG,
    WEBHOOK_OUTBOX,
    WEBHOOK_TABLES,
    AttemptRecord,
    DeliveryRecord,
    EndpointRecord,
    WebhookRepository,
)

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_webhook_tables_are_migration_20_and_compile_to_cql() -> None:
    assert MIGRATIONS[19] == Migration(
        20, "outgoing and incoming webhooks", (*WEBHOOK_TABLES, *INCOMING_WEBHOOK_TABLES)
    )
    assert "PRIMARY KEY ((queue), delivery_id)" in create_table_cql(WEBHOOK_OUTBOX, "cove")
    assert "CLUSTERING ORDER BY (attempt_id DESC)" in create_table_cql(WEBHOOK_LOG, "cove")
    for table in (*WEBHOOK_TABLES, *INCOMING_WEBHOOK_TABLES):
        assert create_table_cql(table, "cove").startswith("CREATE TABLE")


async def test_deliveries_page_oldest_first_and_claims_are_taken_once(store: Store) -> None:
    repo = WebhookRepository(store)
    ids = [new_id(at=AT + timedelta(seconds=n)) for n in range(5)]
    for delivery_id in reversed(ids):
        await repo.add(
            DeliveryRecord(delivery_id, "e", "msg_" + delivery_id, "ping", "{}", AT, 0, AT)
        )
    first, after = await repo.page(limit=3)
    rest, end = await repo.page(limit=3, after=after)
    assert [d.delivery_id for d in first + rest] == ids and end is None
    assert await repo.claim(ids[0], "000000:1", "node-a", AT)
    assert not await repo.claim(ids[0], "000000:1", "node-b", AT)
    assert await repo.claims(ids[0]) == [(0, AT)]
    await repo.reschedule(ids[0], 1, AT + timedelta(minutes=1))
    again = await repo.get(ids[0])
    assert again is not None and (again.attempts, again.next_at) == (1, AT + timedelta(minutes=1))
    await repo.remove(ids[0])
    assert await repo.get(ids[0]) is None and await repo.claims(ids[0]) == []
    # A late reschedule of a removed delivery leaves a partial row: paging drops it.
    await repo.reschedule(ids[0], 2, AT)
    assert ids[0] not in [d.delivery_id for d in (await repo.page(limit=10))[0]]
    assert await repo.count() == 4


async def test_the_log_is_newest_first_and_trimmed(store: Store) -> None:
    repo = WebhookRepository(store)
    await repo.add_endpoint(EndpointRecord("e", "owner", b"u", b"s", AT, None, 0, None))
    made = []
    for n in range(7):
        attempt = AttemptRecord(
            "e",
            new_id(at=AT + timedelta(seconds=n)),
            "d",
            "msg_d",
            "ping",
            "{}",
            AT,
            500,
            3,
            "http_status",
            False,
        )
        made.append(attempt.attempt_id)
        await repo.log(attempt, keep=4)
    kept = await repo.attempts("e", limit=10)
    assert [a.attempt_id for a in kept] == made[::-1][:4]
    older = await repo.attempts("e", limit=10, before=kept[1].attempt_id)
    assert [a.attempt_id for a in older] == made[::-1][2:4]
    assert await repo.attempt("e", made[0]) is None and await repo.attempt("e", made[6])
    await repo.set_health("e", consecutive_failures=3, failing_since=AT, disabled_at=AT)
    endpoint = await repo.endpoint("e")
    assert endpoint is not None and (endpoint.consecutive_failures, endpoint.disabled_at) == (3, AT)
    await repo.delete_endpoint("e")
    assert await repo.endpoint("e") is None and await repo.attempts("e", limit=10) == []


async def test_incoming_webhooks_are_found_by_token_hash_and_deleted(store: Store) -> None:
    repo = IncomingWebhookRepository(store)
    bot = UserRecord("bot", b"", b"sealed name", "", AT, AT)
    record = IncomingWebhookRecord("w", "c", "ws", "bot", "creator", AT, b"\x01" * 32)
    await repo.create(record, bot)
    assert await repo.by_token(b"\x01" * 32) == record
    assert await repo.by_token(b"\x02" * 32) is None
    assert await repo.in_channel("c", limit=10) == [record]
    assert await repo.get("c", "w") == record
    await repo.delete(record)
    assert await repo.by_token(b"\x01" * 32) is None and await repo.in_channel("c", limit=10) == []
