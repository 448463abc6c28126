"""Every root field and mutation, called as every kind of caller, against an expected table.

A field of Query or Mutation with no row here fails `test_every_root_field_has_a_row`, so a
new operation cannot ship without saying who may call it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from drive_support import upload_file
from graphql import GraphQLObjectType
from mail_sink import mail_sink

from persistence.ids import new_id
from persistence.webhooks import AttemptRecord
from resolvers.services import Services
from schema.build import build_schema
from schema.relay import raw_id_of, to_global_id
from support import LOG_IN, PASSWORD, GraphQLClient, Server, make_settings, serve, sign_up

CALLERS = ("anonymous", "stranger", "guest", "member", "admin", "owner")
OK = "ok"
NF, FORBIDDEN, UNAUTH, BAD = "NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED", "BAD_USER_INPUT"
_serial = itertools.count()


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


@dataclass
class World:
    server: Server
    clients: dict[str, GraphQLClient]
    ids: dict[str, str]
    emails: dict[str, str]

    def gql(self, who: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.clients[who].data(query, variables)

    def new_member(self, role: str = "MEMBER") -> tuple[str, GraphQLClient]:
        """Someone new who joined the workspace with `role`; returns (user id, client)."""
        email = fresh("joiner") + "@example.org"
        token, user = sign_up(self.server.client(), email, name="Joiner")
        self.invite_and_accept(self.ids["workspace"], email, role, token)
        return user["id"], self.server.client(token)

    def invite_and_accept(self, workspace: str, email: str, role: str, token: str) -> None:
        invitation = self.gql(
            "owner",
            "mutation($w: ID!, $e: String!, $r: Role!) { inviteMember(input: "
            "{workspaceId: $w, email: $e, role: $r}) { invitation { id } } }",
            {"w": workspace, "e": email, "r": role},
        )["inviteMember"]["invitation"]["id"]
        self.server.client(token).data(
            "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) "
            "{ workspace { id } } }",
            {"i": invitation},
        )

    def channel(self, visibility: str = "PUBLIC", *, add: tuple[str, ...] = ()) -> str:
        channel = self.gql(
            "owner",
            "mutation($w: ID!, $n: String!, $v: ChannelVisibility!) { createChannel(input: "
            "{workspaceId: $w, name: $n, visibility: $v}) { channel { id } } }",
            {"w": self.ids["workspace"], "n": fresh("room"), "v": visibility},
        )["createChannel"]["channel"]["id"]
        for who in add:
            if who in ("guest", "member", "admin"):  # the owner made it; others cannot join
                self.add_to_channel(channel, self.ids[who])
        return channel

    def add_to_channel(self, channel: str, user: str) -> None:
        self.gql(
            "owner",
            "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) "
            "{ channel { id } } }",
            {"c": channel, "u": user},
        )

    def post(self, who: str, channel: str, text: str = "hello") -> str:
        return self.gql(
            who,
            "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) "
            "{ message { id } } }",
            {"c": channel, "t": text},
        )["postMessage"]["message"]["id"]

    def realtime_session(self, who: str) -> dict[str, Any]:
        """A realtime session of `who` (anyone's, for the anonymous caller: the owner's)."""
        opener = "owner" if who == "anonymous" else who
        session = self.gql(opener, "mutation { openRealtimeSession { session { id key { id } } } }")
        opened = session["openRealtimeSession"]["session"]
        return {"s": opened["id"], "k": opened["key"]["id"]}

    def invitation(self) -> str:
        return self.gql(
            "owner",
            "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e, "
            "role: MEMBER}) { invitation { id } } }",
            {"w": self.ids["workspace"], "e": fresh("someone") + "@example.org"},
        )["inviteMember"]["invitation"]["id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with serve(make_settings(tmp_path_factory.mktemp("matrix") / "data")) as server:
        clients: dict[str, GraphQLClient] = {"anonymous": server.client()}
        ids: dict[str, str] = {}
        emails: dict[str, str] = {}
        for who in ("owner", "admin", "member", "guest", "stranger", "maker"):
            emails[who] = f"{who}@matrix.example"
            token, user = sign_up(server.client(), emails[who], name=who.title())
            clients[who], ids[who] = server.client(token), user["id"]
        w = World(server, clients, ids, emails)
        create = "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }"
        ids["workspace"] = w.gql("owner", create, {"n": "Acme"})["createWorkspace"]["workspace"][
            "id"
        ]
        ids["other"] = w.gql("stranger", create, {"n": "Other"})["createWorkspace"]["workspace"][
            "id"
        ]
        for who, role in (("admin", "ADMIN"), ("member", "MEMBER"), ("guest", "GUEST")):
            w.invite_and_accept(ids["workspace"], emails[who], role, clients[who].token or "")
        ids["public"] = w.channel("PUBLIC", add=("admin", "member"))
        ids["private"] = w.channel("PRIVATE", add=("member",))
        ids["guest_room"] = w.channel("PUBLIC", add=("guest",))
        ids["message"] = w.post("member", ids["public"])
        yield w


@dataclass(frozen=True)
class Row:
    """One operation: its document, how to make its variables, and the expected outcomes."""

    field: str
    document: str
    expect: dict[str, str]
    variables: Callable[[World, str], dict[str, Any]] = lambda world, who: {}


def expect(
    anonymous: str, stranger: str, guest: str, member: str, admin: str, owner: str
) -> dict[str, str]:
    return dict(zip(CALLERS, (anonymous, stranger, guest, member, admin, owner), strict=True))


# Queries: an anonymous caller sees nothing, so every object is NOT_FOUND to it.
SIGNED_IN = expect(UNAUTH, OK, OK, OK, OK, OK)
WORKSPACE_READERS = expect(NF, NF, OK, OK, OK, OK)
CHANNEL_READERS = expect(NF, NF, NF, OK, OK, OK)
MANAGERS_READ = expect(NF, NF, FORBIDDEN, FORBIDDEN, OK, OK)
# Mutations: an anonymous caller is told to sign in before any object is looked up.
MANAGERS = expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, OK, OK)
MEMBERS_NOT_GUESTS = expect(UNAUTH, NF, FORBIDDEN, OK, OK, OK)
CHANNEL_WRITERS = expect(UNAUTH, NF, NF, OK, OK, OK)


def _fresh_session(world: World, who: str) -> dict[str, Any]:
    """Revoking one of the caller's sessions: a second one, made for the purpose."""
    if who == "anonymous":
        return {"id": "U2Vzc2lvbjp4"}
    world.server.client().data(LOG_IN, {"email": world.emails[who], "password": PASSWORD})
    sessions = world.gql(who, "{ viewer { sessions(first: 5) { edges { node { id current } } } } }")
    edges = sessions["viewer"]["sessions"]["edges"]
    return {"id": next(e["node"]["id"] for e in edges if not e["node"]["current"])}


