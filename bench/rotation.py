"""Root key rotation (`cove keys rotate-root`) over an install of `--rows` sealed rows in
`--scopes` workspaces, against reading and opening those same rows once.

A root key rotation re-wraps data keys (one per workspace and key version) and the master
secret; sealed rows are never touched, so its time follows the number of keys and not of
rows. The baseline is the least a per-row pass could cost: read every sealed row from the
same SQLite file and open it. Both run in this process, on the real store and keyring.
Run: python -m bench.rotation [--rows 100000] [--scopes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crypto.field_seal import DataKey, FieldRef, _open_field, seal_field
from crypto.keyring import Keyring
from crypto.root_key import generate_install_salt, generate_root_key
from persistence.keys import DataKeyRecord, DataKeyRepository
from persistence.sqlite import SqliteStore
from resolvers.key_rotation import rotate_root

ROW_BYTES = 200  # a message's text, about


def now() -> datetime:
    return datetime.now(UTC)


async def build(db: Path, old: Keyring, rows: int, scopes: int) -> dict[str, DataKey]:
    store = await SqliteStore.open(db)
    repo = DataKeyRepository(store)
    keys: dict[str, DataKey] = {}
    for n in range(scopes):
        key, wrapped = old.new_data_key(f"ws{n:06d}", 1)
        await repo.add_if_absent(DataKeyRecord(key.scope, 1, wrapped, now()), old.root_key_id())
        keys[key.scope] = key
    await store.close()
    scope_names = list(keys)
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE payload (id TEXT PRIMARY KEY, scope TEXT, sealed BLOB)")
        connection.executemany(
            "INSERT INTO payload VALUES (?, ?, ?)",
            (
                (f"m{i}", scope, seal_field(keys[scope], ref(i, scope), os.urandom(ROW_BYTES)))
                for i in range(rows)
                for scope in (scope_names[i % scopes],)
            ),
        )
    return keys


def ref(i: int, scope: str) -> FieldRef:
    return FieldRef("message", "text", f"m{i}", scope)


def read_and_open(db: Path, keys: dict[str, DataKey]) -> int:
    opened = 0
    with sqlite3.connect(db) as connection:
        for row_id, scope, sealed in connection.execute("SELECT id, scope, sealed FROM payload"):
            _open_field(keys[scope], ref(int(row_id[1:]), scope), sealed)
            opened += 1
    return opened


async def rotate(db: Path, keyring: Keyring) -> int:
    store = await SqliteStore.open(db)
    try:
        report = await rotate_root(keyring, DataKeyRepository(store), now)
    finally:
        await store.close()
    return report.rewrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000, help="sealed rows (100000 asked)")
    parser.add_argument("--scopes", type=int, default=100, help="workspaces, one data key each")
    args = parser.parse_args()
    salt, old_key, new_key = generate_install_salt(), generate_root_key(), generate_root_key()
    old = Keyring(old_key, salt)
    with tempfile.TemporaryDirectory(prefix="cove-bench-rotation-") as scratch:
        db = Path(scratch) / "cove.db"
        keys = asyncio.run(build(db, old, args.rows, args.scopes))
        start = time.perf_counter()
        opened = read_and_open(db, keys)
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        rewrapped = asyncio.run(rotate(db, Keyring(new_key, salt, old_key)))
        rotation = time.perf_counter() - start
        start = time.perf_counter()
        asyncio.run(rotate(db, Keyring(new_key, salt, old_key)))  # a resumed, finished one
        check = time.perf_counter() - start
        after = Keyring(new_key, salt)
        store_keys = asyncio.run(_unwrapped(db, after))
    assert opened == args.rows
    assert store_keys == keys  # every key opens with the new root key alone
    print(f"{args.rows} sealed rows in {args.scopes} workspaces; {rewrapped} keys re-wrapped")
    print(f"{'step':<40} {'seconds':>8} {'x baseline':>11}")
    for step, seconds in (
        ("read and open every row (baseline)", baseline),
        ("cove keys rotate-root", rotation),
        ("rotate-root again (nothing left)", check),
    ):
        print(f"{step:<40} {seconds:8.3f} {seconds / baseline:11.3f}")


async def _unwrapped(db: Path, keyring: Keyring) -> dict[str, DataKey]:
    """Every workspace key, opened with the new root key alone."""
    store = await SqliteStore.open(db)
    try:
        repo = DataKeyRepository(store)
        found = {}
        for scope, version, _ in await repo.index_page(10**6):
            record = await repo.get(scope, version)
            if record is not None and scope.startswith("ws"):
                found[scope] = keyring.unwrap(scope, version, record.wrapped)
        return found
    finally:
        await store.close()


if __name__ == "__main__":
    main()
