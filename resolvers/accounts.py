"""Accounts: sign-up, log-in, password changes and the account's own sealed fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.ids import new_id
from persistence.records import UserRecord
from resolvers.authz import Action, Principal
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.services import Services
from resolvers.sessions import open_session, revoke_other_sessions
from resolvers.validation import check_password, clean_name, normalize_email

EMAIL_INDEX = "email"
_BAD_CREDENTIALS = "The email or password is incorrect."


@dataclass(frozen=True)
class UserView:
    """A user as the caller may see it; `email` only for the user themselves."""

    id: str
    display_name: str
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class AuthResult:
    token: str
    user: UserView


def email_ref(user_id: str) -> FieldRef:
    return FieldRef(entity="user", field="email", row_id=user_id, workspace_id="")


def display_name_ref(user_id: str) -> FieldRef:
    return FieldRef(entity="user", field="display_name", row_id=user_id, workspace_id="")


async def sign_up(ctx: RequestContext, email: str, password: str, display_name: str) -> AuthResult:
    """Create an account and its first session; on any failure nothing of it remains."""
    services = ctx.services
    normalized = normalize_email(email)
    check_password(password)
    name = clean_name(display_name, field="displayName")
    password_hash = await services.passwords.hash(password)
    user_id = new_id()
    now = services.clock()
    record = UserRecord(
        user_id=user_id,
        email_sealed=await services.keys.seal_text(email_ref(user_id), normalized),
        display_name_sealed=await services.keys.seal_text(display_name_ref(user_id), name),
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    email_index = services.keyring.blind_index(EMAIL_INDEX, normalized)
    if not await services.accounts.create_user(record, email_index):
        raise bad_input("An account with this email address already exists.", field="email")
    try:
        token, _ = await open_session(services, user_id)
    except BaseException:
        await services.accounts.delete_user(record, email_index)
        raise
    ctx.forget_principal()
    grant = services.authz.proven_account(user_id)
    return AuthResult(token=token, user=await _view(services, record, grant, with_email=True))


async def log_in(ctx: RequestContext, email: str, password: str) -> AuthResult:
    """Unknown email and wrong password give the same error after the same amount of work."""
    services = ctx.services
    try:
        normalized = normalize_email(email)
    except CoveError:
        normalized = None
    user_id = None
    if normalized is not None:
        index = services.keyring.blind_index(EMAIL_INDEX, normalized)
        user_id = await services.accounts.find_user_id_by_email(index)
    record = await services.accounts.get_user(user_id) if user_id else None
    if record is None:
        await services.passwords.verify_dummy(password)
        raise CoveError(ErrorCode.UNAUTHENTICATED, _BAD_CREDENTIALS)
    outcome = await services.passwords.verify(record.password_hash, password)
    if not outcome.ok:
        raise CoveError(ErrorCode.UNAUTHENTICATED, _BAD_CREDENTIALS)
    if outcome.needs_rehash:
        # Parameters changed, or a legacy PBKDF2 hash: upgrade it now that we hold the password.
        new_hash = await services.passwords.hash(password)
        await services.accounts.set_password_hash(record.user_id, new_hash, services.clock())
    token, _ = await open_session(services, record.user_id)
    ctx.forget_principal()
    grant = services.authz.proven_account(record.user_id)
    return AuthResult(token=token, user=await _view(services, record, grant, with_email=True))


async def change_password(ctx: RequestContext, current_password: str, new_password: str) -> int:
    """Set a new password and end every other session; returns how many sessions ended."""
    services = ctx.services
    caller = await ctx.require_user()
    record = await _load_user(services, caller.user_id)
    outcome = await services.passwords.verify(record.password_hash, current_password)
    if not outcome.ok:
        raise bad_input("The current password is incorrect.", field="currentPassword")
    check_password(new_password, field="newPassword")
    new_hash = await services.passwords.hash(new_password)
    await services.accounts.set_password_hash(caller.user_id, new_hash, services.clock())
    return await revoke_other_sessions(services, caller.user_id, caller.session_id)


async def update_profile(ctx: RequestContext, display_name: str) -> UserView:
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.WRITE)
    name = clean_name(display_name, field="displayName")
    sealed = await services.keys.seal_text(display_name_ref(caller.user_id), name)
    await services.accounts.set_display_name(caller.user_id, sealed, services.clock())
    return await _view(services, await _load_user(services, caller.user_id), grant, with_email=True)


async def viewer(ctx: RequestContext) -> UserView:
    caller = await ctx.require_user()
    return await get_user(ctx, caller.user_id)


async def get_user(ctx: RequestContext, user_id: str) -> UserView:
    """A user the caller may see; today that is only the caller."""
    services = ctx.services
    caller: Principal | None = await ctx.principal()
    grant = services.authz.own_account(caller, user_id, Action.READ)
    record = await services.accounts.get_user(user_id)
    if record is None:
        raise not_found("user")
    return await _view(services, record, grant, with_email=True)


async def _load_user(services: Services, user_id: str) -> UserRecord:
    record = await services.accounts.get_user(user_id)
    if record is None:
        raise not_found("user")
    return record


async def _view(
    services: Services, record: UserRecord, grant: Grant, *, with_email: bool
) -> UserView:
    keys = services.keys
    name = await keys.open_text(grant, display_name_ref(record.user_id), record.display_name_sealed)
    email = (
        await keys.open_text(grant, email_ref(record.user_id), record.email_sealed)
        if with_email
        else None
    )
    return UserView(id=record.user_id, display_name=name, email=email, created_at=record.created_at)
