"""GraphQL platform conventions: node ids, error codes, limits, HTTP refusals, headers."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import httpx
import pytest

from support import Server, error_codes, make_settings, serve, sign_up

NODE = "query($id: ID!) { node(id: $id) { id ... on User { email } } }"


def test_node_resolves_own_user(shared_server: Server, email: str) -> None:
    client = shared_server.client()
    token, user = sign_up(client, email)
    node = client.as_user(token).data(NODE, {"id": user["id"]})["node"]
    assert node == {"id": user["id"], "email": email}


def test_node_unknown_malformed_and_invisible_answer_alike(
    shared_server: Server, email: str
) -> None:
    client = shared_server.client()
    token, _ = sign_up(client, email)
    _, stranger = sign_up(client, "stranger-" + email)
    me = client.as_user(token)
    unknown = base64.urlsafe_b64encode(b"User:01zzzzzzzzzzzzzzzzzzzzzz").decode().rstrip("=")
    wrong_type = base64.urlsafe_b64encode(b"Planet:1").decode().rstrip("=")
    answers = [
        me.run(NODE, {"id": i}) for i in (stranger["id"], unknown, wrong_type, "%%%", "", "QQ")
    ]
    for answer in answers:
        assert answer["data"] == {"node": None}
        assert error_codes(answer) == ["NOT_FOUND"]
        assert answer["errors"][0]["message"] == answers[0]["errors"][0]["message"]
    anonymous = client.run(NODE, {"id": stranger["id"]})
    assert anonymous["data"] == {"node": None}
    assert anonymous["errors"][0]["message"] == answers[0]["errors"][0]["message"]
    assert error_codes(anonymous) == ["NOT_FOUND"]


def test_every_error_carries_a_code(shared_server: Server) -> None:
    client = shared_server.client()
    documents = [
        "{ viewer { nope } }",  # unknown field
        "{ viewer { id ",  # syntax error
        "query($x: Int!) { viewer { id } }",  # missing variable
        "mutation { signUp(input: {email: 1}) { message } }",  # wrong input type
    ]
    for document in documents:
        response = client.post(document)
        body = response.json()
        assert body["errors"], document
        assert error_codes(body) and set(error_codes(body)) == {"BAD_USER_INPUT"}, body


def test_field_suggestions_are_off(shared_server: Server) -> None:
    body = shared_server.client().post("{ viewr { id } }").json()
    assert "Did you mean" not in body["errors"][0]["message"]


def test_introspection_is_off_in_production(shared_server: Server) -> None:
    body = shared_server.client().post("{ __schema { types { name } } }").json()
    assert error_codes(body) and set(error_codes(body)) == {"BAD_USER_INPUT"}
    assert body.get("data") is None


def test_depth_alias_and_token_limits(shared_server: Server) -> None:
    client = shared_server.client()
    deep = "{ viewer { sessions { edges { node { id } } } } }"
    fine = client.post(deep).json()
    assert error_codes(fine) == ["UNAUTHENTICATED"]  # within limits: it runs
    too_deep = (
        "{ "
        + 'node(id: "x") { ... on User { sessions { edges { node { ' * 4
        + "id"
        + " } } } } }" * 4
        + " }"
    )
    body = client.post(too_deep).json()
    assert error_codes(body) and set(error_codes(body)) == {"BAD_USER_INPUT"}
    aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(21)) + " }"
    body = client.post(aliases).json()
    assert error_codes(body) == ["BAD_USER_INPUT"] and "aliases" in body["errors"][0]["message"]
    tokens = "{ viewer { " + " ".join(["id"] * 2100) + " } }"
    body = client.post(tokens).json()
    assert error_codes(body) == ["BAD_USER_INPUT"]


def test_http_refusals_are_coded_json(shared_server: Server) -> None:
    http = httpx.Client(base_url=shared_server.url)
    with http:
        malformed = http.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert error_codes(malformed.json()) == ["BAD_USER_INPUT"]
        form = http.post("/graphql", data={"query": "{ viewer { id } }"})
        assert form.status_code == 415
        assert error_codes(form.json()) == ["BAD_USER_INPUT"]
        text = http.post(
            "/graphql", content=b"{ viewer { id } }", headers={"content-type": "text/plain"}
        )
        assert text.status_code == 415
        mutation_via_get = http.get("/graphql", params={"query": "mutation { logOut { ok } }"})
        assert mutation_via_get.status_code in (400, 405)
        assert error_codes(mutation_via_get.json()) == ["BAD_USER_INPUT"]
        query_via_get = http.get("/graphql", params={"query": "{ viewer { id } }"})
        assert query_via_get.status_code == 200
        assert error_codes(query_via_get.json()) == ["UNAUTHENTICATED"]
        huge = (
            b'{"query": "{ viewer { id } }", "variables": {"pad": "' + b"x" * (1024 * 1024) + b'"}}'
        )
        too_big = http.post("/graphql", content=huge, headers={"content-type": "application/json"})
        assert too_big.status_code == 413
        assert error_codes(too_big.json()) == ["BAD_USER_INPUT"]
        missing = http.get("/nowhere")
        assert missing.status_code == 404
        assert error_codes(missing.json()) == ["NOT_FOUND"]


def test_security_headers(shared_server: Server) -> None:
    response = httpx.get(shared_server.url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert len(headers["x-request-id"]) == 16
    assert "strict-transport-security" not in headers  # only under TLS
    assert "server" not in headers


def test_ready_and_metrics(shared_server: Server, email: str) -> None:
    assert httpx.get(shared_server.url + "/ready").json() == {"status": "ready"}
    client = shared_server.client()
    sign_up(client, email)
    client.post("query Secret_Operation_Name { viewer { id } }")
    client.post("{ secretFieldName }")
    text = httpx.get(shared_server.url + "/metrics").text
    assert 'cove_graphql_operations_total{operation="mutation:signUp",outcome="ok"}' in text
    assert 'operation="query:viewer",outcome="error"' in text
    assert 'operation="invalid"' in text
    assert "cove_graphql_operation_seconds_bucket" in text
    assert 'route="/graphql"' in text
    # Labels carry schema names only: never emails, operation names or unknown field names.
    assert (
        email not in text and "Secret_Operation_Name" not in text and "secretFieldName" not in text
    )


def test_a_failed_store_is_masked_logged_and_named_by_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        token, _ = sign_up(server.client(), "masked@example.org")
        store = server.server.config.app.state["services"].store
        asyncio.run(store.close())  # the store stops answering, as a lost disk or database would
        with caplog.at_level(logging.ERROR, logger="cove"):
            response = server.client(token).post("{ viewer { id } }")
        error = response.json()["errors"][0]
        request_id = response.headers["x-request-id"]
        assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
        assert request_id in error["message"]
        assert "store" not in error["message"].lower() and "Error" not in error["message"]
        logged = [r for r in caplog.records if request_id in r.getMessage()]
        assert logged and logged[0].exc_info is not None
        ready = httpx.get(server.url + "/ready")
        assert ready.status_code == 503
        # The embedded search index lives in the store, so it fails with it.
        assert ready.json() == {"status": "unavailable", "failed": ["store", "search"]}


def test_dev_mode_serves_graphiql_and_introspection(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", dev=True)) as server:
        page = httpx.get(server.url + "/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert "script-src 'self';" in page.headers["content-security-policy"]
        body = server.client().post("{ __schema { queryType { name } } }").json()
        assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
        suggestion = server.client().post("{ viewr { id } }").json()
        assert "Did you mean" in suggestion["errors"][0]["message"]


def test_a_serving_process_freezes_its_start_up_heap_and_collects_less_often() -> None:
    """`cove serve` tunes the collector (in its own process only; tests and embedders not)."""
    import subprocess
    import sys

    code = (
        "import gc; from api.app import settle_garbage_collector as s; "
        "before = gc.get_freeze_count(); s(); "
        "print(before, gc.get_freeze_count() > 10_000, gc.get_threshold())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split(maxsplit=2)
    assert out == ["0", "True", "(10000, 20, 50)\n"]
