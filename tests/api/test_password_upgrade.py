"""Hashes are upgraded on log-in: changed Argon2 parameters and imported PBKDF2 hashes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from api.app import create_app
from persistence.accounts import AccountRepository
from persistence.sqlite.engine import SqliteStore
from support import LOG_IN, PASSWORD, make_settings, serve, sign_up, sqlite_only


async def _password_hash(db: Path, user_id_raw: str) -> str:
    store = await SqliteStore.open(db)
    try:
        user = await AccountRepository(store).get_user(user_id_raw)
        assert user is not None
        return user.password_hash
    finally:
        await store.close()


async def _set_password_hash(db: Path, user_id_raw: str, value: str) -> None:
    store = await SqliteStore.open(db)
    try:
        repo = AccountRepository(store)
        user = await repo.get_user(user_id_raw)
        assert user is not None
        await repo.set_password_hash(user_id_raw, value, user.updated_at)
    finally:
        await store.close()


def _raw_id(global_id: str) -> str:
    return (
        base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":", 1)[1]
    )


@sqlite_only  # reads and plants hashes in the SQLite file
@pytest.mark.asyncio
async def test_rehash_when_parameters_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(make_settings(data)) as server:
        _, user = sign_up(server.client(), "rehash@example.org")
    raw = _raw_id(user["id"])
    before = await _password_hash(data / "cove.db", raw)
    assert before.startswith("$argon2id$") and "m=19456,t=2" in before
    with serve(make_settings(data, argon2_time_cost=3)) as server:
        server.client().data(LOG_IN, {"email": "rehash@example.org", "password": PASSWORD})
    after = await _password_hash(data / "cove.db", raw)
    assert after.startswith("$argon2id$") and "t=3" in after


@sqlite_only
@pytest.mark.asyncio
async def test_imported_pbkdf2_hash_verifies_once_then_is_upgraded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(make_settings(data)) as server:
        _, user = sign_up(server.client(), "legacy@example.org")
    raw = _raw_id(user["id"])
    salt = "legacysalt"
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), 100_000)
    legacy = f"pbkdf2_sha256$100000${salt}${base64.b64encode(digest).decode()}"
    await _set_password_hash(data / "cove.db", raw, legacy)
    with serve(make_settings(data)) as server:
        client = server.client()
        wrong = client.run(LOG_IN, {"email": "legacy@example.org", "password": "wrong password"})
        assert wrong["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert await _password_hash(data / "cove.db", raw) == legacy
        client.data(LOG_IN, {"email": "legacy@example.org", "password": PASSWORD})
    upgraded = await _password_hash(data / "cove.db", raw)
    assert upgraded.startswith("$argon2id$")


def test_app_refuses_a_root_key_others_can_read(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    settings.resolved_root_key_file.chmod(0o644)
    with pytest.raises(Exception, match=r"0600|mode"):
        create_app(settings)
