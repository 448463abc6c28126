"""Login sessions: 256-bit bearer tokens stored only as hashes, expiring and revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from crypto.tokens import hash_token, new_token
from persistence.accounts import SessionRecord
from persistence.ids import new_id
from persistence.space import writes_when_full
from resolvers.app_auth import authenticate_app
from resolvers.app_model import APP_TOKEN_PREFIX
from resolvers.audit import AuditKind
from resolvers.authz import Principal
from resolvers.errors import not_found
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from resolvers.context import RequestContext
    from resolvers.services import Services

TOKEN_PREFIX = "cove_"  # noqa: S105 - a public marker, not a secret
# A real token is the prefix plus 43 base64url characters; refuse anything far off before I/O.
_MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class SessionView:
    id: str
    created_at: datetime
    expires_at: datetime
    current: bool


async def authenticate(services: Services, token: str | None) -> Principal | None:
    """The principal behind a bearer token, or None when it is unknown, expired or revoked."""
    if token and token.startswith(APP_TOKEN_PREFIX):
        return await authenticate_app(services, token)
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    session = await services.accounts.get_session_by_token(hash_token(token))
    if session is None:
        return None
    if session.expires_at <= services.clock():
        with writes_when_full():  # a delete, on a full volume too
            await services.accounts.delete_session(session)
        return None
    return Principal(user_id=session.user_id, session_id=session.session_id)


async def open_session(services: Services, user_id: str) -> tuple[str, SessionRecord]:
    """Create a session; the token is returned once and only its hash is stored."""
    token = new_token(TOKEN_PREFIX)
    now = services.clock()
    record = SessionRecord(
        session_id=new_id(),
        user_id=user_id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + services.session_ttl,
    )
    await services.accounts.create_session(record)
    return token, record


async def list_sessions(ctx: RequestContext, first: int, after: str | None) -> Page[SessionView]:
    """The caller's live sessions, newest first."""
    check_first(first)
    caller = await ctx.require_user()
    start = decode_cursor(after, 1)
    cursor = str(start[0]) if start else None
    now = ctx.services.clock()
    edges: list[tuple[str, SessionView]] = []
    # Expired sessions are skipped (and removed when next presented), so read until the page fills.
    while len(edges) <= first:
        batch = await ctx.services.accounts.list_sessions(
            caller.user_id, limit=first + 1, after_session_id=cursor
        )
        for record in batch:
            if record.expires_at > now:
                view = SessionView(
                    id=record.session_id,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    current=record.session_id == caller.session_id,
                )
                edges.append((encode_cursor([record.session_id]), view))
        if len(batch) <= first:
            break
        cursor = batch[-1].session_id
    return Page(edges=edges[:first], has_next_page=len(edges) > first)


async def revoke_session(ctx: RequestContext, session_id: str) -> None:
    caller = await ctx.require_user()
    record = await ctx.services.accounts.get_session(caller.user_id, session_id)
    if record is None:
        raise not_found("session")
    await end_login(ctx.services, record)
    await _ended(ctx, record, "revoked")


async def log_out(ctx: RequestContext) -> None:
    caller = await ctx.require_user()
    record = await ctx.services.accounts.get_session(caller.user_id, caller.session_id)
    if record is not None:
        await end_login(ctx.services, record)
        await _ended(ctx, record, "logged out")
    ctx.forget_principal()


async def _ended(ctx: RequestContext, record: SessionRecord, how: str) -> None:
    await ctx.services.audit.account_event(
        record.user_id,
        AuditKind.SESSION_ENDED,
        client_address=ctx.client_address,
        details={"sessionId": record.session_id, "how": how},
    )


async def revoke_other_sessions(services: Services, user_id: str, keep_session_id: str) -> int:
    """End every session of the user but one; returns how many ended."""
    ended = 0
    cursor: str | None = None
    while True:
        batch = await services.accounts.list_sessions(user_id, limit=100, after_session_id=cursor)
        for record in batch:
            if record.session_id != keep_session_id:
                await end_login(services, record)
                ended += 1
        if len(batch) < 100:
            return ended
        cursor = batch[-1].session_id


async def get_session(ctx: RequestContext, session_id: str) -> SessionView:
    """One of the caller's own live sessions; any other id is NOT_FOUND."""
    caller = await ctx.require_user()
    record = await ctx.services.accounts.get_session(caller.user_id, session_id)
    if record is None or record.expires_at <= ctx.services.clock():
        raise not_found("session")
    return SessionView(
        id=record.session_id,
        created_at=record.created_at,
        expires_at=record.expires_at,
        current=record.session_id == caller.session_id,
    )


async def end_login(services: Services, record: SessionRecord) -> None:
    """End a login session and the realtime sessions opened with it, on every node (deletes
    only: they go through on a full volume)."""
    with writes_when_full():
        await services.accounts.delete_session(record)
        opened = await services.realtime.list_for_user(
            record.user_id, limit=services.policy.realtime.max_sessions_per_user
        )
        for session in opened:
            if session.login_session_id == record.session_id:
                await services.realtime.delete(session)
    # Every node ends the subscriptions of this login when this reaches it.
    await services.notices.login_ended(record.session_id)
