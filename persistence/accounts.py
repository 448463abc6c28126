"""Users, their email claims and their sessions: the tables, the records and the repository.

Email and display name are sealed; the password is only hashed; sessions are found by the
hash of their bearer token, never the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Order, Row, Table
from persistence.store import Delete, Put, Store
from persistence.validate import row_values

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

USERS = Table(
    name="users",
    partition_key=(Column("user_id", _TEXT),),
    values=(
        Column("email_sealed", _BLOB),
        Column("display_name_sealed", _BLOB),
        Column("password_hash", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

# Keyed by the email's blind index, never the email: one account per email address.
USER_ID_BY_EMAIL = Table(
    name="user_id_by_email",
    partition_key=(Column("email_index", _BLOB),),
    values=(Column("user_id", _TEXT), Column("created_at", _TIME)),
)

SESSIONS_BY_TOKEN = Table(
    name="sessions_by_token",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("session_id", _TEXT),
        Column("user_id", _TEXT),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

# Session ids are time-ordered, so descending clustering lists the newest first.
SESSIONS_BY_USER = Table(
    name="sessions_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("session_id", _TEXT),),
    order=Order.DESC,
    values=(
        Column("token_hash", _BLOB),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

ACCOUNT_TABLES = (USERS, USER_ID_BY_EMAIL, SESSIONS_BY_TOKEN, SESSIONS_BY_USER)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """An account; email and display name are sealed, the password only hashed."""

    user_id: str
    email_sealed: bytes
    display_name_sealed: bytes
    password_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in session, found by the hash of its bearer token."""

    session_id: str
    user_id: str
    token_hash: bytes
    created_at: datetime
    expires_at: datetime


_PAGE = 100


