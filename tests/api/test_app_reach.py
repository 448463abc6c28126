"""What an installed app reaches (#16 items 3 and 4): the intersection of its scopes and what
its bot may read. The bot is a BOT member of the install's workspace only; it sees the
channels it was added to and nothing else, posts and reacts there as the app, and a token
without a field's scope is refused before anything runs (nothing half-done)."""

from __future__ import annotations

from typing import Any

import pytest
from apps_support import ADD, CREATE_CH, CREATE_WS, POST, Installed, install_app
from drive_support import upload_file

from support import GraphQLClient, Server, error_codes, sign_up

REACT = """mutation($m: ID!) {
  addReaction(input: {messageId: $m, emoji: "eyes"}) { message { id } } }"""
CHANNELS = """query($w: ID!) { node(id: $w) { ... on Workspace {
  channels(first: 20) { edges { node { id name } } } } } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel {
  messages(first: 20) { edges { node { id text author { id displayName }
    reactions { emoji count } } } } } } }"""
WORKSPACES = "{ viewer { workspaces(first: 10) { edges { node { id name viewerRole } } } } }"
READ_SCOPES = ["workspaces:read", "channels:read", "messages:read", "users:read"]


def texts(client: GraphQLClient, channel_id: str) -> list[str]:
    node = client.data(MESSAGES, {"c": channel_id})["node"]
    return [edge["node"]["text"] for edge in node["messages"]["edges"]]


@pytest.fixture
def team(shared_server: Server, email: str) -> dict[str, Any]:
    """An owner's workspace with a public and a private channel, a second workspace, and an
    app installed in the first with read and post scopes."""
    token, _ = sign_up(shared_server.client(), email, name="Olga")
    owner = shared_server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    other_ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    channel = {
        name: owner.data(CREATE_CH, {"w": w, "n": name, "v": v})["createChannel"]["channel"]["id"]
        for name, w, v in (
            ("general", ws, "PUBLIC"),
            ("secret", ws, "PRIVATE"),
            ("elsewhere", other_ws, "PUBLIC"),
        )
    }
    for name, channel_id in channel.items():
        owner.data(POST, {"c": channel_id, "t": f"hello {name}"})
    app = install_app(shared_server, owner, ws, [*READ_SCOPES, "messages:write"])
    return {"owner": owner, "ws": ws, "other_ws": other_ws, "channel": channel, "app": app}


def test_the_bot_reaches_its_install_workspace_and_only_channels_it_was_added_to(
    team: dict[str, Any],
) -> None:
    owner, app, channel = team["owner"], team["app"], team["channel"]
    bot: GraphQLClient = app.bot
    spaces = bot.data(WORKSPACES)["viewer"]["workspaces"]["edges"]
    assert [e["node"] for e in spaces] == [{"id": team["ws"], "name": "Acme", "viewerRole": "BOT"}]
    # Not added anywhere yet: no channel, not even the public one, and not by id.
    assert bot.data(CHANNELS, {"w": team["ws"]})["node"]["channels"]["edges"] == []
    for name in ("general", "secret", "elsewhere"):
        refused = bot.run(MESSAGES, {"c": channel[name]})
        assert refused["data"] == {"node": None}, refused
        assert error_codes(refused) == ["NOT_FOUND"]
    # The other workspace the owner has is not the install's: not found, even by id.
    elsewhere = bot.run(CHANNELS, {"w": team["other_ws"]})
    assert elsewhere["data"]["node"] is None and error_codes(elsewhere) == ["NOT_FOUND"]
    # Added to #general: it reads that channel, and still nothing of the private one.
    owner.data(ADD, {"c": channel["general"], "u": app.bot_user_id})
    listed = bot.data(CHANNELS, {"w": team["ws"]})["node"]["channels"]["edges"]
    assert [e["node"]["name"] for e in listed] == ["general"]
    assert texts(bot, channel["general"]) == ["hello general"]
    assert error_codes(bot.run(MESSAGES, {"c": channel["secret"]})) == ["NOT_FOUND"]


def test_the_bot_posts_and_reacts_as_the_app(team: dict[str, Any]) -> None:
    owner, app, channel = team["owner"], team["app"], team["channel"]
    bot: GraphQLClient = app.bot
    # Not a member: it may not post, in a public channel or by id elsewhere.
    refused = bot.run(POST, {"c": channel["general"], "t": "uninvited"})
    assert error_codes(refused) == ["NOT_FOUND"]
    owner.data(ADD, {"c": channel["general"], "u": app.bot_user_id})
    posted = bot.data(POST, {"c": channel["general"], "t": "standup time"})
    message_id = posted["postMessage"]["message"]["id"]
    bot.data(REACT, {"m": message_id})
    node = owner.data(MESSAGES, {"c": channel["general"]})["node"]
    newest = node["messages"]["edges"][0]["node"]  # newest first
    assert newest["text"] == "standup time"
    assert newest["author"] == {"id": app.bot_user_id, "displayName": "Standup Bot"}
    assert newest["reactions"] == [{"emoji": "eyes", "count": 1}]
    assert error_codes(bot.run(POST, {"c": channel["secret"], "t": "x"})) == ["NOT_FOUND"]


