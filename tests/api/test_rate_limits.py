"""Sign-in and sign-up are rate limited, and the limits reveal nothing about accounts."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from drive_support import services_of
from redis_server import RedisServer

from crypto.passwords import VerifyResult
from support import (
    LOG_IN,
    PASSWORD,
    SIGN_UP,
    GraphQLClient,
    Server,
    answer,
    clear_of_window_edge,
    error_codes,
    make_settings,
    serve,
    sign_up,
)

T = TypeVar("T")


def _without_seconds(result: dict[str, Any]) -> dict[str, Any]:
    """The answer with the seconds to wait taken out (checked to be in range)."""
    shown = answer(result)
    for error in shown.get("errors") or []:
        assert 1 <= error["extensions"].pop("retryAfterSeconds", 1) <= 900
        error["message"] = re.sub(r"\d+ s\.", "N s.", error["message"])
    return shown


def test_failed_sign_ins_pause_an_address_known_or_not(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_failures_per_account=3)
    with serve(settings) as server:
        client = server.client()
        sign_up(client, "known@example.org")
        clear_of_window_edge(900)
        answers = {}
        whom = ("known", "unknown")
        for email in (f"{who}@example.org" for who in whom):
            for _ in range(3):
                wrong = client.run(LOG_IN, {"email": email, "password": "wrong password"})
                assert error_codes(wrong) == ["UNAUTHENTICATED"]
            # Paused now, even with the right password.
            answers[email] = client.run(LOG_IN, {"email": email, "password": PASSWORD})
        # Alike but for the seconds left, which tick on between the two.
        known, unknown = (_without_seconds(answers[f"{who}@example.org"]) for who in whom)
        assert known == unknown
        assert known["data"] == {"logIn": None}
        assert error_codes(known) == ["RATE_LIMITED"]
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
        clear_of_window_edge(60)
        sign_up(client, "ip@example.org")  # signs in once
        for _ in range(3):
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


CHANGE = """mutation($cur: String!, $new: String!) {
  changePassword(input: {currentPassword: $cur, newPassword: $new}) { ok } }"""


def _burst(server: Server, count: int, send: Callable[[GraphQLClient], T]) -> list[T]:
    """`count` calls at once, each on its own connection, as a scripted attacker sends them."""
    clients = [server.client() for _ in range(count)]
    barrier = threading.Barrier(count)

    def one(client: GraphQLClient) -> T:
        barrier.wait(timeout=30)
        return send(client)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, clients))


def _count_verifications(server: Server) -> list[int]:
    """Counts the password verifications the server runs (wraps the real service)."""
    passwords = services_of(server).passwords
    calls = [0]
    real_verify, real_dummy = passwords.verify, passwords.verify_dummy

    async def verify(stored: str, password: str) -> VerifyResult:
        calls[0] += 1
        return await real_verify(stored, password)

    async def verify_dummy(password: str) -> None:
        calls[0] += 1
        await real_dummy(password)

    passwords.verify = verify  # type: ignore[method-assign]
    passwords.verify_dummy = verify_dummy  # type: ignore[method-assign]
    return calls


def test_a_concurrent_burst_of_wrong_passwords_is_held_to_the_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_failures_per_account=5)
    with serve(settings) as server:
        sign_up(server.client(), "burst@example.org")
        verified = _count_verifications(server)
        wrong = {"email": "burst@example.org", "password": "wrong password"}
        results = _burst(server, 30, lambda client: client.run(LOG_IN, wrong))
        codes = sorted(code for result in results for code in error_codes(result))
        assert codes == ["RATE_LIMITED"] * 25 + ["UNAUTHENTICATED"] * 5
        assert verified[0] == 5
        # The window is used up: the right password is refused too, without being checked.
        right = server.client().run(LOG_IN, {"email": "burst@example.org", "password": PASSWORD})
        assert error_codes(right) == ["RATE_LIMITED"]
        assert verified[0] == 5


def test_a_right_password_in_a_burst_gives_its_slot_back(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", login_failures_per_account=3)
    with serve(settings) as server:
        sign_up(server.client(), "refund@example.org")
        right = {"email": "refund@example.org", "password": PASSWORD}
        results = _burst(server, 3, lambda client: client.run(LOG_IN, right))
        assert [error_codes(result) for result in results] == [[], [], []]
        # The successes took no slot for good: three failures still fit in the window.
        client = server.client()
        for _ in range(3):
            wrong = client.run(LOG_IN, {**right, "password": "wrong password"})
            assert error_codes(wrong) == ["UNAUTHENTICATED"]
        assert error_codes(client.run(LOG_IN, right)) == ["RATE_LIMITED"]


def test_wrong_current_passwords_are_limited_across_aliases_and_requests(
    tmp_path: Path,
) -> None:
    # The cost model alone would hold a request to four: lift it to show the limit holds.
    settings = make_settings(
        tmp_path / "data", password_change_failures_per_account=3, max_query_cost=100_000
    )
    with serve(settings) as server:
        token, _ = sign_up(server.client(), "change@example.org")
        verified = _count_verifications(server)
        aliased = (
            "mutation {"
            + " ".join(
                f'g{n}: changePassword(input: {{currentPassword: "guess number {n}", '
                f'newPassword: "new password 123"}}) {{ ok }}'
                for n in range(20)
            )
            + " }"
        )
        codes = error_codes(server.client(token).run(aliased))
        assert sorted(codes) == ["BAD_USER_INPUT"] * 3 + ["RATE_LIMITED"] * 17
        assert verified[0] == 3
        guess = {"cur": "another guess", "new": "new password 123"}
        results = _burst(server, 10, lambda client: client.as_user(token).run(CHANGE, guess))
        assert [error_codes(result) for result in results] == [["RATE_LIMITED"]] * 10
        right = server.client(token).run(CHANGE, {"cur": PASSWORD, "new": "new password 123"})
        assert error_codes(right) == ["RATE_LIMITED"]
        assert verified[0] == 3


def test_concurrent_wrong_current_passwords_are_held_to_the_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", password_change_failures_per_account=3)
    with serve(settings) as server:
        token, _ = sign_up(server.client(), "race@example.org")
        guess = {"cur": "another guess", "new": "new password 123"}
        results = _burst(server, 20, lambda client: client.as_user(token).run(CHANGE, guess))
        codes = sorted(code for result in results for code in error_codes(result))
        assert codes == ["BAD_USER_INPUT"] * 3 + ["RATE_LIMITED"] * 17


def test_a_right_current_password_gives_its_slot_back(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", password_change_failures_per_account=2)
    with serve(settings) as server:
        token, _ = sign_up(server.client(), "again@example.org")
        me = server.client(token)
        passwords = [PASSWORD, "second password 1", "third password 12", "fourth password 1"]
        for current, new in itertools.pairwise(passwords):
            assert error_codes(me.run(CHANGE, {"cur": "not it at all", "new": new})) == [
                "BAD_USER_INPUT"
            ]
            me.data(CHANGE, {"cur": current, "new": new})


def test_the_limits_are_shared_by_nodes_through_redis(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        shared = {
            "broker_url": redis.url,
            "login_failures_per_account": 4,
            "login_attempts_per_ip_per_minute": 12,
        }
        first = make_settings(tmp_path / "a", **shared)
        with serve(first) as one:
            second = make_settings(tmp_path / "b", **shared)
            # Both nodes hold the same keys and store, as nodes of one deployment do.
            second = type(second)(**{**second.__dict__, "data_dir": first.data_dir})
            with serve(second) as two:
                clear_of_window_edge(60)
                sign_up(one.client(), "nodes@example.org")  # signs in once
                nodes = [one.client(), two.client()]
                wrong = {"email": "nodes@example.org", "password": "wrong password"}
                for turn in range(4):
                    assert error_codes(nodes[turn % 2].run(LOG_IN, wrong)) == ["UNAUTHENTICATED"]
                for node in nodes:  # four failures in all, not four on each node
                    right = node.run(LOG_IN, {**wrong, "password": PASSWORD})
                    assert error_codes(right) == ["RATE_LIMITED"]
                # Seven attempts from this address so far, of twelve a minute across both nodes.
                codes = [
                    error_codes(nodes[turn % 2].run(LOG_IN, {**wrong, "email": f"{turn}@x.org"}))
                    for turn in range(8)
                ]
                assert codes == [["UNAUTHENTICATED"]] * 5 + [["RATE_LIMITED"]] * 3
    finally:
        redis.kill()


def test_sign_ins_stay_limited_while_redis_is_down(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        settings = make_settings(
            tmp_path / "data", broker_url=redis.url, login_failures_per_account=3
        )
        with serve(settings) as server:
            client = server.client()
            sign_up(client, "down@example.org")
            redis.kill()
            # Counted in this process while Redis is away: not unlimited, and not locked out.
            client.data(LOG_IN, {"email": "down@example.org", "password": PASSWORD})
            wrong = {"email": "down@example.org", "password": "wrong password"}
            for _ in range(3):
                assert error_codes(client.run(LOG_IN, wrong)) == ["UNAUTHENTICATED"]
            right = client.run(LOG_IN, {**wrong, "password": PASSWORD})
            assert error_codes(right) == ["RATE_LIMITED"]
    finally:
        redis.kill()
