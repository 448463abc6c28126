"""The apps' tables on every engine (migrations 19 and 21): an app found by its client id and
developer, installs listed by app and by workspace and removed from both, token families
that end with their tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence.apps import (
    APP_INSTALL_INDEX_TABLES,
    APP_TABLES,
    AppRecord,
    AppRepository,
    InstallRecord,
    TokenRecord,
)
from persistence.migrations import MIGRATIONS, Migration
from persistence.scylla.cql import create_table_cql
from persistence.store import Store

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_the_app_tables_are_migrations_19_and_21_and_compile_to_cql() -> None:
    assert MIGRATIONS[18] == Migration(
        19, "third-party apps, installs and their tokens", APP_TABLES
    )
    assert MIGRATIONS[20] == Migration(
        21, "apps installed in each workspace", APP_INSTALL_INDEX_TABLES
    )
    for table in (*APP_TABLES, *APP_INSTALL_INDEX_TABLES):
        assert f"cove.{table.name}" in create_table_cql(table, "cove")


def app(app_id: str) -> AppRecord:
    return AppRecord(
        app_id, f"client-{app_id}", "dev", "Dana", "Bot", "", "https://x", "https://x/cb",
        "messages:read", "", "", True, b"h", b"s", 1, AT, AT,
    )  # fmt: skip


async def test_apps_installs_and_families(store: Store) -> None:
    apps = AppRepository(store)
    for app_id in ("a1", "a2"):
        await apps.create(app(app_id))
    assert (await apps.by_client_id("client-a2")) == app("a2")
    assert [a.app_id for a in await apps.of_developer("dev", limit=10)] == ["a1", "a2"]
    for app_id in ("a1", "a2"):
        install = InstallRecord(app_id, "ws", f"bot-{app_id}", "messages:read", "owner", AT)
        await apps.install(install)
    await apps.install(InstallRecord("a1", "other", "bot-x", "channels:read", "owner", AT))
    installed = await apps.installed_in("ws", limit=10)
    assert [(i.app_id, i.bot_user_id, i.scopes) for i in installed] == [
        ("a1", "bot-a1", "messages:read"),
        ("a2", "bot-a2", "messages:read"),
    ]
    await apps.uninstall("a1", "ws")
    assert [i.app_id for i in await apps.installed_in("ws", limit=10)] == ["a2"]
    assert await apps.get_install("a1", "ws") is None
    assert [i.workspace_id for i in await apps.installs("a1", limit=10)] == ["other"]
    # A family and its token: ending the family ends the token.
    await apps.add_grant("a2", "g", "ws", AT)
    token = TokenRecord(
        b"t" * 32, "access", "g", "a2", "ws", "bot-a2", "messages:read", 1,
        AT + timedelta(hours=1), False,
    )  # fmt: skip
    await apps.add_token(token)
    assert await apps.has_grant("a2", "g") and await apps.get_token(b"t" * 32) == token
    await apps.end_grant("a2", "g")
    assert not await apps.has_grant("a2", "g")
    assert await apps.get_token(b"t" * 32) is None
