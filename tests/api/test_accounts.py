"""Sign-up, log-in, log-out, password changes and sessions, over real HTTP."""

from __future__ import annotations

from mail_sink import mail_sink

from support import LOG_IN, PASSWORD, SIGN_UP, Server, answer, error_codes, sign_up

VIEWER = "{ viewer { id email displayName } }"
SESSIONS = """query($first: Int!, $after: String) {
  viewer { sessions(first: $first, after: $after) {
  edges { cursor node { id current } } pageInfo { hasNextPage endCursor } } } }"""
CHANGE = """mutation($cur: String!, $new: String!) {
  changePassword(input: {currentPassword: $cur, newPassword: $new}) { ok revokedSessions } }"""


def test_sign_up_then_viewer(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, user = sign_up(client, email, name="Ann Lee")
    assert token.startswith("cove_") and len(token) >= 45
    assert user["email"] == email and user["displayName"] == "Ann Lee"
    viewer = client.as_user(token).data(VIEWER)["viewer"]
    assert viewer == user


def test_email_is_matched_case_insensitively(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    sign_up(client, email)
    sink = mail_sink()
    mark = sink.mark()
    # The same address in capitals is the same address: no second account, and its owner
    # hears that someone tried.
    client.data(SIGN_UP, {"email": email.upper(), "password": "other password 1", "name": "B"})
    assert "tried" in str(sink.wait_for(email, after=mark)["Subject"])
    refused = client.run(LOG_IN, {"email": email, "password": "other password 1"})
    assert error_codes(refused) == ["UNAUTHENTICATED"]
    logged = client.data(LOG_IN, {"email": email.upper(), "password": PASSWORD})
    assert logged["logIn"]["user"]["email"] == email


def test_log_in_and_log_out(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    sign_up(client, email)
    token = client.data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
    user = client.as_user(token)
    assert user.data(VIEWER)["viewer"]["email"] == email
    assert user.data("mutation { logOut { ok } }") == {"logOut": {"ok": True}}
    after = user.run(VIEWER)
    assert after["data"] == {"viewer": None}
    assert error_codes(after) == ["UNAUTHENTICATED"]


def test_unknown_email_and_wrong_password_look_the_same(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    sign_up(client, email)
    wrong_password = client.run(LOG_IN, {"email": email, "password": "not the password"})
    unknown_email = client.run(LOG_IN, {"email": "nobody-" + email, "password": PASSWORD})
    malformed_email = client.run(LOG_IN, {"email": "not an email", "password": PASSWORD})
    assert answer(wrong_password) == answer(unknown_email) == answer(malformed_email)
    assert error_codes(wrong_password) == ["UNAUTHENTICATED"]


def test_anonymous_viewer_is_unauthenticated(shared_server: Server) -> None:
    result = shared_server.client().run(VIEWER)
    assert result["data"] == {"viewer": None}
    assert error_codes(result) == ["UNAUTHENTICATED"]


def test_bogus_token_is_unauthenticated(shared_server: Server) -> None:
    for token in ("cove_" + "A" * 43, "garbage", "cove_" + "x" * 500):
        result = shared_server.client(token).run(VIEWER)
        assert error_codes(result) == ["UNAUTHENTICATED"]


def test_bad_sign_up_input_leaves_no_trace(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    cases = [
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "email"),
        ({"email": email, "password": "short", "name": "A"}, "password"),
        ({"email": email, "password": "x" * 1025, "name": "A"}, "password"),
        ({"email": email, "password": PASSWORD, "name": "   "}, "displayName"),
        ({"email": email, "password": PASSWORD, "name": "a\u0000b"}, "displayName"),
        ({"email": email, "password": PASSWORD, "name": "n" * 101}, "displayName"),
    ]
    for variables, field in cases:
        result = client.run(SIGN_UP, variables)
        assert result["data"] == {"signUp": None}
        assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    # None of those attempts created the account: the address is still free.
    sign_up(client, email)


def test_password_of_exactly_the_limits_is_accepted(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    sign_up(client, email, password="p" * 10)
    sign_up(client, "long-" + email, password="p" * 1024)


def test_change_password_revokes_other_sessions(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    first, _ = sign_up(client, email)
    second = client.data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
    third = client.data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
    me = client.as_user(second)
    wrong = me.run(CHANGE, {"cur": "wrong password", "new": "new password 123"})
    assert wrong["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "currentPassword",
    }
    weak = me.run(CHANGE, {"cur": PASSWORD, "new": "short"})
    assert weak["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "newPassword"}
    changed = me.data(CHANGE, {"cur": PASSWORD, "new": "new password 123"})
    assert changed["changePassword"] == {"ok": True, "revokedSessions": 2}
    assert me.data(VIEWER)["viewer"]["email"] == email
    for token in (first, third):
        assert error_codes(client.as_user(token).run(VIEWER)) == ["UNAUTHENTICATED"]
    assert error_codes(client.run(LOG_IN, {"email": email, "password": PASSWORD})) == [
        "UNAUTHENTICATED"
    ]
    client.data(LOG_IN, {"email": email, "password": "new password 123"})


def test_sessions_connection_pages_by_keyset(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, _ = sign_up(client, email)
    for _ in range(4):
        client.data(LOG_IN, {"email": email, "password": PASSWORD})
    me = client.as_user(token)
    page1 = me.data(SESSIONS, {"first": 2})["viewer"]["sessions"]
    assert page1["pageInfo"]["hasNextPage"] is True
    # A new session arriving between pages does not shift the next page.
    client.data(LOG_IN, {"email": email, "password": PASSWORD})
    page2 = me.data(SESSIONS, {"first": 2, "after": page1["pageInfo"]["endCursor"]})
    page3 = me.data(
        SESSIONS, {"first": 2, "after": page2["viewer"]["sessions"]["pageInfo"]["endCursor"]}
    )
    ids = [
        e["node"]["id"]
        for p in (page1, page2["viewer"]["sessions"], page3["viewer"]["sessions"])
        for e in p["edges"]
    ]
    assert len(ids) == len(set(ids)) == 5
    assert page3["viewer"]["sessions"]["pageInfo"]["hasNextPage"] is False
    # The oldest session is the one this client signed up with.
    assert page3["viewer"]["sessions"]["edges"][-1]["node"]["current"] is True


def test_first_outside_range_is_bad_input(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, _ = sign_up(client, email)
    me = client.as_user(token)
    for first in (0, -1, 101):
        assert error_codes(me.run(SESSIONS, {"first": first})) == ["BAD_USER_INPUT"]
    assert error_codes(me.run(SESSIONS, {"first": 1, "after": "%%%"})) == ["BAD_USER_INPUT"]
    me.data(SESSIONS, {"first": 100})


def test_revoke_session(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, _ = sign_up(client, email)
    other = client.data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
    me = client.as_user(token)
    edges = me.data(SESSIONS, {"first": 10})["viewer"]["sessions"]["edges"]
    victim = next(e["node"]["id"] for e in edges if not e["node"]["current"])
    revoke = "mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { revokedSessionId } }"
    assert me.data(revoke, {"id": victim})["revokeSession"]["revokedSessionId"] == victim
    assert error_codes(client.as_user(other).run(VIEWER)) == ["UNAUTHENTICATED"]
    assert error_codes(me.run(revoke, {"id": victim})) == ["NOT_FOUND"]


def test_update_profile(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, _ = sign_up(client, email)
    me = client.as_user(token)
    update = (
        "mutation($n: String!) { updateProfile(input: {displayName: $n}) { user { displayName } } }"
    )
    assert me.data(update, {"n": "  Zoë  "})["updateProfile"]["user"]["displayName"] == "Zoë"
    assert me.data(VIEWER)["viewer"]["displayName"] == "Zoë"