def _fresh_workspace_to_leave(world: World, who: str) -> dict[str, Any]:
    workspace = world.gql(
        "maker",
        'mutation { createWorkspace(input: {name: "Leave me"}) { workspace { id } } }',
    )["createWorkspace"]["workspace"]["id"]
    if who != "anonymous":
        token = world.clients[who].token or ""
        invitation = world.gql(
            "maker",
            "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e, "
            "role: MEMBER}) { invitation { id } } }",
            {"w": workspace, "e": world.emails[who]},
        )["inviteMember"]["invitation"]["id"]
        world.server.client(token).data(
            "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
            {"i": invitation},
        )
    return {"w": workspace}


def _mailed_token(world: World, action: str) -> str:
    """A live token of a link mailed for `action`, to a fresh account of its own."""
    email = fresh(action) + "@example.org"
    anonymous = world.server.client()
    sink = mail_sink()
    mark = sink.mark()
    token, _ = sign_up(anonymous, email, verified=False)
    if action == "verify-email":
        return sink.wait_for_link(email, action, after=mark)
    mark = sink.mark()
    if action == "reset-password":
        anonymous.data(
            "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { message } }",
            {"e": email},
        )
    else:
        world.server.client(token).data(
            "mutation($e: String!, $p: String!) { requestEmailChange(input: "
            "{newEmail: $e, password: $p}) { message } }",
            {"e": "moved-" + email, "p": PASSWORD},
        )
        email = "moved-" + email
    return sink.wait_for_link(email, action, after=mark)


def _invitation_link(world: World) -> str:
    """The mailed link of an invitation to a fresh address, to a workspace of its own."""
    workspace = world.gql(
        "maker", 'mutation { createWorkspace(input: {name: "Linked"}) { workspace { id } } }'
    )["createWorkspace"]["workspace"]["id"]
    email = fresh("linked") + "@example.org"
    sink = mail_sink()
    mark = sink.mark()
    world.gql(
        "maker",
        "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e, "
        "role: MEMBER}) { invitation { id } } }",
        {"w": workspace, "e": email},
    )
    return sink.wait_for_link(email, "accept-invitation", after=mark)


def _channel_with_caller(world: World, who: str) -> dict[str, Any]:
    return {"c": world.channel("PUBLIC", add=(who,))}


def _archived_channel_with_caller(world: World, who: str) -> dict[str, Any]:
    channel = world.channel("PUBLIC", add=(who,))
    world.gql(
        "owner",
        "mutation($c: ID!) { archiveChannel(input: {channelId: $c}) { channel { id } } }",
        {"c": channel},
    )
    return {"c": channel}


def _channel_with_caller_and_member(world: World, who: str) -> dict[str, Any]:
    target, _ = world.new_member()
    channel = world.channel("PUBLIC", add=(who,))
    world.add_to_channel(channel, target)
    return {"c": channel, "u": target}


def _message_by_member(world: World, who: str) -> dict[str, Any]:
    return {"m": world.post("member", world.ids["public"])}


