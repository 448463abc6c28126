"""Sign-in and sign-up are rate limited, and the limits reveal nothing about accounts."""

from __future__ import annotations

from pathlib import Path

from support import LOG_IN, PASSWORD, SIGN_UP, answer, error_codes, make_settings, serve, sign_up


def test_failed_sign_ins_pause_an_address_known_or_not(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_failures_per_account=3)
    with serve(settings) as server:
        client = server.client()
        sign_up(client, "known@example.org")
        answers = {}
        for email in ("known@example.org", "unknown@example.org"):
            for _ in range(3):
                wrong = client.run(LOG_IN, {"email": email, "password": "wrong password"})
                assert error_codes(wrong) == ["UNAUTHENTICATED"]
            # Paused now, even with the right password.
            answers[email] = client.run(LOG_IN, {"email": email, "password": PASSWORD})
        known, unknown = answers["known@example.org"], answers["unknown@example.org"]
        assert answer(known) == answer(unknown)
        assert known["data"] == {"logIn": None}
        extensions = known["errors"][0]["extensions"]
        assert extensions["code"] == "RATE_LIMITED"
        assert 1 <= extensions["retryAfterSeconds"] <= 900
        # Another account is not affected.
        sign_up(client, "other@example.org")
        client.data(LOG_IN, {"email": "other@example.org", "password": PASSWORD})


def test_a_successful_sign_in_clears_the_failures(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_failures_per_account=3)
    with serve(settings) as server:
        client = server.client()
        sign_up(client, "ok@example.org")
        for _ in range(3):
            for _ in range(2):
                client.run(LOG_IN, {"email": "ok@example.org", "password": "wrong password"})
            client.data(LOG_IN, {"email": "ok@example.org", "password": PASSWORD})


def test_sign_in_attempts_per_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_attempts_per_ip_per_minute=4)
    with serve(settings) as server:
        client = server.client()
        sign_up(client, "ip@example.org")
        for _ in range(4):
            client.data(LOG_IN, {"email": "ip@example.org", "password": PASSWORD})
        refused = client.run(LOG_IN, {"email": "ip@example.org", "password": PASSWORD})
        assert error_codes(refused) == ["RATE_LIMITED"]


def test_sign_ups_per_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", signups_per_ip_per_hour=2)
    with serve(settings) as server:
        client = server.client()
        sign_up(client, "one@example.org")
        sign_up(client, "two@example.org")
        variables = {"email": "three@example.org", "password": PASSWORD, "name": "T"}
        refused = client.run(SIGN_UP, variables)
        assert error_codes(refused) == ["RATE_LIMITED"]
        # Refused before anything was written: the address is still free for later.
        assert "three@example.org" not in str(refused)
