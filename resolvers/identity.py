"""Proof that an address belongs to its account, by one-time tokens sent to it.

Every token goes out by mail and is stored only as its hash. It names its purpose, its
account (or, for an invitation link, its invitation) and the blind index of the address it
was sent to; a token sent to an address the account no longer uses is refused. Using a token
spends it with an insert-if-absent, so two requests racing with one token cannot both pass.
Wrong, expired and spent tokens all count toward a failure limit per client address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from crypto.field_seal import FieldRef
from crypto.tokens import hash_token, new_token
from persistence.accounts import UserRecord
from persistence.identity import AccountToken
from persistence.ids import new_id
from resolvers.accounts import EMAIL_INDEX, display_name_ref, email_ref, prove_password
from resolvers.audit import AuditKind
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input
from resolvers.services import Services
from resolvers.sessions import revoke_other_sessions
from resolvers.validation import check_password, clean_name, normalize_email

# What every request that sends mail answers, whatever the address turned out to be.
CHECK_YOUR_EMAIL = (
    "Check your email: we sent a message to that address. It may take a few minutes to arrive."
)
MAX_TOKEN_LENGTH = 200
VERIFY_TTL = timedelta(hours=48)
RESET_TTL = timedelta(minutes=30)
EMAIL_CHANGE_TTL = timedelta(hours=24)


class Purpose(StrEnum):
    """What a token is for; also the action of the link that carries it."""

    VERIFY_EMAIL = "verify-email"
    RESET_PASSWORD = "reset-password"  # noqa: S105 - a purpose name, not a secret
    CHANGE_EMAIL = "confirm-email-change"
    INVITATION = "accept-invitation"


def _token_error(reason: str, message: str, field: str) -> CoveError:
    return CoveError(ErrorCode.BAD_USER_INPUT, message, field=field, reason=reason)


def _payload_ref(user_id: str) -> FieldRef:
    """A token's sealed value (the new address of an email change) belongs to its account."""
    return FieldRef("user", "token_payload", user_id, "")


def address_index(services: Services, email: str) -> bytes:
    return services.keyring.blind_index(EMAIL_INDEX, email)


async def current_email(services: Services, user: UserRecord) -> str:
    """The account's address, opened for the account itself (a token or a session proved it)."""
    grant = services.authz.proven_account(user.user_id)
    return await services.keys.open_text(grant, email_ref(user.user_id), user.email_sealed)


async def is_verified(services: Services, user: UserRecord) -> bool:
    proved = await services.identity.verified_index(user.user_id)
    return proved is not None and proved == address_index(
        services, await current_email(services, user)
    )


async def issue(
    services: Services,
    purpose: Purpose,
    *,
    email_index: bytes,
    ttl: timedelta | None = None,
    expires_at: datetime | None = None,
    user_id: str = "",
    subject: str = "",
    payload: str | None = None,
) -> str:
    """Store a new token's hash and return the token, for a link in a mail."""
    token = new_token(f"cove_{purpose.value.split('-')[0]}_")
    token_hash = hash_token(token)
    now = services.clock()
    sealed = None
    if payload is not None:
        sealed = await services.keys.seal_text(_payload_ref(user_id), payload)
    await services.identity.add_token(
        AccountToken(
            token_hash=token_hash,
            purpose=purpose.value,
            user_id=user_id,
            subject=subject,
            email_index=email_index,
            payload_sealed=sealed,
            created_at=now,
            expires_at=expires_at or now + (ttl or VERIFY_TTL),
        )
    )
    return token


