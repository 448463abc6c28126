"""Accounts: sign-up, log-in, password changes and the account's own sealed fields."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from strawberry.dataloader import DataLoader

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.tokens import hash_token, new_token
from persistence.accounts import UserRecord
from persistence.identity import SECOND_STEP
from resolvers.audit import AuditKind
from resolvers.authz import Action, Principal
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.global_ids import to_global_id
from resolvers.services import Services
from resolvers.sessions import open_session, revoke_other_sessions
from resolvers.validation import check_password, clean_name, normalize_email

EMAIL_INDEX = "email"
_BAD_CREDENTIALS = "The email or password is incorrect."
# A sign-in whose password was right waits this long for its second factor.
SECOND_STEP_TTL = timedelta(minutes=5)
SECOND_STEP_PREFIX = "cove2fa_"


class UserView:
    """A user the caller may see. Sealed fields are opened only when asked for, with the grant
    authorisation minted for this caller; the email only for the user themselves."""

    def __init__(
        self,
        services: Services,
        user_id: str,
        grant: Grant,
        *,
        with_email: bool,
        record: UserRecord | None = None,
        loader: DataLoader[str, UserRecord | None] | None = None,
    ) -> None:
        self.id = user_id
        self._services = services
        self._grant = grant
        self._with_email = with_email
        self._record = record
        self._loading: asyncio.Task[UserRecord] | None = None
        self._loader = loader
        self._display_name: str | None = None  # opened once, however often it is shown
        self._global_id: str | None = None

    @property
    def global_id(self) -> str:
        """The user's opaque global id, encoded once however often it is shown (an author
        appears on many messages of a page, all sharing one view)."""
        if self._global_id is None:
            self._global_id = to_global_id("User", self.id)
        return self._global_id

    async def record(self) -> UserRecord:
        """The sealed record, read once however many fields ask for it at the same time."""
        if self._record is None:
            if self._loading is None:
                self._loading = asyncio.ensure_future(self._load())
            self._record = await self._loading
        return self._record

    async def _load(self) -> UserRecord:
        if self._loader is None:
            return await _load_user(self._services, self.id)
        record = await self._loader.load(self.id)
        if record is None:
            raise not_found("user")
        return record

    def display_name_ready(self) -> str | None:
        """The name when it opens without waiting (record read, key loaded); else None."""
        if self._display_name is None and self._record is not None:
            ref = display_name_ref(self.id)
            sealed = self._record.display_name_sealed
            self._display_name = self._services.keys.open_text_now(self._grant, ref, sealed)
        return self._display_name

    async def display_name(self) -> str:
        if self._display_name is None:
            record = await self.record()
            ref = display_name_ref(self.id)
            sealed = record.display_name_sealed
            self._display_name = await self._services.keys.open_text(self._grant, ref, sealed)
        return self._display_name

    async def email(self) -> str | None:
        if not self._with_email:
            return None
        record = await self.record()
        return await self._services.keys.open_text(
            self._grant, email_ref(self.id), record.email_sealed
        )

    async def created_at(self) -> datetime:
        return (await self.record()).created_at

    @property
    def own(self) -> bool:
        """Whether this is the caller's own account (its private fields show)."""
        return self._with_email


@dataclass(frozen=True)
class AuthResult:
    token: str
    user: UserView


@dataclass(frozen=True)
class SecondStep:
    """A sign-in whose password was right, for an account with two-factor on: no session
    yet; `completeLogIn` with this token and a code opens one."""

    token: str
    expires_at: datetime


def email_ref(user_id: str) -> FieldRef:
    return FieldRef(entity="user", field="email", row_id=user_id, workspace_id="")


def display_name_ref(user_id: str) -> FieldRef:
    return FieldRef(entity="user", field="display_name", row_id=user_id, workspace_id="")


