"""Workspaces, channels and messages as their users meet them, with every refusal coded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import worlds
from worlds import team_fields

from support import GraphQLClient, error_codes, make_settings, serve, sign_up

CREATE_WS = "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id name viewerRole } } }"
INVITE = """mutation($w: ID!, $e: String!, $r: Role!) {
  inviteMember(input: {workspaceId: $w, email: $e, role: $r}) { invitation { id email role } } }"""
ACCEPT = "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id viewerRole } } }"
CREATE_CH = """mutation($w: ID!, $n: String!, $v: ChannelVisibility!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: $v}) { channel { id name } } }"""
POST = """mutation($c: ID!, $t: String!, $r: ID, $m: [ID!]! = []) {
  postMessage(input: {channelId: $c, text: $t, replyToId: $r, mentionIds: $m}) { message { id text } } }"""
MESSAGES = """query($c: ID!, $first: Int!, $after: String) { node(id: $c) { ... on Channel {
  messages(first: $first, after: $after) { edges { cursor node { id text author { displayName } } }
  pageInfo { hasNextPage endCursor } } } } }"""
ROLE = """mutation($w: ID!, $u: ID!, $r: Role!) {
  changeMemberRole(input: {workspaceId: $w, userId: $u, role: $r}) { member { role } } }"""


@dataclass
class Team(worlds.Team):
    def post(self, who: GraphQLClient, channel: str, text: str, **extra: Any) -> dict[str, Any]:
        result = who.data(POST, {"c": channel, "t": text, **extra})
        message: dict[str, Any] = result["postMessage"]["message"]
        return message


@pytest.fixture
def team(tmp_path: Any) -> Iterator[Team]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        team = Team(**team_fields(server, data_dir, "team.example", admin=True))
        general = team.owner.data(
            CREATE_CH, {"w": team.ids["workspace"], "n": "general", "v": "PUBLIC"}
        )["createChannel"]["channel"]["id"]
        for who in (team.admin, team.member):
            assert who is not None
            who.data(
                "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }",
                {"c": general},
            )
        team.ids["general"] = general
        yield team


def test_invitation_is_found_by_email_after_sign_up(tmp_path: Any) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        token, _ = sign_up(server.client(), "boss@example.org")
        boss = server.client(token)
        ws = boss.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]
        assert ws["viewerRole"] == "OWNER"
        boss.data(INVITE, {"w": ws["id"], "e": "Later@Example.org", "r": "MEMBER"})
        # The invitee signs up afterwards, with the address in another case.
        later_token, _ = sign_up(server.client(), "later@example.org")
        later = server.client(later_token)
        invitations = later.data("{ viewer { invitations { id role workspace { id name } } } }")
        [invitation] = invitations["viewer"]["invitations"]
        assert invitation["workspace"] == {"id": ws["id"], "name": "Acme"}
        by_id = later.data(
            "query($id: ID!) { node(id: $id) { ... on Invitation { email role } } }",
            {"id": invitation["id"]},
        )
        assert by_id["node"] == {"email": "later@example.org", "role": "MEMBER"}
        # Nobody else sees it, or can accept it.
        other_token, _ = sign_up(server.client(), "other@example.org")
        other = server.client(other_token)
        assert other.data("{ viewer { invitations { id } } }")["viewer"]["invitations"] == []
        assert error_codes(other.run(ACCEPT, {"i": invitation["id"]})) == ["NOT_FOUND"]
        joined = later.data(ACCEPT, {"i": invitation["id"]})["acceptInvitation"]["workspace"]
        assert joined == {"id": ws["id"], "viewerRole": "MEMBER"}
        assert later.data("{ viewer { invitations { id } } }")["viewer"]["invitations"] == []
        assert error_codes(later.run(ACCEPT, {"i": invitation["id"]})) == ["NOT_FOUND"]


def test_roles_and_the_last_owner(team: Team) -> None:
    ws, ids = team.ids["workspace"], team.ids
    # An admin cannot make an owner, nor touch one.
    assert error_codes(team.admin.run(ROLE, {"w": ws, "u": ids["member"], "r": "OWNER"})) == [
        "FORBIDDEN"
    ]
    assert error_codes(team.admin.run(ROLE, {"w": ws, "u": ids["owner"], "r": "MEMBER"})) == [
        "FORBIDDEN"
    ]
    assert (
        team.admin.data(ROLE, {"w": ws, "u": ids["member"], "r": "ADMIN"})["changeMemberRole"][
            "member"
        ]["role"]
        == "ADMIN"
    )
    # The last owner can neither step down nor leave.
    demote = team.owner.run(ROLE, {"w": ws, "u": ids["owner"], "r": "ADMIN"})
    assert error_codes(demote) == ["BAD_USER_INPUT"]
    leave = "mutation($w: ID!) { leaveWorkspace(input: {workspaceId: $w}) { leftWorkspaceId } }"
    assert error_codes(team.owner.run(leave, {"w": ws})) == ["BAD_USER_INPUT"]
    # With a second owner, the first may go.
    team.owner.data(ROLE, {"w": ws, "u": ids["admin"], "r": "OWNER"})
    team.owner.data(ROLE, {"w": ws, "u": ids["owner"], "r": "MEMBER"})
    members = team.admin.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { members(first: 10) { edges { node { role user { id } } } } } } }",
        {"w": ws},
    )["node"]["members"]["edges"]
    roles = {e["node"]["user"]["id"]: e["node"]["role"] for e in members}
    assert roles[ids["owner"]] == "MEMBER" and roles[ids["admin"]] == "OWNER"


def test_a_removed_member_loses_access_at_once(team: Team) -> None:
    general = team.ids["general"]
    message = team.post(team.member, general, "before removal")
    read = "query($id: ID!) { node(id: $id) { id ... on Message { text } } }"
    assert team.member.data(read, {"id": message["id"]})["node"]["text"] == "before removal"
    team.owner.data(
        "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) { removedUserId } }",
        {"w": team.ids["workspace"], "u": team.ids["member"]},
    )
    for query, variables in (
        (read, {"id": message["id"]}),
        (read, {"id": general}),
        (read, {"id": team.ids["workspace"]}),
        (MESSAGES, {"c": general, "first": 10}),
    ):
        answer = team.member.run(query, variables)
        assert error_codes(answer) == ["NOT_FOUND"], answer
    assert error_codes(team.member.run(POST, {"c": general, "t": "still here?"})) == ["NOT_FOUND"]
    assert (
        team.member.data("{ viewer { workspaces(first: 5) { edges { node { id } } } } }")["viewer"][
            "workspaces"
        ]["edges"]
        == []
    )


def test_removed_from_a_private_channel(team: Team) -> None:
    secret = team.owner.data(
        CREATE_CH, {"w": team.ids["workspace"], "n": "secret", "v": "PRIVATE"}
    )["createChannel"]["channel"]["id"]
    add = "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"
    remove = "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"
    team.owner.data(add, {"c": secret, "u": team.ids["member"]})
    team.post(team.owner, secret, "for members")
    assert team.member.data(MESSAGES, {"c": secret, "first": 5})["node"]["messages"]["edges"]
    # Private channels cannot be joined, and do not appear to others.
    join_ = "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }"
    assert error_codes(team.admin.run(join_, {"c": secret})) == ["NOT_FOUND"]
    team.owner.data(remove, {"c": secret, "u": team.ids["member"]})
    assert error_codes(team.member.run(MESSAGES, {"c": secret, "first": 5})) == ["NOT_FOUND"]


def test_guests_see_only_their_channels(team: Team) -> None:
    ws = team.ids["workspace"]
    room = team.owner.data(CREATE_CH, {"w": ws, "n": "with-guest", "v": "PUBLIC"})["createChannel"][
        "channel"
    ]["id"]
    team.owner.data(
        "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": room, "u": team.ids["guest"]},
    )
    listing = "query($w: ID!) { node(id: $w) { ... on Workspace { channels(first: 20) { edges { node { id name } } } } } }"
    guest_sees = [
        e["node"]["id"] for e in team.guest.data(listing, {"w": ws})["node"]["channels"]["edges"]
    ]
    member_sees = [
        e["node"]["id"] for e in team.member.data(listing, {"w": ws})["node"]["channels"]["edges"]
    ]
    assert guest_sees == [room]
    assert member_sees == [team.ids["general"], room]
    join_ = "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }"
    assert error_codes(team.guest.run(join_, {"c": team.ids["general"]})) == ["NOT_FOUND"]


def test_channel_listing_pages_merge_public_and_private(team: Team) -> None:
    ws = team.ids["workspace"]
    made = [team.ids["general"]]
    for i in range(7):
        visibility = "PRIVATE" if i % 2 else "PUBLIC"
        made.append(
            team.member.data(CREATE_CH, {"w": ws, "n": f"c{i}", "v": visibility})["createChannel"][
                "channel"
            ]["id"]
        )
    team.owner.data(CREATE_CH, {"w": ws, "n": "owners-private", "v": "PRIVATE"})
    seen: list[str] = []
    after = None
    while True:
        page = team.member.data(
            "query($w: ID!, $a: String) { node(id: $w) { ... on Workspace { channels(first: 3, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } } } }",
            {"w": ws, "a": after},
        )["node"]["channels"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert (
        seen == made
    )  # every visible channel once, in creation order, none of the owner's private one


def test_messages_page_by_keyset_while_others_post(team: Team) -> None:
    general = team.ids["general"]
    posted = [team.post(team.member, general, f"message {i}")["id"] for i in range(60)]
    first = team.admin.data(MESSAGES, {"c": general, "first": 50})["node"]["messages"]
    assert first["pageInfo"]["hasNextPage"] is True
    for i in range(5):
        team.post(team.owner, general, f"late {i}")
    second = team.admin.data(
        MESSAGES, {"c": general, "first": 50, "after": first["pageInfo"]["endCursor"]}
    )["node"]["messages"]
    ids = [e["node"]["id"] for e in first["edges"]] + [e["node"]["id"] for e in second["edges"]]
    assert len(first["edges"]) == 50 and len(second["edges"]) == 10
    assert ids == list(reversed(posted))
    assert second["pageInfo"]["hasNextPage"] is False


def test_threads_reactions_pins_mentions_and_unread(team: Team) -> None:
    general = team.ids["general"]
    parent = team.post(team.owner, general, "plan?", m=[team.ids["member"]])
    team.post(team.member, general, "yes", r=parent["id"])
    reply = team.post(team.admin, general, "agreed", r=parent["id"])
    # A reply to a reply joins the same thread.
    team.post(team.member, general, "+1", r=reply["id"])
    react = "mutation($m: ID!, $e: String!) { addReaction(input: {messageId: $m, emoji: $e}) { message { id } } }"
    for who, emoji in (
        (team.member, "🎉"),
        (team.admin, "🎉"),
        (team.admin, "👀"),
        (team.admin, "🎉"),
    ):
        who.data(react, {"m": parent["id"], "e": emoji})
    team.member.data(
        "mutation($m: ID!) { pinMessage(input: {messageId: $m}) { message { id } } }",
        {"m": parent["id"]},
    )
    view = team.member.data(
        """query($id: ID!) { node(id: $id) { ... on Message { replyCount pinned
             reactions { emoji count viewerReacted } mentions { id }
             replies(first: 10) { edges { node { text replyTo { id } } } } } } }""",
        {"id": parent["id"]},
    )["node"]
    assert view["replyCount"] == 3 and view["pinned"] is True
    assert view["reactions"] == [
        {"emoji": "🎉", "count": 2, "viewerReacted": True},
        {"emoji": "👀", "count": 1, "viewerReacted": False},
    ]
    assert view["mentions"] == [{"id": team.ids["member"]}]
    assert [e["node"]["text"] for e in view["replies"]["edges"]] == ["yes", "agreed", "+1"]
    assert {e["node"]["replyTo"]["id"] for e in view["replies"]["edges"]} == {parent["id"]}
    # Replies stay out of the channel's own list.
    top = team.member.data(MESSAGES, {"c": general, "first": 10})["node"]["messages"]["edges"]
    assert [e["node"]["id"] for e in top] == [parent["id"]]
    mentions = team.member.data("{ viewer { mentions(first: 5) { edges { node { id } } } } }")
    assert [e["node"]["id"] for e in mentions["viewer"]["mentions"]["edges"]] == [parent["id"]]
    unread = "query($c: ID!) { node(id: $c) { ... on Channel { unreadCount } } }"
    assert team.member.data(unread, {"c": general})["node"]["unreadCount"] == 1
    team.member.data(
        "mutation($c: ID!) { markRead(input: {channelId: $c}) { channel { id } } }", {"c": general}
    )
    assert team.member.data(unread, {"c": general})["node"]["unreadCount"] == 0
    team.post(team.owner, general, "news")
    assert team.member.data(unread, {"c": general})["node"]["unreadCount"] == 1


def test_edit_and_delete_rules(team: Team) -> None:
    general = team.ids["general"]
    mine = team.post(team.member, general, "typo")
    edit = "mutation($m: ID!, $t: String!) { editMessage(input: {messageId: $m, text: $t}) { message { text editedAt } } }"
    delete = "mutation($m: ID!) { deleteMessage(input: {messageId: $m}) { deletedMessageId } }"
    assert error_codes(team.admin.run(edit, {"m": mine["id"], "t": "hacked"})) == ["FORBIDDEN"]
    edited = team.member.data(edit, {"m": mine["id"], "t": "fixed"})["editMessage"]["message"]
    assert edited["text"] == "fixed" and edited["editedAt"]
    others = team.post(team.owner, general, "owner's")
    assert error_codes(team.member.run(delete, {"m": others["id"]})) == ["FORBIDDEN"]
    assert (
        team.admin.data(delete, {"m": mine["id"]})["deleteMessage"]["deletedMessageId"]
        == mine["id"]
    )
    assert error_codes(team.member.run(edit, {"m": mine["id"], "t": "again"})) == ["NOT_FOUND"]


def test_direct_channels(team: Team) -> None:
    ws = team.ids["workspace"]
    direct = "mutation($w: ID!, $u: [ID!]!) { createDirectChannel(input: {workspaceId: $w, userIds: $u}) { channel { id visibility } } }"
    one = team.member.data(direct, {"w": ws, "u": [team.ids["admin"]]})["createDirectChannel"][
        "channel"
    ]
    two = team.admin.data(direct, {"w": ws, "u": [team.ids["member"]]})["createDirectChannel"][
        "channel"
    ]
    assert one == two and one["visibility"] == "DIRECT"
    assert error_codes(team.member.run(direct, {"w": ws, "u": [team.ids["member"]]})) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(team.member.run(direct, {"w": ws, "u": []})) == ["BAD_USER_INPUT"]
    outsider = team.ids["outsider"]
    assert error_codes(team.member.run(direct, {"w": ws, "u": [outsider]})) == ["NOT_FOUND"]
    # The owner is not in it and cannot see it.
    read = "query($id: ID!) { node(id: $id) { id } }"
    assert error_codes(team.owner.run(read, {"id": one["id"]})) == ["NOT_FOUND"]


def test_bad_input_is_refused_and_nothing_is_written(team: Team) -> None:
    ws, general = team.ids["workspace"], team.ids["general"]
    before = team.admin.data(MESSAGES, {"c": general, "first": 100})["node"]["messages"]["edges"]
    cases = [
        (POST, {"c": general, "t": ""}, "BAD_USER_INPUT"),
        (POST, {"c": general, "t": "   "}, "BAD_USER_INPUT"),
        (POST, {"c": general, "t": "x" * 40_001}, "BAD_USER_INPUT"),
        (POST, {"c": general, "t": "ok", "m": ["VXNlcjp4"]}, "BAD_USER_INPUT"),
        (POST, {"c": "not-an-id", "t": "hi"}, "NOT_FOUND"),
        (POST, {"c": ws, "t": "hi"}, "NOT_FOUND"),  # a workspace id where a channel id goes
        (POST, {"c": general, "t": "hi", "r": "TWVzc2FnZTp4"}, "NOT_FOUND"),
    ]
    for document, variables, code in cases:
        assert error_codes(team.member.run(document, variables)) == [code], variables
    after = team.admin.data(MESSAGES, {"c": general, "first": 100})["node"]["messages"]["edges"]
    assert after == before
    team.post(team.member, general, "x" * 40_000)  # exactly the limit is fine
    invite = team.owner.run(INVITE, {"w": ws, "e": "not an email", "r": "MEMBER"})
    assert invite["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "email"}
    already = team.owner.run(INVITE, {"w": ws, "e": "member@team.example", "r": "MEMBER"})
    assert error_codes(already) == ["BAD_USER_INPUT"]
    archive = (
        "mutation($c: ID!) { archiveChannel(input: {channelId: $c}) { channel { archived } } }"
    )
    assert team.owner.data(archive, {"c": general})["archiveChannel"]["channel"]["archived"] is True
    assert error_codes(team.member.run(POST, {"c": general, "t": "frozen"})) == ["BAD_USER_INPUT"]
    leave = "mutation($c: ID!) { leaveChannel(input: {channelId: $c}) { leftChannelId } }"
    team.member.data(leave, {"c": general})
    team.owner.data(
        "mutation($c: ID!) { unarchiveChannel(input: {channelId: $c}) { channel { id } } }",
        {"c": general},
    )
    assert error_codes(team.member.run(POST, {"c": general, "t": "left"})) == ["FORBIDDEN"]
    assert error_codes(team.member.run(CREATE_WS, {"n": ""})) == ["BAD_USER_INPUT"]
    assert error_codes(team.member.run(CREATE_CH, {"w": ws, "n": "dm", "v": "DIRECT"})) == [
        "BAD_USER_INPUT"
    ]


def test_a_direct_channel_survives_leaving_and_coming_back(team: Team) -> None:
    ws = team.ids["workspace"]
    direct = "mutation($w: ID!, $u: [ID!]!) { createDirectChannel(input: {workspaceId: $w, userIds: $u}) { channel { id } } }"
    dm = team.owner.data(direct, {"w": ws, "u": [team.ids["member"]]})["createDirectChannel"][
        "channel"
    ]["id"]
    team.post(team.owner, dm, "before")
    team.owner.data(
        "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) { removedUserId } }",
        {"w": ws, "u": team.ids["member"]},
    )
    assert error_codes(team.member.run(MESSAGES, {"c": dm, "first": 5})) == ["NOT_FOUND"]
    invitation = team.owner.data(INVITE, {"w": ws, "e": "member@team.example", "r": "MEMBER"})
    team.member.data(ACCEPT, {"i": invitation["inviteMember"]["invitation"]["id"]})
    again = team.member.data(direct, {"w": ws, "u": [team.ids["owner"]]})["createDirectChannel"][
        "channel"
    ]["id"]
    assert again == dm
    texts = [
        e["node"]["text"]
        for e in team.member.data(MESSAGES, {"c": dm, "first": 5})["node"]["messages"]["edges"]
    ]
    assert texts == ["before"]
