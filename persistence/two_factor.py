"""Two-factor sign-in: each account's sealed TOTP secret, its hashed recovery codes, the codes
already spent, the pending second steps of sign-ins, and the workspaces that require it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Table
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

# One row per account that began enrolment: the secret is sealed; `enabled_at` is None until
# a first code confirms it. `last_step` is the newest TOTP step a code was accepted for.
TWO_FACTOR = Table(
    name="two_factor",
    partition_key=(Column("user_id", _TEXT),),
    values=(
        Column("secret_sealed", _BLOB),
        Column("enabled_at", _TIME),
        Column("last_step", ColumnType.BIGINT),
        Column("updated_at", _TIME),
    ),
)

# Recovery codes as keyed hashes; a spent one is deleted.
RECOVERY_CODES = Table(
    name="recovery_codes",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("code_hash", _BLOB),),
    values=(Column("created_at", _TIME),),
)

# Spent codes ("step:<n>" for a TOTP step, "code:<hex>" for a recovery code), claimed with an
# insert-if-absent so two requests racing with one code cannot both pass.
TWO_FACTOR_CLAIMS = Table(
    name="two_factor_claims",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("claim", _TEXT),),
    values=(Column("claimed_at", _TIME),),
)

# Sign-ins whose password was right, waiting for their second factor; by token hash.
SECOND_STEPS = Table(
    name="second_steps",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("user_id", _TEXT), Column("expires_at", _TIME)),
)

WORKSPACE_POLICIES = Table(
    name="workspace_policies",
    partition_key=(Column("workspace_id", _TEXT),),
    values=(Column("require_two_factor", ColumnType.BOOLEAN), Column("updated_at", _TIME)),
)

TWO_FACTOR_TABLES = (
    TWO_FACTOR,
    RECOVERY_CODES,
    TWO_FACTOR_CLAIMS,
    SECOND_STEPS,
    WORKSPACE_POLICIES,
)

_MOST_CODES = 100


@dataclass(frozen=True, slots=True)
class TwoFactorRecord:
    user_id: str
    secret_sealed: bytes
    enabled_at: datetime | None
    last_step: int

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None


class TwoFactorRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, user_id: str) -> TwoFactorRecord | None:
        row = await self._store.get(TWO_FACTOR, {"user_id": user_id})
        if row is None or row["secret_sealed"] is None:
            return None
        return TwoFactorRecord(
            user_id=user_id,
            secret_sealed=row["secret_sealed"],
            enabled_at=row["enabled_at"],
            last_step=row["last_step"] or 0,
        )

    async def enabled_many(self, user_ids: Sequence[str]) -> list[bool]:
        rows = await self._store.get_many(TWO_FACTOR, [{"user_id": u} for u in user_ids])
        return [row is not None and row["enabled_at"] is not None for row in rows]

    async def begin(self, user_id: str, secret_sealed: bytes, at: datetime) -> None:
        """A pending secret, replacing any earlier pending one."""
        await self._store.put(
            TWO_FACTOR,
            {"user_id": user_id, "secret_sealed": secret_sealed, "last_step": 0, "updated_at": at},
        )

    async def enable(self, user_id: str, step: int, code_hashes: list[bytes], at: datetime) -> None:
        """Confirm the pending secret (its code for `step` was right) with fresh recovery codes."""
        await self._store.delete_partition(RECOVERY_CODES, {"user_id": user_id})
        ops: list[Put | Delete | Update] = [
            Put(RECOVERY_CODES, {"user_id": user_id, "code_hash": h, "created_at": at})
            for h in code_hashes
        ]
        ops.append(
            Update(
                TWO_FACTOR,
                {"user_id": user_id},
                {"enabled_at": at, "last_step": step, "updated_at": at},
            )
        )
        await self._store.batch(ops)

    async def replace_recovery_codes(
        self, user_id: str, code_hashes: list[bytes], at: datetime
    ) -> None:
        await self._store.delete_partition(RECOVERY_CODES, {"user_id": user_id})
        await self._store.batch(
            [
                Put(RECOVERY_CODES, {"user_id": user_id, "code_hash": h, "created_at": at})
                for h in code_hashes
            ]
        )

    async def disable(self, user_id: str) -> None:
        await self._store.delete(TWO_FACTOR, {"user_id": user_id})
        await self._store.delete_partition(RECOVERY_CODES, {"user_id": user_id})
        await self._store.delete_partition(TWO_FACTOR_CLAIMS, {"user_id": user_id})

    async def claim(self, user_id: str, claim: str, at: datetime) -> bool:
        """Spend a code: True the first time only."""
        row = {"user_id": user_id, "claim": claim, "claimed_at": at}
        return await self._store.put_if_absent(TWO_FACTOR_CLAIMS, row)

    async def step_used(self, user_id: str, step: int, previous: int, at: datetime) -> None:
        """Record `step` as the newest used; the claim of the step before it is not needed
        any more (no step at or below `last_step` is accepted)."""
        ops: list[Put | Delete | Update] = [
            Update(TWO_FACTOR, {"user_id": user_id}, {"last_step": step, "updated_at": at})
        ]
        if 0 < previous < step:
            ops.append(Delete(TWO_FACTOR_CLAIMS, {"user_id": user_id, "claim": f"step:{previous}"}))
        await self._store.batch(ops)

    async def has_recovery_code(self, user_id: str, code_hash: bytes) -> bool:
        key = {"user_id": user_id, "code_hash": code_hash}
        return await self._store.get(RECOVERY_CODES, key) is not None

    async def spend_recovery_code(self, user_id: str, code_hash: bytes) -> None:
        await self._store.delete(RECOVERY_CODES, {"user_id": user_id, "code_hash": code_hash})

    async def recovery_codes_left(self, user_id: str) -> int:
        return await self._store.count(RECOVERY_CODES, {"user_id": user_id}, limit=_MOST_CODES)

    async def add_second_step(self, token_hash: bytes, user_id: str, expires_at: datetime) -> None:
        row = {"token_hash": token_hash, "user_id": user_id, "expires_at": expires_at}
        await self._store.put(SECOND_STEPS, row)

    async def second_step(self, token_hash: bytes) -> tuple[str, datetime] | None:
        row = await self._store.get(SECOND_STEPS, {"token_hash": token_hash})
        return None if row is None else (str(row["user_id"]), row["expires_at"])

    async def end_second_step(self, token_hash: bytes) -> None:
        await self._store.delete(SECOND_STEPS, {"token_hash": token_hash})

    async def required_many(self, workspace_ids: Sequence[str]) -> list[bool]:
        keys = [{"workspace_id": w} for w in workspace_ids]
        rows = await self._store.get_many(WORKSPACE_POLICIES, keys)
        return [row is not None and bool(row["require_two_factor"]) for row in rows]

    async def set_required(self, workspace_id: str, required: bool, at: datetime) -> None:
        row = {"workspace_id": workspace_id, "require_two_factor": required, "updated_at": at}
        await self._store.put(WORKSPACE_POLICIES, row)
