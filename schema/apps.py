"""Third-party apps: registration by developers, consent and install by workspace admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import app_installs, apps, webhook_endpoints
from resolvers.app_model import AppScope as AppScopeValue
from resolvers.apps import AppInput, AppView
from schema.context import request_context
from schema.relay import expect_id, to_global_id
from schema.webhooks import WebhookEndpoint

AppScopeName = strawberry.enum(
    AppScopeValue,
    name="AppScopeName",
    description="A scope an app may ask for: `<resource>:<read|write>` (see appScopes).",
)


@strawberry.type(description="A scope, with what it lets an app do, in words for people.")
class AppScope:
    name: AppScopeName  # type: ignore[valid-type]
    description: str

    @classmethod
    def of(cls, scope: AppScopeValue) -> AppScope:
        return cls(name=scope, description=scope.description)


def _scopes(text: str) -> list[AppScope]:
    return [AppScope.of(AppScopeValue(name)) for name in sorted(text.split())]


@strawberry.type(description="A third-party app as its developer sees it.")
class App:
    record: strawberry.Private[AppView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("App", self.record.app_id)

    @strawberry.field(description="The OAuth client id (public).")
    def client_id(self) -> str:
        return self.record.client_id

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def description(self) -> str:
        return self.record.description

    @strawberry.field
    def homepage_url(self) -> str:
        return self.record.homepage_url

    @strawberry.field(description="Where installs may send the code: exact matches only.")
    def redirect_uris(self) -> list[str]:
        return self.record.redirect_uris.split("\n")

    @strawberry.field(description="The most an install may approve.")
    def scopes(self) -> list[AppScope]:
        return _scopes(self.record.scopes)

    @strawberry.field(description="Where events are delivered; null when none.")
    def webhook_url(self) -> str | None:
        return self.record.webhook_url or None

    @strawberry.field
    def webhook_events(self) -> list[str]:
        return self.record.webhook_events.split()

    @strawberry.field(
        description="Where the app's events go: the endpoint's health and delivery log "
        "(redeliverWebhook sends one again); null without a webhook URL."
    )
    async def webhook_endpoint(self, info: Info[Any, Any]) -> WebhookEndpoint | None:
        if not self.record.webhook_url:
            return None
        view = await webhook_endpoints.owned_endpoint(request_context(info), self.record.app_id)
        return WebhookEndpoint(view=view)

    @strawberry.field(description="False for a public client (no client secret; PKCE alone).")
    def confidential(self) -> bool:
        return self.record.confidential

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at


@strawberry.type(description="An app as a workspace admin asked to install it sees it.")
class AppListing:
    record: strawberry.Private[AppView]

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def description(self) -> str:
        return self.record.description

    @strawberry.field
    def homepage_url(self) -> str:
        return self.record.homepage_url

    @strawberry.field(description="The display name of the person who registered the app.")
    def developer_name(self) -> str:
        return self.record.developer_name


@strawberry.type(description="What an app asks of a workspace, for an owner or admin to approve.")
class AppInstallRequest:
    app: AppListing
    workspace_id: strawberry.ID
    scopes: list[AppScope] = strawberry.field(description="Exactly what the app asks for.")
    redirect_uri: str
    installed_scopes: list[AppScope] | None = strawberry.field(
        description="What an earlier approval gave, when the app is installed already."
    )


@strawberry.input
class RegisterAppInput:
    name: str = strawberry.field(description="1 to 80 characters.")
    homepage_url: str
    redirect_uris: list[str] = strawberry.field(description="1 to 10 https URLs.")
    scopes: list[AppScopeName]  # type: ignore[valid-type]
    description: str = ""
    webhook_url: str | None = None
    webhook_events: list[str] = strawberry.field(default_factory=list)
    public_client: bool = strawberry.field(
        default=False,
        description="A client that cannot keep a secret (a browser or mobile app): it gets "
        "no client secret and proves itself with PKCE alone.",
    )


@strawberry.input
class UpdateAppInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    homepage_url: str | None = None
    redirect_uris: list[str] | None = None
    scopes: list[AppScopeName] | None = None  # type: ignore[valid-type]
    webhook_url: str | None = strawberry.field(default=None, description='"" removes it.')
    webhook_events: list[str] | None = None


@strawberry.input
class AppIdInput:
    id: strawberry.ID


@strawberry.input
class ApproveAppInstallInput:
    client_id: str
    workspace_id: strawberry.ID
    scopes: list[AppScopeName]  # type: ignore[valid-type]
    redirect_uri: str
    code_challenge: str = strawberry.field(description="BASE64URL(SHA-256(code_verifier)).")
    code_challenge_method: str = strawberry.field(description="`S256`; `plain` is refused.")
    state: str | None = None


@strawberry.input
class UninstallAppInput:
    workspace_id: strawberry.ID
    app_id: strawberry.ID


@strawberry.type
class RegisterAppPayload:
    app: App
    client_secret: str | None = strawberry.field(
        description="Shown once; null for a public client. Only its hash is kept."
    )
    webhook_secret: str = strawberry.field(
        description="Shown once: verifies the signatures of webhook deliveries."
    )


@strawberry.type
class AppPayload:
    app: App


@strawberry.type
class RotateAppSecretPayload:
    app: App
    client_secret: str = strawberry.field(description="Shown once.")


@strawberry.type
class DeleteAppPayload:
    deleted_app_id: strawberry.ID


@strawberry.type
class ApproveAppInstallPayload:
    redirect_url: str = strawberry.field(
        description="The app's redirect URI with `code` (valid 60 seconds, once) and `state`."
    )


@strawberry.type
class UninstallAppPayload:
    uninstalled_app_id: strawberry.ID


def _names(scopes: list[Any] | None) -> list[str] | None:
    return None if scopes is None else [AppScopeValue(s).value for s in scopes]


async def resolve_my_apps(info: Info[Any, Any]) -> list[App]:
    return [App(record=r) for r in await apps.my_apps(request_context(info))]


async def resolve_app(info: Info[Any, Any], id: strawberry.ID) -> App | None:
    return App(record=await apps.own_app(request_context(info), expect_id(id, "App")))


def resolve_app_scopes() -> list[AppScope]:
    return [AppScope.of(scope) for scope in apps.app_scopes()]


async def resolve_install_request(
    info: Info[Any, Any],
    client_id: str,
    workspace_id: strawberry.ID,
    scopes: list[AppScopeName],  # type: ignore[valid-type]
    redirect_uri: str,
) -> AppInstallRequest | None:
    asked = await app_installs.install_request(
        request_context(info),
        client_id,
        expect_id(workspace_id, "Workspace"),
        _names(scopes) or [],
        redirect_uri,
    )
    return AppInstallRequest(
        app=AppListing(record=asked.app),
        workspace_id=workspace_id,
        scopes=[AppScope.of(s) for s in asked.scopes],
        redirect_uri=asked.redirect_uri,
        installed_scopes=None
        if asked.installed_scopes is None
        else [AppScope.of(s) for s in asked.installed_scopes],
    )


@strawberry.type
class AppsQuery:
    my_apps: list[App] = strawberry.field(
        resolver=resolve_my_apps, description="The apps you registered (at most 100)."
    )
    app: App | None = strawberry.field(
        resolver=resolve_app, description="One of the apps you registered."
    )
    app_scopes: list[AppScope] = strawberry.field(
        resolver=resolve_app_scopes, description="Every scope an app may ask for."
    )
    app_install_request: AppInstallRequest | None = strawberry.field(
        resolver=resolve_install_request,
        description="What an app asks of a workspace, for its owners and admins to approve.",
    )


async def register_app(info: Info[Any, Any], input: RegisterAppInput) -> RegisterAppPayload | None:
    data = AppInput(
        name=input.name,
        description=input.description,
        homepage_url=input.homepage_url,
        redirect_uris=input.redirect_uris,
        scopes=_names(input.scopes),
        webhook_url=input.webhook_url or "",
        webhook_events=input.webhook_events,
    )
    made = await apps.register_app(
        request_context(info), data, confidential=not input.public_client
    )
    return RegisterAppPayload(
        app=App(record=made.app),
        client_secret=made.client_secret,
        webhook_secret=made.webhook_secret,
    )


async def update_app(info: Info[Any, Any], input: UpdateAppInput) -> AppPayload | None:
    changes = AppInput(
        name=input.name,
        description=input.description,
        homepage_url=input.homepage_url,
        redirect_uris=input.redirect_uris,
        scopes=_names(input.scopes),
        webhook_url=input.webhook_url,
        webhook_events=input.webhook_events,
    )
    ctx = request_context(info)
    return AppPayload(
        app=App(record=await apps.update_app(ctx, expect_id(input.id, "App"), changes))
    )


async def rotate_app_secret(
    info: Info[Any, Any], input: AppIdInput
) -> RotateAppSecretPayload | None:
    app, secret = await apps.rotate_app_secret(request_context(info), expect_id(input.id, "App"))
    return RotateAppSecretPayload(app=App(record=app), client_secret=secret)


async def delete_app(info: Info[Any, Any], input: AppIdInput) -> DeleteAppPayload | None:
    await apps.delete_app(request_context(info), expect_id(input.id, "App"))
    return DeleteAppPayload(deleted_app_id=input.id)


async def approve_app_install(
    info: Info[Any, Any], input: ApproveAppInstallInput
) -> ApproveAppInstallPayload | None:
    approval = app_installs.Approval(
        client_id=input.client_id,
        workspace_id=expect_id(input.workspace_id, "Workspace"),
        scopes=_names(input.scopes) or [],
        redirect_uri=input.redirect_uri,
        code_challenge=input.code_challenge,
        code_challenge_method=input.code_challenge_method,
        state=input.state,
    )
    url = await app_installs.approve_install(request_context(info), approval)
    return ApproveAppInstallPayload(redirect_url=url)


async def uninstall_app(
    info: Info[Any, Any], input: UninstallAppInput
) -> UninstallAppPayload | None:
    await app_installs.uninstall_app(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        expect_id(input.app_id, "App"),
    )
    return UninstallAppPayload(uninstalled_app_id=input.app_id)


@strawberry.type
class AppsMutation:
    register_app: RegisterAppPayload | None = strawberry.mutation(
        resolver=register_app,
        description="Register an app; you are its developer. Both secrets are shown once.",
    )
    update_app: AppPayload | None = strawberry.mutation(
        resolver=update_app, description="Change one of your apps; fields left out stay."
    )
    rotate_app_secret: RotateAppSecretPayload | None = strawberry.mutation(
        resolver=rotate_app_secret,
        description="A new client secret; the old one and every token the app holds end at "
        "once (installs stay: an admin approves again for new tokens).",
    )
    delete_app: DeleteAppPayload | None = strawberry.mutation(
        resolver=delete_app,
        description="Delete one of your apps: its tokens end and it is uninstalled everywhere.",
    )
    approve_app_install: ApproveAppInstallPayload | None = strawberry.mutation(
        resolver=approve_app_install,
        description="As a workspace owner or admin, approve an app's install request: answers "
        "the redirect URL carrying a one-time code for `POST /oauth/token` (PKCE S256).",
    )
    uninstall_app: UninstallAppPayload | None = strawberry.mutation(
        resolver=uninstall_app,
        description="As a workspace owner or admin, uninstall an app: every token of the "
        "install ends at once, and its bot leaves the workspace.",
    )