async def log_in(ctx: RequestContext, email: str, password: str) -> AuthResult | SecondStep:
    """Unknown email and wrong password give the same error after the same amount of work.
    An account with two-factor on gets a second step instead of a session."""
    services = ctx.services
    limits = services.limits
    await limits.logins_per_ip.hit(ctx.client_address)
    try:
        normalized = normalize_email(email)
    except CoveError:
        normalized = None
    index = services.keyring.blind_index(EMAIL_INDEX, normalized or email.strip().lower())
    # Failures are counted per address given, whether or not an account has it, so the
    # limit itself reveals nothing about which accounts exist; keyed by the blind index so
    # no email sits in memory longer than the request.
    # The slot is taken before the password is checked, so a burst of guesses sent at once
    # has no more of them checked than the limit; a failure keeps its slot.
    attempt = await limits.login_failures.reserve(index.hex())
    user_id = await services.accounts.find_user_id_by_email(index) if normalized else None
    record = await services.accounts.get_user(user_id) if user_id else None
    if record is None:
        await services.passwords.verify_dummy(password)
        raise CoveError(ErrorCode.UNAUTHENTICATED, _BAD_CREDENTIALS)
    outcome = await services.passwords.verify(record.password_hash, password)
    if not outcome.ok:
        services.audit.account_event_soon(
            record.user_id, AuditKind.SIGN_IN_FAILED, client_address=ctx.client_address
        )
        raise CoveError(ErrorCode.UNAUTHENTICATED, _BAD_CREDENTIALS)
    await attempt.succeeded()
    if outcome.needs_rehash:
        # Parameters changed, or a legacy PBKDF2 hash: upgrade it now that we hold the password.
        new_hash = await services.passwords.hash(password)
        await services.accounts.set_password_hash(record.user_id, new_hash, services.clock())
    if (second := await services.two_factor.get(record.user_id)) and second.enabled:
        return await _second_step(services, record.user_id)
    token, session = await open_session(services, record.user_id)
    await services.audit.account_event(
        record.user_id,
        AuditKind.SIGN_IN,
        client_address=ctx.client_address,
        details={"sessionId": session.session_id},
    )
    ctx.forget_principal()
    grant = services.authz.proven_account(record.user_id)
    return AuthResult(token=token, user=own_view(services, record, grant))


async def _second_step(services: Services, user_id: str) -> SecondStep:
    """A short-lived token standing for the checked password; only its hash is stored."""
    token = new_token(SECOND_STEP_PREFIX)
    expires_at = services.clock() + SECOND_STEP_TTL
    token_hash = hash_token(token)
    await services.two_factor.add_second_step(token_hash, user_id, expires_at)
    await services.identity.expire_later(SECOND_STEP, token_hash, expires_at)
    return SecondStep(token=token, expires_at=expires_at)


async def prove_password(services: Services, user_id: str, password: str, *, field: str) -> None:
    """Refuse unless `password` is the account's, for actions a stolen session alone must not
    take. A stolen session must not become a way to guess the password either: wrong ones
    are limited per account like failed sign-ins, aliases and bursts included."""
    record = await _load_user(services, user_id)
    attempt = await services.limits.password_change_failures.reserve(user_id)
    outcome = await services.passwords.verify(record.password_hash, password)
    if not outcome.ok:
        raise bad_input("The password is incorrect.", field=field)
    await attempt.succeeded()


async def change_password(ctx: RequestContext, current_password: str, new_password: str) -> int:
    """Set a new password and end every other session; returns how many sessions ended."""
    services = ctx.services
    caller = await ctx.require_user()
    await prove_password(services, caller.user_id, current_password, field="currentPassword")
    check_password(new_password, field="newPassword")
    new_hash = await services.passwords.hash(new_password)
    await services.accounts.set_password_hash(caller.user_id, new_hash, services.clock())
    ended = await revoke_other_sessions(services, caller.user_id, caller.session_id)
    await services.audit.account_event(
        caller.user_id,
        AuditKind.PASSWORD_CHANGED,
        client_address=ctx.client_address,
        details={"sessionsEnded": str(ended)},
    )
    return ended


async def update_profile(ctx: RequestContext, display_name: str) -> UserView:
    services = ctx.services
    caller = await ctx.require_user()
    grant = services.authz.own_account(caller, caller.user_id, Action.WRITE)
    name = clean_name(display_name, field="displayName")
    sealed = await services.keys.seal_text(display_name_ref(caller.user_id), name)
    if not await services.accounts.set_display_name(caller.user_id, sealed, services.clock()):
        raise not_found("user")
    return UserView(services, caller.user_id, grant, with_email=True)


async def viewer(ctx: RequestContext) -> UserView:
    """The signed-in user; nothing is read or opened until a field asks for it."""
    caller = await ctx.require_user()
    grant = ctx.services.authz.own_account(caller, caller.user_id, Action.READ)
    return UserView(ctx.services, caller.user_id, grant, with_email=True)


async def get_user(ctx: RequestContext, user_id: str) -> UserView:
    """A user the caller may see; today that is only the caller."""
    services = ctx.services
    caller: Principal | None = await ctx.principal()
    grant = services.authz.own_account(caller, user_id, Action.READ)
    view = UserView(services, user_id, grant, with_email=True)
    await view.record()  # NOT_FOUND now, not when a field is read
    return view


async def _load_user(services: Services, user_id: str) -> UserRecord:
    record = await services.accounts.get_user(user_id)
    if record is None:
        raise not_found("user")
    return record


def own_view(services: Services, record: UserRecord, grant: Grant) -> UserView:
    return UserView(services, record.user_id, grant, with_email=True, record=record)
