"""Third-party apps (#16): registration with secrets shown once, install with consent, and the
OAuth 2.0 authorization code flow with PKCE through the real server, authlib as the client."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from graphql import GraphQLField, get_named_type, is_leaf_type

from schema.app_scopes import needed_scope
from schema.build import build_schema
from support import GraphQLClient, Server, make_settings, serve, sign_up

# A loopback redirect (RFC 8252), named rather than numbered: app metadata is public and kept
# in clear, and under test-scylla every test shares the node's commit log, which the canary
# tests scan for the client address 127.0.0.1.
REDIRECT = "http://localhost:9/callback"
SCOPES = ["channels:read", "messages:read", "messages:write", "users:read"]
REGISTER = """mutation($i: RegisterAppInput!) {
  registerApp(input: $i) {
    app { id clientId scopes { name description } } clientSecret webhookSecret } }"""
MY_APPS = "{ myApps { id clientId name redirectUris } }"
CREATE_WS = 'mutation { createWorkspace(input: {name: "Acme"}) { workspace { id } } }'
INVITE = """mutation($w: ID!, $e: String!, $r: Role!) {
  inviteMember(input: {workspaceId: $w, email: $e, role: $r}) { invitation { id } } }"""
ACCEPT = "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }"
REQUEST = """query($c: String!, $w: ID!, $s: [AppScopeName!]!, $r: String!) {
  appInstallRequest(clientId: $c, workspaceId: $w, scopes: $s, redirectUri: $r) {
    app { name developerName homepageUrl }
    scopes { name description } installedScopes { name } } }"""
APPROVE = (
    """mutation($i: ApproveAppInstallInput!) { approveAppInstall(input: $i) { redirectUrl } }"""
)
UNINSTALL = """mutation($w: ID!, $a: ID!) {
  uninstallApp(input: {workspaceId: $w, appId: $a}) { uninstalledAppId } }"""
ROTATE = "mutation($a: ID!) { rotateAppSecret(input: {id: $a}) { clientSecret } }"
VIEWER = "{ viewer { id displayName } }"


def register(client: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    app = {
        "name": "Standup Bot",
        "description": "Asks for updates.",
        "homepageUrl": "https://standup.example.org",
        "redirectUris": [REDIRECT],
        "scopes": [s.upper().replace(":", "_") for s in SCOPES],
        "webhookUrl": "https://standup.example.org/hooks",
        "webhookEvents": ["message.created"],
        **overrides,
    }
    made: dict[str, Any] = client.data(REGISTER, {"i": app})["registerApp"]
    return made


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


@pytest.fixture
def world(shared_server: Server, email: str) -> dict[str, Any]:
    """A developer with a registered app, and a workspace whose owner may install it."""
    dev_token, _ = sign_up(shared_server.client(), "dev-" + email, name="Dana Dev")
    owner_token, _ = sign_up(shared_server.client(), email, name="Olga")
    dev = shared_server.client(dev_token)
    owner = shared_server.client(owner_token)
    made = register(dev)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    return {"dev": dev, "owner": owner, "made": made, "ws": ws, "server": shared_server}


def oauth_client(server: Server, made: dict[str, Any], **kw: Any) -> OAuth2Client:
    return OAuth2Client(
        client_id=made["app"]["clientId"],
        client_secret=made["clientSecret"],
        redirect_uri=REDIRECT,
        scope=" ".join(SCOPES),
        code_challenge_method="S256",
        **kw,
    )


def approve(world: dict[str, Any], challenge: str, state: str | None = None, **kw: Any) -> Any:
    values = {
        "clientId": world["made"]["app"]["clientId"],
        "workspaceId": world["ws"],
        "scopes": [s.upper().replace(":", "_") for s in SCOPES],
        "redirectUri": REDIRECT,
        "codeChallenge": challenge,
        "codeChallengeMethod": "S256",
        "state": state,
        **kw,
    }
    return world["owner"].run(APPROVE, {"i": values})


def authorize(world: dict[str, Any], client: OAuth2Client, verifier: str) -> str:
    """authlib makes the authorization URL; the owner approves what it carries."""
    url, state = client.create_authorization_url(
        "https://cove.example.org/install", code_verifier=verifier
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    result = approve(world, query["code_challenge"][0], state)
    assert not result.get("errors"), result
    redirect: str = result["data"]["approveAppInstall"]["redirectUrl"]
    return redirect


def token_url(server: Server) -> str:
    return server.url + "/oauth/token"


def full_flow(world: dict[str, Any]) -> tuple[OAuth2Client, dict[str, Any]]:
    server = world["server"]
    client = oauth_client(server, world["made"])
    verifier = "v" * 20 + "-._~" + "A" * 30
    redirect = authorize(world, client, verifier)
    token = client.fetch_token(
        token_url(server), authorization_response=redirect, code_verifier=verifier
    )
    return client, dict(token)


def test_registration_shows_secrets_once_and_keeps_only_their_hash(world: dict[str, Any]) -> None:
    made = world["made"]
    assert made["clientSecret"].startswith("cove_secret_")
    assert made["webhookSecret"].startswith("whsec_")
    described = {s["name"]: s["description"] for s in made["app"]["scopes"]}
    assert set(described) == {"CHANNELS_READ", "MESSAGES_READ", "MESSAGES_WRITE", "USERS_READ"}
    assert all(described.values())
    listed = world["dev"].data(MY_APPS)["myApps"]
    assert [a["clientId"] for a in listed] == [made["app"]["clientId"]]
    assert "clientSecret" not in str(listed) and made["clientSecret"] not in str(listed)
    # Nobody else sees it.
    other = world["owner"].run("query($a: ID!) { app(id: $a) { id } }", {"a": made["app"]["id"]})
    assert codes(other) == ["NOT_FOUND"]


def test_registration_refuses_http_unknown_scopes_and_anonymous(shared_server: Server) -> None:
    anonymous = shared_server.client().run(
        REGISTER,
        {
            "i": {
                "name": "x",
                "homepageUrl": "https://a.example",
                "redirectUris": [REDIRECT],
                "scopes": ["USERS_READ"],
            }
        },
    )
    assert codes(anonymous) == ["UNAUTHENTICATED"]


def test_bad_registrations(world: dict[str, Any]) -> None:
    dev = world["dev"]
    bad = {
        "name": "x",
        "homepageUrl": "https://a.example",
        "redirectUris": ["http://evil.example/cb"],
        "scopes": ["USERS_READ"],
    }
    result = dev.run(REGISTER, {"i": bad})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == "redirectUris"
    hooked = dev.run(
        REGISTER, {"i": {**bad, "redirectUris": [REDIRECT], "webhookUrl": "http://h.example/x"}}
    )
    assert hooked["errors"][0]["extensions"]["field"] == "webhookUrl"


def test_pkce_flow_end_to_end_with_authlib(world: dict[str, Any]) -> None:
    server = world["server"]
    asked = world["owner"].data(
        REQUEST,
        {
            "c": world["made"]["app"]["clientId"],
            "w": world["ws"],
            "s": ["MESSAGES_READ"],
            "r": REDIRECT,
        },
    )["appInstallRequest"]
    assert asked["app"] == {
        "name": "Standup Bot",
        "developerName": "Dana Dev",
        "homepageUrl": "https://standup.example.org",
    }
    assert [s["name"] for s in asked["scopes"]] == ["MESSAGES_READ"]
    assert asked["scopes"][0]["description"]
    assert asked["installedScopes"] is None
    client, token = full_flow(world)
    assert token["access_token"].startswith("cove_app_")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert set(token["scope"].split()) == set(SCOPES)
    # The token speaks for the install's bot, named as the app.
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Standup Bot"
    # Refresh rotates the refresh token (authlib's client sends it, with the secret).
    refreshed = client.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    bot2 = GraphQLClient(bot.http, refreshed["access_token"])
    assert bot2.data(VIEWER)["viewer"]["displayName"] == "Standup Bot"
    # Presenting the replaced refresh token again revokes the whole family.
    reused = httpx.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(world["made"]["app"]["clientId"], world["made"]["clientSecret"]),
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert codes(bot2.run(VIEWER)) == ["UNAUTHENTICATED"]
    after = httpx.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(world["made"]["app"]["clientId"], world["made"]["clientSecret"]),
    )
    assert after.json()["error"] == "invalid_grant"


def test_a_renamed_app_renames_its_bots(world: dict[str, Any]) -> None:
    """A bot is shown as its app (#16 item 4): under the app's name after an updateApp."""
    _, token = full_flow(world)
    bot = GraphQLClient(httpx.Client(base_url=world["server"].url), token["access_token"])
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Standup Bot"
    rename = """mutation($a: ID!) { updateApp(input: {id: $a, name: "Daily Standup"}) {
      app { name } } }"""
    world["dev"].data(rename, {"a": world["made"]["app"]["id"]})
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Daily Standup"


def test_deleting_an_app_ends_its_tokens_and_its_bots(world: dict[str, Any]) -> None:
    """deleteApp: every token ends, the bot leaves the workspace, the client is unknown."""
    server, made = world["server"], world["made"]
    _, token = full_flow(world)
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    bot_id = bot.data(VIEWER)["viewer"]["id"]
    members = """query($w: ID!) { node(id: $w) { ... on Workspace {
      members(first: 20) { edges { node { user { id } role } } } } } }"""

    def roles() -> dict[str, str]:
        edges = world["owner"].data(members, {"w": world["ws"]})["node"]["members"]["edges"]
        return {e["node"]["user"]["id"]: e["node"]["role"] for e in edges}

    assert roles()[bot_id] == "BOT"
    deleted = world["dev"].data(
        "mutation($a: ID!) { deleteApp(input: {id: $a}) { deletedAppId } }",
        {"a": made["app"]["id"]},
    )
    assert deleted["deleteApp"]["deletedAppId"] == made["app"]["id"]
    assert codes(bot.run(VIEWER)) == ["UNAUTHENTICATED"]
    assert bot_id not in roles()
    refresh = httpx.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(made["app"]["clientId"], made["clientSecret"]),
    )
    assert refresh.json()["error"] == "invalid_client"


