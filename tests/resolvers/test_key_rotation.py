"""Root key rotation in the resolvers (`resolvers/key_rotation.py`), on a SQLite store: an
install from before rotation keeps its derived keys, a start stores the master secret, and
a root key that opens nothing is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto.keyring import MASTER_SCOPE, MASTER_VERSION, Keyring
from crypto.root_key import generate_install_salt, generate_root_key
from persistence.keys import DataKeyRecord, DataKeyRepository
from persistence.sqlite import SqliteStore
from resolvers.key_rotation import RootKeyMismatch, adopt_stored_master, rotate_root

SALT = generate_install_salt()


def now() -> datetime:
    return datetime.now(UTC)


async def legacy_install(path: Path, root_key: bytes) -> tuple[SqliteStore, DataKeyRepository]:
    """Keys stored as before rotation existed: no master secret in the store."""
    store = await SqliteStore.open(path)
    repo = DataKeyRepository(store)
    ring = Keyring(root_key, SALT)
    for scope in ("account", "ws1", "ws2"):
        _, wrapped = ring.new_data_key(scope, 1)
        await repo.add_if_absent(DataKeyRecord(scope, 1, wrapped, now()))
    return store, repo


async def test_the_first_rotation_keeps_derived_keys(tmp_path: Path) -> None:
    old, new = generate_root_key(), generate_root_key()
    store, repo = await legacy_install(tmp_path / "cove.db", old)
    before = Keyring(old, SALT)
    try:
        window = Keyring(new, SALT, old)
        await adopt_stored_master(window, repo, now)  # a server in the window stores nothing
        assert await repo.get(MASTER_SCOPE, MASTER_VERSION) is None
        assert window.derive(b"realtime broker") == before.derive(b"realtime broker")

        report = await rotate_root(window, repo, now)
        assert (report.keys, report.rewrapped, report.passes) == (4, 3, 2)
        assert {by for _, _, by in await repo.index_page(10)} == {window.root_key_id()}

        after = Keyring(new, SALT)
        await adopt_stored_master(after, repo, now)
        assert after.blind_index("email", "a@b.c") == before.blind_index("email", "a@b.c")
        for scope in ("account", "ws1", "ws2"):
            record = await repo.get(scope, 1)
            assert record is not None
            after.unwrap(scope, 1, record.wrapped)
        with pytest.raises(RootKeyMismatch, match="install/master v1 is wrapped under root key"):
            await adopt_stored_master(Keyring(old, SALT), repo, now)
        again = await rotate_root(Keyring(new, SALT, old), repo, now)
        assert (again.rewrapped, again.passes) == (0, 1)
    finally:
        await store.close()


async def test_a_start_stores_the_master_secret_once_the_key_is_checked(tmp_path: Path) -> None:
    key = generate_root_key()
    store, repo = await legacy_install(tmp_path / "cove.db", key)
    try:
        with pytest.raises(RootKeyMismatch, match="the configured root key is"):
            await adopt_stored_master(Keyring(generate_root_key(), SALT), repo, now)
        assert await repo.get(MASTER_SCOPE, MASTER_VERSION) is None  # a wrong key stores nothing

        ring = Keyring(key, SALT)
        await adopt_stored_master(ring, repo, now)
        stored = await repo.get(MASTER_SCOPE, MASTER_VERSION)
        assert stored is not None
        assert ring.wrapped_under_root(MASTER_SCOPE, MASTER_VERSION, stored.wrapped)
        # Its value is the root key's: derived keys are what they were.
        later = Keyring(key, SALT)
        await adopt_stored_master(later, repo, now)
        assert later.derive(b"x") == Keyring(key, SALT).derive(b"x")
        assert await repo.get(MASTER_SCOPE, MASTER_VERSION) == stored
    finally:
        await store.close()


async def test_a_rotation_without_the_old_key_writes_nothing(tmp_path: Path) -> None:
    store, repo = await legacy_install(tmp_path / "cove.db", generate_root_key())
    try:
        stranger = Keyring(generate_root_key(), SALT, generate_root_key())
        with pytest.raises(RootKeyMismatch, match="neither the new root key"):
            await rotate_root(stranger, repo, now)
        assert await repo.get(MASTER_SCOPE, MASTER_VERSION) is None
        assert {by for _, _, by in await repo.index_page(10)} == {""}
    finally:
        await store.close()