ROWS = [
    # Query
    Row("viewer", "{ viewer { id } }", SIGNED_IN),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Workspace { name } } }",
        WORKSPACE_READERS,
        lambda w, who: {"id": w.ids["workspace"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Channel { name } } }",
        CHANNEL_READERS,
        lambda w, who: {"id": w.ids["public"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Channel { name } } }",
        expect(NF, NF, NF, OK, NF, OK),
        lambda w, who: {"id": w.ids["private"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Channel { name } } }",
        WORKSPACE_READERS,
        lambda w, who: {"id": w.ids["guest_room"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Message { text author { displayName } } } }",
        CHANNEL_READERS,
        lambda w, who: {"id": w.ids["message"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on User { displayName } } }",
        WORKSPACE_READERS,
        lambda w, who: {"id": w.ids["owner"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Invitation { email workspace { name } } } }",
        expect(NF, NF, NF, NF, OK, OK),
        lambda w, who: {"id": w.invitation()},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Workspace { invitations(first: 5) { edges { node { email } } } } } }",
        MANAGERS_READ,
        lambda w, who: {"id": w.ids["workspace"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Workspace { auditLog(first: 5) { edges { node { kind clientAddress details { value } } } } } } }",
        MANAGERS_READ,
        lambda w, who: {"id": w.ids["workspace"]},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { ... on User { securityLog(first: 5) { edges { node { kind clientAddress } } } } } }",
        expect(NF, NF, NF, NF, NF, OK),
        lambda w, who: {"id": w.ids["owner"]},
    ),
    Row("viewer", "{ viewer { securityLog(first: 5) { edges { node { kind } } } } }", SIGNED_IN),
    # Mutation: accounts
    Row(
        "signUp",
        'mutation($e: String!) { signUp(input: {email: $e, password: "long password 1", displayName: "N"}) { message } }',
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"e": fresh("new") + "@example.org"},
    ),
    # A link's token is all it takes: whoever holds it may use it, signed in or not.
    Row(
        "verifyEmail",
        "mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }",
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"t": _mailed_token(w, "verify-email")},
    ),
    Row(
        "resendVerificationEmail",
        "mutation { resendVerificationEmail { message } }",
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),  # every caller here has verified
    ),
    Row(
        "requestPasswordReset",
        "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { message } }",
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"e": fresh("forgot") + "@example.org"},
    ),
    Row(
        "resetPassword",
        'mutation($t: String!) { resetPassword(input: {token: $t, newPassword: "a new password 1"}) { ok } }',
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"t": _mailed_token(w, "reset-password")},
    ),
    Row(
        "requestEmailChange",
        'mutation { requestEmailChange(input: {newEmail: "moved@example.org", password: "not it at all"}) { message } }',
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),
    ),
    Row(
        "confirmEmailChange",
        "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { ok } }",
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"t": _mailed_token(w, "confirm-email-change")},
    ),
    Row(
        "logIn",
        'mutation($e: String!) { logIn(input: {email: $e, password: "correct horse battery"}) { token } }',
        expect(OK, OK, OK, OK, OK, OK),
        lambda w, who: {"e": w.emails["maker"]},
    ),
    Row(
        "completeLogIn",
        'mutation { completeLogIn(input: {secondStepToken: "cove2fa_unknown", code: "123456"}) { token } }',
        expect(UNAUTH, UNAUTH, UNAUTH, UNAUTH, UNAUTH, UNAUTH),
    ),
    Row(
        "beginTwoFactorEnrolment", "mutation { beginTwoFactorEnrolment { otpauthUri } }", SIGNED_IN
    ),
    Row(
        "confirmTwoFactorEnrolment",
        'mutation { confirmTwoFactorEnrolment(input: {code: "000000", password: "correct horse battery"}) { recoveryCodes } }',
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),
    ),
    Row(
        "regenerateRecoveryCodes",
        'mutation { regenerateRecoveryCodes(input: {code: "000000"}) { recoveryCodes } }',
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),
    ),
    Row(
        "disableTwoFactor",
        'mutation { disableTwoFactor(input: {password: "correct horse battery", code: "000000"}) { ok } }',
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),
    ),
    Row("logOut", "mutation { logOut { ok } }", SIGNED_IN),
    Row(
        "changePassword",
        'mutation { changePassword(input: {currentPassword: "not it at all", newPassword: "whatever 1234"}) { ok } }',
        expect(UNAUTH, BAD, BAD, BAD, BAD, BAD),
    ),
    Row(
        "revokeSession",
        "mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }",
        SIGNED_IN,
        _fresh_session,
    ),
    Row(
        "updateProfile",
        "mutation($n: String!) { updateProfile(input: {displayName: $n}) { user { id } } }",
        SIGNED_IN,
        lambda w, who: {"n": who.title()},
    ),
    # Mutation: workspaces
    Row(
        "createWorkspace",
        'mutation { createWorkspace(input: {name: "Mine"}) { workspace { id } } }',
        SIGNED_IN,
    ),
    Row(
        "renameWorkspace",
        'mutation($w: ID!) { renameWorkspace(input: {workspaceId: $w, name: "Acme"}) { workspace { id } } }',
        MANAGERS,
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "setWorkspaceRequireTwoFactor",
        "mutation($w: ID!) { setWorkspaceRequireTwoFactor(input: {workspaceId: $w, requireTwoFactor: false}) { workspace { requireTwoFactor } } }",
        expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "inviteMember",
        "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e, role: MEMBER}) { invitation { id } } }",
        MANAGERS,
        lambda w, who: {"w": w.ids["workspace"], "e": fresh("inv") + "@example.org"},
    ),
    Row(
        "acceptInvitation",
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        expect(UNAUTH, NF, NF, NF, NF, NF),
        lambda w, who: {"i": w.invitation()},
    ),
    Row(
        "acceptInvitationLink",
        "mutation($t: String!) { acceptInvitationLink(input: {token: $t}) { workspace { id } } }",
        expect(UNAUTH, OK, OK, OK, OK, OK),
        lambda w, who: {"t": _invitation_link(w)},
    ),
    Row(
        "declineInvitation",
        "mutation($i: ID!) { declineInvitation(input: {invitationId: $i}) { declinedInvitationId } }",
        expect(UNAUTH, NF, NF, NF, NF, NF),
        lambda w, who: {"i": w.invitation()},
    ),
    Row(
        "revokeInvitation",
        "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { revokedInvitationId } }",
        MANAGERS,
        lambda w, who: {"i": w.invitation()},
    ),
    Row(
        "changeMemberRole",
        "mutation($w: ID!, $u: ID!) { changeMemberRole(input: {workspaceId: $w, userId: $u, role: GUEST}) { member { role } } }",
        MANAGERS,
        lambda w, who: {"w": w.ids["workspace"], "u": w.new_member()[0]},
    ),
    Row(
        "removeMember",
        "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) { removedUserId } }",
        MANAGERS,
        lambda w, who: {"w": w.ids["workspace"], "u": w.new_member()[0]},
    ),
    Row(
        "leaveWorkspace",
        "mutation($w: ID!) { leaveWorkspace(input: {workspaceId: $w}) { leftWorkspaceId } }",
        expect(UNAUTH, OK, OK, OK, OK, OK),
        _fresh_workspace_to_leave,
    ),
    # Mutation: channels
    Row(
        "createChannel",
        "mutation($w: ID!, $n: String!) { createChannel(input: {workspaceId: $w, name: $n}) { channel { id } } }",
        MEMBERS_NOT_GUESTS,
        lambda w, who: {"w": w.ids["workspace"], "n": fresh("c")},
    ),
    Row(
        "createDirectChannel",
        "mutation($w: ID!, $u: ID!) { createDirectChannel(input: {workspaceId: $w, userIds: [$u]}) { channel { id } } }",
        expect(UNAUTH, NF, OK, OK, OK, BAD),
        lambda w, who: {"w": w.ids["workspace"], "u": w.ids["owner"]},
    ),
    Row(
        "renameChannel",
        'mutation($c: ID!) { renameChannel(input: {channelId: $c, name: "renamed"}) { channel { id } } }',
        MEMBERS_NOT_GUESTS,
        _channel_with_caller,
    ),
    Row(
        "setChannelTopic",
        'mutation($c: ID!) { setChannelTopic(input: {channelId: $c, topic: "t"}) { channel { id } } }',
        MEMBERS_NOT_GUESTS,
        _channel_with_caller,
    ),
    Row(
        "archiveChannel",
        "mutation($c: ID!) { archiveChannel(input: {channelId: $c}) { channel { archived } } }",
        MANAGERS,
        _channel_with_caller,
    ),
    Row(
        "unarchiveChannel",
        "mutation($c: ID!) { unarchiveChannel(input: {channelId: $c}) { channel { archived } } }",
        MANAGERS,
        _archived_channel_with_caller,
    ),
    Row(
        "joinChannel",
        "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }",
        expect(UNAUTH, NF, NF, OK, OK, OK),
        lambda w, who: {"c": w.channel("PUBLIC")},
    ),
    Row(
        "leaveChannel",
        "mutation($c: ID!) { leaveChannel(input: {channelId: $c}) { leftChannelId } }",
        expect(UNAUTH, NF, OK, OK, OK, OK),
        _channel_with_caller,
    ),
    Row(
        "addChannelMember",
        "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        MEMBERS_NOT_GUESTS,
        lambda w, who: {**_channel_with_caller(w, who), "u": w.ids["member"]},
    ),
    Row(
        "removeChannelMember",
        "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        MANAGERS,
        _channel_with_caller_and_member,
    ),
    Row(
        "markRead",
        "mutation($c: ID!) { markRead(input: {channelId: $c}) { channel { unreadCount } } }",
        CHANNEL_WRITERS,
        lambda w, who: {"c": w.ids["public"]},
    ),
    # Mutation: realtime
    Row(
        "openRealtimeSession",
        "mutation { openRealtimeSession { session { id key { id secret } } } }",
        SIGNED_IN,
    ),
    Row(
        "realtimeKey",
        "mutation($s: ID!, $k: ID!) { realtimeKey(input: {sessionId: $s, keyId: $k}) { key { secret } } }",
        SIGNED_IN,
        lambda w, who: w.realtime_session(who),
    ),
    Row(
        "realtimeKey",
        "mutation($s: ID!, $k: ID!) { realtimeKey(input: {sessionId: $s, keyId: $k}) { key { secret } } }",
        expect(UNAUTH, NF, NF, NF, NF, OK),
        lambda w, who: w.realtime_session("owner"),
    ),
    Row(
        "closeRealtimeSession",
        "mutation($s: ID!) { closeRealtimeSession(input: {sessionId: $s}) { closedSessionId } }",
        SIGNED_IN,
        lambda w, who: {"s": w.realtime_session(who)["s"]},
    ),
    Row(
        "typing",
        "mutation($c: ID!) { typing(input: {channelId: $c}) { ok } }",
        CHANNEL_WRITERS,
        lambda w, who: {"c": w.ids["public"]},
    ),
    # Mutation: messages
    Row(
        "postMessage",
        'mutation($c: ID!) { postMessage(input: {channelId: $c, text: "hi"}) { message { id } } }',
        CHANNEL_WRITERS,
        lambda w, who: {"c": w.ids["public"]},
    ),
    Row(
        "editMessage",
        'mutation($m: ID!) { editMessage(input: {messageId: $m, text: "changed"}) { message { editedAt } } }',
        expect(UNAUTH, NF, NF, OK, FORBIDDEN, FORBIDDEN),
        _message_by_member,
    ),
    Row(
        "deleteMessage",
        "mutation($m: ID!) { deleteMessage(input: {messageId: $m}) { deletedMessageId } }",
        CHANNEL_WRITERS,
        _message_by_member,
    ),
    Row(
        "addReaction",
        'mutation($m: ID!) { addReaction(input: {messageId: $m, emoji: "+1"}) { message { id } } }',
        CHANNEL_WRITERS,
        _message_by_member,
    ),
    Row(
        "removeReaction",
        'mutation($m: ID!) { removeReaction(input: {messageId: $m, emoji: "+1"}) { message { id } } }',
        CHANNEL_WRITERS,
        _message_by_member,
    ),
    Row(
        "pinMessage",
        "mutation($m: ID!) { pinMessage(input: {messageId: $m}) { message { pinned } } }",
        CHANNEL_WRITERS,
        _message_by_member,
    ),
    Row(
        "unpinMessage",
        "mutation($m: ID!) { unpinMessage(input: {messageId: $m}) { message { pinned } } }",
        CHANNEL_WRITERS,
        _message_by_member,
    ),
]


