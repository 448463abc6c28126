"""The ONLYOFFICE tables on every engine: migration 21 (22 once Jitsi's lands), sessions kept
while they edit a version, tokens by hash, claims taken once, expired tokens forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.expiry import expiry_hour
from persistence.migrations import MIGRATIONS
from persistence.office import (
    CALLBACK,
    DOWNLOAD,
    OFFICE_TABLES,
    OfficeEditorRecord,
    OfficeRepository,
    OfficeSessionRecord,
    OfficeTokenRecord,
)
from persistence.scylla.cql import create_table_cql
from persistence.store import Store

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_office_tables_are_a_migration_and_compile_to_cql() -> None:
    migration = next(m for m in MIGRATIONS if m.creates == OFFICE_TABLES)
    assert migration.name == "ONLYOFFICE sessions and tokens"
    for table in OFFICE_TABLES:
        assert create_table_cql(table, "cove").startswith("CREATE TABLE")


def _token(token_hash: bytes, kind: str, expires: datetime) -> OfficeTokenRecord:
    return OfficeTokenRecord(token_hash, kind, "key", "f", "v1", "w", "u", "s", expires)


async def test_sessions_tokens_and_claims(store: Store) -> None:
    repo = OfficeRepository(store)
    editor = OfficeEditorRecord("key", "u", "s", True, AT)
    tokens = [_token(b"d" * 32, DOWNLOAD, AT), _token(b"c" * 32, CALLBACK, AT + timedelta(hours=5))]
    await repo.open(
        OfficeSessionRecord("key", "f", "w", "v1", AT, AT + timedelta(hours=5)), editor, tokens
    )
    # A co-editor joins the session as it is, even after a force save moved it on; who
    # opens the version it made finds its key.
    assert await repo.live_key("v2") is None
    await repo.move_session("key", "v2")
    assert await repo.live_key("v2") == "key"
    joiner = OfficeEditorRecord("key", "u2", "s2", False, AT)
    await repo.open(
        OfficeSessionRecord("key", "f", "w", "v2", AT, AT + timedelta(hours=6)), joiner, []
    )
    session = await repo.session("key")
    assert session is not None and session.version_id == "v2"
    assert await repo.editor("key", "u") == editor and await repo.editor("key", "u2") == joiner
    # An ended session starts afresh when its version opens again.
    await repo.move_session("key", "")
    assert await repo.live_key("v2") is None
    await repo.open(
        OfficeSessionRecord("key", "f", "w", "v1", AT, AT + timedelta(hours=5)), editor, []
    )
    again = await repo.session("key")
    assert again is not None and again.version_id == "v1"
    assert await repo.token(b"d" * 32) == tokens[0]
    assert await repo.claim(b"d" * 32, DOWNLOAD, AT)
    assert not await repo.claim(b"d" * 32, DOWNLOAD, AT)
    await repo.release(b"d" * 32, DOWNLOAD)
    assert await repo.claim(b"d" * 32, DOWNLOAD, AT)
    assert await repo.forget_expired(expiry_hour(AT)) == 1
    assert await repo.token(b"d" * 32) is None
    assert await repo.claim(b"d" * 32, DOWNLOAD, AT)  # its claim went with it
    assert await repo.token(b"c" * 32) == tokens[1]
    assert await repo.claim_save("key", "save:v1", AT)
    assert not await repo.claim_save("key", "save:v1", AT)


async def test_a_session_is_forgotten_after_its_newest_callback_url(store: Store) -> None:
    repo = OfficeRepository(store)
    first, later = AT + timedelta(hours=1), AT + timedelta(hours=3)
    editor = OfficeEditorRecord("k2", "u", "s", True, AT)
    await repo.open(OfficeSessionRecord("k2", "f", "w", "v1", AT, first), editor, [])
    joiner = OfficeEditorRecord("k2", "u2", "s2", True, AT)
    await repo.open(OfficeSessionRecord("k2", "f", "w", "v1", AT, later), joiner, [])
    await repo.move_session("k2", "v2")
    assert await repo.claim_save("k2", "save:v1", AT)
    await repo.forget_expired(expiry_hour(first))
    assert await repo.session("k2") is not None  # the joiner's URL still lives
    await repo.forget_expired(expiry_hour(later))
    assert await repo.session("k2") is None
    assert await repo.editor("k2", "u") is None and await repo.editor("k2", "u2") is None
    assert await repo.live_key("v2") is None
    assert await repo.claim_save("k2", "save:v1", AT)
