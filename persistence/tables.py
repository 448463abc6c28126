"""The account tables: users, the email claim, sessions both ways, and data keys."""

from __future__ import annotations

from persistence.declare import Column, ColumnType, Order, Table

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

DATA_KEYS = Table(
    name="data_keys",
    partition_key=(Column("scope", _TEXT),),
    clustering=(Column("version", ColumnType.BIGINT),),
    order=Order.DESC,
    values=(Column("wrapped", _BLOB), Column("created_at", _TIME)),
)

ACCOUNT_TABLES = (USERS, USER_ID_BY_EMAIL, SESSIONS_BY_TOKEN, SESSIONS_BY_USER, DATA_KEYS)