# Drive: every item below is made by the owner, so only roles and shares decide.
DRIVE_WRITERS = expect(UNAUTH, NF, NF, OK, OK, OK)
DRIVE_MANAGERS = expect(UNAUTH, NF, NF, FORBIDDEN, OK, OK)


def _file(world: World, who: str = "owner", body: bytes = b"matrix file") -> str:
    return upload_file(world.server, world.clients[who], world.ids["workspace"], body)


def _folder(world: World) -> str:
    folder: str = world.gql(
        "owner",
        'mutation($w: ID!) { createFolder(input: {workspaceId: $w, name: "F"}) { folder { id } } }',
        {"w": world.ids["workspace"]},
    )["createFolder"]["folder"]["id"]
    return folder


def _trashed_file(world: World, who: str) -> dict[str, Any]:
    file_id = _file(world)
    world.gql(
        "owner",
        "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id } } }",
        {"i": file_id},
    )
    return {"i": file_id}


def _file_version(world: World, who: str) -> dict[str, Any]:
    file_id = _file(world)
    version = world.gql(
        "owner",
        "query($f: ID!) { node(id: $f) { ... on File { currentVersion { id } } } }",
        {"f": file_id},
    )["node"]["currentVersion"]["id"]
    return {"f": file_id, "v": version}


