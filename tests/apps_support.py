"""Install a third-party app in a workspace and get a token for its bot, for tests that look at
what apps may do once installed (the OAuth flow itself is tested in test_apps_oauth.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from support import GraphQLClient, Server, sign_up

REDIRECT = "http://localhost:9/callback"
REGISTER = """mutation($i: RegisterAppInput!) {
  registerApp(input: $i) { app { id clientId } clientSecret webhookSecret } }"""
# Documents the app tests share: a workspace, a channel, adding the bot, a post, uninstall.
CREATE_WS = 'mutation { createWorkspace(input: {name: "Acme"}) { workspace { id } } }'
CREATE_CH = """mutation($w: ID!, $n: String!, $v: ChannelVisibility!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: $v}) { channel { id } } }"""
ADD = """mutation($c: ID!, $u: ID!) {
  addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""
UNINSTALL = """mutation($w: ID!, $a: ID!) {
  uninstallApp(input: {workspaceId: $w, appId: $a}) { uninstalledAppId } }"""
APPROVE = "mutation($i: ApproveAppInstallInput!) { approveAppInstall(input: $i) { redirectUrl } }"


@dataclass
class Installed:
    app_id: str
    client_id: str
    client_secret: str
    webhook_secret: str
    bot: GraphQLClient
    bot_user_id: str
    token: dict[str, Any]


def enum_name(scope: str) -> str:
    return scope.upper().replace(":", "_")


def install_app(
    server: Server,
    owner: GraphQLClient,
    workspace_id: str,
    scopes: list[str],
    name: str = "Standup Bot",
    **registration: Any,
) -> Installed:
    """Register an app (by a fresh developer), have `owner` approve `scopes` for
    `workspace_id`, exchange the code with PKCE, and answer the bot's client."""
    dev_token, _ = sign_up(server.client(), f"dev-{secrets.token_hex(6)}@example.org")
    app = {
        "name": name,
        "description": "A test app.",
        "homepageUrl": "https://app.example.org",
        "redirectUris": [REDIRECT],
        "scopes": [enum_name(s) for s in scopes],
        **registration,
    }
    made = server.client(dev_token).data(REGISTER, {"i": app})["registerApp"]
    verifier = secrets.token_urlsafe(48)
    approved = owner.data(
        APPROVE,
        {
            "i": {
                "clientId": made["app"]["clientId"],
                "workspaceId": workspace_id,
                "scopes": [enum_name(s) for s in scopes],
                "redirectUri": REDIRECT,
                "codeChallenge": create_s256_code_challenge(verifier),
                "codeChallengeMethod": "S256",
            }
        },
    )["approveAppInstall"]
    code = parse_qs(urlsplit(approved["redirectUrl"]).query)["code"][0]
    answer = httpx.post(
        server.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(made["app"]["clientId"], made["clientSecret"]),
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()
    bot = GraphQLClient(httpx.Client(base_url=server.url), token["access_token"])
    bot_user_id = bot.data("{ viewer { id } }")["viewer"]["id"]
    return Installed(
        app_id=made["app"]["id"],
        client_id=made["app"]["clientId"],
        client_secret=made["clientSecret"],
        webhook_secret=made["webhookSecret"],
        bot=bot,
        bot_user_id=bot_user_id,
        token=token,
    )
