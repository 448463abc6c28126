"""Proof that an address belongs to its account: verification, invitations bound to the
invited address, sign-up that tells nobody which addresses have accounts, password reset and
email change by mail, and the limits on the links' tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mail_sink import link_token, mail_sink

from support import (
    LOG_IN,
    PASSWORD,
    SIGN_UP,
    VERIFY_EMAIL,
    GraphQLClient,
    Server,
    answer,
    error_codes,
    make_settings,
    serve,
    sign_up,
)

VIEWER = "{ viewer { id email emailVerified invitations { id role } } }"
CREATE_WORKSPACE = (
    "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }"
)
INVITE = """mutation($w: ID!, $e: String!, $r: Role!) {
  inviteMember(input: {workspaceId: $w, email: $e, role: $r}) { invitation { id } } }"""
ACCEPT = """mutation($i: ID!) {
  acceptInvitation(input: {invitationId: $i}) { workspace { id viewerRole } } }"""
ACCEPT_LINK = """mutation($t: String!) {
  acceptInvitationLink(input: {token: $t}) { workspace { id viewerRole } } }"""
MEMBERS = "query($w: ID!) { node(id: $w) { ... on Workspace { viewerRole } } }"
REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { message } }"
RESET = """mutation($t: String!, $p: String!) {
  resetPassword(input: {token: $t, newPassword: $p}) { ok revokedSessions } }"""
REQUEST_CHANGE = """mutation($e: String!, $p: String!) {
  requestEmailChange(input: {newEmail: $e, password: $p}) { message } }"""
CONFIRM_CHANGE = "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { ok } }"
RESEND = "mutation { resendVerificationEmail { message } }"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(make_settings(tmp_path / "data")) as running:
        yield running


def reason(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return errors[0]["extensions"].get("reason") if errors else None


def owner_with_workspace(server: Server, email: str) -> tuple[GraphQLClient, str]:
    token, _ = sign_up(server.client(), email, name="Olive")
    owner = server.client(token)
    workspace = owner.data(CREATE_WORKSPACE, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
    return owner, workspace


def test_sign_up_answers_alike_for_a_taken_address_and_tells_its_owner(server: Server) -> None:
    client = server.client()
    sink = mail_sink()
    sign_up(client, "owner@identity.example", password=PASSWORD)
    mark = sink.mark()
    new = client.run(
        SIGN_UP, {"email": "fresh@identity.example", "password": "another password 1", "name": "F"}
    )
    taken = client.run(
        SIGN_UP, {"email": "owner@identity.example", "password": "attacker pass 1", "name": "M"}
    )
    assert answer(new) == answer(taken)
    assert "check your email" in new["data"]["signUp"]["message"].lower()
    # The owner hears that someone tried; no second account, no change of password.
    note = sink.wait_for("owner@identity.example", after=mark)
    assert "tried" in str(note["Subject"]).lower()
    assert "#token=" not in note.get_content()
    attempt = client.run(LOG_IN, {"email": "owner@identity.example", "password": "attacker pass 1"})
    assert error_codes(attempt) == ["UNAUTHENTICATED"]
    client.data(LOG_IN, {"email": "owner@identity.example", "password": PASSWORD})
    # The new address got its verification link.
    fresh = sink.wait_for("fresh@identity.example", after=mark)
    link_token(fresh, "verify-email")


def test_an_account_works_at_once_and_proves_its_address_by_the_link(server: Server) -> None:
    client = server.client()
    sink = mail_sink()
    mark = sink.mark()
    token, _ = sign_up(client, "late@identity.example", verified=False)
    me = client.as_user(token)
    assert me.data(VIEWER)["viewer"]["emailVerified"] is False
    mailed = sink.wait_for_link("late@identity.example", "verify-email", after=mark)
    # A resend sends a second, also valid link.
    mark = sink.mark()
    me.data(RESEND)
    resent = sink.wait_for_link("late@identity.example", "verify-email", after=mark)
    assert resent != mailed
    assert server.client().data(VERIFY_EMAIL, {"t": mailed}) == {"verifyEmail": {"ok": True}}
    assert me.data(VIEWER)["viewer"]["emailVerified"] is True
    again = server.client().run(VERIFY_EMAIL, {"t": mailed})
    assert (error_codes(again), reason(again)) == (["BAD_USER_INPUT"], "TOKEN_USED")
    for wrong in ("cove_verify_" + "A" * 43, "", "x" * 5000, resent[:-1]):
        result = server.client().run(VERIFY_EMAIL, {"t": wrong})
        assert (error_codes(result), reason(result)) == (["BAD_USER_INPUT"], "TOKEN_INVALID")
    assert error_codes(me.run(RESEND)) == ["BAD_USER_INPUT"]  # already verified


def test_signing_up_with_an_invited_address_does_not_take_the_invitation(
    server: Server,
) -> None:
    """Whoever signs up first with an invited address got the invitation and its role: an
    invitee invited as ADMIN was impersonated that way. Now the address must be proved."""
    owner, workspace = owner_with_workspace(server, "boss@identity.example")
    victim = "victim@identity.example"
    sink = mail_sink()
    # The impostor signs up with the address before and after the invitation is sent.
    impostor_token, _ = sign_up(server.client(), victim, verified=False)
    impostor = server.client(impostor_token)
    mark = sink.mark()
    invitation = owner.data(INVITE, {"w": workspace, "e": victim, "r": "ADMIN"})
    invitation_id = invitation["inviteMember"]["invitation"]["id"]
    mailed = sink.wait_for(victim, after=mark, link="accept-invitation")
    assert impostor.data(VIEWER)["viewer"]["invitations"] == []
    refused = impostor.run(ACCEPT, {"i": invitation_id})
    assert (error_codes(refused), reason(refused)) == (["FORBIDDEN"], "EMAIL_NOT_VERIFIED")
    node = impostor.run("query($i: ID!) { node(id: $i) { id } }", {"i": invitation_id})
    assert error_codes(node) == ["NOT_FOUND"]
    assert error_codes(impostor.run(MEMBERS, {"w": workspace})) == ["NOT_FOUND"]
    # The owner of the mailbox accepts through the link, with an account of their own.
    real_token, _ = sign_up(server.client(), "victim.personal@identity.example")
    real = server.client(real_token)
    joined = real.data(ACCEPT_LINK, {"t": link_token(mailed, "accept-invitation")})
    assert joined["acceptInvitationLink"]["workspace"]["viewerRole"] == "ADMIN"
    # The link worked once, and its invitation is used up for everyone.
    again = impostor.run(ACCEPT_LINK, {"t": link_token(mailed, "accept-invitation")})
    assert (error_codes(again), reason(again)) == (["BAD_USER_INPUT"], "TOKEN_USED")
    assert error_codes(impostor.run(MEMBERS, {"w": workspace})) == ["NOT_FOUND"]


def test_a_verified_owner_of_the_address_accepts_in_the_app(server: Server) -> None:
    owner, workspace = owner_with_workspace(server, "lead@identity.example")
    token, _ = sign_up(server.client(), "ann@identity.example")
    ann = server.client(token)
    owner.data(INVITE, {"w": workspace, "e": "ann@identity.example", "r": "MEMBER"})
    [shown] = ann.data(VIEWER)["viewer"]["invitations"]
    accepted = ann.data(ACCEPT, {"i": shown["id"]})
    assert accepted["acceptInvitation"]["workspace"]["viewerRole"] == "MEMBER"


def test_accepting_by_link_proves_the_address_of_an_unverified_invitee(server: Server) -> None:
    owner, workspace = owner_with_workspace(server, "head@identity.example")
    token, _ = sign_up(server.client(), "new@identity.example", verified=False)
    newcomer = server.client(token)
    sink = mail_sink()
    mark = sink.mark()
    owner.data(INVITE, {"w": workspace, "e": "new@identity.example", "r": "GUEST"})
    mailed = sink.wait_for("new@identity.example", after=mark, link="accept-invitation")
    newcomer.data(ACCEPT_LINK, {"t": link_token(mailed, "accept-invitation")})
    assert newcomer.data(VIEWER)["viewer"]["emailVerified"] is True


def test_a_revoked_invitation_link_no_longer_works(server: Server) -> None:
    owner, workspace = owner_with_workspace(server, "chief@identity.example")
    sink = mail_sink()
    mark = sink.mark()
    invited = owner.data(INVITE, {"w": workspace, "e": "gone@identity.example", "r": "MEMBER"})
    mailed = sink.wait_for("gone@identity.example", after=mark, link="accept-invitation")
    owner.data(
        "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { revokedInvitationId } }",
        {"i": invited["inviteMember"]["invitation"]["id"]},
    )
    token, _ = sign_up(server.client(), "holder@identity.example")
    result = server.client(token).run(ACCEPT_LINK, {"t": link_token(mailed, "accept-invitation")})
    assert (error_codes(result), reason(result)) == (["BAD_USER_INPUT"], "TOKEN_INVALID")
    anonymous = server.client().run(ACCEPT_LINK, {"t": link_token(mailed, "accept-invitation")})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


def test_password_reset_by_mail_ends_every_session(server: Server) -> None:
    client = server.client()
    sink = mail_sink()
    first, _ = sign_up(client, "forgetful@identity.example")
    second = client.data(LOG_IN, {"email": "forgetful@identity.example", "password": PASSWORD})
    mark = sink.mark()
    known = client.run(REQUEST_RESET, {"e": "forgetful@identity.example"})
    unknown = client.run(REQUEST_RESET, {"e": "nobody@identity.example"})
    assert answer(known) == answer(unknown)
    reset_mail = sink.wait_for("forgetful@identity.example", after=mark, link="reset-password")
    no_account = sink.wait_for("nobody@identity.example", after=mark)
    assert "#token=" not in no_account.get_content()
    token = link_token(reset_mail, "reset-password")
    weak = client.run(RESET, {"t": token, "p": "short"})
    assert error_codes(weak) == ["BAD_USER_INPUT"]  # checked before the token is spent
    done = client.data(RESET, {"t": token, "p": "brand new password"})
    assert done["resetPassword"] == {"ok": True, "revokedSessions": 2}
    for old in (first, second["logIn"]["token"]):
        assert error_codes(client.as_user(old).run(VIEWER)) == ["UNAUTHENTICATED"]
    assert error_codes(
        client.run(LOG_IN, {"email": "forgetful@identity.example", "password": PASSWORD})
    ) == ["UNAUTHENTICATED"]
    client.data(LOG_IN, {"email": "forgetful@identity.example", "password": "brand new password"})
    reused = client.run(RESET, {"t": token, "p": "yet another password"})
    assert (error_codes(reused), reason(reused)) == (["BAD_USER_INPUT"], "TOKEN_USED")


def test_email_change_is_confirmed_by_the_new_address_and_told_to_the_old(
    server: Server,
) -> None:
    client = server.client()
    sink = mail_sink()
    token, _ = sign_up(client, "before@identity.example")
    me = client.as_user(token)
    wrong = me.run(REQUEST_CHANGE, {"e": "after@identity.example", "p": "not my password"})
    assert error_codes(wrong) == ["BAD_USER_INPUT"]
    mark = sink.mark()
    me.data(REQUEST_CHANGE, {"e": "after@identity.example", "p": PASSWORD})
    confirm = sink.wait_for_link("after@identity.example", "confirm-email-change", after=mark)
    told = sink.wait_for("before@identity.example", after=mark)
    assert "after@identity.example" in told.get_content()
    assert "#token=" not in told.get_content()
    # Nothing changed yet.
    assert me.data(VIEWER)["viewer"]["email"] == "before@identity.example"
    mark = sink.mark()
    assert server.client().data(CONFIRM_CHANGE, {"t": confirm}) == {
        "confirmEmailChange": {"ok": True}
    }
    viewer = me.data(VIEWER)["viewer"]
    assert (viewer["email"], viewer["emailVerified"]) == ("after@identity.example", True)
    sink.wait_for("before@identity.example", after=mark)  # "your address was changed"
    client.data(LOG_IN, {"email": "after@identity.example", "password": PASSWORD})
    old = client.run(LOG_IN, {"email": "before@identity.example", "password": PASSWORD})
    assert error_codes(old) == ["UNAUTHENTICATED"]
    # The old address is free for someone else now.
    sign_up(client, "before@identity.example", name="Newcomer")


def test_changing_the_password_cancels_a_pending_email_change(server: Server) -> None:
    """Someone with the password asks to move the account; the owner, told by mail, changes
    the password: the link in the thief's mailbox stops working."""
    client = server.client()
    sink = mail_sink()
    token, _ = sign_up(client, "target@identity.example")
    me = client.as_user(token)
    mark = sink.mark()
    me.data(REQUEST_CHANGE, {"e": "thief@identity.example", "p": PASSWORD})
    confirm = sink.wait_for_link("thief@identity.example", "confirm-email-change", after=mark)
    me.data(
        "mutation($c: String!, $n: String!) { changePassword(input: "
        "{currentPassword: $c, newPassword: $n}) { ok } }",
        {"c": PASSWORD, "n": "owner's new password"},
    )
    result = server.client().run(CONFIRM_CHANGE, {"t": confirm})
    assert (error_codes(result), reason(result)) == (["BAD_USER_INPUT"], "TOKEN_INVALID")
    assert me.data(VIEWER)["viewer"]["email"] == "target@identity.example"


