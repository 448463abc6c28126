"""The services a request needs, built once by the app factory and shared by all requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crypto.keyring import Keyring
from integrations.blobs import BlobStore, BlobStoreUnavailable, LiveCheck
from integrations.onlyoffice import DocumentFetcher
from integrations.search import EmbeddedSearchEngine, SearchDocument, SearchEngine
from integrations.webhook_http import WebhookSender
from persistence.accounts import AccountRepository
from persistence.apps import AppRepository
from persistence.audit import AuditRepository
from persistence.blob_intents import BlobIntentRepository
from persistence.calendars import CalendarRepository
from persistence.channels import ChannelRepository
from persistence.drive import DriveRepository
from persistence.identity import IdentityRepository
from persistence.incoming_webhooks import IncomingWebhookRepository
from persistence.keys import DataKeyRepository
from persistence.messages import MessageRepository
from persistence.outbox import OutboxRepository
from persistence.realtime import RealtimeRepository
from persistence.realtime_history import RealtimeHistoryRepository
from persistence.search_outbox import SearchOutboxRepository
from persistence.store import Store
from persistence.tasks import TaskRepository
from persistence.two_factor import TwoFactorRepository
from persistence.video_rooms import VideoRoomRepository
from persistence.webhooks import WebhookRepository
from persistence.workspaces import WorkspaceRepository
from resolvers.app_events import AppEvents
from resolvers.app_model import AppPolicy
from resolvers.audit import AuditLog
from resolvers.authz import Authorizer, Principal
from resolvers.cost_budget import CostBudget
from resolvers.drive_policy import DrivePolicy, OfficePolicy
from resolvers.hub import Hub
from resolvers.keys import KeyService
from resolvers.mail import Mailer
from resolvers.notices import Broker, NoticeHistory, Notices
from resolvers.passwords import PasswordService
from resolvers.persisted_queries import PersistedQueries
from resolvers.presence import PresenceTracker
from resolvers.ratelimit import AuthLimits
from resolvers.search_index import SearchIndexer
from resolvers.search_queue import IndexPolicy, SearchDrainer
from resolvers.video_policy import VideoPolicy
from resolvers.webhooks import WebhookPolicy, Webhooks

# Whether a principal may read a realtime topic, given the services (resolvers/topics.py).
ReadCheck = Callable[["Services", Principal, str], Awaitable[bool]]
# Search documents rebuilt from the records (resolvers/search_sources.py `load_documents`).
IndexLoader = Callable[
    ["Services", str, str, Sequence[str]], Awaitable[list[SearchDocument | None]]
]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RealtimePolicy:
    """Realtime limits and key rotation (settings `realtime_*`)."""

    rotate_seconds: int
    rotate_events: int
    queue_limit: int
    max_topics: int
    max_sessions_per_user: int
    presence_heartbeat_seconds: float
    presence_timeout_seconds: float
    away_after_seconds: float
    # Notices kept per topic (realtime_history_events) and how often a node looks for
    # notices its broker lost (realtime_history_poll_seconds).
    history_events: int
    history_poll_seconds: float


@dataclass(frozen=True)
class ExportPolicy:
    """Self-service exports (settings `export_*`)."""

    keep: timedelta  # a finished archive is deleted this long after it is ready
    poll_seconds: int  # the worker's look at the queue when nothing wakes it
    lease_seconds: int  # a running export not renewed within this is taken again
    max_running: int  # exports one user may have queued or running at once
    history: timedelta  # a finished export is listed this long, then forgotten


@dataclass(frozen=True)
class KeyRotationPolicy:
    """Workspace key rotations (settings `key_*`)."""

    refresh_seconds: float  # a node looks for a newer data key version this often
    poll_seconds: int  # the worker's look at its queue when nothing wakes it
    lease_seconds: int  # a running rotation not renewed within this is resumed elsewhere
    min_interval: timedelta  # from one rotation's end to the next one's start, per workspace


@dataclass(frozen=True)
class Policy:
    """Product limits that are settings (see docs/configuration.md). Their defaults are the
    settings' alone: `api/policies.py` builds every policy from a `Settings`."""

    max_message_length: int
    invitation_ttl: timedelta
    ics_max_events: int
    ics_check_seconds: float
    realtime: RealtimePolicy
    audit_retention: timedelta
    drive: DrivePolicy
    # Shortest word start indexed for search; 0 indexes whole words only.
    search_prefix_min: int
    # The search outbox's drainer: batch, pause and lease.
    search_index: IndexPolicy
    # Third-party apps: token lifetimes and what URLs they may register.
    apps: AppPolicy
    # Outgoing webhooks: retries, disabling (settings `webhooks_*`).
    webhooks: WebhookPolicy
    # Video rooms on Jitsi (settings `jitsi_*`).
    video: VideoPolicy
    # ONLYOFFICE document editing (settings `onlyoffice_*`).
    office: OfficePolicy
    # Self-service exports (settings `export_*`).
    export: ExportPolicy
    # Workspace key rotations (settings `key_*`).
    keys: KeyRotationPolicy


