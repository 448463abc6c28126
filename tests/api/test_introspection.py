"""Introspection off, on, and for signed-in callers only, against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from support import answer, error_codes, make_settings, serve, sign_up

INTROSPECT = "{ __schema { queryType { name } } }"
TYPE_QUERY = '{ __type(name: "User") { name } }'
ANSWER = {"__schema": {"queryType": {"name": "Query"}}}


def _refused(body: dict[str, object]) -> bool:
    codes = error_codes(body)
    return body.get("data") is None and bool(codes) and set(codes) == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    ("introspection", "anonymous_may", "signed_in_may"),
    [(False, False, False), (True, True, True), ("authenticated", False, True)],
)
def test_who_may_introspect(
    tmp_path: Path,
    email: str,
    introspection: bool | str,
    anonymous_may: bool,
    signed_in_may: bool,
) -> None:
    with serve(make_settings(tmp_path / "data", introspection=introspection)) as server:
        anonymous = server.client()
        token, _ = sign_up(anonymous, email)
        signed_in = server.client(token)
        for client, may in ((anonymous, anonymous_may), (signed_in, signed_in_may)):
            body = client.run(INTROSPECT)
            assert (body.get("data") == ANSWER) if may else _refused(body), body
            assert not _refused(client.run(TYPE_QUERY)) if may else _refused(client.run(TYPE_QUERY))
        # Ordinary queries and __typename are never affected.
        assert signed_in.data("{ __typename viewer { email } }")["viewer"]["email"] == email


def test_anonymous_refusal_matches_introspection_off(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "off", introspection=False)) as off:
        refused_off = off.client().run(INTROSPECT)
    with serve(make_settings(tmp_path / "auth", introspection="authenticated")) as auth:
        refused_auth = auth.client().run(INTROSPECT)
    assert refused_auth == refused_off


def test_cached_validation_never_serves_a_signed_in_result_to_others(
    tmp_path: Path, email: str
) -> None:
    """The same document, alternating callers: each gets its own answer, whatever ran first."""
    with serve(make_settings(tmp_path / "data", introspection="authenticated")) as server:
        anonymous = server.client()
        token, _ = sign_up(anonymous, email)
        signed_in = server.client(token)
        expired = server.client("cove_not_a_real_token")
        for _ in range(3):
            assert answer(signed_in.run(INTROSPECT)) == {"data": ANSWER}
            assert _refused(anonymous.run(INTROSPECT))
            assert _refused(expired.run(INTROSPECT))
        signed_in.data("mutation { logOut { ok } }")
        assert _refused(signed_in.run(INTROSPECT))  # a revoked token is anonymous again


@pytest.mark.parametrize(
    ("environ", "toml", "expected"),
    [
        ({}, "", False),
        ({"COVE_DEV": "true"}, "", True),
        ({"COVE_INTROSPECTION": "authenticated"}, "", "authenticated"),
        ({}, 'introspection = "authenticated"\n', "authenticated"),
        ({}, "introspection = true\n", True),
        ({"COVE_DEV": "true"}, "introspection = false\n", False),
        ({"COVE_INTROSPECTION": "off"}, 'introspection = "authenticated"\n', False),
    ],
)
def test_introspection_setting_reads_booleans_and_authenticated(
    tmp_path: Path, environ: dict[str, str], toml: str, expected: bool | str
) -> None:
    from api.settings import load_settings

    config = tmp_path / "cove.toml"
    config.write_text(toml)
    settings: Settings = load_settings(config, environ=environ)
    assert settings.allow_introspection == expected
    assert type(settings.allow_introspection) is type(expected)
    assert load_settings(environ=settings.as_environment()) == settings  # workers agree
