"""Registering third-party apps: their metadata, client secret and webhook secret.

Any signed-in person may register an app and becomes its developer; only the developer sees
or changes it. Both secrets are shown once, when made: the client secret is kept only as a
SHA-256 hash, the webhook secret sealed under the account key (the server signs with it).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from crypto.field_seal import FieldRef
from crypto.tokens import hash_token, new_token
from persistence.apps import AppRecord
from persistence.ids import new_id
from resolvers.accounts import display_name_ref
from resolvers.app_auth import end_grants
from resolvers.app_model import (
    CLIENT_SECRET_PREFIX,
    MAX_APP_NAME,
    MAX_APPS_PER_DEVELOPER,
    MAX_DESCRIPTION,
    WEBHOOK_SECRET_PREFIX,
    AppScope,
    check_redirect_uris,
    check_url,
    check_webhook_events,
    parse_scopes,
    scope_text,
)
from resolvers.authz import Action, Principal, forbidden
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.services import Services
from resolvers.validation import clean_name

_MAX_INSTALLS = 10_000
# The record an app is shown from (the schema reaches records only through resolvers).
AppView = AppRecord


@dataclass(frozen=True)
class AppInput:
    """What a developer registers, or changes (None: keep what is there)."""

    name: str | None = None
    description: str | None = None
    homepage_url: str | None = None
    redirect_uris: Sequence[str] | None = None
    scopes: Sequence[str] | None = None
    webhook_url: str | None = None
    webhook_events: Sequence[str] | None = None


@dataclass(frozen=True)
class Registered:
    """A new app, with its secrets in clear: the only time they are shown."""

    app: AppRecord
    client_secret: str | None
    webhook_secret: str


def webhook_secret_ref(app_id: str) -> FieldRef:
    return FieldRef(entity="app", field="webhook_secret", row_id=app_id, workspace_id="")


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


async def _developer(ctx: RequestContext) -> Principal:
    caller = await ctx.require_user()
    if caller.app is not None:
        raise forbidden("Apps do not register or manage apps; a person does.")
    return caller


def _checked(ctx: RequestContext, app: AppRecord, changes: AppInput) -> AppRecord:
    """The app with the changes applied, each checked."""
    allow_http = ctx.services.policy.apps.allow_http
    updated = app
    if changes.name is not None:
        updated = replace(
            updated, name=clean_name(changes.name, field="name", max_length=MAX_APP_NAME)
        )
    if changes.description is not None:
        if len(changes.description) > MAX_DESCRIPTION:
            raise bad_input(
                f"A description is at most {MAX_DESCRIPTION} characters.", field="description"
            )
        updated = replace(updated, description=changes.description.strip())
    if changes.homepage_url is not None:
        url = check_url(changes.homepage_url, field="homepageUrl", allow_http=allow_http)
        updated = replace(updated, homepage_url=url)
    if changes.redirect_uris is not None:
        uris = check_redirect_uris(changes.redirect_uris, allow_http=allow_http)
        updated = replace(updated, redirect_uris=uris)
    if changes.scopes is not None:
        scopes = parse_scopes(changes.scopes)
        if not scopes:
            raise bad_input("Ask for at least one scope.", field="scopes")
        updated = replace(updated, scopes=scope_text(scopes))
    if changes.webhook_url is not None:
        url = changes.webhook_url.strip()
        if url:
            check_url(url, field="webhookUrl", allow_http=allow_http)
            refused = ctx.services.webhooks.refused_literal(url)
            if refused is not None:
                raise bad_input(
                    f"Webhooks are not sent to {refused} (webhooks_allow_private).",
                    field="webhookUrl",
                )
        updated = replace(updated, webhook_url=url)
    if changes.webhook_events is not None:
        updated = replace(updated, webhook_events=check_webhook_events(changes.webhook_events))
    if updated.webhook_events and not updated.webhook_url:
        raise bad_input("Webhook events need a webhook URL.", field="webhookUrl")
    return updated


async def register_app(ctx: RequestContext, data: AppInput, *, confidential: bool) -> Registered:
    services = ctx.services
    caller = await _developer(ctx)
    if data.name is None or data.homepage_url is None or data.redirect_uris is None:
        raise bad_input("An app needs a name, a homepage and redirect URIs.")
    if data.scopes is None:
        raise bad_input("Ask for at least one scope.", field="scopes")
    mine = await services.apps.of_developer(caller.user_id, limit=MAX_APPS_PER_DEVELOPER)
    if len(mine) >= MAX_APPS_PER_DEVELOPER:
        raise bad_input(f"A developer registers at most {MAX_APPS_PER_DEVELOPER} apps.")
    app_id = new_id()
    now = services.clock()
    client_secret = new_token(CLIENT_SECRET_PREFIX) if confidential else None
    webhook_secret = new_webhook_secret()
    blank = AppRecord(
        app_id=app_id,
        client_id="cove_client_" + secrets.token_urlsafe(18),
        developer_id=caller.user_id,
        developer_name=await _own_name(services, caller),
        name="",
        description="",
        homepage_url="",
        redirect_uris="",
        scopes="",
        webhook_url="",
        webhook_events="",
        confidential=confidential,
        secret_hash=b"" if client_secret is None else hash_token(client_secret),
        webhook_secret_sealed=await services.keys.seal_text(
            webhook_secret_ref(app_id), webhook_secret
        ),
        secret_version=1,
        created_at=now,
        updated_at=now,
    )
    app = _checked(ctx, blank, replace(data, description=data.description or ""))
    await services.apps.create(app)
    if app.webhook_url:
        await services.webhooks.add_endpoint(
            caller.user_id, app.webhook_url, webhook_secret, endpoint_id=app_id
        )
    return Registered(app, client_secret, webhook_secret)


async def _own_name(services: Services, caller: Principal) -> str:
    """The developer's display name, shown with the app as public metadata."""
    record = await services.accounts.get_user(caller.user_id)
    if record is None:
        raise not_found("user")
    grant = services.authz.own_account(caller, caller.user_id, Action.READ)
    ref = display_name_ref(caller.user_id)
    return await services.keys.open_text(grant, ref, record.display_name_sealed)


