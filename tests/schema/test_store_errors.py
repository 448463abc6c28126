"""A store that cannot answer (ScyllaDB nodes down, too few replicas, a timeout) reaches the
client as UNAVAILABLE with reason STORE_UNAVAILABLE, never as INTERNAL."""

from __future__ import annotations

from graphql import GraphQLError

from persistence.store import StoreError, StoreUnavailable
from schema.errors import STORE_RETRY_SECONDS, STORE_UNAVAILABLE, coded_error


def _located(original: Exception) -> GraphQLError:
    return GraphQLError("raw", path=["viewer"], original_error=original)


def test_an_unavailable_store_is_a_temporary_refusal_with_a_reason() -> None:
    secret = "NoHostAvailable 10.1.2.3:9042 keyspace cove_internal"
    coded = coded_error(_located(StoreUnavailable(secret)), "req-1")
    assert coded.extensions == {
        "code": "UNAVAILABLE",
        "reason": STORE_UNAVAILABLE,
        "retryAfterSeconds": STORE_RETRY_SECONDS,
        "requestId": "req-1",
    }
    assert "10.1.2.3" not in coded.message and "cove_internal" not in coded.message


def test_other_store_errors_stay_internal_and_masked() -> None:
    coded = coded_error(_located(StoreError("schema mismatch in cove.accounts")), "req-2")
    assert coded.extensions == {"code": "INTERNAL", "requestId": "req-2"}
    assert "accounts" not in coded.message


def test_an_http_route_answers_503_with_retry_after_when_the_store_cannot_answer() -> None:
    from litestar import Request

    from api.errors import internal_error_handler

    scope = {"type": "http", "method": "GET", "path": "/files/x", "headers": [], "state": {}}
    response = internal_error_handler(Request(scope), StoreUnavailable("WriteTimeout"))  # type: ignore[arg-type]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.content["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    internal = internal_error_handler(Request(scope), RuntimeError("bug"))  # type: ignore[arg-type]
    assert internal.status_code == 500
