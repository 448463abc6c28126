"""GraphQL over HTTP as the spec says, checked against the graphql-http server audits.

Each case names the audit it encodes (github.com/graphql/graphql-http, src/audits/server.ts).
Cove runs with introspection off, so the audits' `__type` queries become `__typename` with a
variable; where the spec has since moved on from the audit (validation and variable
coercion failures are 422, partial success 294), the case says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support import Server

GR = "application/graphql-response+json"
TYPENAME = {"query": "{ __typename }"}
WITH_VARIABLE = {
    "query": "query Type($skip: Boolean!) { __typename @skip(if: $skip) }",
    "variables": {"skip": False},
}


@pytest.fixture
def http(shared_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url + "/graphql") as client:
        yield client


def post(
    http: httpx.Client,
    body: Any = None,
    *,
    accept: str | None = None,
    content: bytes | None = None,
    content_type: str | None = "application/json",
) -> httpx.Response:
    headers = {}
    if accept is not None:
        headers["accept"] = accept
    if content_type is not None:
        headers["content-type"] = content_type
    if content is None and body is not None:
        content = json.dumps(body).encode()
    return http.post("", content=content, headers=headers)


def test_22EB_accepts_graphql_response_json_and_matches_the_content_type(
    http: httpx.Client,
) -> None:
    response = post(http, TYPENAME, accept=GR)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GR}; charset=utf-8"
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize("accept", ["application/json", "*/*", None, "application/*"])
def test_4655_47DE_80D8_application_json_is_the_default(
    http: httpx.Client, accept: str | None
) -> None:
    response = post(http, TYPENAME, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (f"{GR}, application/json;q=0.9", GR),
        (f"application/json, {GR};q=0.5", "application/json"),
        (f"application/json, {GR}", GR),
        (f"{GR}, */*", GR),
        (f"{GR};q=0, */*", "application/json"),
    ],
)
def test_the_highest_priority_acceptable_media_type_is_used(
    http: httpx.Client, accept: str, chosen: str
) -> None:
    response = post(http, TYPENAME, accept=accept)
    assert response.headers["content-type"].startswith(chosen)


@pytest.mark.parametrize("accept", ["text/html", "image/png", "application/json;q=0"])
def test_nothing_acceptable_is_406(http: httpx.Client, accept: str) -> None:
    response = post(http, TYPENAME, accept=accept)
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_82A3_BF61_78D5_utf8_both_ways(http: httpx.Client) -> None:
    query = {"query": "{ __typename @skip(if: false) } # Run🏃Swim🏊"}
    response = post(http, query, content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    response.content.decode("utf-8")
    assert post(http, query).status_code == 200


def test_2C94_03D4_5A70_post_and_get(http: httpx.Client) -> None:
    assert post(http, TYPENAME).status_code == 200
    assert http.get("", params={"query": "{ __typename }"}).status_code == 200


@pytest.mark.parametrize("accept", [GR, "application/json"])
def test_9C48_a_mutation_over_get_is_405_with_allow(http: httpx.Client, accept: str) -> None:
    query = {"query": "mutation { logOut { ok } }"}
    response = http.get("", params=query, headers={"accept": accept})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_9ABE_a_post_without_content_type_is_4xx(http: httpx.Client) -> None:
    response = post(http, TYPENAME, content_type=None)
    assert 400 <= response.status_code < 500


def test_A5BF_a_post_without_body_is_400(http: httpx.Client) -> None:
    assert post(http, content=b"").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"notquery": "{ __typename }"},  # 423L
        {"query": {"obj": "ect"}},  # LKJ0
        {"query": 0},  # LKJ1
        {"query": False},  # LKJ2
        {"query": ["array"]},  # LKJ3
        {"query": "{ __typename }", "operationName": {"obj": "ect"}},  # 6C00
        {"query": "{ __typename }", "operationName": 0},  # 6C01
        {"query": "{ __typename }", "operationName": False},  # 6C02
        {"query": "{ __typename }", "operationName": ["array"]},  # 6C03
        {"query": "{ __typename }", "variables": "string"},  # 4760
        {"query": "{ __typename }", "variables": 0},  # 4761
        {"query": "{ __typename }", "variables": False},  # 4762
        {"query": "{ __typename }", "variables": ["array"]},  # 4763
        {"query": "{ __typename }", "extensions": "string"},  # 58B0
        {"query": "{ __typename }", "extensions": 0},  # 58B1
        {"query": "{ __typename }", "extensions": False},  # 58B2
        {"query": "{ __typename }", "extensions": ["array"]},  # 58B3
        {"qeury": "{ __typename }"},  # 8764, 3E3A
        "just a string",
        5,
    ],
)
def test_malformed_requests_are_400_or_under_the_spec_422(http: httpx.Client, body: Any) -> None:
    legacy = post(http, body)
    assert legacy.status_code == 400, legacy.text
    assert legacy.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    spec = post(http, body, accept=GR)
    assert spec.status_code == 422, spec.text
    assert spec.headers["content-type"].startswith(GR)
    assert "data" not in spec.json()


@pytest.mark.parametrize("accept", [None, GR])
def test_34A2_13EE_8161_B8B3_94Bx_022x_2EA1_28B9_428F_1B7A_well_formed_requests_run(
    http: httpx.Client, accept: str | None
) -> None:
    bodies: list[dict[str, Any]] = [
        TYPENAME,
        {"operationName": "Query", "query": "query Query { __typename }"},
        {**TYPENAME, "variables": None},
        {**TYPENAME, "operationName": None},
        {**TYPENAME, "extensions": None},
        WITH_VARIABLE,
        {**TYPENAME, "extensions": {"some": "value"}},
    ]
    for body in bodies:
        response = post(http, body, accept=accept)
        assert response.status_code == 200, (body, response.text)
        assert "errors" not in response.json()


@pytest.mark.parametrize("accept", [GR, "application/json"])
def test_D6D5_6A70_get_with_variables(http: httpx.Client, accept: str) -> None:
    params = {"query": WITH_VARIABLE["query"], "variables": json.dumps(WITH_VARIABLE["variables"])}
    response = http.get("", params=params, headers={"accept": accept})
    assert response.status_code == 200
    assert "errors" not in response.json()


@pytest.mark.parametrize("accept", [GR, "application/json"])
def test_B6DC_BCF8_B7N8_json_parsing_failure_is_400(http: httpx.Client, accept: str) -> None:
    response = post(http, content=b'{ "not a JSON', accept=accept)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_572B_FDE2_7B9B_application_json_answers_200_to_graphql_errors(
    http: httpx.Client,
) -> None:
    for body in (
        {"query": "{"},
        {"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"},
        {"query": "query CoerceFailure($id: ID!){ __typename }", "variables": {"id": None}},
    ):
        response = post(http, body, accept="application/json")
        assert response.status_code == 200
        assert response.json()["data"] is None and response.json()["errors"]


def test_865D_556A_D586_document_parsing_failure_is_400_without_data(http: httpx.Client) -> None:
    response = post(http, {"query": "{"}, accept=GR)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GR)
    body = response.json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_51FE_5E5B_document_validation_failure_is_4xx_without_data(http: httpx.Client) -> None:
    """The audit's document does not lex (a name cannot start with a digit): 400. A document
    that parses and fails validation is 422: the audit (74FF) still says 400, the spec now
    says 422 (graphql-over-http #354)."""
    response = post(http, {"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}, accept=GR)
    assert response.status_code == 400
    assert "data" not in response.json()
    response = post(http, {"query": "{ f8f31403dfe404bccbb0e835f2629c6a7 }"}, accept=GR)
    assert response.status_code == 422
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_86EE_variable_coercion_failure_is_422_without_data(http: httpx.Client) -> None:
    """The audit still says 400; the spec now says 422 (graphql-over-http #354)."""
    body = {"query": "query CoerceFailure($id: ID!){ __typename }", "variables": {"id": None}}
    response = post(http, body, accept=GR)
    assert response.status_code == 422
    assert "data" not in response.json()


def test_an_operation_that_cannot_be_chosen_is_422(http: httpx.Client) -> None:
    body = {"query": "query A { __typename } query B { __typename }", "operationName": "C"}
    assert post(http, body, accept=GR).status_code == 422
    assert post(http, body).status_code == 400


def test_data_with_field_errors_is_294_partial_success(http: httpx.Client) -> None:
    """EE52: data present means 2xx; the spec recommends 294 when errors come with it."""
    response = post(http, {"query": "{ viewer { id } }"}, accept=GR)
    assert response.status_code == 294
    body = response.json()
    assert body["data"] == {"viewer": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    legacy = post(http, {"query": "{ viewer { id } }"})
    assert legacy.status_code == 200 and legacy.json()["data"] == {"viewer": None}


def test_unsupported_content_type_is_415_under_both(http: httpx.Client) -> None:
    for accept in (GR, "application/json"):
        response = post(http, content=b"{ __typename }", content_type="text/plain", accept=accept)
        assert response.status_code == 415


def test_unsupported_methods_are_405_with_allow(http: httpx.Client) -> None:
    response = http.request("PUT", "", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