def test_moving_to_a_taken_address_changes_nothing_and_tells_its_owner(server: Server) -> None:
    client = server.client()
    sink = mail_sink()
    sign_up(client, "holder@identity.example")
    token, _ = sign_up(client, "mover@identity.example")
    mark = sink.mark()
    free = client.as_user(token).run(REQUEST_CHANGE, {"e": "free@identity.example", "p": PASSWORD})
    taken = client.as_user(token).run(
        REQUEST_CHANGE, {"e": "holder@identity.example", "p": PASSWORD}
    )
    assert answer(free) == answer(taken)
    note = sink.wait_for("holder@identity.example", after=mark)
    assert "#token=" not in note.get_content()


def test_wrong_links_count_toward_a_limit(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", token_failures_per_ip=3)) as server:
        client = server.client()
        sink = mail_sink()
        mark = sink.mark()
        sign_up(client, "limited@identity.example", verified=False)
        good = sink.wait_for_link("limited@identity.example", "verify-email", after=mark)
        for _ in range(3):
            result = client.run(VERIFY_EMAIL, {"t": "cove_verify_" + "B" * 43})
            assert reason(result) == "TOKEN_INVALID"
        # The limit is full: even the right link waits, refused before it is looked up.
        assert error_codes(client.run(VERIFY_EMAIL, {"t": good})) == ["RATE_LIMITED"]


def test_without_mail_the_features_that_need_it_say_why(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", smtp_host=None)) as server:
        client = server.client()
        result = client.run(
            SIGN_UP, {"email": "a@identity.example", "password": PASSWORD, "name": "A"}
        )
        assert (error_codes(result), reason(result)) == (["UNAVAILABLE"], "MAIL_NOT_CONFIGURED")
        assert "email" in result["errors"][0]["message"].lower()
        result = client.run(REQUEST_RESET, {"e": "a@identity.example"})
        assert reason(result) == "MAIL_NOT_CONFIGURED"


def test_a_mail_server_that_is_down_does_not_fail_the_request(tmp_path: Path) -> None:
    from redis_server import free_port

    closed = free_port()
    with serve(make_settings(tmp_path / "data", smtp_port=closed)) as server:
        result = server.client().run(
            SIGN_UP, {"email": "patient@identity.example", "password": PASSWORD, "name": "P"}
        )
        assert "check your email" in result["data"]["signUp"]["message"].lower()
