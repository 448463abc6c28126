"""HTTP-level errors in the same JSON shape as GraphQL errors, each with a code."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from api.middleware import request_id_of
from persistence.store import StorageFull, StoreUnavailable
from resolvers.errors import (
    DEPENDENCIES,
    DEPENDENCY_RETRY_SECONDS,
    DEPENDENCY_UNAVAILABLE,
    STORAGE_FULL,
    STORAGE_FULL_RETRY_SECONDS,
    STORE_RETRY_SECONDS,
    ErrorCode,
)

log = logging.getLogger("cove.http")


def code_for_status(status: int) -> ErrorCode:
    if status == 401:
        return ErrorCode.UNAUTHENTICATED
    if status == 403:
        return ErrorCode.FORBIDDEN
    if status == 404:
        return ErrorCode.NOT_FOUND
    if status == 429:
        return ErrorCode.RATE_LIMITED
    if status in (503, 507):  # 507 Insufficient Storage: a full volume (STORAGE_FULL)
        return ErrorCode.UNAVAILABLE
    if status >= 500:
        return ErrorCode.INTERNAL
    return ErrorCode.BAD_USER_INPUT


def error_response(
    status: int, message: str, request_id: str, *, reason: str | None = None
) -> Response[Any]:
    extensions: dict[str, str] = {"code": code_for_status(status).value}
    if reason is not None:
        extensions["reason"] = reason
    if status >= 500:
        extensions["requestId"] = request_id
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return Response(body, status_code=status, media_type="application/json")


def storage_full(request_id: str, exc: Exception) -> Response[Any]:
    """507 Insufficient Storage with Retry-After: a full volume refused a write (GraphQL says
    the same with UNAVAILABLE and reason STORAGE_FULL)."""
    log.warning("storage full (request %s): %s", request_id, exc)
    response = error_response(
        507,
        "The server's storage is full; try again later.",
        request_id,
        reason=STORAGE_FULL,
    )
    response.headers["Retry-After"] = str(STORAGE_FULL_RETRY_SECONDS)
    return response


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else "Request refused."
    if exc.status_code == 413:
        detail = "The request body is larger than the server accepts."
    response = error_response(exc.status_code, detail, request_id_of(request.scope))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = request_id_of(request.scope)
    if isinstance(exc, StorageFull):
        return storage_full(request_id, exc)
    if isinstance(exc, StoreUnavailable):
        # The database cannot answer now: a temporary refusal, not a bug (GraphQL says the
        # same with UNAVAILABLE and reason STORE_UNAVAILABLE).
        log.warning("store unavailable (request %s): %s", request_id, exc)
        response = error_response(503, "The database cannot answer right now.", request_id)
        response.headers["Retry-After"] = str(STORE_RETRY_SECONDS)
        return response
    dependency = next((n for kind, n in DEPENDENCIES.items() if isinstance(exc, kind)), None)
    if dependency is not None:
        log.warning("%s unavailable (request %s): %s", dependency, request_id, exc)
        response = error_response(
            503,
            f"A service Cove depends on ({dependency}) cannot answer right now.",
            request_id,
            reason=DEPENDENCY_UNAVAILABLE,
        )
        response.headers["Retry-After"] = str(DEPENDENCY_RETRY_SECONDS)
        return response
    log.error("unhandled error (request %s)", request_id, exc_info=exc)
    return error_response(500, f"Internal error; quote request id {request_id}.", request_id)
