"""Documents are priced before they run; each caller spends from a budget per window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

from support import GraphQLClient, Server, error_codes, make_settings, serve, sign_up

CREATE_WS = "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }"
CREATE_CH = """mutation($w: ID!, $n: String!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: PUBLIC}) { channel { id } } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""
CREATE_CAL = """mutation($w: ID!) {
  createCalendar(input: {workspaceId: $w, name: "Team"}) { calendar { id } } }"""
CREATE_EVENT = """mutation($c: ID!, $e: EventFields!) {
  createEvent(input: {calendarId: $c, event: $e}) { event { id } } }"""

NESTED = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 100) { edges { node {
  channel { messages(first: 100) { edges { node { text } } } } } } } } } }"""
UNDER = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 49) { edges { node {
  channel { messages(first: 100) { edges { node { text } } } } } } } } } }"""
CALENDAR_TWIN = """query($c: ID!) { node(id: $c) { ... on Calendar {
  events(from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z", first: 5000) {
    title event { occurrences(from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z",
      first: 5000) { title } } } } } }"""


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Server, GraphQLClient, dict[str, str]]]:
    with serve(make_settings(tmp_path / "data")) as server:
        token, _ = sign_up(server.client(), "owner@cost.example")
        owner = server.client(token)
        ws = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
        channel = owner.data(CREATE_CH, {"w": ws, "n": "general"})["createChannel"]["channel"]["id"]
        for i in range(3):
            owner.data(POST, {"c": channel, "t": f"hello {i}"})
        calendar = owner.data(CREATE_CAL, {"w": ws})["createCalendar"]["calendar"]["id"]
        weekly = {
            "title": "Standup",
            "start": "2026-01-05T09:00:00Z",
            "end": "2026-01-05T09:15:00Z",
            "recurrence": "FREQ=WEEKLY",
        }
        owner.data(CREATE_EVENT, {"c": calendar, "e": weekly})
        yield server, owner, {"workspace": ws, "channel": channel, "calendar": calendar}


def test_the_nested_query_and_its_calendar_twin_are_refused_before_they_run(
    seeded: tuple[Server, GraphQLClient, dict[str, str]],
) -> None:
    server, owner, ids = seeded
    for document, variables in (
        (NESTED, {"c": ids["channel"]}),
        (CALENDAR_TWIN, {"c": ids["calendar"]}),
    ):
        result = owner.run(document, variables)
        assert result["data"] is None
        assert error_codes(result) == ["QUERY_TOO_COSTLY"]
        error = result["errors"][0]
        assert error["extensions"]["cost"] > error["extensions"]["limit"] == 10_000
        assert str(error["extensions"]["cost"]) in error["message"]
    # Refused before any resolver: even a caller with no right to anything gets the same answer
    # (a resolver would have said UNAUTHENTICATED or NOT_FOUND).
    anonymous = server.client().run(NESTED, {"c": ids["channel"]})
    assert error_codes(anonymous) == ["QUERY_TOO_COSTLY"]


def test_a_query_just_under_the_limit_runs_and_reports_its_cost(
    seeded: tuple[Server, GraphQLClient, dict[str, str]],
) -> None:
    _, owner, ids = seeded
    response = owner.post(UNDER, {"c": ids["channel"]})
    result = response.json()
    assert not result.get("errors"), result
    edges = result["data"]["node"]["messages"]["edges"]
    assert len(edges) == 3
    cost = result["extensions"]["cost"]
    assert 9_000 < cost["requested"] <= 10_000
    # 3 messages, each with its channel's 3 messages: far less than requested.
    assert 0 < cost["actual"] < 100
    assert cost["remaining"] < cost["budget"]
    assert cost["resetAt"].endswith("+00:00")
    assert response.headers["RateLimit-Limit"] == str(cost["budget"])
    assert response.headers["RateLimit-Remaining"] == str(cost["remaining"])
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= 3600
    assert response.headers["RateLimit-Policy"] == f"{cost['budget']};w=3600"


