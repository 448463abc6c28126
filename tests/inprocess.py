"""The in-process tier: the real services on a real SQLite store, no server, called as the
schema would call them. One builder for every test and benchmark that needs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.policies import policy_from
from api.settings import Settings, load_settings
from crypto.keyring import Keyring
from crypto.passwords import Argon2Params, PasswordHasher
from crypto.root_key import generate_install_salt, generate_root_key
from integrations.blobs import BlobStore
from integrations.webhook_http import WebhookSender
from persistence.drive_records import FILE, DriveItemRecord, FileVersionRecord
from persistence.ids import new_id
from persistence.sqlite.engine import SqliteStore
from persistence.store import Store
from resolvers import search_sources, topics
from resolvers.context import RequestContext
from resolvers.drive_access import blob_key, name_ref
from resolvers.mail import Mailer
from resolvers.passwords import PasswordService
from resolvers.ratelimit import AuthLimits
from resolvers.services import Services
from tests.accounts_support import recording_mailer

# Generous enough that no test meets a limit it does not set itself.
GENEROUS = {
    "logins_per_ip_per_minute": 1000,
    "failures_per_account": 1000,
    "failure_window_seconds": 900,
    "signups_per_ip_per_hour": 1000,
    "token_failures_per_ip": 1000,
}
# The settings' defaults, as a server without configuration has them.
DEFAULT_SETTINGS = load_settings(environ={})


class Clock:
    """A clock the test moves by hand (`clock.now += timedelta(...)`)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _settings_limits(settings: Settings) -> dict[str, int]:
    """The limits the generous ones leave as the settings have them."""
    return {
        "password_change_failures": settings.password_change_failures_per_account,
        "second_factor_failures": settings.second_factor_failures_per_account,
        "mail_requests_per_ip_per_hour": settings.mail_requests_per_ip_per_hour,
        "mails_per_address_per_hour": settings.mails_per_address_per_hour,
        "incoming_webhooks_per_minute": settings.incoming_webhooks_per_minute,
    }


def build_services(
    store: Store,
    *,
    keyring: Keyring | None = None,
    hasher: PasswordHasher | None = None,
    mailer: Mailer | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    clock: Clock | None = None,
    blobs: BlobStore | None = None,
    webhook_sender: WebhookSender | None = None,
    **limits: Any,
) -> Services:
    """Services as the app builds them, with OWASP-minimum Argon2, a recording mailer and
    generous limits (and `blobs`, if given); `limits` overrides any of `AuthLimits.build`'s
    arguments. The policy is built from `settings` as the app builds it
    (`load_settings(environ={}, overrides=...)` to change a limit)."""
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    if blobs is not None:
        extra["blobs"] = blobs
    return Services.build(
        store=store,
        keyring=keyring or Keyring(generate_root_key(), generate_install_salt()),
        passwords=PasswordService(hasher or PasswordHasher(Argon2Params.minimum()), 2),
        session_ttl=timedelta(hours=1),
        limits=AuthLimits.build(**{**_settings_limits(settings), **GENEROUS, **limits}),
        mailer=mailer or recording_mailer(),
        webhook_sender=webhook_sender,
        policy=policy_from(settings),
        read_check=topics.can_read,
        index_loader=search_sources.load_documents,
        **extra,
    )


@asynccontextmanager
async def sqlite_services(
    directory: Path, *, wrap: Any = None, **options: Any
) -> AsyncIterator[Services]:
    """`build_services` on a fresh SQLite store in `directory`, closed afterwards. `wrap`
    wraps the store first (a CountingStore)."""
    store = await SqliteStore.open(directory / "cove.db")
    services = build_services(wrap(store) if wrap else store, **options)
    try:
        yield services
    finally:
        services.close()
        await store.close()


def ctx(services: Services, token: str | None = None) -> RequestContext:
    """A request of the bearer of `token` (anonymous without one)."""
    return RequestContext(services=services, request_id="t", bearer_token=token)


async def plant_files(
    services: Services, workspace_id: str, folder_id: str, owner_id: str, names: list[str]
) -> list[str]:
    """Files written straight to the store and the search index, without contents (search
    never opens them); their ids, in order."""
    now = services.clock()
    ids = []
    for name in names:
        file_id, version_id = new_id(), new_id()
        item = DriveItemRecord(
            item_id=file_id,
            workspace_id=workspace_id,
            parent_id=folder_id,
            kind=FILE,
            name_sealed=await services.keys.seal_text(name_ref(file_id, workspace_id), name),
            created_by=owner_id,
            created_at=now,
            updated_at=now,
            current_version_id=version_id,
            size=1,
        )
        version = FileVersionRecord(
            file_id=file_id,
            version_id=version_id,
            workspace_id=workspace_id,
            number=1,
            size=1,
            content_type_sealed=b"",
            sha256_sealed=b"",
            key_sealed=b"",
            blob_key=blob_key(workspace_id, file_id, version_id),
            created_by=owner_id,
            created_at=now,
        )
        await services.drive.add_version(item, version, new_file=True, now=now)
        ids.append(file_id)
    await services.indexer.queue(workspace_id, "file", ids)
    await services.indexer.flush()
    return ids
