"""Membership changes that stick: removing, demoting or leaving cannot be undone by an
invitation made before it, one address has one pending invitation per workspace, and
accepting checks the invitation again (live, its workspace there, its inviter still
allowed to grant its role)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from drive_support import services_of
from worlds import CREATE_WS

from persistence.ids import new_id
from persistence.workspaces import InvitationRecord
from resolvers.accounts import EMAIL_INDEX
from resolvers.global_ids import from_global_id, to_global_id
from resolvers.invitations import invitation_email_ref
from support import GraphQLClient, Server, error_codes, make_settings, serve, sign_up

INVITE = """mutation($w: ID!, $e: String!, $r: Role!) {
  inviteMember(input: {workspaceId: $w, email: $e, role: $r}) { invitation { id role } } }"""
ACCEPT = """mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) {
  workspace { id viewerRole } } }"""
REVOKE = "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { revokedInvitationId } }"
REMOVE = """mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) {
  removedUserId } }"""
LEAVE = "mutation($w: ID!) { leaveWorkspace(input: {workspaceId: $w}) { leftWorkspaceId } }"
ROLE = """mutation($w: ID!, $u: ID!, $r: Role!) {
  changeMemberRole(input: {workspaceId: $w, userId: $u, role: $r}) { member { role } } }"""
MINE = "{ viewer { invitations { id role } } }"
PENDING = """query($w: ID!) { node(id: $w) { ... on Workspace {
  invitations(first: 50) { edges { node { id } } } } } }"""
ROLE_OF_VIEWER = "query($w: ID!) { node(id: $w) { ... on Workspace { viewerRole } } }"


@dataclass
class Team:
    server: Server
    owner: GraphQLClient
    workspace: str
    users: dict[str, tuple[GraphQLClient, str]]

    def person(self, name: str) -> tuple[GraphQLClient, str]:
        """Someone signed up (not yet a member): their client and user id."""
        if name not in self.users:
            token, user = sign_up(self.server.client(), f"{name}@team.example", name=name.title())
            self.users[name] = (self.server.client(token), user["id"])
        return self.users[name]

    def invite(self, name: str, role: str, by: GraphQLClient | None = None) -> str:
        data = (by or self.owner).data(
            INVITE, {"w": self.workspace, "e": f"{name}@team.example", "r": role}
        )
        invitation: str = data["inviteMember"]["invitation"]["id"]
        return invitation

    def join(self, name: str, role: str, by: GraphQLClient | None = None) -> GraphQLClient:
        client, _ = self.person(name)
        client.data(ACCEPT, {"i": self.invite(name, role, by)})
        return client

    def plant_invitation(self, name: str, role: str, invited_by: str) -> str:
        """An invitation written straight to the store: one made before the rules here (or
        by two invites that raced), which the API itself would no longer make."""
        services = services_of(self.server)
        parsed = (from_global_id(self.workspace), from_global_id(invited_by))
        assert parsed[0] is not None and parsed[1] is not None
        email = f"{name}@team.example"
        now = services.clock()
        record = InvitationRecord(
            invitation_id=new_id(),
            workspace_id=parsed[0][1],
            email_sealed=b"",
            email_index=services.keyring.blind_index(EMAIL_INDEX, email),
            role=role,
            invited_by=parsed[1][1],
            created_at=now,
            expires_at=now + timedelta(days=1),
        )

        async def plant() -> None:
            sealed = await services.keys.seal_text(invitation_email_ref(record), email)
            await services.workspaces.add_invitation(replace(record, email_sealed=sealed))

        asyncio.run(plant())
        return to_global_id("Invitation", record.invitation_id)

    def pending(self) -> list[str]:
        edges = self.owner.data(PENDING, {"w": self.workspace})["node"]["invitations"]["edges"]
        return [e["node"]["id"] for e in edges]


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    with serve(make_settings(tmp_path / "data")) as server:
        token, owner_user = sign_up(server.client(), "owner@team.example", name="Olive")
        owner = server.client(token)
        workspace = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
        yield Team(server, owner, workspace, {"owner": (owner, owner_user["id"])})


def _role(client: GraphQLClient, workspace: str) -> Any:
    result = client.run(ROLE_OF_VIEWER, {"w": workspace})
    return result["data"]["node"]["viewerRole"] if result["data"]["node"] else error_codes(result)


def test_a_second_pending_invitation_for_an_address_is_refused(team: Team) -> None:
    admin = team.join("admin", "ADMIN")
    first = team.invite("dana", "MEMBER")
    for who, role, address in (
        (team.owner, "GUEST", "dana@team.example"),
        (admin, "MEMBER", "Dana@Team.Example"),  # the same address in another case
    ):
        result = who.run(INVITE, {"w": team.workspace, "e": address, "r": role})
        assert error_codes(result) == ["BAD_USER_INPUT"]
        assert "pending invitation" in result["errors"][0]["message"]
    assert team.pending() == [first]
    # Another workspace may invite the same address.
    other = team.owner.data(CREATE_WS, {"n": "Other"})["createWorkspace"]["workspace"]["id"]
    team.owner.data(INVITE, {"w": other, "e": "dana@team.example", "r": "MEMBER"})
    # Once the first is revoked, or has expired, a new one may be sent.
    team.owner.data(REVOKE, {"i": first})
    second = team.invite("dana", "GUEST")
    services = services_of(team.server)
    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(days=8)  # past the 7-day invitations
    try:
        assert team.invite("dana", "MEMBER") != second
    finally:
        services.clock = real_clock


def test_an_invitation_from_before_the_claims_still_counts_as_pending(team: Team) -> None:
    """Invitations stored before migration 14 hold no claim; a new one is refused all the same."""
    team.person("gil")
    planted = team.plant_invitation("gil", "MEMBER", team.users["owner"][1])
    result = team.owner.run(INVITE, {"w": team.workspace, "e": "gil@team.example", "r": "ADMIN"})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert team.pending() == [planted]


def test_a_removed_member_cannot_rejoin_by_an_older_invitation(team: Team) -> None:
    erin = team.join("erin", "MEMBER")
    older = team.plant_invitation("erin", "MEMBER", team.users["owner"][1])
    _, erin_id = team.person("erin")
    team.owner.data(REMOVE, {"w": team.workspace, "u": erin_id})
    assert erin.data(MINE)["viewer"]["invitations"] == []
    assert older not in team.pending()
    assert error_codes(erin.run(ACCEPT, {"i": older})) == ["NOT_FOUND"]
    assert _role(erin, team.workspace) == ["NOT_FOUND"]


def test_leaving_revokes_older_invitations_too(team: Team) -> None:
    fay = team.join("fay", "MEMBER")
    older = team.plant_invitation("fay", "ADMIN", team.users["owner"][1])
    fay.data(LEAVE, {"w": team.workspace})
    assert fay.data(MINE)["viewer"]["invitations"] == []
    assert error_codes(fay.run(ACCEPT, {"i": older})) == ["NOT_FOUND"]
    assert _role(fay, team.workspace) == ["NOT_FOUND"]


def test_a_demoted_member_stays_demoted(team: Team) -> None:
    gus = team.join("gus", "MEMBER")
    _, gus_id = team.person("gus")
    older = team.plant_invitation("gus", "MEMBER", team.users["owner"][1])
    team.owner.data(ROLE, {"w": team.workspace, "u": gus_id, "r": "GUEST"})
    assert gus.data(MINE)["viewer"]["invitations"] == []
    assert error_codes(gus.run(ACCEPT, {"i": older})) == ["NOT_FOUND"]
    assert _role(gus, team.workspace) == "GUEST"
    # Even an invitation that survived somehow never changes a member's role: that is
    # changeMemberRole's job. It is used up, and the member keeps the role they hold.
    stray = team.plant_invitation("gus", "ADMIN", team.users["owner"][1])
    accepted = gus.data(ACCEPT, {"i": stray})["acceptInvitation"]["workspace"]
    assert accepted["viewerRole"] == "GUEST"
    assert _role(gus, team.workspace) == "GUEST"
    assert error_codes(gus.run(ACCEPT, {"i": stray})) == ["NOT_FOUND"]


def test_an_invitation_is_only_as_good_as_its_inviter(team: Team) -> None:
    co_owner = team.join("cora", "OWNER")
    _, cora_id = team.person("cora")
    as_owner = team.invite("hal", "OWNER", by=co_owner)
    as_admin = team.invite("ida", "ADMIN", by=co_owner)
    # Cora may no longer grant OWNER: that invitation goes; ADMIN she still may grant.
    team.owner.data(ROLE, {"w": team.workspace, "u": cora_id, "r": "ADMIN"})
    hal, _ = team.person("hal")
    ida, _ = team.person("ida")
    assert hal.data(MINE)["viewer"]["invitations"] == []
    assert error_codes(hal.run(ACCEPT, {"i": as_owner})) == ["NOT_FOUND"]
    assert ida.data(ACCEPT, {"i": as_admin})["acceptInvitation"]["workspace"]["viewerRole"] == (
        "ADMIN"
    )
    # Removed, or made a plain member, an inviter's invitations all go.
    for name, change in (("jo", "remove"), ("kim", "demote")):
        admin = team.join(f"admin-{name}", "ADMIN")
        _, admin_id = team.person(f"admin-{name}")
        invitation = team.invite(name, "MEMBER", by=admin)
        if change == "remove":
            team.owner.data(REMOVE, {"w": team.workspace, "u": admin_id})
        else:
            team.owner.data(ROLE, {"w": team.workspace, "u": admin_id, "r": "MEMBER"})
        invitee, _ = team.person(name)
        assert error_codes(invitee.run(ACCEPT, {"i": invitation})) == ["NOT_FOUND"]
        assert _role(invitee, team.workspace) == ["NOT_FOUND"]


def test_accepting_checks_the_invitation_again(team: Team) -> None:
    """What eager revocation missed (an older row, a race) is refused when accepted."""
    leaver = team.join("lee", "ADMIN")
    _, lee_id = team.person("lee")
    leaver.data(LEAVE, {"w": team.workspace})
    orphan = team.plant_invitation("max", "MEMBER", lee_id)
    mx, _ = team.person("max")
    result = mx.run(ACCEPT, {"i": orphan})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "no longer valid" in result["errors"][0]["message"]
    assert _role(mx, team.workspace) == ["NOT_FOUND"]
    assert error_codes(mx.run(ACCEPT, {"i": orphan})) == ["NOT_FOUND"]  # and it is gone
    # A member may not invite, so a member's invitation is no good either.
    member = team.join("ned", "MEMBER")
    assert member is not None
    _, ned_id = team.person("ned")
    by_member = team.plant_invitation("oda", "GUEST", ned_id)
    oda, _ = team.person("oda")
    assert error_codes(oda.run(ACCEPT, {"i": by_member})) == ["BAD_USER_INPUT"]
    # The owner's invitation is good.
    fine = team.plant_invitation("pia", "MEMBER", team.users["owner"][1])
    pia, _ = team.person("pia")
    assert pia.data(ACCEPT, {"i": fine})["acceptInvitation"]["workspace"]["viewerRole"] == (
        "MEMBER"
    )
