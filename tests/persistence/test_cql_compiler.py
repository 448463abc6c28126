"""The CQL compiled from declarations, checked word for word without a ScyllaDB."""

from __future__ import annotations

import itertools

import pytest

from persistence.accounts import (
    ACCOUNT_TABLES,
    SESSIONS_BY_TOKEN,
    SESSIONS_BY_USER,
    USER_ID_BY_EMAIL,
    USERS,
)
from persistence.declare import Column, ColumnType, Order, Table
from persistence.keys import DATA_KEYS
from persistence.scylla.cql import (
    MAX_IN_PARTITIONS,
    count_cql,
    create_table_cql,
    delete_cql,
    delete_partition_cql,
    insert_cql,
    scan_cql,
    scan_many_cql,
    select_by_key_cql,
    update_cql,
)

KS = "cove"
USER_COLUMNS = "user_id, email_sealed, display_name_sealed, password_hash, created_at, updated_at"
SESSION_COLUMNS = "user_id, session_id, token_hash, created_at, expires_at"
EVENTS = Table(
    name="events",
    partition_key=(Column("tenant", ColumnType.TEXT), Column("bucket", ColumnType.BIGINT)),
    clustering=(Column("day", ColumnType.BIGINT), Column("event_id", ColumnType.TEXT)),
    values=(Column("done", ColumnType.BOOLEAN),),
)
# One partition key column and two clustering columns, declared newest first.
POSTS = Table(
    name="posts",
    partition_key=(Column("feed", ColumnType.TEXT),),
    clustering=(Column("day", ColumnType.BIGINT), Column("post_id", ColumnType.TEXT)),
    order=Order.DESC,
    values=(Column("body", ColumnType.TEXT),),
)


def test_create_table() -> None:
    assert create_table_cql(USERS, KS) == (
        "CREATE TABLE IF NOT EXISTS cove.users (user_id text, email_sealed blob, "
        "display_name_sealed blob, password_hash text, created_at timestamp, "
        "updated_at timestamp, PRIMARY KEY ((user_id)))"
    )
    assert create_table_cql(USER_ID_BY_EMAIL, KS) == (
        "CREATE TABLE IF NOT EXISTS cove.user_id_by_email (email_index blob, user_id text, "
        "created_at timestamp, PRIMARY KEY ((email_index)))"
    )
    assert create_table_cql(SESSIONS_BY_TOKEN, KS) == (
        "CREATE TABLE IF NOT EXISTS cove.sessions_by_token (token_hash blob, session_id text, "
        "user_id text, created_at timestamp, expires_at timestamp, PRIMARY KEY ((token_hash)))"
    )
    assert create_table_cql(SESSIONS_BY_USER, KS) == (
        "CREATE TABLE IF NOT EXISTS cove.sessions_by_user (user_id text, session_id text, "
        "token_hash blob, created_at timestamp, expires_at timestamp, "
        "PRIMARY KEY ((user_id), session_id)) WITH CLUSTERING ORDER BY (session_id DESC)"
    )
    assert create_table_cql(DATA_KEYS, KS) == (
        "CREATE TABLE IF NOT EXISTS cove.data_keys (scope text, version bigint, wrapped blob, "
        "created_at timestamp, PRIMARY KEY ((scope), version)) "
        "WITH CLUSTERING ORDER BY (version DESC)"
    )
    assert create_table_cql(EVENTS, "ks") == (
        "CREATE TABLE IF NOT EXISTS ks.events (tenant text, bucket bigint, day bigint, "
        "event_id text, done boolean, PRIMARY KEY ((tenant, bucket), day, event_id)) "
        "WITH CLUSTERING ORDER BY (day ASC, event_id ASC)"
    )


def test_update_sets_only_the_named_columns() -> None:
    password, updated = USERS.by_name["password_hash"], USERS.by_name["updated_at"]
    assert update_cql(USERS, KS, (password, updated)) == (
        "UPDATE cove.users SET password_hash = ?, updated_at = ? WHERE user_id = ?"
    )