def _share_link(world: World, who: str) -> dict[str, Any]:
    link = world.gql(
        "owner",
        "mutation($f: ID!) { createShareLink(input: {fileId: $f}) { shareLink { id } } }",
        {"f": _file(world)},
    )["createShareLink"]["shareLink"]["id"]
    return {"l": link}


DRIVE_ROWS = [
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on File { name size sha256 } } }",
        expect(NF, NF, NF, OK, OK, OK),
        lambda w, who: {"id": _file(w)},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Folder { name children(first: 5) { edges { node { id } } } } } }",
        expect(NF, NF, NF, OK, OK, OK),
        lambda w, who: {"id": _folder(w)},
    ),
    Row(
        "createFolder",
        'mutation($w: ID!) { createFolder(input: {workspaceId: $w, name: "New"}) { folder { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "renameDriveItem",
        'mutation($i: ID!) { renameDriveItem(input: {itemId: $i, name: "Renamed"}) { item { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"i": _file(w)},
    ),
    Row(
        "moveDriveItem",
        "mutation($i: ID!, $p: ID) { moveDriveItem(input: {itemId: $i, parentId: $p}) { item { id } } }",
        DRIVE_WRITERS,
        lambda w, who: {"i": _file(w), "p": _folder(w)},
    ),
    Row(
        "trashDriveItem",
        "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id } } }",
        DRIVE_WRITERS,
        lambda w, who: {"i": _file(w)},
    ),
    Row(
        "restoreDriveItem",
        "mutation($i: ID!) { restoreDriveItem(input: {itemId: $i}) { item { id } } }",
        DRIVE_WRITERS,
        _trashed_file,
    ),
    Row(
        "deleteDriveItem",
        "mutation($i: ID!) { deleteDriveItem(input: {itemId: $i}) { deletedItemId } }",
        DRIVE_WRITERS,
        _trashed_file,
    ),
    Row(
        "createUpload",
        'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "u.bin", size: 3}) { upload { url } } }',
        DRIVE_WRITERS,
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "restoreFileVersion",
        "mutation($f: ID!, $v: ID!) { restoreFileVersion(input: {fileId: $f, versionId: $v}) { file { id } } }",
        DRIVE_WRITERS,
        _file_version,
    ),
    Row(
        "shareDriveItem",
        "mutation($i: ID!, $u: ID) { shareDriveItem(input: {itemId: $i, userId: $u, level: READ}) { shares { level } } }",
        DRIVE_MANAGERS,
        lambda w, who: {"i": _file(w), "u": w.ids["guest"]},
    ),
    Row(
        "unshareDriveItem",
        "mutation($i: ID!, $u: ID) { unshareDriveItem(input: {itemId: $i, userId: $u}) { shares { level } } }",
        DRIVE_MANAGERS,
        lambda w, who: {"i": _file(w), "u": w.ids["guest"]},
    ),
    Row(
        "createShareLink",
        "mutation($f: ID!) { createShareLink(input: {fileId: $f}) { shareLink { id url } } }",
        DRIVE_MANAGERS,
        lambda w, who: {"f": _file(w)},
    ),
    Row(
        "revokeShareLink",
        "mutation($l: ID!) { revokeShareLink(input: {shareLinkId: $l}) { revokedShareLinkId } }",
        DRIVE_MANAGERS,
        _share_link,
    ),
]
ROWS += DRIVE_ROWS
# ONLYOFFICE is off in this world: the caller's access is checked first, so only those who
# may edit the file learn that it is off (tests/api/test_onlyoffice.py runs it on).
ROWS.append(
    Row(
        "openDocument",
        "mutation($f: ID!) { openDocument(input: {fileId: $f, mode: EDIT}) { token } }",
        expect(UNAUTH, NF, NF, "UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE"),
        lambda w, who: {"f": _file(w)},
    )
)

# Calendars and boards: each made by the owner for the workspace.
WORKSPACE_READERS_ONLY = expect(NF, NF, NF, OK, OK, OK)
WORKSPACE_READERS_ONLY_MUTATION = expect(UNAUTH, NF, NF, OK, OK, OK)


def _calendar(world: World) -> str:
    calendar: str = world.gql(
        "owner",
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "C"}) { calendar { id } } }',
        {"w": world.ids["workspace"]},
    )["createCalendar"]["calendar"]["id"]
    return calendar


def _event(world: World, attendees: list[str] | None = None) -> str:
    event: str = world.gql(
        "owner",
        'mutation($c: ID!, $a: [ID!]) { createEvent(input: {calendarId: $c, event: {title: "E", '
        'start: "2026-03-02T09:00:00Z", end: "2026-03-02T10:00:00Z", attendeeIds: $a}}) { event { id } } }',
        {"c": _calendar(world), "a": attendees or []},
    )["createEvent"]["event"]["id"]
    return event


def _invited(world: World, who: str) -> dict[str, Any]:
    invitees = [world.ids[who]] if who in ("guest", "member", "admin", "owner") else []
    return {"e": _event(world, invitees)}


