"""The registry of values sealed under workspace keys covers every sealed column: a table that
gains one must be listed there (and re-sealed by key rotations) or declared an account's."""

from __future__ import annotations

from persistence.migrations import MIGRATIONS, declared_tables
from resolvers.workspace_seals import ACCOUNT_SEALED, SEALED_TABLES, sealed_columns


def test_every_sealed_table_is_a_workspace_s_or_an_account_s() -> None:
    sealed = {t.name for t in declared_tables(MIGRATIONS) if sealed_columns(t)}
    registry = [s.table.name for s in SEALED_TABLES]
    assert len(registry) == len(set(registry))
    assert sealed == set(registry) | set(ACCOUNT_SEALED)
    assert not set(registry) & set(ACCOUNT_SEALED)


def test_each_registered_table_names_a_field_for_every_sealed_column() -> None:
    for sealed in SEALED_TABLES:
        row = {c.name: _sample(c.name) for c in sealed.table.columns}
        refs = sealed.refs(row, "ws1")
        assert set(refs) == set(sealed_columns(sealed.table)), sealed.table.name
        for ref in refs.values():
            assert ref.workspace_id == "ws1" or sealed.table.name == "audit_events"
        assert (sealed.parent is None) != (sealed.of_row is None), sealed.table.name


def _sample(name: str) -> object:
    from datetime import UTC, datetime

    if name in ("recurrence_id",):
        return datetime(2026, 3, 3, 9, tzinfo=UTC)
    if name == "log_id":
        return "workspace:ws1"
    return f"{name}-1"
