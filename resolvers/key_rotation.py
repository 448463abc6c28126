"""Root key rotation (`cove keys rotate-root`) and the start-up check that the root key fits.

The rotation re-wraps every stored key (each scope's data key versions and the install's
master secret) under a new root key, one row at a time, while servers keep serving. Each
row is replaced whole, so a rotation cut short (even by `kill -9`) leaves every row wrapped
under one key or the other, and running it again continues: rows already under the new key
are skipped. It ends when a whole pass finds nothing left under another key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from crypto.errors import SealError
from crypto.keyring import MASTER_SCOPE, MASTER_VERSION, Keyring
from persistence.keys import DataKeyRecord, DataKeyRepository

_PAGE = 100
_MAX_PASSES = 5


class RootKeyMismatch(RuntimeError):
    """The configured root key does not open this install's keys."""


@dataclass(frozen=True)
class RotationReport:
    """How many stored keys there are, how many this run re-wrapped, in how many passes."""

    keys: int
    rewrapped: int
    passes: int


def _mismatch(scope: str, version: int, wrapped_by: str, held: str) -> RootKeyMismatch:
    under = f"root key {wrapped_by}" if wrapped_by else "another root key"
    return RootKeyMismatch(
        f"this install's key {scope} v{version} is wrapped under {under}; {held}"
    )


async def adopt_stored_master(
    keyring: Keyring,
    repo: DataKeyRepository,
    clock: Callable[[], datetime] | None = None,
    held: str | None = None,
) -> None:
    """At start: take the stored master secret, or (before any rotation) check that the root
    key opens the first stored key; RootKeyMismatch, saying which keys are `held`, if not.

    With a `clock` and no rotation under way, an install without a stored master stores it
    then (its root key, as derived keys have always come from it), so a later rotation window
    never has to guess which of its two keys was the first."""
    held = held or f"the configured root key is {keyring.root_key_id()}"
    record = await repo.get(MASTER_SCOPE, MASTER_VERSION)
    if record is None:
        record = await _first_data_key(repo)
    if record is not None:
        try:
            if record.scope == MASTER_SCOPE:
                keyring.adopt_master(record.wrapped)
                return
            keyring.unwrap(record.scope, record.version, record.wrapped)
        except SealError:
            wrapped_by = await repo.wrapped_by(record.scope, record.version)
            raise _mismatch(record.scope, record.version, wrapped_by, held) from None
    if clock is not None and not keyring.rotating:
        master = DataKeyRecord(MASTER_SCOPE, MASTER_VERSION, keyring.wrap_master(), clock())
        if not await repo.add_if_absent(master, keyring.root_key_id()):
            await adopt_stored_master(keyring, repo, None, held)  # another node stored it


async def _first_data_key(repo: DataKeyRepository) -> DataKeyRecord | None:
    async with aclosing(_stored_keys(repo)) as keys:
        async for record, _ in keys:
            if record.scope != MASTER_SCOPE:
                return record
    return None


async def _stored_keys(repo: DataKeyRepository) -> AsyncGenerator[tuple[DataKeyRecord, str]]:
    """Every stored key with the id of the root key that last wrapped it, page by page."""
    after: tuple[str, int] | None = None
    while True:
        entries = await repo.index_page(_PAGE, after)
        for scope, version, wrapped_by in entries:
            record = await repo.get(scope, version)
            if record is not None:  # else an entry whose key was never written (a node stopped)
                yield record, wrapped_by
        if len(entries) < _PAGE:
            return
        after = entries[-1][0], entries[-1][1]


async def rotate_root(
    keyring: Keyring,
    repo: DataKeyRepository,
    clock: Callable[[], datetime],
    progress: Callable[[int, int], None] = lambda done, total: None,
    pause_seconds: float = 0.0,
) -> RotationReport:
    """Re-wrap every stored key under `keyring`'s root key (the new one), opening them with
    it or its previous key (the old one). The master secret is stored first: before the
    first rotation it is the old root key, so every derived key stays as it was."""
    new_id = keyring.root_key_id()
    held = f"neither the new root key {new_id} nor the old one given opens it"
    await adopt_stored_master(keyring, repo, None, held)  # refuses an old key that opens nothing
    # The master secret moves first: before the first rotation it is not stored yet.
    stored = await repo.get(MASTER_SCOPE, MASTER_VERSION)
    if stored is None:
        master = DataKeyRecord(MASTER_SCOPE, MASTER_VERSION, keyring.wrap_master(), clock())
        if not await repo.add_if_absent(master, new_id):
            await adopt_stored_master(keyring, repo, None, held)
    elif not keyring.wrapped_under_root(MASTER_SCOPE, MASTER_VERSION, stored.wrapped):
        await repo.rewrap(stored, keyring.wrap_master(), new_id)
    total = await repo.count()
    done = 0
    for passes in range(1, _MAX_PASSES + 1):
        rewrapped = 0
        async for record, wrapped_by in _stored_keys(repo):
            try:
                if keyring.wrapped_under_root(record.scope, record.version, record.wrapped):
                    continue
                key = keyring.unwrap(record.scope, record.version, record.wrapped)
            except SealError:
                raise _mismatch(record.scope, record.version, wrapped_by, held) from None
            await repo.rewrap(record, keyring.wrap(key), new_id)
            rewrapped += 1
            done += 1
            progress(done, total)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)  # tests only: a rotation to interrupt
        if rewrapped == 0:
            return RotationReport(keys=await repo.count(), rewrapped=done, passes=passes)
    raise RootKeyMismatch(
        f"after {_MAX_PASSES} passes keys are still being wrapped under another root key: "
        f"restart every server with the new key as root key and the old one as previous key"
    )