async def own_app(ctx: RequestContext, app_id: str) -> AppRecord:
    """One of the caller's own apps; any other id is NOT_FOUND."""
    caller = await _developer(ctx)
    app = await ctx.services.apps.get(app_id)
    if app is None or app.developer_id != caller.user_id:
        raise not_found("app")
    return app


async def my_apps(ctx: RequestContext) -> list[AppRecord]:
    caller = await _developer(ctx)
    return await ctx.services.apps.of_developer(caller.user_id, limit=MAX_APPS_PER_DEVELOPER)


async def update_app(ctx: RequestContext, app_id: str, changes: AppInput) -> AppRecord:
    services = ctx.services
    app = await own_app(ctx, app_id)
    updated = replace(_checked(ctx, app, changes), updated_at=services.clock())
    await services.apps.save(updated)
    if updated.webhook_url != app.webhook_url:
        await _point_endpoint(ctx, updated)
    if updated.name != app.name:
        await _rename_bots(services, updated)
    return updated


async def _rename_bots(services: Services, app: AppRecord) -> None:
    """Every install's bot is shown as the app: a new name is its bots' new display name."""
    now = services.clock()
    for bot_user_id in (await _bots(services, app.app_id)).values():
        sealed = await services.keys.seal_text(display_name_ref(bot_user_id), app.name)
        await services.accounts.set_display_name(bot_user_id, sealed, now)


async def _point_endpoint(ctx: RequestContext, app: AppRecord) -> None:
    """The app's webhook endpoint (its id is the app's) follows its webhook URL, signing with
    the app's webhook secret; its delivery log stays."""
    services = ctx.services
    if not app.webhook_url:
        await services.webhooks.remove_endpoint(app.app_id)
        return
    caller = await _developer(ctx)
    grant = services.authz.webhook_endpoint(caller, app.developer_id, app.app_id)
    secret = await services.keys.open_text(
        grant, webhook_secret_ref(app.app_id), app.webhook_secret_sealed
    )
    await services.webhooks.add_endpoint(
        app.developer_id, app.webhook_url, secret, endpoint_id=app.app_id
    )


async def _bots(services: Services, app_id: str) -> dict[str, str]:
    installs = await services.apps.installs(app_id, limit=_MAX_INSTALLS)
    return {install.workspace_id: install.bot_user_id for install in installs}


async def rotate_app_secret(ctx: RequestContext, app_id: str) -> tuple[AppRecord, str]:
    """A new client secret; the old one stops at once, and so does every token the app holds
    (a leaked secret with a stolen refresh token is the case rotation is for). Installs stay:
    an admin approves again to give the app new tokens."""
    services = ctx.services
    app = await own_app(ctx, app_id)
    if not app.confidential:
        raise bad_input("A public client has no client secret to rotate.", field="id")
    secret = new_token(CLIENT_SECRET_PREFIX)
    rotated = replace(
        app,
        secret_hash=hash_token(secret),
        secret_version=app.secret_version + 1,
        updated_at=services.clock(),
    )
    await services.apps.save(rotated)
    await end_grants(services, app.app_id, await _bots(services, app.app_id))
    return rotated, secret


async def delete_app(ctx: RequestContext, app_id: str) -> None:
    """The app, every token it holds, and its installs (their bots leave the workspaces)."""
    services = ctx.services
    app = await own_app(ctx, app_id)
    bots = await _bots(services, app.app_id)
    await end_grants(services, app.app_id, bots)
    for workspace_id, bot_user_id in bots.items():
        await services.workspaces.remove_member(workspace_id, bot_user_id)
        await services.apps.uninstall(app.app_id, workspace_id)
        services.app_events.forget(workspace_id)
    await services.webhooks.remove_endpoint(app.app_id)
    await services.apps.delete(app)


def app_scopes() -> list[AppScope]:
    return list(AppScope)