def test_a_public_client_uses_pkce_alone(world: dict[str, Any]) -> None:
    """A public client (no secret) through authlib sending client_id alone: the verifier is
    what proves it; a secret it sends is refused, and it has none to rotate."""
    server = world["server"]
    made = register(world["dev"], name="Mobile App", publicClient=True)
    assert made["clientSecret"] is None
    world = {**world, "made": made}
    client = oauth_client(server, made, token_endpoint_auth_method="none")
    verifier = "p" * 60
    redirect = authorize(world, client, verifier)
    code = _code(redirect)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    public_id = made["app"]["clientId"]
    no_verifier = httpx.post(token_url(server), data={**form, "client_id": public_id})
    assert no_verifier.json()["error"] == "invalid_request"
    wrong = httpx.post(
        token_url(server), data={**form, "client_id": public_id, "code_verifier": "q" * 60}
    )
    assert wrong.json()["error"] == "invalid_grant"
    with_secret = httpx.post(
        token_url(server),
        data={**form, "client_id": public_id, "code_verifier": verifier, "client_secret": "x"},
    )
    assert with_secret.json()["error"] == "invalid_client"
    token = client.fetch_token(
        token_url(server), authorization_response=redirect, code_verifier=verifier
    )
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Mobile App"
    refreshed = client.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    rotate = world["dev"].run(ROTATE, {"a": made["app"]["id"]})
    assert codes(rotate) == ["BAD_USER_INPUT"]


