"""An app's webhook (#16 item 5, wired to installs): events where its bot may read, of the
types it subscribed to and under the scopes it was approved, arrive signed with the app's
webhook secret, thin (ids only), verified by the `standardwebhooks` package; nothing from
channels its bot is not in, nothing after uninstall but `app.uninstalled`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps_support import ADD, CREATE_CH, CREATE_WS, POST, UNINSTALL, install_app
from standardwebhooks import Webhook
from webhook_receiver import Receiver, start_receiver

from support import GraphQLClient, Server, make_settings, serve, sign_up

ENDPOINT = """query { myApps { id webhookEndpoint { id consecutiveFailures
  deliveries(first: 20) { eventType succeeded statusCode } } } }"""
CANARY = "canary-text-7f3a91"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = start_receiver()
    yield found
    found.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(make_settings(tmp_path / "data", apps_allow_http=True)) as running:
        yield running


def wait_for(receiver: Receiver, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(receiver.received) < count:
        time.sleep(0.05)
    return [json.loads(r.body) for r in receiver.received]


def test_events_reach_the_app_signed_thin_and_only_where_its_bot_reads(
    server: Server, receiver: Receiver, email: str
) -> None:
    token, _ = sign_up(server.client(), email, name="Olga")
    owner: GraphQLClient = server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    general, secret = (
        owner.data(CREATE_CH, {"w": ws, "n": n, "v": v})["createChannel"]["channel"]["id"]
        for n, v in (("general", "PUBLIC"), ("secret", "PRIVATE"))
    )
    app = install_app(
        server,
        owner,
        ws,
        ["channels:read", "messages:read"],
        webhookUrl=receiver.url(host="localhost"),  # app metadata is public: a name, not an IP
        webhookEvents=["message.created", "member.joined", "app.uninstalled"],
    )
    owner.data(POST, {"c": general, "t": "before the bot"})  # not a member yet: not told
    owner.data(ADD, {"c": general, "u": app.bot_user_id})
    posted = owner.data(POST, {"c": general, "t": CANARY})["postMessage"]["message"]["id"]
    owner.data(POST, {"c": secret, "t": "private " + CANARY})  # the bot is not in #secret
    bodies = wait_for(receiver, 2)
    assert [b["type"] for b in bodies] == ["member.joined", "message.created"]
    created = bodies[1]
    assert created["data"]["id"] == posted
    assert created["data"]["workspaceId"] == ws
    ids = {"id", "authorId", "threadId", "mentionIds", "attachmentIds", "workspaceId"}
    assert {"id", "authorId", "workspaceId"} <= set(created["data"]) <= ids  # no text
    for delivery in receiver.received:  # signed with the secret shown at registration
        assert CANARY.encode() not in delivery.body
        Webhook(app.webhook_secret).verify(delivery.body, delivery.headers)
    # Uninstalled: told so, and of nothing after.
    owner.data(UNINSTALL, {"w": ws, "a": app.app_id})
    owner.data(POST, {"c": general, "t": "after"})
    bodies = wait_for(receiver, 3)
    time.sleep(0.5)
    assert [b["type"] for b in receiver_bodies(receiver)][2:] == ["app.uninstalled"]
    assert bodies[2]["data"] == {"workspaceId": ws}


def receiver_bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


def test_an_app_is_told_only_what_its_scopes_read(
    server: Server, receiver: Receiver, email: str
) -> None:
    """Subscribed to messages but approved channels:read only: member events, no messages;
    the developer sees the deliveries in the app's endpoint log."""
    token, _ = sign_up(server.client(), email, name="Olga")
    owner = server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    general = owner.data(CREATE_CH, {"w": ws, "n": "general", "v": "PUBLIC"})
    channel_id = general["createChannel"]["channel"]["id"]
    app = install_app(
        server,
        owner,
        ws,
        ["channels:read"],
        webhookUrl=receiver.url("/scoped", host="localhost"),
        webhookEvents=["message.created", "member.joined"],
    )
    owner.data(ADD, {"c": channel_id, "u": app.bot_user_id})
    owner.data(POST, {"c": channel_id, "t": "not for this app"})
    wait_for(receiver, 1)
    time.sleep(0.5)
    assert [b["type"] for b in receiver_bodies(receiver)] == ["member.joined"]
