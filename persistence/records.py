"""What the account repositories return; sensitive fields are still sealed bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """One version of a scope's data key, wrapped by the root key."""

    scope: str
    version: int
    wrapped: bytes
    created_at: datetime
