"""A write refused for lack of space reaches the client as UNAVAILABLE with reason
STORAGE_FULL (HTTP 507 with Retry-After), never as INTERNAL."""

from __future__ import annotations

from graphql import GraphQLError

from persistence.store import StorageFull
from resolvers.errors import STORAGE_FULL, STORAGE_FULL_RETRY_SECONDS
from resolvers.transfers import storage_full
from schema.errors import coded_error


def test_a_full_volume_is_a_temporary_refusal_with_its_own_reason() -> None:
    original = StorageFull("no space left on the data_dir volume: /srv/cove/data")
    coded = coded_error(GraphQLError("raw", path=["postMessage"], original_error=original), "r1")
    assert coded.extensions == {
        "code": "UNAVAILABLE",
        "reason": STORAGE_FULL,
        "retryAfterSeconds": STORAGE_FULL_RETRY_SECONDS,
        "requestId": "r1",
    }
    assert STORAGE_FULL == "STORAGE_FULL"
    assert "/srv/cove" not in coded.message  # paths stay in the operator's log


def test_an_http_route_answers_507_with_retry_after_and_the_reason() -> None:
    from litestar import Request

    from api.errors import internal_error_handler

    scope = {"type": "http", "method": "PUT", "path": "/files/x", "headers": [], "state": {}}
    response = internal_error_handler(Request(scope), StorageFull("ENOSPC"))  # type: ignore[arg-type]
    assert response.status_code == 507
    assert response.headers["Retry-After"] == str(STORAGE_FULL_RETRY_SECONDS)
    extensions = response.content["errors"][0]["extensions"]
    assert extensions["code"] == "UNAVAILABLE" and extensions["reason"] == STORAGE_FULL


def test_an_upload_refused_for_space_is_a_507_transfer_error() -> None:
    refusal = storage_full()
    assert refusal.status == 507 and refusal.reason == STORAGE_FULL
    assert refusal.headers == {"Retry-After": str(STORAGE_FULL_RETRY_SECONDS)}