@dataclass
class Services:
    """Long-lived collaborators: the store and its repositories, keys, authorisation, hashing."""

    store: Store
    keyring: Keyring
    accounts: AccountRepository
    workspaces: WorkspaceRepository
    channels: ChannelRepository
    messages: MessageRepository
    realtime: RealtimeRepository
    keys: KeyService
    authz: Authorizer
    passwords: PasswordService
    session_ttl: timedelta
    limits: AuthLimits
    policy: Policy
    notices: Notices
    hub: Hub
    broker: Broker
    presence: PresenceTracker
    drive: DriveRepository
    blobs: BlobStore
    # Upload intents: which blob keys running uploads hold (resolvers/blob_leases.py).
    blob_intents: BlobIntentRepository
    calendars: CalendarRepository
    tasks: TaskRepository
    indexer: SearchIndexer
    audit: AuditLog
    two_factor: TwoFactorRepository
    identity: IdentityRepository
    # Outbound mail (`mail.available` is False where no SMTP server is configured).
    mail: Mailer
    # Third-party apps, their installs and tokens (resolvers/apps.py, resolvers/oauth.py).
    apps: AppRepository
    # Outgoing webhooks: endpoints, the delivery queue and its worker (resolvers/webhooks.py).
    webhooks: Webhooks
    # Installed apps told of what happens where their bots are (resolvers/app_events.py).
    app_events: AppEvents
    # Incoming webhook URLs, found by the hash of their token (resolvers/incoming_webhooks.py).
    incoming_webhooks: IncomingWebhookRepository
    # The Jitsi room of each channel and event that has one (resolvers/video_rooms.py).
    video_rooms: VideoRoomRepository
    clock: Callable[[], datetime] = utc_now
    # Each caller's query-cost budget; None where no budget is wired (scripts, some tests).
    cost_budget: CostBudget | None = None
    # Documents sent by hash (`persisted_queries`); None where the HTTP route is not served.
    persisted_queries: PersistedQueries | None = None
    # Fetches saved documents from the ONLYOFFICE Document Server; None where it is off.
    office_fetcher: DocumentFetcher | None = None
    # Set when an export is requested: wakes the export worker (resolvers/export_worker.py).
    exports_due: asyncio.Event = field(default_factory=asyncio.Event)
    key_rotations_due: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def drive_policy(self) -> DrivePolicy:
        return self.policy.drive

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        keyring: Keyring,
        passwords: PasswordService,
        session_ttl: timedelta,
        limits: AuthLimits,
        policy: Policy,
        broker: Broker | None = None,
        blobs: BlobStore | None = None,
        search_engine: SearchEngine | None = None,
        cost_budget: CostBudget | None = None,
        persisted_queries: PersistedQueries | None = None,
        mailer: Mailer | None = None,
        webhook_sender: WebhookSender | None = None,
        office_fetcher: DocumentFetcher | None = None,
        read_check: ReadCheck | None = None,
        index_loader: IndexLoader | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Services:
        """`read_check` decides whether a principal may read a realtime topic
        (`resolvers.topics.can_read`, which needs the services built, so the app passes it
        in); without it the hub delivers nothing. `index_loader` rebuilds search documents
        from records (`resolvers.search_sources.load_documents`, above this layer); without
        it the search outbox is written but not drained."""
        broker_key = keyring.derive(b"realtime broker")
        history_key = keyring.derive(b"realtime history")
        services: Services

        async def can_read(principal: Principal, topic: str) -> bool:
            # Fails closed: without a read check, no notice reaches any subscriber.
            return read_check is not None and await read_check(services, principal, topic)

        broker = broker or _NoBroker()
        realtime = RealtimeRepository(store)
        hub = Hub(broker_key, can_read)
        keys = KeyService(
            keyring, DataKeyRepository(store), clock, refresh_seconds=policy.keys.refresh_seconds
        )
        authz = Authorizer(keyring)
        mailer = mailer or Mailer.unavailable()
        mailer.bind(outbox=OutboxRepository(store), keys=keys, authz=authz, clock=clock)
        engine = search_engine or EmbeddedSearchEngine(store)
        apps = AppRepository(store)
        channels = ChannelRepository(store)
        webhooks = Webhooks(
            webhook_sender,
            policy.webhooks,
            repository=WebhookRepository(store),
            accounts=AccountRepository(store),
            keys=keys,
            authz=authz,
            mail=mailer,
            clock=clock,
        )
        services = cls(
            store=store,
            keyring=keyring,
            accounts=AccountRepository(store),
            workspaces=WorkspaceRepository(store),
            channels=channels,
            messages=MessageRepository(store),
            realtime=realtime,
            keys=keys,
            authz=authz,
            passwords=passwords,
            session_ttl=session_ttl,
            limits=limits,
            policy=policy,
            notices=Notices(
                broker,
                broker_key,
                NoticeHistory(
                    RealtimeHistoryRepository(store),
                    history_key,
                    policy.realtime.history_events,
                    clock,
                ),
            ),
            broker=broker,
            hub=hub,
            presence=PresenceTracker(
                realtime,
                hub,
                clock,
                heartbeat_seconds=policy.realtime.presence_heartbeat_seconds,
                # Often enough that activity shows well within the idle time before AWAY.
                activity_every_seconds=min(60, policy.realtime.away_after_seconds / 5),
            ),
            drive=DriveRepository(store),
            blobs=blobs or _NoBlobs(),
            blob_intents=BlobIntentRepository(store),
            calendars=CalendarRepository(store),
            tasks=TaskRepository(store),
            indexer=SearchIndexer(
                engine,
                keys,
                policy.search_prefix_min or None,
                SearchDrainer(SearchOutboxRepository(store), engine, policy.search_index, clock),
                clock,
            ),
            audit=AuditLog(AuditRepository(store), keys, clock, policy.audit_retention),
            two_factor=TwoFactorRepository(store),
            identity=IdentityRepository(store),
            mail=mailer,
            apps=apps,
            webhooks=webhooks,
            app_events=AppEvents(apps, channels, webhooks),
            incoming_webhooks=IncomingWebhookRepository(store),
            video_rooms=VideoRoomRepository(store),
            clock=clock,
            cost_budget=cost_budget,
            persisted_queries=persisted_queries,
            office_fetcher=office_fetcher,
        )
        services.notices.then(services.app_events.notice)
        if index_loader is not None:

            async def load(ws: str, kind: str, ids: Sequence[str]) -> list[SearchDocument | None]:
                return await index_loader(services, ws, kind, ids)

            services.indexer.drainer.bind(load)
        return services

    def close(self) -> None:
        self.passwords.close()


class _NoBroker:
    """Used where no broker is wired (scripts, some tests): notices go nowhere."""

    async def publish(self, payload: bytes) -> None:
        return None

    async def ping(self) -> None:
        return None


class _NoBlobs:
    """Used where no blob store is wired (scripts, some tests): every file operation fails."""

    @property
    def name(self) -> str:
        return "none"

    @staticmethod
    def _refuse() -> BlobStoreUnavailable:
        return BlobStoreUnavailable("no blob store is configured")

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        raise self._refuse()

    async def read_range(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        raise self._refuse()

    async def size(self, key: str) -> int:
        raise self._refuse()

    async def delete(self, key: str) -> None:
        raise self._refuse()

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        nothing: tuple[str, ...] = ()
        for key in nothing:
            yield key

    async def cleanup_partials(
        self, older_than_seconds: float, *, live: LiveCheck | None = None
    ) -> int:
        return 0

    async def ping(self) -> None:
        raise self._refuse()

    async def close(self) -> None:
        return None