def _user_row(user: UserRecord) -> Row:
    return {
        "user_id": user.user_id,
        "email_sealed": user.email_sealed,
        "display_name_sealed": user.display_name_sealed,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def _user(row: Row) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        email_sealed=row["email_sealed"],
        display_name_sealed=row["display_name_sealed"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _session(row: Row) -> SessionRecord:
    return SessionRecord(
        session_id=row["session_id"],
        user_id=row["user_id"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def _session_deletes(session: SessionRecord) -> list[Put | Delete]:
    return [
        Delete(SESSIONS_BY_TOKEN, {"token_hash": session.token_hash}),
        Delete(SESSIONS_BY_USER, {"user_id": session.user_id, "session_id": session.session_id}),
    ]


class AccountRepository:
    """Accounts and sessions; sealed fields go in and come out as sealed bytes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_user(self, user: UserRecord, email_index: bytes) -> bool:
        """Claim the email (by blind index) and store the user; False if it is taken."""
        row = _user_row(user)
        # A malformed record fails here, before it claims anything.
        row_values(USERS, row)
        claim = {"email_index": email_index}
        claimed = await self._store.put_if_absent(
            USER_ID_BY_EMAIL, {**claim, "user_id": user.user_id, "created_at": user.created_at}
        )
        if not claimed:
            return False
        try:
            await self._store.put(USERS, row)
        except BaseException as error:
            # A failed sign-up must leave no trace: release the claim, and remove the user
            # row too, since a write that timed out or was cancelled may still have landed.
            try:
                await self._store.batch(
                    [Delete(USERS, {"user_id": user.user_id}), Delete(USER_ID_BY_EMAIL, claim)]
                )
            except Exception as cleanup:
                error.add_note(f"releasing the email claim failed too: {cleanup!r}")
            raise
        return True

    async def create_bot(self, user: UserRecord) -> None:
        """Store an app's bot user: no email claim, and a password hash nothing matches."""
        await self._store.put(USERS, _user_row(user))

    async def delete_user(self, user: UserRecord, email_index: bytes) -> None:
        """Delete a user, their sessions, and their claim on the email if it is theirs."""
        while sessions := await self.list_sessions(user.user_id, limit=_PAGE):
            await self._store.batch(
                [op for session in sessions for op in _session_deletes(session)]
            )
        ops: list[Put | Delete] = [Delete(USERS, {"user_id": user.user_id})]
        if await self.find_user_id_by_email(email_index) == user.user_id:
            ops.append(Delete(USER_ID_BY_EMAIL, {"email_index": email_index}))
        await self._store.batch(ops)

    async def get_user(self, user_id: str) -> UserRecord | None:
        """The user with this id, or None."""
        row = await self._store.get(USERS, {"user_id": user_id})
        return None if row is None else _user(row)

    async def get_users(self, user_ids: Sequence[str]) -> list[UserRecord | None]:
        """Users by id, in order (None where there is none), in one read."""
        rows = await self._store.get_many(USERS, [{"user_id": u} for u in user_ids])
        return [None if row is None else _user(row) for row in rows]

    async def find_user_id_by_email(self, email_index: bytes) -> str | None:
        """The id of the user who claimed this email's blind index, or None."""
        row = await self._store.get(USER_ID_BY_EMAIL, {"email_index": email_index})
        if row is None:
            return None
        user_id: str = row["user_id"]
        return user_id

    async def find_user_ids_by_email(self, email_indexes: Sequence[bytes]) -> list[str | None]:
        """For each email's blind index, the id of the user who claimed it, in one read."""
        keys = [{"email_index": index} for index in email_indexes]
        rows = await self._store.get_many(USER_ID_BY_EMAIL, keys)
        return [None if row is None else str(row["user_id"]) for row in rows]

    async def set_password_hash(
        self, user_id: str, password_hash: str, updated_at: datetime
    ) -> bool:
        """Replace the password hash; False if there is no such user."""
        return await self._update_user(
            user_id, {"password_hash": password_hash, "updated_at": updated_at}
        )

    async def set_display_name(self, user_id: str, sealed: bytes, updated_at: datetime) -> bool:
        """Replace the sealed display name; False if there is no such user."""
        return await self._update_user(
            user_id, {"display_name_sealed": sealed, "updated_at": updated_at}
        )

    async def _update_user(self, user_id: str, changes: Row) -> bool:
        # Only the changed columns are written, so a password change and a profile change
        # racing on one user both land. The existence check keeps an update from creating a
        # bare row for an unknown id.
        if await self._store.get(USERS, {"user_id": user_id}) is None:
            return False
        await self._store.update(USERS, {"user_id": user_id}, changes)
        return True

    async def create_session(self, session: SessionRecord) -> None:
        """Store a session under its token hash and under its user, in one batch."""
        await self._store.batch(
            [
                Put(
                    SESSIONS_BY_TOKEN,
                    {
                        "token_hash": session.token_hash,
                        "session_id": session.session_id,
                        "user_id": session.user_id,
                        "created_at": session.created_at,
                        "expires_at": session.expires_at,
                    },
                ),
                Put(
                    SESSIONS_BY_USER,
                    {
                        "user_id": session.user_id,
                        "session_id": session.session_id,
                        "token_hash": session.token_hash,
                        "created_at": session.created_at,
                        "expires_at": session.expires_at,
                    },
                ),
            ]
        )

    async def get_session_by_token(self, token_hash: bytes) -> SessionRecord | None:
        """The session whose token hashes to `token_hash`, expired or not, or None."""
        row = await self._store.get(SESSIONS_BY_TOKEN, {"token_hash": token_hash})
        return None if row is None else _session(row)

    async def list_sessions(
        self, user_id: str, *, limit: int, after_session_id: str | None = None
    ) -> list[SessionRecord]:
        """A user's sessions, newest first, from just after `after_session_id` if given."""
        after = None if after_session_id is None else (after_session_id,)
        rows = await self._store.scan(
            SESSIONS_BY_USER, {"user_id": user_id}, limit=limit, after=after
        )
        return [_session(row) for row in rows]

    async def get_session(self, user_id: str, session_id: str) -> SessionRecord | None:
        """One of a user's sessions by id, or None."""
        row = await self._store.get(
            SESSIONS_BY_USER, {"user_id": user_id, "session_id": session_id}
        )
        return None if row is None else _session(row)

    async def delete_session(self, session: SessionRecord) -> None:
        """Delete a session from both tables, in one batch."""
        await self._store.batch(_session_deletes(session))
