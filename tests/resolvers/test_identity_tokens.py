"""Mailed tokens against the real store and a controllable clock: lifetimes, one use under
concurrency, and what the outbox and the database hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from crypto.tokens import hash_token
from resolvers import accounts, identity, invitations, workspaces
from resolvers.errors import CoveError
from resolvers.identity import Purpose
from resolvers.roles import Role
from resolvers.services import Services
from resolvers.sessions import open_session
from resolvers.sweeper import sweep_tokens
from tests.accounts_support import signed_up
from tests.inprocess import Clock, ctx, sqlite_services

PASSWORD = "correct horse battery"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Clock, Path]]:
    clock = Clock()
    async with sqlite_services(tmp_path, clock=clock) as services:
        yield services, clock, tmp_path / "cove.db"


async def refusal(call: object) -> str | None:
    with pytest.raises(CoveError) as caught:
        await call  # type: ignore[misc]
    return caught.value.reason


async def reset_token(services: Services, email: str, user_id: str) -> str:
    return await identity.issue(
        services,
        Purpose.RESET_PASSWORD,
        email_index=identity.address_index(services, email),
        ttl=identity.RESET_TTL,
        user_id=user_id,
    )


async def test_a_reset_link_lasts_thirty_minutes(world: tuple[Services, Clock, Path]) -> None:
    services, clock, _ = world
    ann = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann")
    token = await reset_token(services, "ann@example.org", ann.user.id)
    clock.now += timedelta(minutes=30)
    expired = identity.reset_password(ctx(services), token, "a new password 1")
    assert await refusal(expired) == "TOKEN_EXPIRED"
    fresh = await reset_token(services, "ann@example.org", ann.user.id)
    clock.now += timedelta(minutes=29)
    await identity.reset_password(ctx(services), fresh, "a new password 1")


async def test_a_token_of_one_purpose_does_nothing_for_another(
    world: tuple[Services, Clock, Path],
) -> None:
    services, _, _ = world
    ann = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann", verified=False)
    token = await reset_token(services, "ann@example.org", ann.user.id)
    assert await refusal(identity.verify_email(ctx(services), token)) == "TOKEN_INVALID"
    assert await refusal(identity.confirm_email_change(ctx(services), token)) == "TOKEN_INVALID"


async def test_two_requests_racing_with_one_token_cannot_both_use_it(
    world: tuple[Services, Clock, Path],
) -> None:
    services, _, _ = world
    ann = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann")
    token = await reset_token(services, "ann@example.org", ann.user.id)
    outcomes = await asyncio.gather(
        *(identity.reset_password(ctx(services), token, f"racing password {i}") for i in range(8)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, CoveError)]
    assert len(won) == 1
    assert len(lost) == 7
    assert {o.reason for o in lost} == {"TOKEN_USED"}


async def test_an_invitation_link_admits_one_account_only(
    world: tuple[Services, Clock, Path],
) -> None:
    services, _, _ = world
    owner = await signed_up(ctx(services), "owner@example.org", PASSWORD, "Owner")
    workspace = await workspaces.create_workspace(ctx(services, owner.token), "Acme")
    invited = await invitations.invite_member(
        ctx(services, owner.token), workspace.id, "invitee@example.org", Role.ADMIN
    )
    record = await services.workspaces.get_invitation(invited.id)
    assert record is not None
    token = await identity.issue(
        services,
        Purpose.INVITATION,
        email_index=record.email_index,
        expires_at=record.expires_at,
        subject=record.invitation_id,
    )
    people = [
        await signed_up(ctx(services), f"p{i}@example.org", PASSWORD, f"P{i}") for i in range(5)
    ]
    outcomes = await asyncio.gather(
        *(invitations.accept_invitation_link(ctx(services, p.token), token) for p in people),
        return_exceptions=True,
    )
    joined = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(joined) == 1
    members = [await services.workspaces.membership(workspace.id, p.user.id) for p in people]
    assert sum(m is not None for m in members) == 1


async def test_an_email_change_link_is_void_once_the_address_changed_otherwise(
    world: tuple[Services, Clock, Path],
) -> None:
    services, _, _ = world
    ann = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann")
    first = await identity.issue(
        services,
        Purpose.CHANGE_EMAIL,
        email_index=identity.address_index(services, "one@example.org"),
        ttl=identity.EMAIL_CHANGE_TTL,
        user_id=ann.user.id,
        subject="not the mark of the current address",
        payload="one@example.org",
    )
    assert await refusal(identity.confirm_email_change(ctx(services), first)) == "TOKEN_INVALID"


async def test_mail_and_tokens_leave_no_plaintext_in_the_database(
    world: tuple[Services, Clock, Path],
) -> None:
    services, _, database = world
    owner = await signed_up(ctx(services), "owner@example.org", PASSWORD, "Owner")
    await identity.request_password_reset(ctx(services), "canary-reset@example.org")
    await identity.request_email_change(
        ctx(services, owner.token), "canary-moved@example.org", PASSWORD
    )
    raw = b"".join(p.read_bytes() for p in database.parent.glob("cove.db*"))
    for canary in (b"canary-reset", b"canary-moved", b"owner@example.org", b"#token="):
        assert canary not in raw


async def test_expired_tokens_and_second_steps_are_swept(
    world: tuple[Services, Clock, Path],
) -> None:
    services, clock, _ = world
    ann = await signed_up(ctx(services), "ann@example.org", PASSWORD, "Ann")
    token = await reset_token(services, "ann@example.org", ann.user.id)
    step = await accounts._second_step(services, ann.user.id)
    spent = await reset_token(services, "ann@example.org", ann.user.id)
    await identity.reset_password(ctx(services), spent, "a new password 1")
    clock.now += timedelta(hours=3)
    assert await sweep_tokens(services) >= 3
    for gone in (token, spent):
        assert await services.identity.get_token(hash_token(gone)) is None
        assert not await services.identity.token_used(hash_token(gone))
    assert await services.two_factor.second_step(hash_token(step.token)) is None


async def test_invitations_sent_at_once_to_one_address_leave_one_pending(
    world: tuple[Services, Clock, Path],
) -> None:
    services, clock, _ = world
    owner = await signed_up(ctx(services), "owner@example.org", PASSWORD, "Owner")
    workspace = await workspaces.create_workspace(ctx(services, owner.token), "Acme")

    token = owner.token

    async def invite(role: Role) -> invitations.InvitationView:
        return await invitations.invite_member(
            ctx(services, token), workspace.id, "twice@example.org", role
        )

    outcomes = await asyncio.gather(
        *(invite(role) for role in (Role.GUEST, Role.MEMBER, Role.ADMIN) * 3),
        return_exceptions=True,
    )
    sent = [o for o in outcomes if isinstance(o, invitations.InvitationView)]
    assert len(sent) == 1, outcomes
    assert all(isinstance(o, CoveError) for o in outcomes if o not in sent)
    index = identity.address_index(services, "twice@example.org")
    assert len(await services.workspaces.invitations_to(index, workspace.id)) == 1
    # Revoking frees the address for a new invitation; so does expiry.
    await invitations.revoke_invitation(ctx(services, owner.token), sent[0].id)
    await invite(Role.MEMBER)
    with pytest.raises(CoveError):
        await invite(Role.MEMBER)
    clock.now += services.policy.invitation_ttl + timedelta(seconds=1)
    token, _ = await open_session(services, owner.user.id)  # the first one ran out
    again = await asyncio.gather(*(invite(Role.GUEST) for _ in range(4)), return_exceptions=True)
    assert sum(isinstance(o, invitations.InvitationView) for o in again) == 1, again