def test_aliases_of_a_password_mutation_are_refused_as_a_whole() -> None:
    body = " ".join(
        f'a{i}: logIn(input: {{email: "x{i}@example.org", password: "wrong password"}}) {{ token }}'
        for i in range(6)
    )
    # Computed on the schema: six Argon2 hashes cost 12,006, over the limit.
    from graphql import parse

    from schema.build import build_schema
    from schema.cost import document_cost

    assert (
        document_cost(build_schema()._schema, parse("mutation {" + body + "}"), None, {}).total
        > 10_000
    )


# Twenty aliases of the viewer: 80 values answered, so 80 points actually spent.
SPEND = "{" + " ".join(f"a{i}: viewer {{ id displayName email }}" for i in range(20)) + "}"
# The smallest limits that still let two accounts sign up (2,005 each) from one address.
SMALL = {"max_query_cost": 2_100, "query_cost_budget": 4_100}


def _spend(client: GraphQLClient) -> dict[str, Any]:
    return client.run(SPEND)


def test_a_used_up_budget_is_rate_limited_until_the_window_renews(tmp_path: Path) -> None:
    # Signing up (and in) costs more than the small budget: the accounts are made first.
    with serve(make_settings(tmp_path / "data")) as server:
        token, _ = sign_up(server.client(), "spender@cost.example")
        other_token, _ = sign_up(server.client(), "saver@cost.example")
    settings = make_settings(tmp_path / "data", **SMALL, query_cost_window_seconds=3600)
    with serve(settings) as server:
        me = server.client(token)
        spent = 0
        for _ in range(80):  # bounded: 80 points a request, 4,100 in the budget
            result = _spend(me)
            if error_codes(result):
                break
            spent += result["extensions"]["cost"]["actual"]
        assert error_codes(result) == ["RATE_LIMITED"]
        assert 4_100 - 80 <= spent <= 4_100
        assert 1 <= result["errors"][0]["extensions"]["retryAfterSeconds"] <= 3600
        refused = me.post(SPEND)
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        # Another account has its own budget.
        assert not error_codes(_spend(server.client(other_token)))


def test_the_budget_is_shared_by_nodes_through_redis(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        shared = {"broker_url": redis.url, **SMALL}
        first = make_settings(tmp_path / "a", **shared)
        with serve(first) as one:
            second = make_settings(tmp_path / "b", **shared)
            # Both nodes hold the same keys and store, as nodes of one deployment do.
            second = type(second)(**{**second.__dict__, "data_dir": first.data_dir})
            with serve(second) as two:
                token, _ = sign_up(one.client(), "both@cost.example")
                nodes = [one.client(token), two.client(token)]
                codes: list[str] = []
                for turn in range(120):
                    codes = error_codes(_spend(nodes[turn % 2]))
                    if codes:
                        break
                assert codes == ["RATE_LIMITED"]
                assert turn <= 52  # about 4,100 / 80 requests across both nodes, not twice that
                assert error_codes(_spend(nodes[(turn + 1) % 2])) == ["RATE_LIMITED"]
    finally:
        redis.kill()


def test_several_unnamed_operations_are_refused_not_priced_by_the_first(
    seeded: tuple[Server, GraphQLClient, dict[str, str]],
) -> None:
    _, owner, ids = seeded
    cheap_first = "query Cheap { __typename }\n" + NESTED.replace("query(", "query Costly(", 1)
    result = owner.run(cheap_first, {"c": ids["channel"]})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "operationName" in result["errors"][0]["message"]
    assert result.get("data") is None
    body = {"query": cheap_first, "variables": {"c": ids["channel"]}, "operationName": "Costly"}
    named = owner.http.post("/graphql", json=body, headers=owner.headers()).json()
    assert error_codes(named) == ["QUERY_TOO_COSTLY"]
    body["operationName"] = "Cheap"
    cheap = owner.http.post("/graphql", json=body, headers=owner.headers()).json()
    assert cheap["data"] == {"__typename": "Query"}


def test_a_subscription_over_http_is_refused_with_where_it_runs(
    shared_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    document = 'subscription { events(sessionId: "x", topics: ["y"]) { seq } }'
    with caplog.at_level("ERROR"):
        response = shared_server.client().post(document)
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
