"""Apps' codes and tokens are forgotten once their hour of expiry has passed (migration 24),
on every engine; those of later hours stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.apps import APP_EXPIRY_TABLES, AppRepository, CodeRecord, TokenRecord
from persistence.expiry import expiry_hour
from persistence.migrations import MIGRATIONS, Migration
from persistence.store import Store

SOON = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
LATER = SOON + timedelta(days=30)


def test_the_expiry_table_is_migration_24() -> None:
    assert MIGRATIONS[23] == Migration(24, "apps' codes and tokens by expiry", APP_EXPIRY_TABLES)


def code(code_hash: bytes) -> CodeRecord:
    return CodeRecord(
        code_hash, "app", "ws", "messages:read", "https://x/cb", "c", "u", SOON, False, ""
    )


def token(token_hash: bytes, kind: str, expires_at: datetime) -> TokenRecord:
    return TokenRecord(
        token_hash, kind, "grant", "app", "ws", "bot", "messages:read", 1, expires_at, False
    )


async def test_codes_and_tokens_are_forgotten_by_their_hour(store: Store) -> None:
    apps = AppRepository(store)
    await apps.add_grant("app", "grant", "ws", SOON)
    await apps.add_code(code(b"c" * 32))
    await apps.add_token(token(b"a" * 32, "access", SOON))
    await apps.add_token(token(b"r" * 32, "refresh", LATER))
    assert await apps.forget_expired(expiry_hour(SOON) - 1) == 0
    assert await apps.forget_expired(expiry_hour(SOON)) == 2
    assert await apps.get_code(b"c" * 32) is None
    assert await apps.get_token(b"a" * 32) is None
    assert await apps.get_token(b"r" * 32) is not None  # its hour is a month away
    assert await apps.forget_expired(expiry_hour(LATER)) == 1
    assert await apps.get_token(b"r" * 32) is None
    # Ending the family finds no token left to delete, and goes through.
    await apps.end_grant("app", "grant")
    assert not await apps.has_grant("app", "grant")