def test_insert_and_lightweight_transaction() -> None:
    assert insert_cql(USERS, KS) == (
        f"INSERT INTO cove.users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    )
    assert insert_cql(USER_ID_BY_EMAIL, KS, if_not_exists=True) == (
        "INSERT INTO cove.user_id_by_email (email_index, user_id, created_at) "
        "VALUES (?, ?, ?) IF NOT EXISTS"
    )
    assert insert_cql(SESSIONS_BY_USER, KS) == (
        f"INSERT INTO cove.sessions_by_user ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
    )
    assert insert_cql(DATA_KEYS, KS, if_not_exists=True) == (
        "INSERT INTO cove.data_keys (scope, version, wrapped, created_at) "
        "VALUES (?, ?, ?, ?) IF NOT EXISTS"
    )


def test_select_by_key() -> None:
    assert select_by_key_cql(USERS, KS) == (
        f"SELECT {USER_COLUMNS} FROM cove.users WHERE user_id = ?"
    )
    assert select_by_key_cql(SESSIONS_BY_TOKEN, KS) == (
        "SELECT token_hash, session_id, user_id, created_at, expires_at "
        "FROM cove.sessions_by_token WHERE token_hash = ?"
    )
    assert select_by_key_cql(SESSIONS_BY_USER, KS) == (
        f"SELECT {SESSION_COLUMNS} FROM cove.sessions_by_user WHERE user_id = ? AND session_id = ?"
    )


def test_delete_and_delete_partition() -> None:
    assert delete_cql(USERS, KS) == "DELETE FROM cove.users WHERE user_id = ?"
    assert delete_cql(SESSIONS_BY_USER, KS) == (
        "DELETE FROM cove.sessions_by_user WHERE user_id = ? AND session_id = ?"
    )
    assert delete_partition_cql(SESSIONS_BY_USER, KS) == (
        "DELETE FROM cove.sessions_by_user WHERE user_id = ?"
    )
    assert delete_partition_cql(DATA_KEYS, KS) == "DELETE FROM cove.data_keys WHERE scope = ?"


@pytest.mark.parametrize(
    ("after", "before", "reverse", "where", "order"),
    [
        (False, False, False, "", "DESC"),
        (True, False, False, " AND session_id < ?", "DESC"),
        (False, True, False, " AND session_id > ?", "DESC"),
        (True, True, False, " AND session_id < ? AND session_id > ?", "DESC"),
        (False, False, True, "", "ASC"),
        (True, False, True, " AND session_id > ?", "ASC"),
        (False, True, True, " AND session_id < ?", "ASC"),
        (True, True, True, " AND session_id > ? AND session_id < ?", "ASC"),
    ],
)
def test_scan_of_a_descending_table(
    after: bool, before: bool, reverse: bool, where: str, order: str
) -> None:
    assert scan_cql(SESSIONS_BY_USER, KS, after, before, reverse) == (
        f"SELECT {SESSION_COLUMNS} FROM cove.sessions_by_user WHERE user_id = ?{where} "
        f"ORDER BY session_id {order} LIMIT ?"
    )


def test_scan_with_several_clustering_columns_is_a_multi_column_slice() -> None:
    columns = "tenant, bucket, day, event_id, done"
    assert scan_cql(EVENTS, "ks", True, True, False) == (
        f"SELECT {columns} FROM ks.events WHERE tenant = ? AND bucket = ? "
        "AND (day, event_id) > (?, ?) AND (day, event_id) < (?, ?) "
        "ORDER BY day ASC, event_id ASC LIMIT ?"
    )
    assert scan_cql(EVENTS, "ks", True, False, True) == (
        f"SELECT {columns} FROM ks.events WHERE tenant = ? AND bucket = ? "
        "AND (day, event_id) < (?, ?) ORDER BY day DESC, event_id DESC LIMIT ?"
    )


def test_scan_of_a_table_without_clustering() -> None:
    assert scan_cql(USERS, KS, False, False, False) == (
        f"SELECT {USER_COLUMNS} FROM cove.users WHERE user_id = ? LIMIT ?"
    )
    with pytest.raises(ValueError, match="no clustering"):
        scan_cql(USERS, KS, True, False, False)


def test_no_statement_needs_allow_filtering() -> None:
    statements = [
        build(table, KS)
        for table in (*ACCOUNT_TABLES, DATA_KEYS, EVENTS)
        for build in (
            create_table_cql,
            insert_cql,
            select_by_key_cql,
            delete_cql,
            delete_partition_cql,
        )
    ]
    statements += [
        scan_cql(table, KS, after, before, reverse)
        for table in (SESSIONS_BY_USER, DATA_KEYS, EVENTS)
        for after, before, reverse in itertools.product((False, True), repeat=3)
    ]
    assert statements
    assert not [statement for statement in statements if "ALLOW FILTERING" in statement.upper()]


@pytest.mark.parametrize("keyspace", ["Cove", "cove-prod", "1cove", "cove.x", "", "select"])
def test_keyspace_names_are_checked(keyspace: str) -> None:
    with pytest.raises(ValueError):
        create_table_cql(USERS, keyspace)


# --- scan_many and count ---------------------------------------------------------------


def test_scan_many_is_an_in_list_with_a_per_partition_limit() -> None:
    assert scan_many_cql(SESSIONS_BY_USER, KS, 3, False) == (
        f"SELECT {SESSION_COLUMNS} FROM cove.sessions_by_user WHERE user_id IN (?, ?, ?) "
        "ORDER BY session_id DESC PER PARTITION LIMIT ?"
    )
    assert scan_many_cql(SESSIONS_BY_USER, KS, 1, True) == (
        f"SELECT {SESSION_COLUMNS} FROM cove.sessions_by_user WHERE user_id IN (?) "
        "ORDER BY session_id ASC PER PARTITION LIMIT ?"
    )
    assert scan_many_cql(POSTS, "ks", 2, False) == (
        "SELECT feed, day, post_id, body FROM ks.posts WHERE feed IN (?, ?) "
        "ORDER BY day DESC, post_id DESC PER PARTITION LIMIT ?"
    )
    assert scan_many_cql(POSTS, "ks", 2, True) == (
        "SELECT feed, day, post_id, body FROM ks.posts WHERE feed IN (?, ?) "
        "ORDER BY day ASC, post_id ASC PER PARTITION LIMIT ?"
    )


def test_scan_many_of_a_table_without_clustering() -> None:
    assert scan_many_cql(USERS, KS, 2, True) == (
        f"SELECT {USER_COLUMNS} FROM cove.users WHERE user_id IN (?, ?) PER PARTITION LIMIT ?"
    )


def test_scan_many_refuses_what_cql_cannot_run() -> None:
    # CQL has no multi-column IN on partition key columns: such tables scan per partition.
    with pytest.raises(ValueError, match="composite partition key"):
        scan_many_cql(EVENTS, KS, 2, False)
    assert scan_many_cql(USERS, KS, MAX_IN_PARTITIONS, False).count("?") == MAX_IN_PARTITIONS + 1
    for partitions in (0, MAX_IN_PARTITIONS + 1):
        with pytest.raises(ValueError, match="partitions"):
            scan_many_cql(USERS, KS, partitions, False)


@pytest.mark.parametrize(
    ("after", "before", "where"),
    [
        (False, False, ""),
        (True, False, " AND session_id < ?"),
        (False, True, " AND session_id > ?"),
        (True, True, " AND session_id < ? AND session_id > ?"),
    ],
)
def test_count_selects_keys_in_the_declared_order(after: bool, before: bool, where: str) -> None:
    assert count_cql(SESSIONS_BY_USER, KS, after, before) == (
        f"SELECT user_id, session_id FROM cove.sessions_by_user WHERE user_id = ?{where} LIMIT ?"
    )


def test_count_with_several_clustering_columns_and_none() -> None:
    assert count_cql(EVENTS, "ks", True, True) == (
        "SELECT tenant, bucket, day, event_id FROM ks.events WHERE tenant = ? AND bucket = ? "
        "AND (day, event_id) > (?, ?) AND (day, event_id) < (?, ?) LIMIT ?"
    )
    assert count_cql(POSTS, "ks", True, False) == (
        "SELECT feed, day, post_id FROM ks.posts WHERE feed = ? AND (day, post_id) < (?, ?) LIMIT ?"
    )
    assert (
        count_cql(USERS, KS, False, False)
        == "SELECT user_id FROM cove.users WHERE user_id = ? LIMIT ?"
    )
    with pytest.raises(ValueError, match="no clustering"):
        count_cql(USERS, KS, False, True)


def test_no_batched_read_needs_allow_filtering() -> None:
    statements = [
        scan_many_cql(table, KS, partitions, reverse)
        for table in (*ACCOUNT_TABLES, DATA_KEYS, POSTS)
        for partitions in (1, 2, MAX_IN_PARTITIONS)
        for reverse in (False, True)
    ]
    statements += [
        count_cql(table, KS, after, before)
        for table in (SESSIONS_BY_USER, DATA_KEYS, EVENTS, POSTS)
        for after, before in itertools.product((False, True), repeat=2)
    ]
    assert not [statement for statement in statements if "ALLOW FILTERING" in statement.upper()]
