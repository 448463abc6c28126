"""An outside service that cannot answer (file storage, search, the broker) reaches the client
as UNAVAILABLE with reason DEPENDENCY_UNAVAILABLE naming it, never as INTERNAL."""

from __future__ import annotations

import pytest
from graphql import GraphQLError
from litestar import Request

from api.errors import internal_error_handler
from integrations.blobs import BlobStoreUnavailable
from integrations.broker import BrokerUnavailable
from integrations.search import SearchUnavailable
from schema.errors import DEPENDENCY_RETRY_SECONDS, coded_error


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (BlobStoreUnavailable("S3 did not answer: read timeout on http://10.0.0.7:9000"), "blobs"),
        (SearchUnavailable("Elasticsearch searching failed: ConnectionTimeout"), "search"),
        (BrokerUnavailable("Redis did not answer PING: 10.0.0.8:6379"), "broker"),
    ],
)
def test_an_unavailable_dependency_is_a_temporary_refusal_naming_it(
    error: Exception, dependency: str
) -> None:
    coded = coded_error(GraphQLError("raw", path=["search"], original_error=error), "req-9")
    assert coded.extensions == {
        "code": "UNAVAILABLE",
        "reason": "DEPENDENCY_UNAVAILABLE",
        "dependency": dependency,
        "retryAfterSeconds": DEPENDENCY_RETRY_SECONDS,
        "requestId": "req-9",
    }
    assert "10.0.0" not in coded.message


def test_an_http_route_answers_503_with_retry_after_for_an_unavailable_dependency() -> None:
    scope = {"type": "http", "method": "GET", "path": "/files/x", "headers": [], "state": {}}
    response = internal_error_handler(Request(scope), BlobStoreUnavailable("frozen"))  # type: ignore[arg-type]
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    extensions = response.content["errors"][0]["extensions"]
    assert extensions["code"] == "UNAVAILABLE"
    assert extensions["reason"] == "DEPENDENCY_UNAVAILABLE"
