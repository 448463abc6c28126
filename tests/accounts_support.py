"""Accounts for tests that call resolvers directly, without a server or mail."""

from __future__ import annotations

from email.message import EmailMessage

from api.policies import mail_policy_from
from api.settings import load_settings
from resolvers import identity
from resolvers.accounts import AuthResult, own_view
from resolvers.context import RequestContext
from resolvers.mail import Mailer
from resolvers.sessions import open_session
from resolvers.validation import clean_name, normalize_email


async def signed_up(
    ctx: RequestContext, email: str, password: str, name: str, *, verified: bool = True
) -> AuthResult:
    """A new account (its address proved unless `verified` is False) and a session of it,
    as signing up, opening the mailed link and signing in would leave them."""
    services = ctx.services
    record = await identity.create_account(
        services,
        normalize_email(email),
        password,
        clean_name(name, field="displayName"),
        verified=verified,
    )
    assert record is not None, f"{email} already has an account"
    token, _ = await open_session(services, record.user_id)
    grant = services.authz.proven_account(record.user_id)
    return AuthResult(token=token, user=own_view(services, record, grant))


APP_URL = "http://127.0.0.1:8000"


class RecordingTransport:
    """A mail transport that keeps what it is handed (for tests that never leave the process)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    @property
    def name(self) -> str:
        return "recording"

    async def send(self, message: EmailMessage, *, kind: str = "") -> None:
        self.sent.append(message)


def recording_mailer() -> Mailer:
    """A mailer that queues to the outbox like any other; start it to hand mail over."""
    policy = mail_policy_from(load_settings(environ={}))
    return Mailer(RecordingTransport(), sender="cove@test.invalid", app_url=APP_URL, policy=policy)