def _exchange(server: Server, made: dict[str, Any], **form: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "redirect_uri": REDIRECT, **form}
    auth = (made["app"]["clientId"], made["clientSecret"])
    return httpx.post(token_url(server), data=data, auth=auth)


def _code(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["code"][0]


VERIFIER = "k" * 50
CHALLENGE = create_s256_code_challenge(VERIFIER)


def _approved_code(world: dict[str, Any]) -> str:
    result = approve(world, CHALLENGE, "s1")
    assert not result.get("errors"), result
    return _code(result["data"]["approveAppInstall"]["redirectUrl"])


def test_token_endpoint_refusals(world: dict[str, Any]) -> None:
    server, made = world["server"], world["made"]
    code = _approved_code(world)
    wrong_verifier = _exchange(server, made, code=code, code_verifier="x" * 50)
    assert (wrong_verifier.status_code, wrong_verifier.json()["error"]) == (400, "invalid_grant")
    missing = _exchange(server, made, code=code)
    assert missing.json()["error"] == "invalid_request"
    wrong_uri = _exchange(
        server, made, code=code, code_verifier=VERIFIER, redirect_uri=REDIRECT + "/"
    )
    assert wrong_uri.json()["error"] == "invalid_grant"
    bad_secret = httpx.post(
        token_url(server),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": VERIFIER,
            "redirect_uri": REDIRECT,
        },
        auth=(made["app"]["clientId"], "cove_secret_wrong"),
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    assert bad_secret.headers["www-authenticate"].startswith("Basic")
    good = _exchange(server, made, code=code, code_verifier=VERIFIER)
    assert good.status_code == 200, good.text
    assert good.headers["cache-control"] == "no-store"
    access = good.json()["access_token"]
    reused = _exchange(server, made, code=code, code_verifier=VERIFIER)
    assert reused.json()["error"] == "invalid_grant"
    # A reused code also ends the tokens it gave (RFC 6749 §4.1.2).
    bot = GraphQLClient(httpx.Client(base_url=server.url), access)
    assert codes(bot.run(VIEWER)) == ["UNAUTHENTICATED"]
    unsupported = httpx.post(token_url(server), data={"grant_type": "password"})
    assert unsupported.json()["error"] == "unsupported_grant_type"
    not_form = httpx.post(token_url(server), json={"grant_type": "authorization_code"})
    assert not_form.status_code == 400 and not_form.json()["error"] == "invalid_request"
    narrowed = _exchange(server, made, code=_approved_code(world), code_verifier=VERIFIER)
    refresh = narrowed.json()["refresh_token"]
    wider = httpx.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": "files:read"},
        auth=(made["app"]["clientId"], made["clientSecret"]),
    )
    assert wider.json()["error"] == "invalid_scope"


