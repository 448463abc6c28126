"""Table declarations refuse what either engine could not hold."""

from __future__ import annotations

import pytest

from persistence.accounts import SESSIONS_BY_USER
from persistence.declare import Column, ColumnType, Order, Table

TEXT = ColumnType.TEXT


def test_columns_and_key_come_in_declared_order() -> None:
    assert [column.name for column in SESSIONS_BY_USER.columns] == [
        "user_id",
        "session_id",
        "token_hash",
        "created_at",
        "expires_at",
    ]
    assert SESSIONS_BY_USER.key_names == ("user_id", "session_id")
    assert SESSIONS_BY_USER.order is Order.DESC
    assert SESSIONS_BY_USER.by_name["token_hash"].type is ColumnType.BLOB


def test_declarations_compare_and_hash_by_value() -> None:
    one = Table("t", partition_key=(Column("a", TEXT),))
    assert one == Table("t", partition_key=(Column("a", TEXT),))
    assert len({one, Table("t", partition_key=(Column("a", TEXT),))}) == 1


@pytest.mark.parametrize(
    "name", ["", "Users", "1users", "_users", "user-s", "us ers", "users;", "a" * 49, "select"]
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Table(name, partition_key=(Column("a", TEXT),))
    with pytest.raises(ValueError):
        Column(name, TEXT)


def test_a_partition_key_is_required() -> None:
    with pytest.raises(ValueError, match="partition key"):
        Table("t", partition_key=())


def test_a_column_is_declared_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        Table("t", partition_key=(Column("a", TEXT),), values=(Column("a", ColumnType.BLOB),))
    with pytest.raises(ValueError, match="twice"):
        Table("t", partition_key=(Column("a", TEXT),), clustering=(Column("a", TEXT),))
