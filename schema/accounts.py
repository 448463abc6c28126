"""Accounts and sessions: the User and Session types and their mutations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import (
    accounts,
    identity,
    invitations,
    messages,
    sessions,
    two_factor,
    users,
    workspaces,
)
from resolvers.accounts import SecondStep, UserView
from resolvers.errors import not_found
from resolvers.sessions import SessionView
from schema.context import request_context
from schema.relay import Connection, Node, connection_from_page, raw_id_of, to_global_id

if TYPE_CHECKING:
    from schema.audit import AuditEvent
    from schema.calendars import Agenda
    from schema.messages import Message
    from schema.workspaces import Invitation, Workspace

DEFAULT_PAGE = 20


@strawberry.type(description="A login session of the signed-in user.")
class Session(Node):
    created_at: datetime
    expires_at: datetime
    current: bool = strawberry.field(description="True for the session this request came through.")

    @classmethod
    def from_view(cls, view: SessionView) -> Session:
        return cls(
            id=to_global_id("Session", view.id),
            created_at=view.created_at,
            expires_at=view.expires_at,
            current=view.current,
        )


@strawberry.type(description="A person with an account.")
class User(Node):
    view: strawberry.Private[UserView]

    @classmethod
    def from_view(cls, view: UserView) -> User:
        return cls(id=strawberry.ID(view.global_id), view=view)

    @strawberry.field
    def display_name(self) -> str:
        # Lists load authors and keys up front, so the name usually opens at once; otherwise
        # graphql-core awaits the coroutine returned here.
        ready = self.view.display_name_ready()
        return ready if ready is not None else self.view.display_name()  # type: ignore[return-value]

    @strawberry.field(description="The sign-in email; visible only to the user themselves.")
    async def email(self) -> str | None:
        return await self.view.email()

    @strawberry.field
    async def created_at(self) -> datetime:
        return await self.view.created_at()

    @strawberry.field(
        description="Whether you proved the sign-in email yours (the mailed link); invitations "
        "to it reach you only then. Null for anyone but yourself."
    )
    async def email_verified(self, info: Info[Any, Any]) -> bool | None:
        if not self.view.own:
            return None
        services = request_context(info).services
        return await identity.is_verified(services, await self.view.record())

    @strawberry.field(description="Whether two-factor sign-in is on; null for anyone but yourself.")
    async def two_factor_enabled(self, info: Info[Any, Any]) -> bool | None:
        if not self.view.own:
            return None
        return await request_context(info).loaders.two_factor_enabled.load(self.view.id)

    @strawberry.field(
        description="How many unused recovery codes you have left; null for anyone but yourself."
    )
    async def recovery_codes_left(self, info: Info[Any, Any]) -> int | None:
        if not self.view.own:
            return None
        return await two_factor.recovery_codes_left(request_context(info).services, self.view.id)

    @strawberry.field(description="The user's live sessions, newest first. Only your own.")
    async def sessions(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Session]:
        await self._own(info, "sessions")
        page = await sessions.list_sessions(request_context(info), first, after)
        return connection_from_page(page, Session.from_view)

    async def _own(self, info: Info[Any, Any], what: str) -> None:
        caller = await request_context(info).require_user()
        if caller.user_id != self.view.id:
            raise not_found(what)

    @strawberry.field(
        description="Security events of your account (sign-ins and failures, sessions ended, "
        "password changes), newest first. Only your own."
    )
    async def security_log(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[AuditEvent, strawberry.lazy("schema.audit")]]:
        from schema.audit import user_security_log

        await self._own(info, "user")
        return await user_security_log(info, self.view.id, first, after)

    @strawberry.field(description="Your workspaces, in the order you joined. Only your own.")
    async def workspaces(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[Workspace, strawberry.lazy("schema.workspaces")]]:
        from schema.workspaces import Workspace

        await self._own(info, "workspaces")
        page = await workspaces.my_workspaces(request_context(info), first, after)
        return connection_from_page(page, Workspace.from_view)

    @strawberry.field(description="Live invitations to your email, newest first. Only your own.")
    async def invitations(
        self, info: Info[Any, Any]
    ) -> list[Annotated[Invitation, strawberry.lazy("schema.workspaces")]]:
        from schema.workspaces import Invitation

        await self._own(info, "invitations")
        return [
            Invitation.from_view(v) for v in await invitations.my_invitations(request_context(info))
        ]

    @strawberry.field(description="Messages that mention you, newest first. Only your own.")
    async def mentions(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Annotated[Message, strawberry.lazy("schema.messages")]]:
        from schema.messages import Message

        await self._own(info, "mentions")
        page = await messages.my_mentions(request_context(info), first, after)
        return connection_from_page(page, Message.from_view)

    @strawberry.field(
        description="Your events (every calendar you may read, and events you are invited to) "
        "in [from, to), by start. Only your own."
    )
    async def agenda(
        self,
        info: Info[Any, Any],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        first: Annotated[
            int,
            strawberry.argument(
                description="Most event occurrences to answer, 1 to 5,000; a window holding "
                "more is refused."
            ),
        ] = 500,
    ) -> Annotated[Agenda, strawberry.lazy("schema.calendars")]:
        from schema.calendars import viewer_agenda

        await self._own(info, "agenda")
        return await viewer_agenda(info, from_, to, first)


async def load_user(info: Info[Any, Any], raw_id: str) -> User:

    return User.from_view(await users.get_user(request_context(info), raw_id))


async def load_session(info: Info[Any, Any], raw_id: str) -> Session:
    return Session.from_view(await sessions.get_session(request_context(info), raw_id))


async def resolve_viewer(info: Info[Any, Any]) -> User | None:
    return User.from_view(await accounts.viewer(request_context(info)))


@strawberry.input
class SignUpInput:
    email: str
    password: str = strawberry.field(description="10 to 1,024 characters.")
    display_name: str = strawberry.field(description="1 to 100 characters.")


@strawberry.input
class LogInInput:
    email: str
    password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.input
class RevokeSessionInput:
    session_id: strawberry.ID


@strawberry.input
class UpdateProfileInput:
    display_name: str


@strawberry.type
class AuthPayload:
    token: str = strawberry.field(description="Bearer token for `Authorization: Bearer <token>`.")
    user: User


@strawberry.type(
    description="A sign-in: a session, or (two-factor on) a second step to complete first."
)
class LogInPayload:
    token: str | None = strawberry.field(
        description="Bearer token for `Authorization: Bearer <token>`; null while a second "
        "factor is needed."
    )
    user: User | None = strawberry.field(description="Null while a second factor is needed.")
    needs_second_factor: bool = strawberry.field(
        description="True when the account has two-factor on: call `completeLogIn` with "
        "`secondStepToken` and a code."
    )
    second_step_token: str | None = strawberry.field(
        description="For `completeLogIn`; valid five minutes. Not a session token."
    )
    second_step_expires_at: datetime | None = None


@strawberry.input
class CompleteLogInInput:
    second_step_token: str = strawberry.field(description="From `logIn`.")
    code: str | None = strawberry.field(
        default=None, description="The six digits your authenticator app shows now."
    )
    recovery_code: str | None = strawberry.field(
        default=None, description="One of your recovery codes, instead of `code`; works once."
    )


@strawberry.type
class TwoFactorEnrolmentPayload:
    otpauth_uri: str = strawberry.field(
        description="An `otpauth://totp/...` URI: show it as a QR code for an authenticator app."
    )
    secret: str = strawberry.field(description="The same secret in base32, to type by hand.")


@strawberry.input
class ConfirmTwoFactorEnrolmentInput:
    code: str = strawberry.field(description="The six digits your app shows for the new secret.")
    password: str = strawberry.field(
        description="Your password: a session alone cannot turn two-factor sign-in on."
    )


@strawberry.type
class RecoveryCodesPayload:
    recovery_codes: list[str] = strawberry.field(
        description="Ten single-use codes, shown this once: each signs you in instead of a "
        "code from the app. Earlier recovery codes no longer work."
    )


@strawberry.input
class TwoFactorCodeInput:
    code: str | None = strawberry.field(
        default=None, description="The six digits your authenticator app shows now."
    )
    recovery_code: str | None = strawberry.field(
        default=None, description="One of your recovery codes, instead of `code`."
    )


@strawberry.input
class DisableTwoFactorInput:
    password: str
    code: str | None = strawberry.field(
        default=None, description="The six digits your authenticator app shows now."
    )
    recovery_code: str | None = strawberry.field(
        default=None, description="One of your recovery codes, instead of `code`."
    )


@strawberry.type
class LogOutPayload:
    ok: bool


@strawberry.type(description="A request that sends mail; it says the same whatever the address.")
class MailSentPayload:
    message: str = strawberry.field(description="What to tell the person: check your email.")


@strawberry.type
class OkPayload:
    ok: bool


@strawberry.input
class TokenInput:
    token: str = strawberry.field(description="The token of the mailed link (after `#token=`).")


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="The token of the mailed link (after `#token=`).")
    new_password: str = strawberry.field(description="10 to 1,024 characters.")


@strawberry.type
class ResetPasswordPayload:
    ok: bool
    revoked_sessions: int = strawberry.field(description="How many sessions were ended.")


@strawberry.input
class RequestEmailChangeInput:
    new_email: str
    password: str = strawberry.field(
        description="Your password: a session alone cannot move the account."
    )


@strawberry.type
class ChangePasswordPayload:
    ok: bool
    revoked_sessions: int = strawberry.field(description="How many other sessions were ended.")


@strawberry.type
class RevokeSessionPayload:
    revoked_session_id: strawberry.ID


@strawberry.type
class UpdateProfilePayload:
    user: User


async def sign_up(info: Info[Any, Any], input: SignUpInput) -> MailSentPayload | None:
    message = await identity.sign_up(
        request_context(info), input.email, input.password, input.display_name
    )
    return MailSentPayload(message=message)


async def verify_email(info: Info[Any, Any], input: TokenInput) -> OkPayload | None:
    await identity.verify_email(request_context(info), input.token)
    return OkPayload(ok=True)


async def resend_verification_email(info: Info[Any, Any]) -> MailSentPayload | None:
    return MailSentPayload(message=await identity.resend_verification(request_context(info)))


async def request_password_reset(
    info: Info[Any, Any], input: RequestPasswordResetInput
) -> MailSentPayload | None:
    message = await identity.request_password_reset(request_context(info), input.email)
    return MailSentPayload(message=message)


async def reset_password(
    info: Info[Any, Any], input: ResetPasswordInput
) -> ResetPasswordPayload | None:
    ended = await identity.reset_password(request_context(info), input.token, input.new_password)
    return ResetPasswordPayload(ok=True, revoked_sessions=ended)


async def request_email_change(
    info: Info[Any, Any], input: RequestEmailChangeInput
) -> MailSentPayload | None:
    message = await identity.request_email_change(
        request_context(info), input.new_email, input.password
    )
    return MailSentPayload(message=message)


async def confirm_email_change(info: Info[Any, Any], input: TokenInput) -> OkPayload | None:
    await identity.confirm_email_change(request_context(info), input.token)
    return OkPayload(ok=True)


async def log_in(info: Info[Any, Any], input: LogInInput) -> LogInPayload | None:
    result = await accounts.log_in(request_context(info), input.email, input.password)
    if isinstance(result, SecondStep):
        return LogInPayload(
            token=None,
            user=None,
            needs_second_factor=True,
            second_step_token=result.token,
            second_step_expires_at=result.expires_at,
        )
    return LogInPayload(
        token=result.token,
        user=User.from_view(result.user),
        needs_second_factor=False,
        second_step_token=None,
    )


async def complete_log_in(info: Info[Any, Any], input: CompleteLogInInput) -> AuthPayload | None:
    result = await two_factor.complete_log_in(
        request_context(info), input.second_step_token, input.code, input.recovery_code
    )
    return AuthPayload(token=result.token, user=User.from_view(result.user))


async def begin_two_factor_enrolment(info: Info[Any, Any]) -> TwoFactorEnrolmentPayload | None:
    started = await two_factor.begin_enrolment(request_context(info))
    return TwoFactorEnrolmentPayload(otpauth_uri=started.otpauth_uri, secret=started.secret)


async def confirm_two_factor_enrolment(
    info: Info[Any, Any], input: ConfirmTwoFactorEnrolmentInput
) -> RecoveryCodesPayload | None:
    codes = await two_factor.confirm_enrolment(request_context(info), input.code, input.password)
    return RecoveryCodesPayload(recovery_codes=codes)


async def regenerate_recovery_codes(
    info: Info[Any, Any], input: TwoFactorCodeInput
) -> RecoveryCodesPayload | None:
    codes = await two_factor.regenerate_recovery_codes(
        request_context(info), input.code, input.recovery_code
    )
    return RecoveryCodesPayload(recovery_codes=codes)


async def disable_two_factor(
    info: Info[Any, Any], input: DisableTwoFactorInput
) -> LogOutPayload | None:
    await two_factor.disable(request_context(info), input.password, input.code, input.recovery_code)
    return LogOutPayload(ok=True)


async def log_out(info: Info[Any, Any]) -> LogOutPayload | None:
    await sessions.log_out(request_context(info))
    return LogOutPayload(ok=True)


async def change_password(
    info: Info[Any, Any],
    input: ChangePasswordInput,
) -> ChangePasswordPayload | None:
    revoked = await accounts.change_password(
        request_context(info), input.current_password, input.new_password
    )
    return ChangePasswordPayload(ok=True, revoked_sessions=revoked)


async def revoke_session(
    info: Info[Any, Any],
    input: RevokeSessionInput,
) -> RevokeSessionPayload | None:
    raw_id = raw_id_of(input.session_id, "Session")
    if raw_id is None:
        raise not_found("session")
    await sessions.revoke_session(request_context(info), raw_id)
    return RevokeSessionPayload(revoked_session_id=input.session_id)


async def update_profile(
    info: Info[Any, Any],
    input: UpdateProfileInput,
) -> UpdateProfilePayload | None:
    view = await accounts.update_profile(request_context(info), input.display_name)
    return UpdateProfilePayload(user=User.from_view(view))


@strawberry.type
class AccountsQuery:
    viewer: User | None = strawberry.field(
        resolver=resolve_viewer, description="The signed-in user."
    )


@strawberry.type
class AccountsMutation:
    sign_up: MailSentPayload | None = strawberry.mutation(
        resolver=sign_up,
        description="Create an account (sign in with `logIn`; it works at once) and mail a link "
        "proving its address. Answers the same whether or not the address has an account.",
    )
    verify_email: OkPayload | None = strawberry.mutation(
        resolver=verify_email,
        description="Prove your address with the link `signUp` or `resendVerificationEmail` "
        "mailed; no session needed.",
    )
    resend_verification_email: MailSentPayload | None = strawberry.mutation(
        resolver=resend_verification_email,
        description="Mail a new verification link to your address.",
    )
    request_password_reset: MailSentPayload | None = strawberry.mutation(
        resolver=request_password_reset,
        description="Mail a password-reset link (valid 30 minutes) to an address; answers the "
        "same whether or not it has an account.",
    )
    reset_password: ResetPasswordPayload | None = strawberry.mutation(
        resolver=reset_password,
        description="Set a new password with a reset link; ends every session of the account.",
    )
    request_email_change: MailSentPayload | None = strawberry.mutation(
        resolver=request_email_change,
        description="Ask to move your account to a new address: it confirms by a mailed link, "
        "and your current address is told.",
    )
    confirm_email_change: OkPayload | None = strawberry.mutation(
        resolver=confirm_email_change,
        description="Move the account to the address the link was mailed to.",
    )
    log_in: LogInPayload | None = strawberry.mutation(
        resolver=log_in,
        description="Sign in with email and password; with two-factor on, this answers a "
        "second step for `completeLogIn` instead of a session.",
    )
    complete_log_in: AuthPayload | None = strawberry.mutation(
        resolver=complete_log_in,
        description="The second step of signing in: a code from the authenticator app (or a "
        "recovery code) for the token `logIn` answered.",
    )
    begin_two_factor_enrolment: TwoFactorEnrolmentPayload | None = strawberry.mutation(
        resolver=begin_two_factor_enrolment,
        description="Start turning two-factor sign-in on: a new secret for an authenticator "
        "app, pending until `confirmTwoFactorEnrolment`.",
    )
    confirm_two_factor_enrolment: RecoveryCodesPayload | None = strawberry.mutation(
        resolver=confirm_two_factor_enrolment,
        description="Turn two-factor sign-in on with a first code; answers ten recovery codes.",
    )
    regenerate_recovery_codes: RecoveryCodesPayload | None = strawberry.mutation(
        resolver=regenerate_recovery_codes,
        description="Replace your recovery codes with ten new ones, for a current code.",
    )
    disable_two_factor: LogOutPayload | None = strawberry.mutation(
        resolver=disable_two_factor,
        description="Turn two-factor sign-in off, with your password and a current code.",
    )
    log_out: LogOutPayload | None = strawberry.mutation(
        resolver=log_out, description="End the session this request came through."
    )
    change_password: ChangePasswordPayload | None = strawberry.mutation(
        resolver=change_password, description="Change password; ends every other session."
    )
    revoke_session: RevokeSessionPayload | None = strawberry.mutation(
        resolver=revoke_session, description="End one of your sessions."
    )
    update_profile: UpdateProfilePayload | None = strawberry.mutation(
        resolver=update_profile, description="Change your display name."
    )
