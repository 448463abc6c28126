"""Two-factor sign-in against the real store, with a clock the test moves."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from resolvers import accounts, invitations, two_factor, workspaces
from resolvers.accounts import AuthResult, SecondStep
from resolvers.errors import CoveError, ErrorCode
from resolvers.roles import Role
from resolvers.services import Services
from tests.accounts_support import signed_up
from tests.inprocess import Clock, ctx, sqlite_services

PASSWORD = "correct horse battery"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Clock]]:
    clock = Clock(datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC))
    async with sqlite_services(tmp_path, clock=clock, second_factor_failures=5) as services:
        yield services, clock


async def enrolled(services: Services, clock: Clock, email: str) -> tuple[str, str, list[str]]:
    """An account with two-factor on: (session token, TOTP secret, recovery codes)."""
    signed = await signed_up(ctx(services), email, PASSWORD, "Ann")
    started = await two_factor.begin_enrolment(ctx(services, signed.token))
    codes = await two_factor.confirm_enrolment(
        ctx(services, signed.token), pyotp.TOTP(started.secret).at(clock.now), PASSWORD
    )
    return signed.token, started.secret, codes


async def code_error(call: object) -> CoveError:
    with pytest.raises(CoveError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_enrolment_gives_a_uri_and_ten_codes_and_log_in_asks_for_a_second_step(
    world: tuple[Services, Clock],
) -> None:
    services, clock = world
    signed = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann")
    started = await two_factor.begin_enrolment(ctx(services, signed.token))
    parsed = urllib.parse.urlparse(started.otpauth_uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = urllib.parse.parse_qs(parsed.query)
    assert query["secret"] == [started.secret] and query["issuer"] == ["Cove"]
    assert "ann%40example.org" in started.otpauth_uri
    # Pending until confirmed: log-in still answers a session.
    assert isinstance(await accounts.log_in(ctx(services), "ann@example.org", PASSWORD), AuthResult)
    codes = await two_factor.confirm_enrolment(
        ctx(services, signed.token), pyotp.TOTP(started.secret).at(clock.now), PASSWORD
    )
    assert len(codes) == 10 == len(set(codes))
    assert await two_factor.is_enabled(services, signed.user.id)

    step = await accounts.log_in(ctx(services), "ann@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    clock.now += timedelta(seconds=30)
    done = await two_factor.complete_log_in(
        ctx(services), step.token, pyotp.TOTP(started.secret).at(clock.now), None
    )
    assert await accounts.viewer(ctx(services, done.token))


async def test_a_code_is_accepted_once(world: tuple[Services, Clock]) -> None:
    services, clock = world
    _, secret, _ = await enrolled(services, clock, "once@example.org")
    clock.now += timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now)
    first = await accounts.log_in(ctx(services), "once@example.org", PASSWORD)
    second = await accounts.log_in(ctx(services), "once@example.org", PASSWORD)
    assert isinstance(first, SecondStep) and isinstance(second, SecondStep)
    await two_factor.complete_log_in(ctx(services), first.token, code, None)
    error = await code_error(two_factor.complete_log_in(ctx(services), second.token, code, None))
    assert error.code == ErrorCode.UNAUTHENTICATED and "already used" in error.message
    # The code of an earlier step is no good either once a later one was used.
    earlier = pyotp.TOTP(secret).at(clock.now - timedelta(seconds=30))
    error = await code_error(two_factor.complete_log_in(ctx(services), second.token, earlier, None))
    assert error.code == ErrorCode.UNAUTHENTICATED


async def test_one_second_step_opens_one_session_even_with_two_right_codes_at_once(
    world: tuple[Services, Clock],
) -> None:
    services, clock = world
    _, secret, codes = await enrolled(services, clock, "race@example.org")
    clock.now += timedelta(seconds=30)
    step = await accounts.log_in(ctx(services), "race@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    outcomes = await asyncio.gather(
        two_factor.complete_log_in(
            ctx(services), step.token, pyotp.TOTP(secret).at(clock.now), None
        ),
        two_factor.complete_log_in(ctx(services), step.token, None, codes[0]),
        return_exceptions=True,
    )
    opened = [o for o in outcomes if isinstance(o, AuthResult)]
    assert len(opened) == 1, outcomes
    user_id = opened[0].user.id
    sessions = await services.accounts.list_sessions(user_id, limit=10)
    assert len(sessions) == 2  # the one from enrolling, and this one


async def test_wrong_and_expired_codes_and_tokens_are_refused_clearly(
    world: tuple[Services, Clock],
) -> None:
    services, clock = world
    _, secret, _ = await enrolled(services, clock, "bad@example.org")
    step = await accounts.log_in(ctx(services), "bad@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    stale = pyotp.TOTP(secret).at(clock.now - timedelta(seconds=120))
    for code in ("000000", stale, "abc"):
        error = await code_error(two_factor.complete_log_in(ctx(services), step.token, code, None))
        assert (error.code, error.field) == (ErrorCode.UNAUTHENTICATED, "code")
    error = await code_error(two_factor.complete_log_in(ctx(services), "nonsense", "123456", None))
    assert (error.code, error.field) == (ErrorCode.UNAUTHENTICATED, "token")
    both = await code_error(two_factor.complete_log_in(ctx(services), step.token, "1", "2"))
    assert both.code == ErrorCode.BAD_USER_INPUT
    clock.now += timedelta(minutes=6)
    error = await code_error(
        two_factor.complete_log_in(
            ctx(services), step.token, pyotp.TOTP(secret).at(clock.now), None
        )
    )
    assert (error.code, error.field) == (ErrorCode.UNAUTHENTICATED, "token")
    assert "expired" in error.message


async def test_wrong_codes_count_toward_a_limit_per_account(world: tuple[Services, Clock]) -> None:
    services, clock = world
    _, secret, _ = await enrolled(services, clock, "limit@example.org")
    step = await accounts.log_in(ctx(services), "limit@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    for _ in range(5):
        error = await code_error(
            two_factor.complete_log_in(ctx(services), step.token, "000000", None)
        )
        assert error.code == ErrorCode.UNAUTHENTICATED
    # The limit holds even for the right code, and for a fresh second step of the account.
    clock.now += timedelta(seconds=30)
    right = pyotp.TOTP(secret).at(clock.now)
    error = await code_error(two_factor.complete_log_in(ctx(services), step.token, right, None))
    assert error.code == ErrorCode.RATE_LIMITED
    again = await accounts.log_in(ctx(services), "limit@example.org", PASSWORD)
    assert isinstance(again, SecondStep)
    error = await code_error(two_factor.complete_log_in(ctx(services), again.token, right, None))
    assert error.code == ErrorCode.RATE_LIMITED


async def test_recovery_codes_work_once_and_regenerate(world: tuple[Services, Clock]) -> None:
    services, clock = world
    token, secret, codes = await enrolled(services, clock, "rec@example.org")
    step = await accounts.log_in(ctx(services), "rec@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    await two_factor.complete_log_in(ctx(services), step.token, None, codes[0].upper())
    step = await accounts.log_in(ctx(services), "rec@example.org", PASSWORD)
    assert isinstance(step, SecondStep)
    error = await code_error(two_factor.complete_log_in(ctx(services), step.token, None, codes[0]))
    assert (error.code, error.field) == (ErrorCode.UNAUTHENTICATED, "recoveryCode")
    assert (
        await two_factor.recovery_codes_left(
            services, (await accounts.viewer(ctx(services, token))).id
        )
        == 9
    )
    clock.now += timedelta(seconds=30)
    fresh = await two_factor.regenerate_recovery_codes(
        ctx(services, token), pyotp.TOTP(secret).at(clock.now), None
    )
    assert set(fresh).isdisjoint(codes)
    error = await code_error(two_factor.complete_log_in(ctx(services), step.token, None, codes[1]))
    assert error.code == ErrorCode.UNAUTHENTICATED
    await two_factor.complete_log_in(ctx(services), step.token, None, fresh[1])


async def test_disable_needs_the_password_and_a_code(world: tuple[Services, Clock]) -> None:
    services, clock = world
    token, secret, codes = await enrolled(services, clock, "off@example.org")
    clock.now += timedelta(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now)
    error = await code_error(
        two_factor.disable(ctx(services, token), "wrong password!", code, None)
    )
    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, "password")
    error = await code_error(two_factor.disable(ctx(services, token), PASSWORD, "000000", None))
    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, "code")
    await two_factor.disable(ctx(services, token), PASSWORD, None, codes[3])
    assert not await two_factor.is_enabled(
        services, (await accounts.viewer(ctx(services, token))).id
    )
    assert isinstance(await accounts.log_in(ctx(services), "off@example.org", PASSWORD), AuthResult)


async def test_confirm_refuses_a_wrong_code_and_enrolling_twice(
    world: tuple[Services, Clock],
) -> None:
    services, clock = world
    signed = await signed_up(ctx(services), "twice@example.org", PASSWORD, "T")
    error = await code_error(
        two_factor.confirm_enrolment(ctx(services, signed.token), "123456", PASSWORD)
    )
    assert error.code == ErrorCode.BAD_USER_INPUT  # nothing begun
    started = await two_factor.begin_enrolment(ctx(services, signed.token))
    error = await code_error(
        two_factor.confirm_enrolment(ctx(services, signed.token), "000000", PASSWORD)
    )
    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, "code")
    # A session alone cannot turn it on: the password is asked too.
    code_now = pyotp.TOTP(started.secret).at(clock.now)
    error = await code_error(
        two_factor.confirm_enrolment(ctx(services, signed.token), code_now, "not the password")
    )
    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, "password")
    await two_factor.confirm_enrolment(
        ctx(services, signed.token), pyotp.TOTP(started.secret).at(clock.now), PASSWORD
    )
    error = await code_error(two_factor.begin_enrolment(ctx(services, signed.token)))
    assert error.code == ErrorCode.BAD_USER_INPUT


async def test_a_workspace_can_require_two_factor_of_its_members(
    world: tuple[Services, Clock],
) -> None:
    services, clock = world
    owner_token, _, _ = await enrolled(services, clock, "boss@example.org")
    member = await signed_up(ctx(services), "plain@example.org", PASSWORD, "P")
    ws = await workspaces.create_workspace(ctx(services, owner_token), "Acme")
    invitation = await invitations.invite_member(
        ctx(services, owner_token), ws.id, "plain@example.org", Role.MEMBER
    )
    await invitations.accept_invitation(ctx(services, member.token), invitation.id)
    error = await code_error(
        workspaces.set_require_two_factor(ctx(services, member.token), ws.id, required=True)
    )
    assert error.code == ErrorCode.FORBIDDEN
    await workspaces.set_require_two_factor(ctx(services, owner_token), ws.id, required=True)
    error = await code_error(workspaces.members(ctx(services, member.token), ws.id, 10, None))
    assert error.code == ErrorCode.FORBIDDEN and error.reason == "TWO_FACTOR_REQUIRED"
    assert await workspaces.members(ctx(services, owner_token), ws.id, 10, None)
    # The member still sees the workspace itself, and that it asks for two-factor.
    shell = await workspaces.get_workspace(ctx(services, member.token), ws.id)
    assert await shell.require_two_factor()
    started = await two_factor.begin_enrolment(ctx(services, member.token))
    await two_factor.confirm_enrolment(
        ctx(services, member.token), pyotp.TOTP(started.secret).at(clock.now), PASSWORD
    )
    assert await workspaces.members(ctx(services, member.token), ws.id, 10, None)


async def test_an_owner_without_two_factor_cannot_require_it(world: tuple[Services, Clock]) -> None:
    services, _ = world
    owner = await signed_up(ctx(services), "lax@example.org", PASSWORD, "L")
    ws = await workspaces.create_workspace(ctx(services, owner.token), "Lax")
    error = await code_error(
        workspaces.set_require_two_factor(ctx(services, owner.token), ws.id, required=True)
    )
    assert error.code == ErrorCode.BAD_USER_INPUT
