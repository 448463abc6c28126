"""Account logic against the real SQLite store and real Argon2, with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto.passwords import Argon2Params, PasswordHasher, VerifyResult
from crypto.tokens import hash_token
from persistence.accounts import AccountRepository
from resolvers import accounts, identity, sessions
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode
from resolvers.services import Services
from schema.build import build_schema
from schema.context import CONTEXT_KEY
from support import CountingStore
from tests.accounts_support import signed_up
from tests.inprocess import Clock, ctx, sqlite_services

PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    """The real hasher, counting how many full verifications each path pays for."""

    def __init__(self) -> None:
        super().__init__(Argon2Params.minimum())
        self.verifications = 0

    def verify(self, stored: str, password: str) -> VerifyResult:
        self.verifications += 1
        return super().verify(stored, password)

    def verify_dummy(self, password: str) -> None:
        self.verifications += 1
        super().verify_dummy(password)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Clock, CountingHasher]]:
    clock = Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    hasher = CountingHasher()
    async with sqlite_services(tmp_path, clock=clock, hasher=hasher) as services:
        yield services, clock, hasher


def context(services: Services, token: str | None = None) -> RequestContext:
    return ctx(services, token)


async def test_unknown_email_costs_one_verification_like_a_wrong_password(
    world: tuple[Services, Clock, CountingHasher],
) -> None:
    services, _, hasher = world
    await signed_up(context(services), "known@example.org", PASSWORD, "Known")
    outcomes = []
    for email in ("known@example.org", "unknown@example.org", "not an email"):
        hasher.verifications = 0
        with pytest.raises(CoveError) as caught:
            await accounts.log_in(context(services), email, "wrong password!")
        outcomes.append((caught.value.code, caught.value.message, hasher.verifications))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][0] == ErrorCode.UNAUTHENTICATED
    assert outcomes[0][2] == 1


async def test_sessions_expire_after_the_configured_lifetime(
    world: tuple[Services, Clock, CountingHasher],
) -> None:
    services, clock, _ = world
    result = await signed_up(context(services), "ttl@example.org", PASSWORD, "T")
    assert await sessions.authenticate(services, result.token) is not None
    clock.now += timedelta(minutes=59)
    assert await sessions.authenticate(services, result.token) is not None
    clock.now += timedelta(minutes=2)
    assert await sessions.authenticate(services, result.token) is None
    # The expired session is gone from storage, not only refused.
    assert await services.accounts.get_session_by_token(hash_token(result.token)) is None
    page = await services.accounts.list_sessions(result.user.id, limit=10)
    assert page == []
    with pytest.raises(CoveError) as caught:
        await accounts.viewer(context(services, result.token))
    assert caught.value.code == ErrorCode.UNAUTHENTICATED


async def test_a_sign_up_whose_mail_cannot_be_queued_leaves_no_account(
    world: tuple[Services, Clock, CountingHasher], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, _, _ = world

    async def broken_send(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")  # a store failure after the user row was written

    monkeypatch.setattr(services.mail, "send", broken_send)
    with pytest.raises(RuntimeError):
        await identity.sign_up(context(services), "trace@example.org", PASSWORD, "T")
    monkeypatch.undo()
    index = identity.address_index(services, "trace@example.org")
    assert await services.accounts.find_user_id_by_email(index) is None
    # No trace: the email is free again and a new sign-up makes the account.
    await identity.sign_up(context(services), "trace@example.org", PASSWORD, "T")
    assert await services.accounts.find_user_id_by_email(index) is not None


async def test_store_reads_per_viewer_query(world: tuple[Services, Clock, CountingHasher]) -> None:
    services, _, _ = world
    counting = CountingStore(services.store)
    services.accounts = AccountRepository(counting)
    result = await signed_up(context(services), "reads@example.org", PASSWORD, "R")
    schema = build_schema()

    async def reads_for(document: str) -> int:
        counting.reads = 0
        answer = await schema.execute(
            document, context_value={CONTEXT_KEY: context(services, result.token)}
        )
        assert answer.errors is None, answer.errors
        return counting.reads

    # The session lookup only: nothing sealed is read or opened for an id.
    assert await reads_for("{ viewer { id } }") == 1
    # Then one read of the user row, however many of its fields are asked for.
    assert await reads_for("{ viewer { id email displayName createdAt } }") == 2
