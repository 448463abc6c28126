"""Two-factor sign-in over GraphQL: enrolment, the second step, clear refusals, sealed at rest,
and workspaces that require it."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp

from support import (
    LOG_IN,
    PASSWORD,
    GraphQLClient,
    Server,
    error_codes,
    make_settings,
    serve,
    sign_up,
)

BEGIN = "mutation { beginTwoFactorEnrolment { otpauthUri secret } }"
CONFIRM = """mutation($c: String!, $p: String!) {
  confirmTwoFactorEnrolment(input: {code: $c, password: $p}) { recoveryCodes } }"""
LOG_IN_2FA = """mutation($email: String!, $password: String!) {
  logIn(input: {email: $email, password: $password}) {
    token user { id } needsSecondFactor secondStepToken secondStepExpiresAt } }"""
COMPLETE = """mutation($t: String!, $c: String, $r: String) {
  completeLogIn(input: {secondStepToken: $t, code: $c, recoveryCode: $r}) {
    token user { id email twoFactorEnabled recoveryCodesLeft } } }"""
REQUIRE = """mutation($w: ID!, $r: Boolean!) {
  setWorkspaceRequireTwoFactor(input: {workspaceId: $w, requireTwoFactor: $r}) {
    workspace { id requireTwoFactor } } }"""


def code_in(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def enrol(client: GraphQLClient) -> tuple[str, list[str]]:
    started = client.data(BEGIN)["beginTwoFactorEnrolment"]
    assert started["otpauthUri"].startswith("otpauth://totp/Cove:")
    codes = client.data(CONFIRM, {"c": code_in(started["secret"]), "p": PASSWORD})
    return started["secret"], codes["confirmTwoFactorEnrolment"]["recoveryCodes"]


def second_step(server: Server, email: str) -> str:
    payload = server.client().data(LOG_IN_2FA, {"email": email, "password": PASSWORD})["logIn"]
    assert payload["needsSecondFactor"] is True
    assert payload["token"] is None and payload["user"] is None
    assert payload["secondStepExpiresAt"]
    token: str = payload["secondStepToken"]
    return token


def test_the_whole_flow_over_graphql(shared_server: Server, email: str) -> None:
    token, _ = sign_up(shared_server.client(), email)
    me = shared_server.client(token)
    plain = shared_server.client().data(LOG_IN_2FA, {"email": email, "password": PASSWORD})
    assert plain["logIn"]["needsSecondFactor"] is False and plain["logIn"]["token"]
    secret, recovery = enrol(me)
    assert len(recovery) == 10
    step = second_step(shared_server, email)
    done = shared_server.client().data(COMPLETE, {"t": step, "c": code_in(secret, 1)})
    user = done["completeLogIn"]["user"]
    assert (user["email"], user["twoFactorEnabled"], user["recoveryCodesLeft"]) == (email, True, 10)
    session = shared_server.client(done["completeLogIn"]["token"])
    assert session.data("{ viewer { id } }")["viewer"]["id"] == user["id"]
    # The second-step token is no session, and is spent.
    assert error_codes(shared_server.client(step).run("{ viewer { id } }")) == ["UNAUTHENTICATED"]
    again = shared_server.client().run(COMPLETE, {"t": step, "r": recovery[0]})
    assert error_codes(again) == ["UNAUTHENTICATED"]
    assert again["errors"][0]["extensions"]["field"] == "token"


def test_refusals_are_clear_and_never_internal(shared_server: Server, email: str) -> None:
    token, _ = sign_up(shared_server.client(), email)
    me = shared_server.client(token)
    secret, recovery = enrol(me)
    step = second_step(shared_server, email)
    anon = shared_server.client()
    cases = [
        ({"t": step, "c": "000000"}, "UNAUTHENTICATED", "code"),
        ({"t": step, "c": code_in(secret, -4)}, "UNAUTHENTICATED", "code"),
        ({"t": step, "c": "not digits"}, "UNAUTHENTICATED", "code"),
        ({"t": step, "r": "aaaaa-aaaaa"}, "UNAUTHENTICATED", "recoveryCode"),
        ({"t": step}, "BAD_USER_INPUT", "code"),
        ({"t": "cove2fa_nonsense", "c": "123456"}, "UNAUTHENTICATED", "token"),
        ({"t": "x" * 5000, "c": "123456"}, "UNAUTHENTICATED", "token"),
    ]
    for variables, code, field in cases:
        result = anon.run(COMPLETE, variables)
        assert error_codes(result) == [code], (variables, result)
        assert result["errors"][0]["extensions"]["field"] == field
    assert error_codes(me.run(BEGIN)) == ["BAD_USER_INPUT"]  # already on
    wrong = me.run(CONFIRM, {"c": "123456", "p": PASSWORD})
    assert error_codes(wrong) == ["BAD_USER_INPUT"]
    # Four wrong codes so far; the fifth is refused for its own sake, the sixth by the limit.
    assert error_codes(anon.run(COMPLETE, {"t": step, "c": "000000"})) == ["UNAUTHENTICATED"]
    limited = anon.run(COMPLETE, {"t": step, "r": recovery[0]})
    assert error_codes(limited) == ["RATE_LIMITED"]
    assert limited["errors"][0]["extensions"]["retryAfterSeconds"] > 0


def test_the_secret_and_recovery_codes_are_not_on_disk_in_clear(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        token, _ = sign_up(server.client(), "canary-2fa@example.org")
        secret, recovery = enrol(server.client(token))
        step = second_step(server, "canary-2fa@example.org")
        server.client().data(COMPLETE, {"t": step, "r": recovery[0]})
        files = [(p, p.read_bytes()) for p in sorted(data_dir.rglob("*")) if p.is_file()]
    files += [(p, p.read_bytes()) for p in sorted(data_dir.rglob("*")) if p.is_file()]
    needles = [secret.encode(), secret.lower().encode(), secret[:16].encode(), step.encode()]
    needles += [code.encode() for code in recovery]
    needles += [code.replace("-", "").encode() for code in recovery]
    for path, content in files:
        for needle in needles:
            assert needle.lower() not in content.lower(), f"{needle!r} found in {path}"


def test_owners_can_require_two_factor_of_members(shared_server: Server, email: str) -> None:
    owner_token, _ = sign_up(shared_server.client(), email)
    owner = shared_server.client(owner_token)
    member_email = "m-" + email
    member_token, _ = sign_up(shared_server.client(), member_email)
    member = shared_server.client(member_token)
    workspace = owner.data(
        'mutation { createWorkspace(input: {name: "Safe"}) { workspace { id } } }'
    )["createWorkspace"]["workspace"]["id"]
    invitation = owner.data(
        "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e}) "
        "{ invitation { id } } }",
        {"w": workspace, "e": member_email},
    )["inviteMember"]["invitation"]["id"]
    member.data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    refused = owner.run(REQUIRE, {"w": workspace, "r": True})
    assert error_codes(refused) == ["BAD_USER_INPUT"]  # the owner has it off
    enrol(owner)
    assert error_codes(member.run(REQUIRE, {"w": workspace, "r": True})) == ["FORBIDDEN"]
    turned = owner.data(REQUIRE, {"w": workspace, "r": True})
    assert turned["setWorkspaceRequireTwoFactor"]["workspace"]["requireTwoFactor"] is True

    content = (
        "query($w: ID!) { node(id: $w) { ... on Workspace { members(first: 5) "
        "{ edges { node { role } } } } } }"
    )
    held = member.run(content, {"w": workspace})
    assert error_codes(held) == ["FORBIDDEN"]
    assert held["errors"][0]["extensions"]["reason"] == "TWO_FACTOR_REQUIRED"
    assert "two-factor" in held["errors"][0]["message"]
    # What the member needs to enrol stays: the workspace itself, and enrolment.
    shell = member.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { name requireTwoFactor } } }",
        {"w": workspace},
    )
    assert shell["node"] == {"name": "Safe", "requireTwoFactor": True}
    assert owner.data(content, {"w": workspace})["node"]["members"]["edges"]
    enrol(member)
    assert member.data(content, {"w": workspace})["node"]["members"]["edges"]


def test_log_in_payload_still_answers_the_old_selection(shared_server: Server, email: str) -> None:
    sign_up(shared_server.client(), email)
    data = shared_server.client().data(LOG_IN, {"email": email, "password": PASSWORD})
    assert data["logIn"]["token"] and data["logIn"]["user"]["email"] == email
