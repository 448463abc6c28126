"""App tokens: who an access token `cove_app_…` speaks for, and ending a token family.

An access token authenticates as the install's bot user, with the install's workspace and
the scopes approved for its grant. It is refused once expired, once its family is ended
(uninstall, reuse of a refresh token, revocation), once the app's client secret is rotated
(the token names the secret's version) and once the app or its install is gone. Its scopes
are those held by both its grant's approval and the install's latest one: an admin who
approves again with fewer scopes narrows the tokens already out at once (more widen none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from datetime import datetime
from typing import TYPE_CHECKING

from crypto.tokens import hash_token
from persistence.space import writes_when_full
from resolvers.app_model import APP_TOKEN_PREFIX, scope_set
from resolvers.authz import AppCaller, Principal

if TYPE_CHECKING:
    from resolvers.services import Services

ACCESS = "access"
REFRESH = "refresh"
_MAX_TOKEN_LENGTH = 128


async def authenticate_app(services: Services, token: str) -> Principal | None:
    """The bot principal behind an app access token, or None."""
    if not token.startswith(APP_TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    record = await services.apps.get_token(hash_token(token))
    if record is None or record.kind != ACCESS or record.expires_at <= services.clock():
        return None
    # Read together. A token row is written by compare-and-set (a lightweight transaction on
    # ScyllaDB), so the plain delete that ends it could lose to it on timestamps; the
    # family's row is only ever written plainly, and an ended family is what stops its tokens.
    live, app, install = await asyncio.gather(
        services.apps.has_grant(record.app_id, record.grant_id),
        services.apps.get(record.app_id),
        services.apps.get_install(record.app_id, record.workspace_id),
    )
    if not live or app is None or app.secret_version != record.secret_version:
        return None
    if install is None or install.bot_user_id != record.bot_user_id:
        return None
    scopes = scope_set(record.scopes) & scope_set(install.scopes)
    caller = AppCaller(record.app_id, record.workspace_id, scopes)
    return Principal(user_id=record.bot_user_id, session_id=record.grant_id, app=caller)


async def end_grant(services: Services, app_id: str, grant_id: str, bot_user_id: str) -> None:
    """End a token family: its tokens, and the realtime sessions opened with them on every
    node (deletes only: they go through on a full volume)."""
    with writes_when_full():
        await services.apps.end_grant(app_id, grant_id)
    await end_realtime(services, bot_user_id, {grant_id})


async def end_realtime(services: Services, bot_user_id: str, grant_ids: Set[str]) -> None:
    """Close the realtime sessions opened with these token families of a bot, and their
    sockets, on every node: when a family ends, and when a narrower approval leaves sockets
    holding scopes their tokens no longer have (a socket keeps those it was opened with)."""
    with writes_when_full():
        opened = await services.realtime.list_for_user(
            bot_user_id, limit=services.policy.realtime.max_sessions_per_user
        )
        for session in opened:
            if session.login_session_id in grant_ids:
                await services.realtime.delete(session)
    for grant_id in grant_ids:
        await services.notices.login_ended(grant_id)


async def end_grants(
    services: Services, app_id: str, bots: dict[str, str], workspace_id: str | None = None
) -> int:
    """End every family of an app (of one workspace's install when `workspace_id` is given);
    `bots` maps workspace ids to their install's bot. Returns how many ended."""
    ended = 0
    for grant_id, grant_workspace in await services.apps.grants(app_id):
        if workspace_id is None or grant_workspace == workspace_id:
            await end_grant(services, app_id, grant_id, bots.get(grant_workspace, ""))
            ended += 1
    return ended


async def grant_until(services: Services, caller: Principal, grant_id: str) -> datetime | None:
    """For a realtime session an app opened: until when its token family may last (the
    longest a refresh token lives from now), or None once the family is ended (uninstall,
    revocation, refresh token reuse, secret rotation) or belongs to another app's bot."""
    app = caller.app
    if app is None or not await services.apps.has_grant(app.app_id, grant_id):
        return None
    return services.clock() + services.policy.apps.refresh_token_ttl


async def bot_principal(
    services: Services, user_id: str, grant_id: str, workspace_id: str
) -> Principal | None:
    """The principal of work an app's bot began and finishes later (an upload's bytes): the
    bot of an install in `workspace_id` whose token family `grant_id` is not ended; None
    for anyone else."""
    installs = await services.apps.installed_in(workspace_id, limit=1000)
    install = next((i for i in installs if i.bot_user_id == user_id), None)
    if install is None or not await services.apps.has_grant(install.app_id, grant_id):
        return None
    caller = AppCaller(install.app_id, workspace_id, scope_set(install.scopes))
    return Principal(user_id=user_id, session_id=grant_id, app=caller)
