"""The record store the settings name: SQLite in the data directory, or a ScyllaDB cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from persistence.scylla.hosts import parse_hosts
from persistence.space import Volume
from persistence.store import Store

if TYPE_CHECKING:
    from persistence.scylla.session import ScyllaConfig


def scylla_config(settings: Settings) -> ScyllaConfig:
    """The ScyllaDB engine's connection settings (reads the password file)."""
    from persistence.scylla.session import ScyllaConfig

    password = None
    if settings.scylla_password_file is not None:
        password = Path(settings.scylla_password_file).read_text(encoding="utf-8").strip()
    return ScyllaConfig(
        hosts=parse_hosts(settings.scylla_hosts),
        keyspace=settings.scylla_keyspace,
        consistency=settings.scylla_consistency,
        replication=settings.scylla_replication,
        datacenter=settings.scylla_datacenter,
        username=settings.scylla_username,
        password=password,
        tls_ca_file=settings.scylla_tls_ca_file,
        request_timeout=float(settings.scylla_request_timeout_seconds),
    )


async def open_store(settings: Settings, volume: Volume | None = None) -> Store:
    """Open (and migrate) the store `settings.store` names. The driver of the engine not
    chosen is never imported. SQLite refuses writes up front while `volume` (the data
    dir's, api/space.py) is full."""
    if settings.store == "scylla":
        from persistence.scylla.engine import ScyllaStore

        return await ScyllaStore.open(scylla_config(settings))
    from persistence.sqlite.engine import SqliteStore

    return await SqliteStore.open(settings.database_file, volume=volume)


def describe_store(settings: Settings) -> str:
    """Where the store is, for `cove check` and the start-up log."""
    if settings.store == "scylla":
        return f"scylla {settings.scylla_hosts} keyspace {settings.scylla_keyspace}"
    return f"sqlite {settings.database_file}"