def test_consent_refusals(world: dict[str, Any], email: str) -> None:
    server = world["server"]
    plain = approve(world, CHALLENGE, codeChallengeMethod="plain")
    assert plain["errors"][0]["extensions"]["field"] == "codeChallengeMethod"
    wrong_uri = approve(world, CHALLENGE, redirectUri=REDIRECT + "?x=1")
    assert wrong_uri["errors"][0]["extensions"]["field"] == "redirectUri"
    unregistered = approve(world, CHALLENGE, scopes=["FILES_READ"])
    assert codes(unregistered) == ["BAD_USER_INPUT"]
    assert unregistered["errors"][0]["extensions"]["field"] == "scopes"
    # A member may not approve.
    member_token, _ = sign_up(server.client(), "member-" + email)
    member = server.client(member_token)
    invited = world["owner"].data(INVITE, {"w": world["ws"], "e": "member-" + email, "r": "MEMBER"})
    member.data(ACCEPT, {"i": invited["inviteMember"]["invitation"]["id"]})
    values = {
        "clientId": world["made"]["app"]["clientId"],
        "workspaceId": world["ws"],
        "scopes": ["MESSAGES_READ"],
        "redirectUri": REDIRECT,
        "codeChallenge": CHALLENGE,
        "codeChallengeMethod": "S256",
    }
    assert codes(member.run(APPROVE, {"i": values})) == ["FORBIDDEN"]
    # Nor may anyone give a bot's role by hand.
    bot_role = world["owner"].run(INVITE, {"w": world["ws"], "e": "x-" + email, "r": "BOT"})
    assert codes(bot_role) == ["FORBIDDEN"]


