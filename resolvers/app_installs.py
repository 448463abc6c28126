"""Installing an app in a workspace: the consent an owner or admin gives, and uninstalling.

`appInstallRequest` shows exactly what the app asks for; `approveAppInstall` answers the
app's redirect URI carrying a one-time authorization code (RFC 6749 §4.1.2) bound to a PKCE
S256 challenge (RFC 7636), which the app exchanges at `POST /oauth/token`. The first approval
in a workspace makes the install's bot: a user named as the app, a BOT member there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN

from crypto.tokens import hash_token, new_token
from persistence.accounts import UserRecord
from persistence.apps import AppRecord, CodeRecord, InstallRecord
from persistence.ids import new_id
from persistence.workspaces import MembershipRecord
from resolvers.accounts import display_name_ref, email_ref
from resolvers.app_auth import end_grants, end_realtime
from resolvers.app_model import CODE_PREFIX, AppScope, parse_scopes, scope_set, scope_text
from resolvers.authz import WorkspaceAccess, forbidden
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.roles import Role
from resolvers.workspaces import access

MAX_STATE = 500
S256 = "S256"


@dataclass(frozen=True)
class InstallRequest:
    """What an admin is asked to approve."""

    app: AppRecord
    workspace_id: str
    scopes: list[AppScope]
    redirect_uri: str
    installed_scopes: list[AppScope] | None  # what an earlier approval gave, if installed


@dataclass(frozen=True)
class Approval:
    client_id: str
    workspace_id: str
    scopes: Sequence[str]
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    state: str | None


async def _manager(ctx: RequestContext, workspace_id: str) -> WorkspaceAccess:
    caller = await ctx.require_user()
    if caller.app is not None:
        raise forbidden("Apps do not install apps; a workspace owner or admin does.")
    granted = await access(ctx, workspace_id)
    if not granted.role.manages_members:
        raise forbidden("Only workspace owners and admins install and uninstall apps.")
    return granted


async def _request(
    ctx: RequestContext, client_id: str, scopes: Sequence[str], redirect_uri: str
) -> tuple[AppRecord, frozenset[str]]:
    app = await ctx.services.apps.by_client_id(client_id)
    if app is None:
        raise not_found("app")
    if redirect_uri not in app.redirect_uris.split("\n"):
        raise bad_input(
            "The redirect URI must match one the app registered exactly.", field="redirectUri"
        )
    asked = parse_scopes(scopes)
    if not asked:
        raise bad_input("Ask for at least one scope.", field="scopes")
    beyond = asked - scope_set(app.scopes)
    if beyond:
        raise bad_input(
            f"The app did not register {scope_text(beyond)}: it may ask only for its "
            "registered scopes.",
            field="scopes",
        )
    return app, asked


def _listed(scopes: frozenset[str]) -> list[AppScope]:
    return [AppScope(name) for name in sorted(scopes)]


async def install_request(
    ctx: RequestContext,
    client_id: str,
    workspace_id: str,
    scopes: Sequence[str],
    redirect_uri: str,
) -> InstallRequest:
    await _manager(ctx, workspace_id)
    app, asked = await _request(ctx, client_id, scopes, redirect_uri)
    install = await ctx.services.apps.get_install(app.app_id, workspace_id)
    installed = None if install is None else _listed(scope_set(install.scopes))
    return InstallRequest(app, workspace_id, _listed(asked), redirect_uri, installed)


async def approve_install(ctx: RequestContext, approval: Approval) -> str:
    """The redirect URL carrying a one-time code (and the app's `state`)."""
    services = ctx.services
    granted = await _manager(ctx, approval.workspace_id)
    app, asked = await _request(ctx, approval.client_id, approval.scopes, approval.redirect_uri)
    if approval.code_challenge_method != S256:
        raise bad_input(
            "Only the S256 code challenge method is accepted (RFC 7636); plain is refused.",
            field="codeChallengeMethod",
        )
    if not re.fullmatch(CODE_CHALLENGE_PATTERN, approval.code_challenge):
        raise bad_input(
            "A code challenge is 43 to 128 characters of [A-Za-z0-9-._~].",
            field="codeChallenge",
        )
    if approval.state is not None and len(approval.state) > MAX_STATE:
        raise bad_input(f"A state is at most {MAX_STATE} characters.", field="state")
    await _installed(ctx, granted, app, asked)
    code = new_token(CODE_PREFIX)
    await services.apps.add_code(
        CodeRecord(
            code_hash=hash_token(code),
            app_id=app.app_id,
            workspace_id=approval.workspace_id,
            scopes=scope_text(asked),
            redirect_uri=approval.redirect_uri,
            code_challenge=approval.code_challenge,
            approved_by=granted.principal.user_id,
            expires_at=services.clock() + services.policy.apps.code_ttl,
            used=False,
            grant_id="",
        )
    )
    params = [("code", code)]
    if approval.state is not None:
        params.append(("state", approval.state))
    return str(add_params_to_uri(approval.redirect_uri, params))


async def _installed(
    ctx: RequestContext, granted: WorkspaceAccess, app: AppRecord, scopes: frozenset[str]
) -> InstallRecord:
    """The install, made with its bot on the first approval; its scopes are the latest
    approval's. A token holds the scopes both its own approval and the install's hold
    (resolvers/app_auth.py): approving fewer narrows the tokens out at once."""
    services = ctx.services
    now = services.clock()
    install = await services.apps.get_install(app.app_id, granted.workspace_id)
    if install is None:
        bot_user_id = new_id()
        await services.accounts.create_bot(
            UserRecord(
                user_id=bot_user_id,
                email_sealed=await services.keys.seal_text(email_ref(bot_user_id), ""),
                display_name_sealed=await services.keys.seal_text(
                    display_name_ref(bot_user_id), app.name
                ),
                password_hash="",  # no password: a bot never signs in
                created_at=now,
                updated_at=now,
            )
        )
        member = MembershipRecord(granted.workspace_id, bot_user_id, Role.BOT.value, now)
        await services.workspaces.put_member(member)
        install = InstallRecord(
            app_id=app.app_id,
            workspace_id=granted.workspace_id,
            bot_user_id=bot_user_id,
            scopes=scope_text(scopes),
            installed_by=granted.principal.user_id,
            installed_at=now,
        )
        narrowed = False
    else:
        narrowed = not scope_set(install.scopes) <= scopes
        install = replace(
            install, scopes=scope_text(scopes), installed_by=granted.principal.user_id
        )
    await services.apps.install(install)
    services.app_events.forget(granted.workspace_id)
    if narrowed:
        # Tokens read the install's scopes on every request; open sockets keep the scopes
        # they were opened with, so they close (the app reconnects with its token).
        grants = await services.apps.grants(app.app_id)
        here = {grant_id for grant_id, ws in grants if ws == granted.workspace_id}
        await end_realtime(services, install.bot_user_id, here)
    return install


async def uninstall_app(ctx: RequestContext, workspace_id: str, app_id: str) -> None:
    """Every token of the install ends at once (and the realtime sessions opened with them);
    the bot leaves the workspace."""
    services = ctx.services
    await _manager(ctx, workspace_id)
    install = await services.apps.get_install(app_id, workspace_id)
    if install is None:
        raise not_found("app install")
    await services.apps.uninstall(app_id, workspace_id)
    await end_grants(services, app_id, {workspace_id: install.bot_user_id}, workspace_id)
    await services.workspaces.remove_member(workspace_id, install.bot_user_id)
    await services.notices.access_changed(install.bot_user_id)
    await services.app_events.app_uninstalled(app_id, workspace_id)
