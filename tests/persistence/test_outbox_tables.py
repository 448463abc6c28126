"""The mail outbox is migration 13 and compiles for both engines."""

from __future__ import annotations

from persistence.migrations import MIGRATIONS, Migration
from persistence.outbox import MAIL_CLAIMS, MAIL_OUTBOX, OUTBOX_TABLES
from persistence.scylla.cql import create_table_cql, insert_cql


def test_the_outbox_is_migration_13() -> None:
    assert MIGRATIONS[12] == Migration(13, "mail outbox", OUTBOX_TABLES)
    assert OUTBOX_TABLES == (MAIL_OUTBOX, MAIL_CLAIMS)


def test_the_outbox_tables_compile_to_cql() -> None:
    assert "PRIMARY KEY ((queue), mail_id)" in create_table_cql(MAIL_OUTBOX, "cove")
    assert "PRIMARY KEY ((mail_id), claim)" in create_table_cql(MAIL_CLAIMS, "cove")
    assert insert_cql(MAIL_CLAIMS, "cove", if_not_exists=True).endswith("IF NOT EXISTS")