def test_scopes_not_approved_cannot_be_asked_for_at_refresh(world: dict[str, Any]) -> None:
    server, made = world["server"], world["made"]
    result = approve(world, CHALLENGE, scopes=["MESSAGES_READ"])
    code = _code(result["data"]["approveAppInstall"]["redirectUrl"])
    token = _exchange(server, made, code=code, code_verifier=VERIFIER).json()
    assert token["scope"] == "messages:read"
    wider = httpx.post(
        token_url(server),
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "scope": "messages:read messages:write",
        },
        auth=(made["app"]["clientId"], made["clientSecret"]),
    )
    assert wider.json()["error"] == "invalid_scope"


def test_a_narrower_approval_narrows_the_tokens_already_out(world: dict[str, Any]) -> None:
    """An admin who approves again with fewer scopes takes the others from live tokens and
    their refreshes at once; approving more again widens none of them."""
    server, made = world["server"], world["made"]
    client, token = full_flow(world)
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Standup Bot"  # users:read
    narrowed = approve(world, CHALLENGE, scopes=["MESSAGES_READ"])
    assert not narrowed.get("errors"), narrowed
    refused = bot.run(VIEWER)
    assert refused.get("data") is None and codes(refused) == ["FORBIDDEN"]
    assert "User.displayName needs the scope users:read" in refused["errors"][0]["message"]
    assert bot.data("{ viewer { id } }")["viewer"]["id"]
    refreshed = client.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert refreshed["scope"] == "messages:read"
    again = approve(world, CHALLENGE)  # every scope again: the narrowed family stays narrow
    assert not again.get("errors"), again
    bot2 = GraphQLClient(bot.http, refreshed["access_token"])
    assert codes(bot2.run(VIEWER)) == ["FORBIDDEN"]
    assert made["app"]["clientId"]


def test_uninstall_rotation_and_revocation_end_tokens(world: dict[str, Any]) -> None:
    server, made = world["server"], world["made"]
    _, token = full_flow(world)
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    assert bot.data(VIEWER)["viewer"]["displayName"] == "Standup Bot"
    world["owner"].data(UNINSTALL, {"w": world["ws"], "a": made["app"]["id"]})
    assert codes(bot.run(VIEWER)) == ["UNAUTHENTICATED"]
    # Installed again: rotating the secret ends the new tokens and the old secret.
    _, token = full_flow(world)
    bot = GraphQLClient(bot.http, token["access_token"])
    assert bot.data(VIEWER)["viewer"]["id"]
    rotated = world["dev"].data(ROTATE, {"a": made["app"]["id"]})["rotateAppSecret"]
    assert codes(bot.run(VIEWER)) == ["UNAUTHENTICATED"]
    old_secret = httpx.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(made["app"]["clientId"], made["clientSecret"]),
    )
    assert old_secret.status_code == 401 and old_secret.json()["error"] == "invalid_client"
    # With the new secret: a fresh approval, then RFC 7009 revocation.
    world["made"] = {**made, "clientSecret": rotated["clientSecret"]}
    _, token = full_flow(world)
    bot = GraphQLClient(bot.http, token["access_token"])
    assert bot.data(VIEWER)["viewer"]["id"]
    revoked = httpx.post(
        server.url + "/oauth/revoke",
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(made["app"]["clientId"], rotated["clientSecret"]),
    )
    assert revoked.status_code == 200
    assert codes(bot.run(VIEWER)) == ["UNAUTHENTICATED"]
    again = httpx.post(
        server.url + "/oauth/revoke",
        data={"token": "cove_app_unknown"},
        auth=(made["app"]["clientId"], rotated["clientSecret"]),
    )
    assert again.status_code == 200  # unknown tokens are answered the same way