def _board(world: World) -> str:
    board: str = world.gql(
        "owner",
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "B"}) { board { id } } }',
        {"w": world.ids["workspace"]},
    )["createBoard"]["board"]["id"]
    return board


def _task_list(world: World) -> str:
    item: str = world.gql(
        "owner",
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "L"}) { list { id } } }',
        {"b": _board(world)},
    )["createTaskList"]["list"]["id"]
    return item


def _task(world: World) -> str:
    task: str = world.gql(
        "owner",
        'mutation($l: ID!) { createTask(input: {listId: $l, title: "T"}) { task { id } } }',
        {"l": _task_list(world)},
    )["createTask"]["task"]["id"]
    return task


def _checklist_item(world: World, who: str) -> dict[str, Any]:
    task = _task(world)
    item = world.gql(
        "owner",
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "x"}) { task { checklist { id } } } }',
        {"t": task},
    )["addChecklistItem"]["task"]["checklist"][0]["id"]
    return {"i": item}


ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m@x\r\n"
    "DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nSUMMARY:I\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

PLANNING_ROWS = [
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Calendar { name } } }",
        WORKSPACE_READERS_ONLY,
        lambda w, who: {"id": _calendar(w)},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Event { title } } }",
        WORKSPACE_READERS_ONLY,
        lambda w, who: {"id": _event(w)},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Board { name } } }",
        WORKSPACE_READERS_ONLY,
        lambda w, who: {"id": _board(w)},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on TaskList { name } } }",
        WORKSPACE_READERS_ONLY,
        lambda w, who: {"id": _task_list(w)},
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { id ... on Task { title } } }",
        WORKSPACE_READERS_ONLY,
        lambda w, who: {"id": _task(w)},
    ),
    Row(
        "createCalendar",
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "N"}) { calendar { id } } }',
        MEMBERS_NOT_GUESTS,
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "updateCalendar",
        'mutation($c: ID!) { updateCalendar(input: {calendarId: $c, name: "R"}) { calendar { id } } }',
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w)},
    ),
    Row(
        "deleteCalendar",
        "mutation($c: ID!) { deleteCalendar(input: {calendarId: $c}) { deletedCalendarId } }",
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w)},
    ),
    Row(
        "shareCalendar",
        "mutation($c: ID!, $u: ID) { shareCalendar(input: {calendarId: $c, userId: $u}) { calendar { id } } }",
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w), "u": w.ids["guest"]},
    ),
    Row(
        "unshareCalendar",
        "mutation($c: ID!, $u: ID) { unshareCalendar(input: {calendarId: $c, userId: $u}) { calendar { id } } }",
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w), "u": w.ids["guest"]},
    ),
    Row(
        "createCalendarFeed",
        "mutation($c: ID!) { createCalendarFeed(input: {calendarId: $c}) { url } }",
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w)},
    ),
    Row(
        "revokeCalendarFeed",
        "mutation($c: ID!) { revokeCalendarFeed(input: {calendarId: $c}) { url } }",
        DRIVE_MANAGERS,
        lambda w, who: {"c": _calendar(w)},
    ),
    Row(
        "importCalendar",
        "mutation($c: ID!, $i: String!) { importCalendar(input: {calendarId: $c, ics: $i}) { created } }",
        DRIVE_WRITERS,
        lambda w, who: {"c": _calendar(w), "i": ICS},
    ),
    Row(
        "createEvent",
        'mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "E", start: "2026-03-02T09:00:00Z", end: "2026-03-02T10:00:00Z"}}) { event { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"c": _calendar(w)},
    ),
    Row(
        "updateEvent",
        'mutation($e: ID!) { updateEvent(input: {eventId: $e, event: {title: "F"}}) { event { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"e": _event(w)},
    ),
    Row(
        "deleteEvent",
        "mutation($e: ID!) { deleteEvent(input: {eventId: $e}) { deletedEventId } }",
        DRIVE_WRITERS,
        lambda w, who: {"e": _event(w)},
    ),
    Row(
        "respondToEvent",
        "mutation($e: ID!) { respondToEvent(input: {eventId: $e, response: ACCEPTED}) { event { id } } }",
        expect(UNAUTH, NF, OK, OK, OK, OK),
        _invited,
    ),
    Row(
        "createBoard",
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "N"}) { board { id } } }',
        MEMBERS_NOT_GUESTS,
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "updateBoard",
        'mutation($b: ID!) { updateBoard(input: {boardId: $b, name: "R"}) { board { id } } }',
        DRIVE_MANAGERS,
        lambda w, who: {"b": _board(w)},
    ),
    Row(
        "createTaskList",
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "L"}) { list { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"b": _board(w)},
    ),
    Row(
        "updateTaskList",
        'mutation($l: ID!) { updateTaskList(input: {listId: $l, name: "M"}) { list { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"l": _task_list(w)},
    ),
    Row(
        "createTask",
        'mutation($l: ID!) { createTask(input: {listId: $l, title: "T"}) { task { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"l": _task_list(w)},
    ),
    Row(
        "updateTask",
        'mutation($t: ID!) { updateTask(input: {taskId: $t, title: "U"}) { task { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"t": _task(w)},
    ),
    Row(
        "moveTask",
        "mutation($t: ID!, $l: ID!) { moveTask(input: {taskId: $t, listId: $l}) { task { id } } }",
        DRIVE_WRITERS,
        lambda w, who: {"t": _task(w), "l": _task_list(w)},
    ),
    Row(
        "deleteTask",
        "mutation($t: ID!) { deleteTask(input: {taskId: $t}) { deletedTaskId } }",
        DRIVE_WRITERS,
        lambda w, who: {"t": _task(w)},
    ),
    Row(
        "addChecklistItem",
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "c"}) { task { id } } }',
        DRIVE_WRITERS,
        lambda w, who: {"t": _task(w)},
    ),
    Row(
        "updateChecklistItem",
        "mutation($i: ID!) { updateChecklistItem(input: {itemId: $i, done: true}) { task { id } } }",
        DRIVE_WRITERS,
        _checklist_item,
    ),
    Row(
        "addTaskComment",
        'mutation($t: ID!) { addTaskComment(input: {taskId: $t, text: "c"}) { task { id } } }',
        WORKSPACE_READERS_ONLY_MUTATION,
        lambda w, who: {"t": _task(w)},
    ),
]
ROWS += PLANNING_ROWS


