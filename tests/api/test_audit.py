"""The audit log: workspace events for owners and admins, account events for their owner,
sealed at rest, trimmed by retention and printed by `cove audit`."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from drive_support import LINK, get, services_of, upload_file

from api.cli import main
from support import (
    LOG_IN,
    PASSWORD,
    GraphQLClient,
    Server,
    make_settings,
    serve,
    settle,
    sign_up,
    stored_contents,
)

AUDIT = """query($w: ID!, $first: Int!, $after: String, $kinds: [AuditEventKind!], $actor: ID,
  $since: DateTime, $until: DateTime) { node(id: $w) { ... on Workspace {
  auditLog(first: $first, after: $after, kinds: $kinds, actorId: $actor, since: $since,
  until: $until) { pageInfo { hasNextPage endCursor }
  edges { node { id kind at actorId targetIds clientAddress details { name value } } } } } } }"""
SECURITY = """query($first: Int!, $after: String) { viewer { securityLog(first: $first,
  after: $after) { pageInfo { hasNextPage endCursor }
  edges { node { kind actorId targetIds clientAddress details { name value } } } } } }"""
INVITE = """mutation($w: ID!, $e: String!, $r: Role!) { inviteMember(input: {workspaceId: $w,
  email: $e, role: $r}) { invitation { id } } }"""
ACCEPT = "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }"
CANARY_EMAIL = "audit-canary-9c2e@quokka-canary.example"


def kinds(result: dict[str, Any]) -> list[str]:
    return [e["node"]["kind"] for e in result["edges"]]


def audit(client: GraphQLClient, workspace: str, **variables: Any) -> dict[str, Any]:
    log: dict[str, Any] = client.data(AUDIT, {"w": workspace, "first": 50, **variables})["node"][
        "auditLog"
    ]
    return log


def team(server: Server) -> tuple[dict[str, GraphQLClient], dict[str, str]]:
    """An owner, an admin, a member, a guest and an outsider; returns (clients, ids)."""
    clients: dict[str, GraphQLClient] = {}
    ids: dict[str, str] = {}
    for who in ("owner", "admin", "member", "guest", "outsider"):
        token, user = sign_up(server.client(), f"{who}-{time.time_ns()}@example.org", name=who)
        clients[who] = server.client(token)
        ids[who] = user["id"]
    ids["workspace"] = clients["owner"].data(
        'mutation { createWorkspace(input: {name: "Audited"}) { workspace { id } } }'
    )["createWorkspace"]["workspace"]["id"]
    for who, role in (("admin", "ADMIN"), ("member", "MEMBER"), ("guest", "GUEST")):
        email = clients[who].data("{ viewer { email } }")["viewer"]["email"]
        invitation = clients["owner"].data(INVITE, {"w": ids["workspace"], "e": email, "r": role})
        clients[who].data(ACCEPT, {"i": invitation["inviteMember"]["invitation"]["id"]})
    return clients, ids


def test_owners_and_admins_read_workspace_events_newest_first_with_filters(
    tmp_path: Path,
) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        clients, ids = team(server)
        owner, workspace = clients["owner"], ids["workspace"]
        owner.data(
            "mutation($w: ID!, $u: ID!) { changeMemberRole(input: {workspaceId: $w, userId: $u, "
            "role: GUEST}) { member { role } } }",
            {"w": workspace, "u": ids["member"]},
        )
        pending = owner.data(INVITE, {"w": workspace, "e": CANARY_EMAIL, "r": "MEMBER"})
        owner.data(
            "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) "
            "{ revokedInvitationId } }",
            {"i": pending["inviteMember"]["invitation"]["id"]},
        )
        clients["guest"].data(
            "mutation($w: ID!) { leaveWorkspace(input: {workspaceId: $w}) { leftWorkspaceId } }",
            {"w": workspace},
        )

        log = audit(owner, workspace)
        assert kinds(log) == [
            "MEMBER_LEFT",
            "INVITATION_REVOKED",
            "INVITATION_SENT",
            "MEMBER_ROLE_CHANGED",
            "INVITATION_ACCEPTED",
            "INVITATION_SENT",
            "INVITATION_ACCEPTED",
            "INVITATION_SENT",
            "INVITATION_ACCEPTED",
            "INVITATION_SENT",
        ]
        changed = log["edges"][3]["node"]
        assert changed["actorId"] == ids["owner"]
        assert ids["member"] in changed["targetIds"]
        assert changed["clientAddress"] == "127.0.0.1"
        assert {"name": "role", "value": "GUEST"} in changed["details"]
        assert {"name": "previousRole", "value": "MEMBER"} in changed["details"]
        sent = log["edges"][2]["node"]
        assert {"name": "email", "value": CANARY_EMAIL} in sent["details"]

        # Paging: two at a time, no event twice, none missed.
        seen: list[str] = []
        after = None
        while True:
            page = owner.data(AUDIT, {"w": workspace, "first": 2, "after": after})["node"][
                "auditLog"
            ]
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [e["node"]["id"] for e in log["edges"]]

        # Filters: kinds, actor, time.
        assert kinds(audit(owner, workspace, kinds=["MEMBER_ROLE_CHANGED", "MEMBER_LEFT"])) == [
            "MEMBER_LEFT",
            "MEMBER_ROLE_CHANGED",
        ]
        assert kinds(audit(owner, workspace, actor=ids["guest"])) == [
            "MEMBER_LEFT",
            "INVITATION_ACCEPTED",
        ]
        later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert kinds(audit(owner, workspace, since=later)) == []
        assert len(kinds(audit(owner, workspace, until=later))) == 10
        earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        assert kinds(audit(owner, workspace, until=earlier)) == []
        filtered = owner.data(
            AUDIT, {"w": workspace, "first": 1, "kinds": ["INVITATION_ACCEPTED"]}
        )["node"]["auditLog"]
        assert kinds(filtered) == ["INVITATION_ACCEPTED"] and filtered["pageInfo"]["hasNextPage"]
        rest = owner.data(
            AUDIT,
            {
                "w": workspace,
                "first": 5,
                "kinds": ["INVITATION_ACCEPTED"],
                "after": filtered["pageInfo"]["endCursor"],
            },
        )["node"]["auditLog"]
        assert kinds(rest) == ["INVITATION_ACCEPTED", "INVITATION_ACCEPTED"]

        # The admin reads the same log; member, outsider and anonymous callers do not.
        assert kinds(audit(clients["admin"], workspace)) == kinds(log)
        refused = clients["member"].run(AUDIT, {"w": workspace, "first": 5})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        for who in ("outsider", "guest"):
            hidden = clients[who].run(AUDIT, {"w": workspace, "first": 5})
            assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        anonymous = server.client().run(AUDIT, {"w": workspace, "first": 5})
        assert anonymous["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        # Removing a member is recorded too.
        owner.data(
            "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) "
            "{ removedUserId } }",
            {"w": workspace, "u": ids["member"]},
        )
        assert kinds(audit(owner, workspace, first=1))[0] == "MEMBER_REMOVED"

        # Share links made, used and revoked.
        file_id = upload_file(server, owner, workspace, b"audited bytes")
        link = owner.data(LINK, {"f": file_id, "e": 3600, "p": None, "m": None})["createShareLink"][
            "shareLink"
        ]
        assert get(server, link["url"]).status_code == 200
        owner.data(
            "mutation($l: ID!) { revokeShareLink(input: {shareLinkId: $l}) "
            "{ revokedShareLinkId } }",
            {"l": link["id"]},
        )
        recent = audit(owner, workspace, first=3)
        assert kinds(recent) == ["SHARE_LINK_REVOKED", "SHARE_LINK_USED", "SHARE_LINK_CREATED"]
        used = recent["edges"][1]["node"]
        assert used["actorId"] is None and file_id in used["targetIds"]


def security_log(client: GraphQLClient) -> list[dict[str, Any]]:
    log = client.data(SECURITY, {"first": 50})["viewer"]["securityLog"]
    return [e["node"] for e in log["edges"]]


def test_account_events_reach_only_their_owner(tmp_path: Path) -> None:
    email = "account-owner@example.org"
    with serve(make_settings(tmp_path / "data")) as server:
        token, user = sign_up(server.client(), email)
        anonymous = server.client()
        wrong = anonymous.run(LOG_IN, {"email": email, "password": "not the password"})
        assert wrong["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        unknown = anonymous.run(LOG_IN, {"email": "nobody@example.org", "password": "x" * 12})
        assert unknown["errors"] == wrong["errors"]
        second = anonymous.data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
        server.client(second).data("mutation { logOut { ok } }")
        me = server.client(token)
        me.data(
            'mutation { changePassword(input: {currentPassword: "correct horse battery", '
            'newPassword: "a new long password"}) { ok } }'
        )
        # Failures are written off the request path (no timing tell); give them a moment.
        for _ in range(50):
            events = security_log(me)
            if "SIGN_IN_FAILED" in [e["kind"] for e in events]:
                break
            time.sleep(0.1)
        # Signing up proved the address and signed in (tests/support.py sign_up).
        assert [e["kind"] for e in events] == [
            "PASSWORD_CHANGED",
            "SESSION_ENDED",
            "SIGN_IN",
            "SIGN_IN_FAILED",
            "SIGN_IN",
            "EMAIL_VERIFIED",
        ]
        assert all(e["clientAddress"] == "127.0.0.1" for e in events)
        assert events[1]["actorId"] == user["id"]
        other_token, _ = sign_up(server.client(), "someone-else@example.org")
        assert [e["kind"] for e in security_log(server.client(other_token))] == [
            "SIGN_IN",
            "EMAIL_VERIFIED",
        ]
        fellow = server.client(other_token).run(
            "query($u: ID!) { node(id: $u) { ... on User { securityLog(first: 5) "
            "{ edges { cursor } } } } }",
            {"u": user["id"]},
        )
        assert fellow["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_client_address_and_details_are_sealed_at_rest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        clients, ids = team(server)
        clients["owner"].data(INVITE, {"w": ids["workspace"], "e": CANARY_EMAIL, "r": "MEMBER"})
        settle(services_of(server))
    for path, content in stored_contents(data_dir):
        for needle in (CANARY_EMAIL.encode(), b"quokka-canary", b"127.0.0.1", b"previousRole"):
            assert needle not in content, (path, needle)


def test_retention_deletes_events_older_than_the_setting(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", audit_retention_days=30)) as server:
        clients, ids = team(server)
        services = services_of(server)
        before = len(kinds(audit(clients["owner"], ids["workspace"])))
        assert before == 6
        removed = asyncio.run(services.audit.sweep(datetime.now(UTC) + timedelta(days=29)))
        assert removed == 0
        removed = asyncio.run(services.audit.sweep(datetime.now(UTC) + timedelta(days=31)))
        assert removed >= before
        assert kinds(audit(clients["owner"], ids["workspace"])) == []
        assert security_log(clients["owner"]) == []


def test_cove_audit_prints_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        _, ids = team(server)
        owner_id = ids["owner"]
        workspace = ids["workspace"]
    capsys.readouterr()
    assert main(["audit", "--data-dir", str(data_dir), "--workspace", workspace]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["kind"] for line in lines][:2] == ["INVITATION_ACCEPTED", "INVITATION_SENT"]
    assert len(lines) == 6
    assert lines[-1]["actorId"] == owner_id and lines[-1]["clientAddress"] == "127.0.0.1"
    assert (
        main(
            [
                "audit",
                "--data-dir",
                str(data_dir),
                "--workspace",
                workspace,
                "--kind",
                "INVITATION_SENT",
            ]
        )
        == 0
    )
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["audit", "--data-dir", str(data_dir), "--user", owner_id]) == 0
    account = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # The account's own events (proving its address, signing in) stay in its own log.
    assert [line["kind"] for line in account] == ["SIGN_IN", "EMAIL_VERIFIED"]


def test_a_filtered_page_that_reads_its_limit_without_a_match_says_where_to_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resolvers.audit as audit_module

    # Small reads, so a few events fill the scan: 2 rounds of 2.
    monkeypatch.setattr(audit_module, "_SCAN", 2)
    monkeypatch.setattr(audit_module, "_FILTER_SCAN_ROUNDS", 2)
    with serve(make_settings(tmp_path / "data")) as server:
        clients, ids = team(server)  # three invitations sent and accepted: six events
        owner = clients["owner"]
        result = owner.run(AUDIT, {"w": ids["workspace"], "first": 1, "kinds": ["MEMBER_LEFT"]})
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "`until`" in result["errors"][0]["message"]
        # Where something matches, the page ends on a cursor to go on from.
        page = audit(owner, ids["workspace"], first=1, kinds=["INVITATION_SENT"])
        assert kinds(page) == ["INVITATION_SENT"]
        assert page["pageInfo"]["hasNextPage"] and page["pageInfo"]["endCursor"]