def test_an_expired_code_is_refused(tmp_path: Path, email: str) -> None:
    with serve(make_settings(tmp_path / "data", app_code_seconds=1)) as server:
        dev_token, _ = sign_up(server.client(), "dev-" + email)
        owner_token, _ = sign_up(server.client(), email)
        world = {
            "dev": server.client(dev_token),
            "owner": server.client(owner_token),
            "server": server,
        }
        world["made"] = register(world["dev"])
        world["ws"] = world["owner"].data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
        code = _approved_code(world)
        time.sleep(1.2)
        expired = _exchange(server, world["made"], code=code, code_verifier=VERIFIER)
        assert expired.json() == {
            "error": "invalid_grant",
            "error_description": "The authorization code has expired.",
        }


def _probe(field: GraphQLField, name: str, operation: str) -> str:
    """The smallest document asking for one root field (required arguments left out: the
    scope check reports its refusal whatever else is wrong)."""
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    return f"{operation} {{ {name}{selection} }}"


def test_every_field_not_opened_to_apps_is_refused_before_it_runs(world: dict[str, Any]) -> None:
    """Fail-closed, through the real server: an app token may ask only for the fields open to
    apps (schema/app_scopes.py), at any depth, and an operation asking for any other does
    nothing at all (no half-run mutation)."""
    _, token = full_flow(world)
    bot = GraphQLClient(httpx.Client(base_url=world["server"].url), token["access_token"])
    schema = build_schema()._schema
    roots = [("query", schema.query_type), ("mutation", schema.mutation_type)]
    refused = 0
    for operation, root in roots:
        assert root is not None
        for name, field in root.fields.items():
            if needed_scope(root.name, name)[0]:
                continue
            result = bot.run(_probe(field, name, operation))
            assert result.get("data") is None, (name, result)
            messages = [e["message"] for e in result["errors"]]
            assert f"Apps cannot use {root.name}.{name}." in messages, (name, result)
            assert "FORBIDDEN" in codes(result)
            refused += 1
    assert refused > 60  # every root field but those opened (72 today)
    # Nested fields too: the bot reads its own name, not its account's other fields.
    assert bot.data("{ viewer { id displayName } }")["viewer"]["displayName"]
    nested = bot.run("{ viewer { id email } }")
    assert nested.get("data") is None and "FORBIDDEN" in codes(nested)


def test_refused_token_requests_are_limited_per_address(tmp_path: Path, email: str) -> None:
    """Guessing codes, verifiers or secrets at /oauth/token is limited per client address
    (`token_failures_per_ip`); a right request gives its slot back."""
    with serve(make_settings(tmp_path / "data", token_failures_per_ip=3)) as server:
        dev_token, _ = sign_up(server.client(), "dev-" + email)
        owner_token, _ = sign_up(server.client(), email)
        world = {"dev": server.client(dev_token), "owner": server.client(owner_token)}
        world["server"] = server
        world["made"] = register(world["dev"])
        world["ws"] = world["owner"].data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
        for _ in range(3):
            wrong = _exchange(server, world["made"], code="cove_code_guess", code_verifier=VERIFIER)
            assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        limited = _exchange(server, world["made"], code="cove_code_guess", code_verifier=VERIFIER)
        assert limited.status_code == 429
        assert limited.json()["error"] == "temporarily_unavailable"
        assert int(limited.headers["retry-after"]) > 0
        # Even a right code waits for the window: the address is out of tries.
        refused = _exchange(
            server, world["made"], code=_approved_code(world), code_verifier=VERIFIER
        )
        assert refused.status_code == 429
