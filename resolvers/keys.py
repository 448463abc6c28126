"""Data keys: loaded from the store wrapped, unwrapped by the keyring, cached per process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

from crypto.errors import GrantError, SealError
from crypto.field_seal import DataKey, FieldRef, sealed_key_version
from crypto.grants import Grant
from crypto.keyring import Keyring
from persistence.keys import DataKeyRecord, DataKeyRepository
from resolvers.errors import DamagedData

ACCOUNT_SCOPE = "account"


def scope_of(ref: FieldRef) -> str:
    """Account data has no workspace and lives under the account key."""
    return ref.workspace_id or ACCOUNT_SCOPE


@contextmanager
def _damage_reported(ref: FieldRef) -> Iterator[None]:
    """A value that does not open is damaged data (DATA_DAMAGED on its item), unless the grant
    was wrong, which is a bug and stays one."""
    try:
        yield
    except GrantError:
        raise
    except (SealError, LookupError) as error:
        raise _damaged(ref, error) from None


def _damaged(ref: FieldRef, error: Exception) -> DamagedData:
    where = f"{ref.entity}.{ref.field} of row {ref.row_id} in scope {scope_of(ref)}"
    return DamagedData(f"{where}: {error}")


class KeyService:
    """Seals and opens fields with the right data key; creates a scope's first key on demand.

    New values are sealed under the scope's newest key version. A node looks for a newer
    version (a workspace key rotation started on another node) at most `refresh_seconds`
    after it last looked, so every node seals under a new version within that time."""

    def __init__(
        self,
        keyring: Keyring,
        repo: DataKeyRepository,
        clock: Callable[[], datetime],
        refresh_seconds: float = 10.0,
    ) -> None:
        self._keyring = keyring
        self._repo = repo
        self._clock = clock
        self._refresh = refresh_seconds
        self._keys: dict[tuple[str, int], DataKey] = {}
        self._current: dict[str, int] = {}
        self._looked: dict[str, float] = {}  # when each scope's versions were last read
        self._lock = asyncio.Lock()

    @property
    def refresh_seconds(self) -> float:
        return self._refresh

    async def current(self, scope: str) -> DataKey:
        version = self._current.get(scope)
        if version is not None and time.monotonic() - self._looked[scope] < self._refresh:
            return self._keys[(scope, version)]
        async with self._lock:
            looked = self._looked.get(scope)
            if looked is None or time.monotonic() - looked >= self._refresh:
                await self._load(scope)
            if scope not in self._current:
                key, wrapped = self._keyring.new_data_key(scope, 1)
                record = DataKeyRecord(
                    scope=scope, version=1, wrapped=wrapped, created_at=self._clock()
                )
                if not await self._repo.add_if_absent(record, self._keyring.root_key_id()):
                    # Another node made the first key at the same moment: use theirs.
                    await self._load(scope)
                else:
                    self._keys[(scope, 1)] = key
                    self._current[scope] = 1
        return self._keys[(scope, self._current[scope])]

    async def add_version(self, scope: str) -> DataKey:
        """Make the scope's next key version, under which this node seals from now on (and
        every node within `refresh_seconds`); the newest version if another node made one
        at the same moment."""
        current = await self.current(scope)
        async with self._lock:
            await self._load(scope)
            version = max(self._current.get(scope, 0), current.version) + 1
            key, wrapped = self._keyring.new_data_key(scope, version)
            record = DataKeyRecord(scope, version, wrapped, self._clock())
            if await self._repo.add_if_absent(record, self._keyring.root_key_id()):
                self._keys[(scope, version)] = key
                self._current[scope] = version
            else:
                await self._load(scope)
            return self._keys[(scope, self._current[scope])]

    def reseal(self, old: DataKey, new: DataKey, ref: FieldRef, sealed: bytes) -> bytes:
        """A value sealed again under a newer key of its scope; SealError if it is damaged."""
        return self._keyring.reseal(old, new, ref, sealed)

    async def version(self, scope: str, version: int) -> DataKey:
        key = self._keys.get((scope, version))
        if key is None:
            async with self._lock:
                await self._load(scope)
            key = self._keys.get((scope, version))
            if key is None:
                raise LookupError(f"no data key {scope} v{version}")
        return key

    async def _load(self, scope: str) -> None:
        records = await self._repo.list_versions(scope)
        for record in records:
            if (scope, record.version) not in self._keys:
                self._keys[(scope, record.version)] = self._keyring.unwrap(
                    scope, record.version, record.wrapped
                )
        if records:
            self._current[scope] = max(r.version for r in records)
        self._looked[scope] = time.monotonic()

    async def seal_text(self, ref: FieldRef, text: str) -> bytes:
        return self._keyring.seal_text(await self.current(scope_of(ref)), ref, text)

    async def seal_bytes(self, ref: FieldRef, value: bytes) -> bytes:
        return self._keyring.seal(await self.current(scope_of(ref)), ref, value)

    async def open_bytes(self, grant: Grant, ref: FieldRef, sealed: bytes) -> bytes:
        with _damage_reported(ref):
            key = await self.version(scope_of(ref), sealed_key_version(sealed))
            return self._keyring.open(grant, key, ref, sealed)

    async def open_text(self, grant: Grant, ref: FieldRef, sealed: bytes) -> str:
        with _damage_reported(ref):
            key = await self.version(scope_of(ref), sealed_key_version(sealed))
            return self._keyring.open_text(grant, key, ref, sealed)

    def open_text_now(self, grant: Grant, ref: FieldRef, sealed: bytes) -> str | None:
        """Open without waiting when the key is already loaded; None when it is not."""
        # What `_damage_reported` does, written out: this opens every value of every page.
        try:
            key = self._keys.get((scope_of(ref), sealed_key_version(sealed)))
            return None if key is None else self._keyring.open_text(grant, key, ref, sealed)
        except GrantError:
            raise
        except (SealError, LookupError) as error:
            raise _damaged(ref, error) from None

    async def preload(self, scope: str, sealed_values: Iterable[bytes | None]) -> None:
        """Load the keys these values were sealed under, so they open without waiting."""
        # Only a speed-up: a value that names no key is left for its own open to report, so
        # one damaged row fails its item and not the whole page.
        versions = {_version_or_none(v) for v in sealed_values if v} - {None}
        for version in versions:
            if version is not None and (scope, version) not in self._keys:
                with suppress(LookupError, SealError):
                    await self.version(scope, version)


def _version_or_none(sealed: bytes) -> int | None:
    try:
        return sealed_key_version(sealed)
    except SealError:
        return None
