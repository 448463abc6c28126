"""AccountRepository over every engine: email claims, users, sessions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from persistence.accounts import (
    SESSIONS_BY_TOKEN,
    SESSIONS_BY_USER,
    USER_ID_BY_EMAIL,
    USERS,
    AccountRepository,
    SessionRecord,
    UserRecord,
)
from persistence.declare import Row, Table
from persistence.ids import new_id
from persistence.store import Delete, Put, Store, StoreError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def user(user_id: str = "u1", **changes: Any) -> UserRecord:
    record = UserRecord(
        user_id=user_id,
        email_sealed=b"\x01sealed-email\x00",
        display_name_sealed=b"\x01sealed-name",
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        created_at=T0,
        updated_at=T0,
    )
    return replace(record, **changes)


def session(user_id: str, minutes: int) -> SessionRecord:
    created = T0 + timedelta(minutes=minutes)
    return SessionRecord(
        session_id=new_id(at=created),
        user_id=user_id,
        token_hash=f"token-{user_id}-{minutes}".encode(),
        created_at=created,
        expires_at=created + timedelta(days=30),
    )


class FailingUserWrites:
    """A real store whose writes to USERS fail, as a full disk or a lost node would.

    A fake, because no real engine can be made to fail one chosen write on demand.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    async def put(self, table: Table, row: Mapping[str, Any]) -> None:
        if table is USERS:
            raise StoreError("simulated failure writing the user row")
        await self._store.put(table, row)

    async def put_if_absent(self, table: Table, row: Mapping[str, Any]) -> bool:
        return await self._store.put_if_absent(table, row)

    async def get(self, table: Table, key: Mapping[str, Any]) -> Row | None:
        return await self._store.get(table, key)

    async def scan(self, table: Table, partition: Mapping[str, Any], **kwargs: Any) -> list[Row]:
        return await self._store.scan(table, partition, **kwargs)

    async def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        await self._store.delete(table, key)

    async def delete_partition(self, table: Table, partition: Mapping[str, Any]) -> None:
        await self._store.delete_partition(table, partition)

    async def batch(self, ops: Sequence[Put | Delete]) -> None:
        await self._store.batch(ops)

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()


@pytest.fixture
def accounts(store: Store) -> AccountRepository:
    return AccountRepository(store)


async def test_create_user_stores_the_user_and_claims_the_email(
    accounts: AccountRepository,
) -> None:
    assert await accounts.create_user(user(), b"index-a") is True
    assert await accounts.get_user("u1") == user()
    assert await accounts.find_user_id_by_email(b"index-a") == "u1"
    assert await accounts.find_user_id_by_email(b"index-b") is None
    assert await accounts.get_user("nobody") is None


async def test_an_email_is_claimed_once(accounts: AccountRepository) -> None:
    assert await accounts.create_user(user("u1"), b"index-a") is True
    second = user("u2", password_hash="other", email_sealed=b"other")
    assert await accounts.create_user(second, b"index-a") is False
    assert await accounts.get_user("u2") is None
    assert await accounts.get_user("u1") == user("u1")
    assert await accounts.find_user_id_by_email(b"index-a") == "u1"


async def test_a_failed_sign_up_leaves_no_trace(store: Store) -> None:
    failing = AccountRepository(FailingUserWrites(store))
    with pytest.raises(StoreError, match="simulated"):
        await failing.create_user(user(), b"index-a")
    assert await store.get(USER_ID_BY_EMAIL, {"email_index": b"index-a"}) is None
    assert await store.get(USERS, {"user_id": "u1"}) is None
    # The email is free again for a sign-up that works.
    assert await AccountRepository(store).create_user(user(), b"index-a") is True


async def test_a_malformed_record_claims_nothing(
    accounts: AccountRepository,
) -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        await accounts.create_user(user(updated_at=naive), b"index-a")
    with pytest.raises(ValueError, match="empty"):
        await accounts.create_user(user(""), b"index-a")
    assert await accounts.find_user_id_by_email(b"index-a") is None


async def test_password_and_display_name_updates(accounts: AccountRepository) -> None:
    await accounts.create_user(user(), b"index-a")
    later = T0 + timedelta(hours=1)
    assert await accounts.set_password_hash("u1", "new-hash", later) is True
    assert await accounts.get_user("u1") == user(password_hash="new-hash", updated_at=later)
    latest = later + timedelta(hours=1)
    assert await accounts.set_display_name("u1", b"new-name", latest) is True
    assert await accounts.get_user("u1") == user(
        password_hash="new-hash", display_name_sealed=b"new-name", updated_at=latest
    )
    assert await accounts.set_password_hash("nobody", "x", later) is False
    assert await accounts.set_display_name("nobody", b"x", later) is False
    assert await accounts.get_user("nobody") is None


async def test_a_session_is_found_by_token_and_by_user(accounts: AccountRepository) -> None:
    made = session("u1", 0)
    await accounts.create_session(made)
    assert await accounts.get_session_by_token(made.token_hash) == made
    assert await accounts.get_session("u1", made.session_id) == made
    assert await accounts.get_session("u2", made.session_id) is None
    assert await accounts.get_session_by_token(b"unknown") is None


async def test_sessions_list_newest_first_in_pages(accounts: AccountRepository) -> None:
    made = [session("u1", minutes) for minutes in range(7)]
    for record in made:
        await accounts.create_session(record)
    await accounts.create_session(session("u2", 3))
    newest_first = made[::-1]
    pages: list[list[SessionRecord]] = []
    after: str | None = None
    while page := await accounts.list_sessions("u1", limit=3, after_session_id=after):
        pages.append(page)
        after = page[-1].session_id
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [record for page in pages for record in page] == newest_first


async def test_delete_session_removes_it_from_both_tables(
    accounts: AccountRepository, store: Store
) -> None:
    kept, gone = session("u1", 0), session("u1", 1)
    await accounts.create_session(kept)
    await accounts.create_session(gone)
    await accounts.delete_session(gone)
    assert await accounts.get_session_by_token(gone.token_hash) is None
    assert await accounts.get_session("u1", gone.session_id) is None
    assert await accounts.list_sessions("u1", limit=10) == [kept]
    assert await store.get(SESSIONS_BY_TOKEN, {"token_hash": kept.token_hash}) is not None
    key = {"user_id": "u1", "session_id": gone.session_id}
    assert await store.get(SESSIONS_BY_USER, key) is None


async def test_delete_user_removes_the_user_sessions_and_claim(
    accounts: AccountRepository,
) -> None:
    await accounts.create_user(user("u1"), b"index-a")
    await accounts.create_user(user("u2"), b"index-b")
    made = [session("u1", minutes) for minutes in range(3)]
    for record in made:
        await accounts.create_session(record)
    await accounts.create_session(session("u2", 0))
    await accounts.delete_user(user("u1"), b"index-a")
    assert await accounts.get_user("u1") is None
    assert await accounts.find_user_id_by_email(b"index-a") is None
    assert await accounts.list_sessions("u1", limit=10) == []
    for record in made:
        assert await accounts.get_session_by_token(record.token_hash) is None
    assert await accounts.get_user("u2") == user("u2")
    assert len(await accounts.list_sessions("u2", limit=10)) == 1


async def test_delete_user_leaves_another_users_claim(accounts: AccountRepository) -> None:
    await accounts.create_user(user("u1"), b"index-a")
    await accounts.delete_user(user("u2"), b"index-a")
    assert await accounts.find_user_id_by_email(b"index-a") == "u1"
