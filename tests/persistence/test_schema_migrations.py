"""The migration list and the rules for applying it, apart from any engine."""

from __future__ import annotations

import pytest

from persistence.accounts import ACCOUNT_TABLES
from persistence.keys import DATA_KEY_TABLES
from persistence.migrations import MIGRATIONS, Migration, check_migrations, pending
from persistence.store import StoreError

# The rules are shown on a history of two: the real first migration and a made-up second.
FIRST = MIGRATIONS[:1]
TWO = (*FIRST, Migration(2, "two", ()))


def test_the_first_migration_creates_the_account_tables() -> None:
    assert MIGRATIONS[0] == Migration(1, "accounts", (*ACCOUNT_TABLES, *DATA_KEY_TABLES))
    check_migrations(MIGRATIONS)
    assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_pending_is_what_the_database_lacks() -> None:
    assert pending(TWO, []) == TWO
    assert pending(TWO, [(1, "accounts")]) == TWO[1:]
    assert pending(TWO, [(2, "two"), (1, "accounts")]) == ()


def test_a_newer_database_is_refused() -> None:
    with pytest.raises(StoreError, match="newer"):
        pending(FIRST, [(1, "accounts"), (2, "two")])


@pytest.mark.parametrize(
    "applied", [[(2, "two")], [(1, "renamed")], [(0, "zero"), (1, "accounts")]]
)
def test_a_history_that_does_not_match_is_refused(applied: list[tuple[int, str]]) -> None:
    with pytest.raises(StoreError):
        pending(TWO, applied)
