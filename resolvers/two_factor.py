"""Two-factor sign-in: TOTP enrolment, the second step of `logIn`, recovery codes.

The TOTP secret is sealed like any other account field and opens only for its owner (or for
the sign-in whose password was just checked). Recovery codes are kept as keyed hashes. A code
is spent once: each accepted TOTP step and recovery code is claimed with an insert-if-absent,
and no step at or before the newest one used is accepted again. Every wrong code, whichever
way it comes, counts against one failure limit per account, reserved before the check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crypto import totp
from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.tokens import hash_token
from persistence.two_factor import TwoFactorRecord
from resolvers.accounts import (
    SECOND_STEP_PREFIX,
    AuthResult,
    email_ref,
    own_view,
    prove_password,
)
from resolvers.audit import AuditKind
from resolvers.authz import Action
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.services import Services
from resolvers.sessions import open_session

ISSUER = "Cove"
RECOVERY_CODES = totp.RECOVERY_CODES
RECOVERY_INDEX = "recovery-code"
_MAX_TOKEN_LENGTH = 128
_WRONG_CODE = "The code is incorrect or has expired; enter the one your app shows now."
_USED_CODE = "This code was already used; wait for the next one."
_WRONG_RECOVERY = "The recovery code is incorrect or was already used."
_NO_STEP = "This sign-in step is unknown or has expired; sign in again with your password."

Refusal = Callable[[str, str], CoveError]


@dataclass(frozen=True)
class Enrolment:
    """What an authenticator app needs: the URI for a QR code, and the secret to type."""

    otpauth_uri: str
    secret: str


def secret_ref(user_id: str) -> FieldRef:
    return FieldRef(entity="user", field="totp_secret", row_id=user_id, workspace_id="")


def _signed_in_refusal(message: str, field: str) -> CoveError:
    return bad_input(message, field=field)


def _sign_in_refusal(message: str, field: str) -> CoveError:
    return CoveError(ErrorCode.UNAUTHENTICATED, message, field=field)


async def is_enabled(services: Services, user_id: str) -> bool:
    record = await services.two_factor.get(user_id)
    return record is not None and record.enabled


async def recovery_codes_left(services: Services, user_id: str) -> int:
    return await services.two_factor.recovery_codes_left(user_id)


async def begin_enrolment(ctx: RequestContext) -> Enrolment:
    """A new pending secret (replacing any pending one); two-factor is on once confirmed."""
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.WRITE)
    existing = await services.two_factor.get(caller.user_id)
    if existing is not None and existing.enabled:
        raise bad_input("Two-factor sign-in is already on; turn it off first to enrol again.")
    user = await services.accounts.get_user(caller.user_id)
    if user is None:
        raise not_found("user")
    email = await services.keys.open_text(grant, email_ref(caller.user_id), user.email_sealed)
    secret = totp.new_secret()
    sealed = await services.keys.seal_text(secret_ref(caller.user_id), secret)
    await services.two_factor.begin(caller.user_id, sealed, services.clock())
    return Enrolment(otpauth_uri=totp.otpauth_uri(secret, email, ISSUER), secret=secret)


async def confirm_enrolment(ctx: RequestContext, code: str, password: str) -> list[str]:
    """Turn two-factor on with a first code from the app and the account's password (a
    stolen session alone must not lock the owner out); answers the ten recovery codes, shown
    this once."""
    services = ctx.services
    caller = await ctx.require_user()
    user_id = caller.user_id
    await prove_password(services, user_id, password, field="password")
    grant = services.authz.own_account(caller, user_id, Action.WRITE)
    pending = await services.two_factor.get(user_id)
    if pending is None:
        raise bad_input("Begin two-factor enrolment first (beginTwoFactorEnrolment).")
    if pending.enabled:
        raise bad_input("Two-factor sign-in is already on.")
    attempt = await services.limits.second_factor_failures.reserve(user_id)
    secret = await services.keys.open_text(grant, secret_ref(user_id), pending.secret_sealed)
    now = services.clock()
    step = totp.matching_step(secret, code, now.timestamp())
    if step is None or not await services.two_factor.claim(user_id, f"step:{step}", now):
        raise bad_input(_WRONG_CODE, field="code")
    await attempt.succeeded()
    codes = totp.new_recovery_codes()
    await services.two_factor.enable(user_id, step, _hashes(services, user_id, codes), now)
    await services.audit.account_event(
        user_id, AuditKind.TWO_FACTOR_ENABLED, client_address=ctx.client_address
    )
    return codes


async def regenerate_recovery_codes(
    ctx: RequestContext, code: str | None, recovery_code: str | None
) -> list[str]:
    """Ten new recovery codes in place of the old ones, for a current code."""
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.WRITE)
    record = await _enabled(services, caller.user_id)
    await _check_factor(services, record, grant, code, recovery_code, refuse=_signed_in_refusal)
    codes = totp.new_recovery_codes()
    hashes = _hashes(services, caller.user_id, codes)
    await services.two_factor.replace_recovery_codes(caller.user_id, hashes, services.clock())
    await services.audit.account_event(
        caller.user_id, AuditKind.RECOVERY_CODES_REGENERATED, client_address=ctx.client_address
    )
    return codes


async def disable(
    ctx: RequestContext, password: str, code: str | None, recovery_code: str | None
) -> None:
    """Turn two-factor off: needs the password and a current code (or a recovery code)."""
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.WRITE)
    record = await _enabled(services, caller.user_id)
    _one_factor(code, recovery_code)
    await prove_password(services, caller.user_id, password, field="password")
    await _check_factor(services, record, grant, code, recovery_code, refuse=_signed_in_refusal)
    await services.two_factor.disable(caller.user_id)
    await services.audit.account_event(
        caller.user_id, AuditKind.TWO_FACTOR_DISABLED, client_address=ctx.client_address
    )


async def complete_log_in(
    ctx: RequestContext, token: str, code: str | None, recovery_code: str | None
) -> AuthResult:
    """The second step of `logIn`: its token and a code (or a recovery code) open a session."""
    services = ctx.services
    await services.limits.logins_per_ip.hit(ctx.client_address)
    _one_factor(code, recovery_code)
    well_formed = token.startswith(SECOND_STEP_PREFIX) and len(token) <= _MAX_TOKEN_LENGTH
    token_hash = hash_token(token) if well_formed else None
    found = await services.two_factor.second_step(token_hash) if token_hash else None
    if token_hash is None or found is None:
        raise _sign_in_refusal(_NO_STEP, "token")
    user_id, expires_at = found
    now = services.clock()
    record = await services.two_factor.get(user_id)
    user = await services.accounts.get_user(user_id)
    if expires_at <= now or record is None or not record.enabled or user is None:
        # Expired, or two-factor was turned off (or the account removed) meanwhile.
        await services.two_factor.end_second_step(token_hash)
        raise _sign_in_refusal(_NO_STEP, "token")
    grant = services.authz.proven_account(user_id)
    await _check_factor(services, record, grant, code, recovery_code, refuse=_sign_in_refusal)
    # Two requests racing with one second step and two right codes: one session, not two.
    if not await services.identity.spend_token(token_hash, now):
        raise _sign_in_refusal(_NO_STEP, "token")
    await services.two_factor.end_second_step(token_hash)
    session, opened = await open_session(services, user_id)
    await services.audit.account_event(
        user_id,
        AuditKind.SIGN_IN,
        client_address=ctx.client_address,
        details={
            "sessionId": opened.session_id,
            "secondFactor": "recovery code" if recovery_code else "code",
        },
    )
    ctx.forget_principal()
    return AuthResult(token=session, user=own_view(services, user, grant))


def _one_factor(code: str | None, recovery_code: str | None) -> None:
    if (code is None) == (recovery_code is None):
        raise bad_input(
            "Give either `code` (from your authenticator app) or `recoveryCode`, not both.",
            field="code",
        )


async def _enabled(services: Services, user_id: str) -> TwoFactorRecord:
    record = await services.two_factor.get(user_id)
    if record is None or not record.enabled:
        raise bad_input("Two-factor sign-in is not on for this account.")
    return record


def _hashes(services: Services, user_id: str, codes: list[str]) -> list[bytes]:
    return [_recovery_hash(services, user_id, code) for code in codes]


def _recovery_hash(services: Services, user_id: str, code: str) -> bytes:
    # Keyed, and per account: a database alone tells nothing about any code.
    return services.keyring.blind_index(RECOVERY_INDEX, f"{user_id}:{code}")


async def _check_factor(
    services: Services,
    record: TwoFactorRecord,
    grant: Grant,
    code: str | None,
    recovery_code: str | None,
    *,
    refuse: Refusal,
) -> None:
    """Spend one right code, or raise `refuse(message, field)`; every wrong one counts."""
    _one_factor(code, recovery_code)
    user_id = record.user_id
    repo = services.two_factor
    attempt = await services.limits.second_factor_failures.reserve(user_id)
    now = services.clock()
    if code is not None:
        secret = await services.keys.open_text(grant, secret_ref(user_id), record.secret_sealed)
        step = totp.matching_step(secret, code, now.timestamp())
        if step is None:
            raise refuse(_WRONG_CODE, "code")
        if step <= record.last_step or not await repo.claim(user_id, f"step:{step}", now):
            raise refuse(_USED_CODE, "code")
        await repo.step_used(user_id, step, record.last_step, now)
    else:
        normalized = totp.normalize_recovery_code(recovery_code or "")
        code_hash = _recovery_hash(services, user_id, normalized) if normalized else None
        if (
            code_hash is None
            or not await repo.has_recovery_code(user_id, code_hash)
            or not await repo.claim(user_id, f"code:{code_hash.hex()}", now)
        ):
            raise refuse(_WRONG_RECOVERY, "recoveryCode")
        await repo.spend_recovery_code(user_id, code_hash)
    await attempt.succeeded()
