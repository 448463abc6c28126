"""Proof of an email address, and the one-time tokens sent by mail (verification, password
reset, email change, invitation links)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.accounts import USER_ID_BY_EMAIL, USERS
from persistence.declare import Column, ColumnType, Row, Table
from persistence.expiry import expiry_hour, forget_hour
from persistence.store import Delete, Put, Store, Update
from persistence.two_factor import SECOND_STEPS

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

# An account's address is verified while this row names the blind index of its current
# address: changing the address leaves the row naming the old one, so it no longer counts.
EMAIL_VERIFICATIONS = Table(
    name="email_verifications",
    partition_key=(Column("user_id", _TEXT),),
    values=(Column("email_index", _BLOB), Column("verified_at", _TIME)),
)

# Tokens sent by mail, by the hash of the token (the token itself is never stored).
# `subject` is what the token is about beyond its account (an invitation id); `email_index`
# the address it was sent to; `payload_sealed` a sealed value the purpose needs (the new
# address of an email change).
ACCOUNT_TOKENS = Table(
    name="account_tokens",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("purpose", _TEXT),
        Column("user_id", _TEXT),
        Column("subject", _TEXT),
        Column("email_index", _BLOB),
        Column("payload_sealed", _BLOB),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

# A token is spent by claiming its hash here with an insert-if-absent, so two requests racing
# with one token cannot both use it.
ACCOUNT_TOKEN_USES = Table(
    name="account_token_uses",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("used_at", _TIME),),
)

# Mailed tokens and sign-ins' second steps by the hour they expire in, so a sweep forgets
# them (and their use claims) once they can no longer be used.
ACCOUNT_TOKEN_EXPIRY = Table(
    name="account_token_expiry",
    partition_key=(Column("hour", ColumnType.BIGINT),),
    clustering=(Column("kind", _TEXT), Column("token_hash", _BLOB)),
    values=(Column("expires_at", _TIME),),
)

IDENTITY_TABLES = (EMAIL_VERIFICATIONS, ACCOUNT_TOKENS, ACCOUNT_TOKEN_USES, ACCOUNT_TOKEN_EXPIRY)

MAILED = "mailed"
SECOND_STEP = "second-step"


@dataclass(frozen=True, slots=True)
class AccountToken:
    token_hash: bytes
    purpose: str
    user_id: str  # "" for a token not tied to an account (an invitation link)
    subject: str
    email_index: bytes
    payload_sealed: bytes | None
    created_at: datetime
    expires_at: datetime


class IdentityRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def verified_index(self, user_id: str) -> bytes | None:
        """The blind index of the address this account last proved, or None."""
        row = await self._store.get(EMAIL_VERIFICATIONS, {"user_id": user_id})
        return None if row is None else bytes(row["email_index"])

    async def mark_verified(self, user_id: str, email_index: bytes, at: datetime) -> None:
        row = {"user_id": user_id, "email_index": email_index, "verified_at": at}
        await self._store.put(EMAIL_VERIFICATIONS, row)

    async def add_token(self, token: AccountToken) -> None:
        row = {
            "token_hash": token.token_hash,
            "purpose": token.purpose,
            "user_id": token.user_id,
            "subject": token.subject,
            "email_index": token.email_index,
            "payload_sealed": token.payload_sealed,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
        }
        await self._store.batch(
            [
                Put(ACCOUNT_TOKENS, row),
                self.expiry(MAILED, token.token_hash, token.expires_at),
            ]
        )

    @staticmethod
    def expiry(kind: str, token_hash: bytes, expires_at: datetime) -> Put:
        """The row by which the sweep finds a token once it has expired."""
        row = {
            "hour": expiry_hour(expires_at),
            "kind": kind,
            "token_hash": token_hash,
            "expires_at": expires_at,
        }
        return Put(ACCOUNT_TOKEN_EXPIRY, row)

    async def expire_later(self, kind: str, token_hash: bytes, expires_at: datetime) -> None:
        """Have the sweep forget a token stored elsewhere (a second step) once expired."""
        await self._store.batch([self.expiry(kind, token_hash, expires_at)])

    async def forget_expired(self, hour: int) -> int:
        """Delete the tokens (and second steps) that expired within one hour, with their use
        claims; a count."""

        def deletes(row: Row) -> list[Delete]:
            key = {"token_hash": row["token_hash"]}
            table = ACCOUNT_TOKENS if row["kind"] == MAILED else SECOND_STEPS
            return [Delete(table, key), Delete(ACCOUNT_TOKEN_USES, key)]

        return await forget_hour(self._store, ACCOUNT_TOKEN_EXPIRY, hour, deletes)

    async def get_token(self, token_hash: bytes) -> AccountToken | None:
        row = await self._store.get(ACCOUNT_TOKENS, {"token_hash": token_hash})
        if row is None:
            return None
        return AccountToken(
            token_hash=token_hash,
            purpose=row["purpose"],
            user_id=row["user_id"] or "",
            subject=row["subject"] or "",
            email_index=bytes(row["email_index"] or b""),
            payload_sealed=row["payload_sealed"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    async def token_used(self, token_hash: bytes) -> bool:
        return await self._store.get(ACCOUNT_TOKEN_USES, {"token_hash": token_hash}) is not None

    async def spend_token(self, token_hash: bytes, at: datetime) -> bool:
        """Use a token up: True the first time only."""
        row = {"token_hash": token_hash, "used_at": at}
        return await self._store.put_if_absent(ACCOUNT_TOKEN_USES, row)

    async def change_email(
        self,
        user_id: str,
        email_sealed: bytes,
        new_index: bytes,
        old_index: bytes,
        at: datetime,
    ) -> bool:
        """Move an account to a new address: claim the new index (False if another account
        holds it), then point the user at it and release the old claim, in one batch."""
        claimed = await self._store.put_if_absent(
            USER_ID_BY_EMAIL, {"email_index": new_index, "user_id": user_id, "created_at": at}
        )
        if not claimed:
            return False
        ops: list[Put | Delete | Update] = [
            Update(USERS, {"user_id": user_id}, {"email_sealed": email_sealed, "updated_at": at}),
            Put(
                EMAIL_VERIFICATIONS,
                {"user_id": user_id, "email_index": new_index, "verified_at": at},
            ),
        ]
        old = await self._store.get(USER_ID_BY_EMAIL, {"email_index": old_index})
        if old is not None and old["user_id"] == user_id:
            ops.append(Delete(USER_ID_BY_EMAIL, {"email_index": old_index}))
        await self._store.batch(ops)
        return True
