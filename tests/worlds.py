"""One world for the real-server tests: an owner's workspace with an admin (if asked), a
member and a guest who joined by invitation, and an outsider, on a running server. Each
domain's tests subclass `Team` with helpers of their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import GraphQLClient, Server, sign_up

CREATE_WS = "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }"
INVITE = """mutation($w: ID!, $e: String!, $r: Role!) {
  inviteMember(input: {workspaceId: $w, email: $e, role: $r}) { invitation { id } } }"""
ACCEPT = "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }"


@dataclass
class Team:
    server: Server
    owner: GraphQLClient
    member: GraphQLClient
    guest: GraphQLClient
    outsider: GraphQLClient
    ids: dict[str, str]
    data_dir: Path
    admin: GraphQLClient | None = None


def join(
    server: Server, owner: GraphQLClient, workspace: str, email: str, role: str
) -> tuple[GraphQLClient, str]:
    """Sign someone up (address verified) and bring them into the workspace with `role`."""
    token, user = sign_up(server.client(), email, name=email.split("@", maxsplit=1)[0].title())
    invitation = owner.data(INVITE, {"w": workspace, "e": email, "r": role})["inviteMember"][
        "invitation"
    ]["id"]
    joined = server.client(token)
    joined.data(ACCEPT, {"i": invitation})
    return joined, str(user["id"])


def team_fields(
    server: Server, data_dir: Path, domain: str, *, admin: bool = False
) -> dict[str, Any]:
    """The fields of a `Team` (or a subclass) on `server`, everyone at `domain`; ids hold the
    workspace and each person's user id."""
    token, owner_user = sign_up(server.client(), f"owner@{domain}", name="Olive")
    owner = server.client(token)
    workspace = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
    ids = {"workspace": workspace, "owner": str(owner_user["id"])}
    fields: dict[str, Any] = {"server": server, "owner": owner, "data_dir": data_dir, "ids": ids}
    roles = (("admin", "ADMIN"),) if admin else ()
    for name, role in (*roles, ("member", "MEMBER"), ("guest", "GUEST")):
        fields[name], ids[name] = join(server, owner, workspace, f"{name}@{domain}", role)
    outsider_token, outsider = sign_up(server.client(), f"outsider@{domain}")
    fields["outsider"], ids["outsider"] = server.client(outsider_token), str(outsider["id"])
    return fields