def _in_server(world: World, work: Callable[[Services], Any]) -> Any:
    """Run `work(services)` (a coroutine) in the server's event loop, and its result."""
    services = world.server.server.config.app.state["services"]
    loop = services.webhooks._task.get_loop()  # the worker runs in the server's loop
    return asyncio.run_coroutine_threadsafe(work(services), loop).result(timeout=10)


def _owners_endpoint(world: World) -> str:
    async def make(services: Services) -> str:
        owner = raw_id_of(world.ids["owner"], "User")
        assert owner is not None
        record, _ = await services.webhooks.add_endpoint(owner, "http://127.0.0.1:9/")
        return record.endpoint_id

    if "endpoint" not in world.ids:
        world.ids["endpoint"] = _in_server(world, make)
    return world.ids["endpoint"]


def _owners_delivery(world: World, who: str) -> dict[str, Any]:
    endpoint = _owners_endpoint(world)

    async def log(services: Services) -> str:
        attempt = AttemptRecord(
            endpoint_id=endpoint,
            attempt_id=new_id(),
            delivery_id=new_id(),
            message_id="msg_" + new_id(),
            event_type="message.created",
            payload='{"type":"message.created","data":{}}',
            attempted_at=services.clock(),
            status_code=500,
            duration_ms=3,
            error="http_status",
            succeeded=False,
        )
        await services.webhooks.repository.log(attempt, keep=200)
        return attempt.attempt_id

    attempt_id = _in_server(world, log)
    return {"d": _gid("WebhookDelivery", f"{endpoint}:{attempt_id}")}


def _gid(type_name: str, raw: str) -> str:
    return str(to_global_id(type_name, raw))


def _incoming_webhook_by_owner(world: World, who: str) -> dict[str, Any]:
    channel = world.channel("PUBLIC", add=(who,))
    made = world.gql(
        "owner",
        'mutation($c: ID!) { createIncomingWebhook(input: {channelId: $c, name: "Bot"}) '
        "{ webhook { id } } }",
        {"c": channel},
    )
    return {"w": made["createIncomingWebhook"]["webhook"]["id"]}


WEBHOOK_ROWS = [
    Row(
        "createIncomingWebhook",
        'mutation($c: ID!) { createIncomingWebhook(input: {channelId: $c, name: "CI"}) '
        "{ webhook { id name } url } }",
        MEMBERS_NOT_GUESTS,
        _channel_with_caller,
    ),
    Row(
        "deleteIncomingWebhook",
        "mutation($w: ID!) { deleteIncomingWebhook(input: {webhookId: $w}) { deletedWebhookId } }",
        MANAGERS,
        _incoming_webhook_by_owner,
    ),
    Row(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Channel { incomingWebhooks { name } } } }",
        WORKSPACE_READERS,
        lambda w, who: {"id": _channel_with_caller(w, who)["c"]},
    ),
    Row(
        "webhookEndpoint",
        "query($id: ID!) { webhookEndpoint(id: $id) { url deliveries { eventType } } }",
        expect(UNAUTH, NF, NF, NF, NF, OK),
        lambda w, who: {"id": _gid("WebhookEndpoint", _owners_endpoint(w))},
    ),
    Row(
        "redeliverWebhook",
        "mutation($d: ID!) { redeliverWebhook(input: {deliveryId: $d}) "
        "{ delivery { webhookId } } }",
        expect(UNAUTH, NF, NF, NF, NF, OK),
        _owners_delivery,
    ),
]
ROWS += WEBHOOK_ROWS
JOIN_VIDEO = """mutation($c: ID, $e: ID) { joinVideoRoom(input: {channelId: $c, eventId: $e})
  { room { name } } }"""
ROTATE_VIDEO = """mutation($c: ID, $e: ID) { rotateVideoRoom(input: {channelId: $c, eventId: $e})
  { room { name } } }"""
# Rooms go to whoever reads the channel or the event (an invited guest too); their names are
# replaced by the channel's managers and the event's organisers (its creator, calendar managers).
ROWS += [
    Row("joinVideoRoom", JOIN_VIDEO, CHANNEL_WRITERS, lambda w, who: {"c": w.ids["public"]}),
    Row("joinVideoRoom", JOIN_VIDEO, expect(UNAUTH, NF, OK, OK, OK, OK), _invited),
    Row(
        "rotateVideoRoom",
        ROTATE_VIDEO,
        expect(UNAUTH, NF, NF, FORBIDDEN, OK, OK),
        lambda w, who: {"c": w.ids["public"]},
    ),
    Row(
        "rotateVideoRoom", ROTATE_VIDEO, expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, OK, OK), _invited
    ),
]
ROWS.append(
    Row(
        "search",
        'query($w: ID!) { search(workspaceId: $w, query: "hello") { edges { cursor } } }',
        expect(UNAUTH, NF, OK, OK, OK, OK),
        lambda w, who: {"w": w.ids["workspace"]},
    )
)
REQUEST_EXPORT = (
    """mutation($w: ID) { requestExport(input: {workspaceId: $w}) { export { id } } }"""
)


