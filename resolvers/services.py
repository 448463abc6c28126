"""The services a request needs, built once by the app factory and shared by all requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crypto.keyring import Keyring
from persistence.accounts import AccountRepository
from persistence.channels import ChannelRepository
from persistence.keys import DataKeyRepository
from persistence.messages import MessageRepository
from persistence.realtime import RealtimeRepository
from persistence.store import Store
from persistence.workspaces import WorkspaceRepository
from resolvers.authz import Authorizer, Principal
from resolvers.events import Broker, Events
from resolvers.hub import Hub
from resolvers.keys import KeyService
from resolvers.passwords import PasswordService
from resolvers.presence import PresenceTracker
from resolvers.ratelimit import AuthLimits


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RealtimePolicy:
    """Realtime limits and key rotation (settings `realtime_*`)."""

    rotate_seconds: int = 300
    rotate_events: int = 10_000
    queue_limit: int = 1_000
    max_topics: int = 100
    max_sessions_per_user: int = 20
    presence_heartbeat_seconds: float = 30
    presence_timeout_seconds: float = 90
    away_after_seconds: float = 300


@dataclass(frozen=True)
class Policy:
    """Product limits that are settings (see docs/configuration.md)."""

    max_message_length: int = 40_000
    invitation_ttl: timedelta = timedelta(days=7)
    realtime: RealtimePolicy = RealtimePolicy()


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
    events: Events
    hub: Hub
    broker: Broker
    presence: PresenceTracker
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        keyring: Keyring,
        passwords: PasswordService,
        session_ttl: timedelta,
        limits: AuthLimits,
        policy: Policy | None = None,
        broker: Broker | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Services:
        broker_key = keyring.derive(b"realtime broker")
        services: Services

        async def can_read(principal: Principal, topic: str) -> bool:
            from resolvers.topics import can_read as check  # topics needs the services built

            return await check(services, principal, topic)

        policy = policy or Policy()
        broker = broker or _NoBroker()
        realtime = RealtimeRepository(store)
        hub = Hub(broker_key, can_read)
        services = cls(
            store=store,
            keyring=keyring,
            accounts=AccountRepository(store),
            workspaces=WorkspaceRepository(store),
            channels=ChannelRepository(store),
            messages=MessageRepository(store),
            realtime=realtime,
            keys=KeyService(keyring, DataKeyRepository(store), clock),
            authz=Authorizer(keyring),
            passwords=passwords,
            session_ttl=session_ttl,
            limits=limits,
            policy=policy,
            events=Events(broker, broker_key),
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
            clock=clock,
        )
        return services

    def close(self) -> None:
        self.passwords.close()


class _NoBroker:
    """Used where no broker is wired (scripts, some tests): events go nowhere."""

    async def publish(self, payload: bytes) -> None:
        return None

    async def ping(self) -> None:
        return None
