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
from persistence.store import Store
from persistence.workspaces import WorkspaceRepository
from resolvers.authz import Authorizer
from resolvers.keys import KeyService
from resolvers.passwords import PasswordService
from resolvers.ratelimit import AuthLimits


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """Product limits that are settings (see docs/configuration.md)."""

    max_message_length: int = 40_000
    invitation_ttl: timedelta = timedelta(days=7)


@dataclass
class Services:
    """Long-lived collaborators: the store and its repositories, keys, authorisation, hashing."""

    store: Store
    keyring: Keyring
    accounts: AccountRepository
    workspaces: WorkspaceRepository
    channels: ChannelRepository
    messages: MessageRepository
    keys: KeyService
    authz: Authorizer
    passwords: PasswordService
    session_ttl: timedelta
    limits: AuthLimits
    policy: Policy
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
        clock: Callable[[], datetime] = utc_now,
    ) -> Services:
        return cls(
            store=store,
            keyring=keyring,
            accounts=AccountRepository(store),
            workspaces=WorkspaceRepository(store),
            channels=ChannelRepository(store),
            messages=MessageRepository(store),
            keys=KeyService(keyring, DataKeyRepository(store), clock),
            authz=Authorizer(keyring),
            passwords=passwords,
            session_ttl=session_ttl,
            limits=limits,
            policy=policy or Policy(),
            clock=clock,
        )

    def close(self) -> None:
        self.passwords.close()