async def check(
    ctx: RequestContext, token: str, purpose: Purpose, *, field: str = "token"
) -> AccountToken:
    """The live, unspent token of this purpose, or a clear error. Each wrong, expired or
    spent token costs a slot of the client address's failure limit, taken before the check."""
    services = ctx.services
    attempt = await services.limits.token_failures.reserve(ctx.client_address)
    record = None
    if 0 < len(token) <= MAX_TOKEN_LENGTH:
        record = await services.identity.get_token(hash_token(token))
    if record is None or record.purpose != purpose.value:
        raise _token_error(
            "TOKEN_INVALID",
            "This link is not valid. Check that it was copied whole, or ask for a new one.",
            field,
        )
    if record.expires_at <= services.clock():
        raise _token_error("TOKEN_EXPIRED", "This link has expired; ask for a new one.", field)
    if await services.identity.token_used(record.token_hash):
        raise _token_error("TOKEN_USED", "This link has already been used.", field)
    await attempt.succeeded()
    return record


async def spend(ctx: RequestContext, record: AccountToken, *, field: str = "token") -> None:
    """Use the token up; refused if a request racing with this one used it first."""
    if not await ctx.services.identity.spend_token(record.token_hash, ctx.services.clock()):
        raise _token_error("TOKEN_USED", "This link has already been used.", field)


async def _account_of(ctx: RequestContext, record: AccountToken, field: str) -> UserRecord:
    """The token's account, still at the address the token was sent to."""
    services = ctx.services
    user = await services.accounts.get_user(record.user_id) if record.user_id else None
    if user is None or address_index(services, await current_email(services, user)) != (
        record.email_index
    ):
        raise _token_error(
            "TOKEN_INVALID",
            "This link was sent to an address the account no longer uses.",
            field,
        )
    return user


# Mail


async def mail_link(
    services: Services,
    purpose: Purpose,
    to: str,
    heading: str,
    text: Callable[[str], str],
    **token: Any,
) -> None:
    """Issue a token for `purpose` (`token` as for `issue`) and mail `to` the text made
    around the link that carries it, under the subject line `heading`."""
    value = await issue(services, purpose, **token)
    link = services.mail.link(purpose.value, value)
    await services.mail.send(to, heading, text(link), kind=purpose.value)


async def send_verification(services: Services, user_id: str, email: str) -> None:
    await mail_link(
        services,
        Purpose.VERIFY_EMAIL,
        email,
        "Confirm your email address",
        lambda link: (
            "Someone (we hope you) made a Cove account with this address.\n\n"
            f"Confirm that it is yours by opening this link within 48 hours:\n\n{link}\n\n"
            "Until you do, invitations sent to this address cannot be accepted with the account.\n"
            "If you did not sign up, ignore this message.\n"
        ),
        email_index=address_index(services, email),
        ttl=VERIFY_TTL,
        user_id=user_id,
    )


async def tell_address_taken(services: Services, email: str) -> None:
    """Sign-up with an address that has an account: the owner hears of it, nobody else."""
    await services.mail.send(
        email,
        "Someone tried to sign up with your address",
        "Someone tried to make a new Cove account with this address, which already has one. "
        "Nothing was changed.\n\n"
        "If it was you, sign in instead; if you forgot your password, ask for a reset from "
        "the sign-in page. If it was not you, you can ignore this message.\n",
        kind="signup-address-taken",
    )


# Mutations


async def sign_up(ctx: RequestContext, email: str, password: str, display_name: str) -> str:
    """Make an account, which works at once (sign in with `logIn`), and mail a link that
    proves its address. An address that has an account gets a note saying someone tried,
    and the caller the same answer, after the same work: sign-up tells nobody which
    addresses have accounts."""
    services = ctx.services
    services.mail.require()
    normalized = normalize_email(email)
    check_password(password)
    name = clean_name(display_name, field="displayName")
    await services.limits.signups_per_ip.hit(ctx.client_address)
    await services.limits.mail_per_address.hit(address_index(services, normalized).hex())
    record = await create_account(services, normalized, password, name)
    if record is None:
        await tell_address_taken(services, normalized)
        return CHECK_YOUR_EMAIL
    try:
        await send_verification(services, record.user_id, normalized)
    except BaseException:
        await services.accounts.delete_user(record, address_index(services, normalized))
        raise
    return CHECK_YOUR_EMAIL