def _owners_export(world: World, who: str) -> dict[str, Any]:
    if "export" not in world.ids:
        made = world.gql("owner", REQUEST_EXPORT, {"w": None})["requestExport"]["export"]
        world.ids["export"] = made["id"]
    return {"i": world.ids["export"]}


# A workspace's export is its owners'; one's own data, anyone's; an export, its requester's.
ROWS += [
    Row("exports", "{ exports { id state } }", SIGNED_IN),
    Row(
        "export",
        "query($i: ID!) { export(id: $i) { id state } }",
        expect(NF, NF, NF, NF, NF, OK),
        _owners_export,
    ),
    Row(
        "requestExport",
        REQUEST_EXPORT,
        expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row("requestExport", REQUEST_EXPORT, expect(UNAUTH, OK, OK, OK, OK, OK)),
]

# A workspace's key rotation is its owners' alone, to start and to follow.
ROWS += [
    Row(
        "workspaceKeyRotation",
        "query($w: ID!) { workspaceKeyRotation(workspaceId: $w) { version state } }",
        expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
        lambda w, who: {"w": w.ids["workspace"]},
    ),
    Row(
        "rotateWorkspaceKey",
        """mutation($w: ID!) { rotateWorkspaceKey(input: {workspaceId: $w}) {
          rotation { version state } } }""",
        expect(UNAUTH, NF, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
        lambda w, who: {"w": w.ids["workspace"]},
    ),
]


def outcome(result: dict[str, Any]) -> str:
    errors = result.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else OK


def test_every_root_field_has_a_row() -> None:
    graphql_schema = build_schema()._schema
    root_fields: set[str] = set()
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        assert isinstance(root, GraphQLObjectType)
        root_fields |= set(root.fields)
    covered = {row.field for row in ROWS}
    assert root_fields - covered == set(), "add a row for each new root field"
    assert covered - root_fields == set()


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.field)
def test_each_caller_gets_the_expected_answer(world: World, row: Row) -> None:
    answers = {}
    for who in CALLERS:
        client = world.clients[who]
        if row.field == "logOut" and who != "anonymous":
            # Log out a second session, so the caller's own stays for the other rows.
            token = world.server.client().data(
                LOG_IN, {"email": world.emails[who], "password": PASSWORD}
            )["logIn"]["token"]
            client = world.server.client(token)
        answers[who] = outcome(client.run(row.document, row.variables(world, who)))
    assert answers == row.expect


# Apps (#16): the maker's app; developers alone see and change their apps, owners and admins
# alone install them.
APP_REDIRECT = "http://127.0.0.1:9/cb"
APP_CHALLENGE = "c" * 43


def _maker_app(world: World, who: str = "") -> dict[str, Any]:
    made = world.gql(
        "maker",
        "mutation($n: String!, $r: String!) { registerApp(input: {name: $n, homepageUrl: "
        '"https://a.example", redirectUris: [$r], scopes: [MESSAGES_READ]}) '
        "{ app { id clientId } } }",
        {"n": fresh("app"), "r": APP_REDIRECT},
    )["registerApp"]["app"]
    return {"a": made["id"], "c": made["clientId"], "w": world.ids["workspace"]}


def _installed_app(world: World, who: str) -> dict[str, Any]:
    app = _maker_app(world)
    world.gql(
        "owner",
        "mutation($i: ApproveAppInstallInput!) { approveAppInstall(input: $i) { redirectUrl } }",
        {"i": _approval(app)},
    )
    return app


def _approval(app: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": app["c"],
        "workspaceId": app["w"],
        "scopes": ["MESSAGES_READ"],
        "redirectUri": APP_REDIRECT,
        "codeChallenge": APP_CHALLENGE,
        "codeChallengeMethod": "S256",
    }


DEVELOPER_ONLY = expect(UNAUTH, NF, NF, NF, NF, NF)
ROWS += [
    Row("myApps", "{ myApps { id } }", SIGNED_IN),
    Row("appScopes", "{ appScopes { name description } }", expect(OK, OK, OK, OK, OK, OK)),
    Row("app", "query($a: ID!) { app(id: $a) { id } }", DEVELOPER_ONLY, _maker_app),
    Row(
        "registerApp",
        'mutation { registerApp(input: {name: "x", homepageUrl: "https://a.example", '
        'redirectUris: ["https://a.example/cb"], scopes: [USERS_READ]}) { app { id } } }',
        expect(UNAUTH, OK, OK, OK, OK, OK),
    ),
    Row(
        "updateApp",
        'mutation($a: ID!) { updateApp(input: {id: $a, name: "y"}) { app { id } } }',
        DEVELOPER_ONLY,
        _maker_app,
    ),
    Row(
        "rotateAppSecret",
        "mutation($a: ID!) { rotateAppSecret(input: {id: $a}) { clientSecret } }",
        DEVELOPER_ONLY,
        _maker_app,
    ),
    Row(
        "deleteApp",
        "mutation($a: ID!) { deleteApp(input: {id: $a}) { deletedAppId } }",
        DEVELOPER_ONLY,
        _maker_app,
    ),
    Row(
        "appInstallRequest",
        "query($c: String!, $w: ID!) { appInstallRequest(clientId: $c, workspaceId: $w, "
        f'scopes: [MESSAGES_READ], redirectUri: "{APP_REDIRECT}") {{ app {{ name }} }} }}',
        MANAGERS,
        _maker_app,
    ),
    Row(
        "approveAppInstall",
        "mutation($i: ApproveAppInstallInput!) { approveAppInstall(input: $i) { redirectUrl } }",
        MANAGERS,
        lambda world, who: {"i": _approval(_maker_app(world))},
    ),
    Row(
        "uninstallApp",
        "mutation($w: ID!, $a: ID!) { uninstallApp(input: {workspaceId: $w, appId: $a}) "
        "{ uninstalledAppId } }",
        MANAGERS,
        _installed_app,
    ),
]