def test_scopes_narrow_what_the_bot_may_read(shared_server: Server, email: str) -> None:
    """An app that may post but not read: its post goes through only if it does not ask for
    what it may not read; asked together, nothing is posted at all."""
    token, _ = sign_up(shared_server.client(), email, name="Olga")
    owner = shared_server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    general = owner.data(CREATE_CH, {"w": ws, "n": "general", "v": "PUBLIC"})["createChannel"]
    channel_id = general["channel"]["id"]
    app: Installed = install_app(shared_server, owner, ws, ["messages:write"], name="Poster")
    owner.data(ADD, {"c": channel_id, "u": app.bot_user_id})
    greedy = """mutation($c: ID!) {
      postMessage(input: {channelId: $c, text: "and read"}) { message { id text } } }"""
    refused = app.bot.run(greedy, {"c": channel_id})
    assert refused.get("data") is None and error_codes(refused) == ["FORBIDDEN"]
    assert "Message.text needs the scope messages:read" in refused["errors"][0]["message"]
    assert texts(owner, channel_id) == []  # the refused operation did nothing
    # The same document, just validated for a person, is still refused to the app (the
    # validation cache is keyed on the app's rule too).
    assert app.bot.run(MESSAGES, {"c": channel_id}).get("data") is None
    app.bot.data(POST, {"c": channel_id, "t": "posted blind"})
    assert texts(owner, channel_id) == ["posted blind"]
    # Its bot's own name needs users:read too; its id does not.
    assert app.bot.data("{ viewer { id } }")["viewer"]["id"] == app.bot_user_id
    assert error_codes(app.bot.run("{ viewer { displayName } }")) == ["FORBIDDEN"]


def test_apps_do_not_manage_their_workspace(team: dict[str, Any]) -> None:
    """Even with every workspace scope approved, a bot is not an admin: closed mutations stay
    closed, and a channel it was added to is not its to archive."""
    app: Installed = team["app"]
    invite = """mutation($w: ID!) { inviteMember(input: {workspaceId: $w,
      email: "x@example.org", role: MEMBER}) { invitation { id } } }"""
    result = app.bot.run(invite, {"w": team["ws"]})
    assert result.get("data") is None and set(error_codes(result)) == {"FORBIDDEN"}
    assert "Apps cannot use Mutation.inviteMember." in [e["message"] for e in result["errors"]]
    archive = "mutation($c: ID!) { archiveChannel(input: {channelId: $c}) { channel { id } } }"
    result = app.bot.run(archive, {"c": team["channel"]["general"]})
    assert result.get("data") is None and error_codes(result) == ["FORBIDDEN"]


def test_the_bot_uploads_a_file_and_posts_it_and_reaches_no_one_elses(
    shared_server: Server, email: str
) -> None:
    """files:write: the bot puts its upload in the drive root (the only thing it may do
    there), attaches it to a post, and reads its own file; it does not see the root or a
    person's file there."""
    token, _ = sign_up(shared_server.client(), email, name="Olga")
    owner = shared_server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    channel_id = owner.data(CREATE_CH, {"w": ws, "n": "reports", "v": "PUBLIC"})["createChannel"][
        "channel"
    ]["id"]
    theirs = upload_file(shared_server, owner, ws, b"the owner's own file", name="own.txt")
    scopes = ["files:read", "files:write", "messages:write", "channels:read"]
    app: Installed = install_app(shared_server, owner, ws, scopes, name="Reporter")
    owner.data(ADD, {"c": channel_id, "u": app.bot_user_id})
    mine = upload_file(shared_server, app.bot, ws, b"weekly figures", name="week.csv")
    attach = """mutation($c: ID!, $f: ID!) { postMessage(input: {channelId: $c,
      text: "This week", attachmentIds: [$f]}) { message { id } } }"""
    app.bot.data(attach, {"c": channel_id, "f": mine})
    read = "query($f: ID!) { node(id: $f) { ... on File { name size } } }"
    assert app.bot.data(read, {"f": mine})["node"] == {"name": "week.csv", "size": 14}
    assert error_codes(app.bot.run(read, {"f": theirs})) == ["NOT_FOUND"]
    root = owner.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { drive { id } } } }", {"w": ws}
    )
    root_id = root["node"]["drive"]["id"]
    listed = app.bot.run("query($r: ID!) { node(id: $r) { id } }", {"r": root_id})
    assert listed["data"] == {"node": None} and error_codes(listed) == ["NOT_FOUND"]
    seen = owner.data(
        """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 1) { edges {
          node { author { displayName } attachments { name } } } } } } }""",
        {"c": channel_id},
    )["node"]["messages"]["edges"][0]["node"]
    assert seen == {"author": {"displayName": "Reporter"}, "attachments": [{"name": "week.csv"}]}
    # Without files:write, no upload at all.
    reader = install_app(shared_server, owner, ws, ["files:read"], name="Reader")
    refused = reader.bot.run(
        """mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "x.txt", size: 1}) {
          upload { id } } }""",
        {"w": ws},
    )
    assert refused.get("data") is None and set(error_codes(refused)) == {"FORBIDDEN"}