async def create_account(
    services: Services, email: str, password: str, display_name: str, *, verified: bool = False
) -> UserRecord | None:
    """Store a new account for a checked address, password and name (the password hashed
    whether or not the address is free); None if the address has an account. `verified`
    is for operators who vouch for the address themselves."""
    password_hash = await services.passwords.hash(password)
    user_id = new_id()
    now = services.clock()
    record = UserRecord(
        user_id=user_id,
        email_sealed=await services.keys.seal_text(email_ref(user_id), email),
        display_name_sealed=await services.keys.seal_text(display_name_ref(user_id), display_name),
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    index = address_index(services, email)
    if not await services.accounts.create_user(record, index):
        return None
    if verified:
        await services.identity.mark_verified(user_id, index, now)
    return record


async def verify_email(ctx: RequestContext, token: str) -> None:
    """Mark the address the link was sent to as proved; no session is needed."""
    services = ctx.services
    record = await check(ctx, token, Purpose.VERIFY_EMAIL)
    user = await _account_of(ctx, record, "token")
    await spend(ctx, record)
    await services.identity.mark_verified(user.user_id, record.email_index, services.clock())
    await services.audit.account_event(
        user.user_id, AuditKind.EMAIL_VERIFIED, client_address=ctx.client_address
    )


async def resend_verification(ctx: RequestContext) -> str:
    services = ctx.services
    caller = await ctx.require_user()
    services.mail.require()
    user = await services.accounts.get_user(caller.user_id)
    if user is None:
        raise bad_input("No such account.")
    if await is_verified(services, user):
        raise bad_input("Your address is already verified.")
    email = await current_email(services, user)
    await services.limits.mail_requests_per_ip.hit(ctx.client_address)
    await services.limits.mail_per_address.hit(address_index(services, email).hex())
    await send_verification(services, user.user_id, email)
    return CHECK_YOUR_EMAIL


async def request_password_reset(ctx: RequestContext, email: str) -> str:
    """Mail a reset link if the address has an account, and a note saying it has none if
    not: the answer, and the work done, are the same either way."""
    services = ctx.services
    services.mail.require()
    normalized = normalize_email(email)
    await services.limits.mail_requests_per_ip.hit(ctx.client_address)
    index = address_index(services, normalized)
    await services.limits.mail_per_address.hit(index.hex())
    user_id = await services.accounts.find_user_id_by_email(index)
    if user_id is None:
        await services.mail.send(
            normalized,
            "Password reset",
            "Someone asked to reset the password of a Cove account at this address, but this "
            "address has no account. If it was you, you may have signed up with another "
            "address. If not, you can ignore this message.\n",
            kind="reset-no-account",
        )
        return CHECK_YOUR_EMAIL
    await mail_link(
        services,
        Purpose.RESET_PASSWORD,
        normalized,
        "Reset your password",
        lambda link: (
            "Someone (we hope you) asked to reset the password of your Cove "
            f"account.\n\nChoose a new password within 30 minutes at:\n\n{link}\n\n"
            "Every session of the account ends when you do. If you did not ask, ignore this "
            "message: your password stays as it is.\n"
        ),
        email_index=index,
        ttl=RESET_TTL,
        user_id=user_id,
    )
    return CHECK_YOUR_EMAIL


async def reset_password(ctx: RequestContext, token: str, new_password: str) -> int:
    """Set a new password with a reset link, ending every session; returns how many. The
    link proves the mailbox, so the address counts as verified from now on."""
    services = ctx.services
    check_password(new_password, field="newPassword")
    record = await check(ctx, token, Purpose.RESET_PASSWORD)
    user = await _account_of(ctx, record, "token")
    await spend(ctx, record)
    new_hash = await services.passwords.hash(new_password)
    now = services.clock()
    await services.accounts.set_password_hash(user.user_id, new_hash, now)
    await services.identity.mark_verified(user.user_id, record.email_index, now)
    ended = await revoke_other_sessions(services, user.user_id, keep_session_id="")
    await services.audit.account_event(
        user.user_id,
        AuditKind.PASSWORD_RESET,
        client_address=ctx.client_address,
        details={"sessionsEnded": str(ended)},
    )
    return ended


async def request_email_change(ctx: RequestContext, new_email: str, password: str) -> str:
    """Send a confirmation link to the new address and tell the old one. The address changes
    only when the link is opened."""
    services = ctx.services
    caller = await ctx.require_user()
    services.mail.require()
    normalized = normalize_email(new_email, field="newEmail")
    await prove_password(services, caller.user_id, password, field="password")
    user = await services.accounts.get_user(caller.user_id)
    if user is None:
        raise bad_input("No such account.")
    old_email = await current_email(services, user)
    old_index = address_index(services, old_email)
    new_index = address_index(services, normalized)
    if new_index == old_index:
        raise bad_input("That is already your address.", field="newEmail")
    await services.limits.mail_per_address.hit(new_index.hex())
    if await services.accounts.find_user_id_by_email(new_index) is not None:
        await services.mail.send(
            normalized,
            "Someone tried to move an account to your address",
            "Someone asked to move another Cove account to this address, which already has "
            "an account. Nothing was changed.\n",
            kind="email-change-address-taken",
        )
    else:
        await mail_link(
            services,
            Purpose.CHANGE_EMAIL,
            normalized,
            "Confirm your new email address",
            lambda link: (
                "Someone (we hope you) asked to move a Cove account to this address."
                f"\n\nConfirm within 24 hours by opening:\n\n{link}\n\n"
                "If it was not you, ignore this message.\n"
            ),
            email_index=new_index,
            ttl=EMAIL_CHANGE_TTL,
            user_id=user.user_id,
            subject=_change_mark(old_index, user),
            payload=normalized,
        )
    await services.mail.send(
        old_email,
        "A change of your email address was asked for",
        f"Someone signed in to your Cove account asked to change its address to {normalized}. "
        "It changes only when that address confirms.\n\n"
        "If this was not you, change your password now: that cancels the change and ends "
        "every other session.\n",
        kind="email-change-announced",
    )
    await services.audit.account_event(
        user.user_id, AuditKind.EMAIL_CHANGE_REQUESTED, client_address=ctx.client_address
    )
    return CHECK_YOUR_EMAIL


def _change_mark(old_index: bytes, user: UserRecord) -> str:
    """What must not have changed between asking and confirming: the address, and the
    password (changing it is how an owner cancels a change someone else asked for)."""
    password_mark = hash_token(user.password_hash).hex()[:32]
    return f"{old_index.hex()}:{password_mark}"


async def confirm_email_change(ctx: RequestContext, token: str) -> None:
    """Move the account to the address the link was sent to, now proved."""
    services = ctx.services
    record = await check(ctx, token, Purpose.CHANGE_EMAIL)
    user = await services.accounts.get_user(record.user_id)
    old_email = await current_email(services, user) if user is not None else ""
    old_index = address_index(services, old_email) if user is not None else b""
    if (
        user is None
        or record.payload_sealed is None
        or _change_mark(old_index, user) != record.subject
    ):
        raise _token_error(
            "TOKEN_INVALID", "This link is for a change the account no longer waits for.", "token"
        )
    grant = services.authz.proven_account(user.user_id)
    new_email = await services.keys.open_text(
        grant, _payload_ref(user.user_id), record.payload_sealed
    )
    await spend(ctx, record)
    sealed = await services.keys.seal_text(email_ref(user.user_id), new_email)
    if not await services.identity.change_email(
        user.user_id, sealed, record.email_index, old_index, services.clock()
    ):
        raise bad_input("That address now belongs to another account.", field="token")
    await services.mail.send(
        old_email,
        "Your email address was changed",
        f"Your Cove account now signs in with {new_email} instead of this address.\n\n"
        "If this was not you, reset your password from the sign-in page at once.\n",
        kind="email-changed",
    )
    await services.audit.account_event(
        user.user_id, AuditKind.EMAIL_CHANGED, client_address=ctx.client_address
    )
