"""Every error leaves with `extensions.code`; unexpected ones are masked and logged with an id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.execution import StreamExecutionResult

from resolvers.errors import (
    DEPENDENCIES,
    DEPENDENCY_RETRY_SECONDS,
    DEPENDENCY_UNAVAILABLE,
    STORAGE_FULL,
    STORAGE_FULL_RETRY_SECONDS,
    STORE_RETRY_SECONDS,
    STORE_UNAVAILABLE,
    CoveError,
    DamagedData,
    ErrorCode,
    StorageFull,
    StoreUnavailable,
)
from schema.context import CONTEXT_KEY

log = logging.getLogger("cove.graphql")


def _request_id(context: Any) -> str:
    found = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    return str(getattr(found, "request_id", "-"))


def input_error(message: str) -> GraphQLError:
    """A scalar's refusal of an input value, literal or variable: the caller's fault, coded
    here because graphql-core would otherwise carry a plain exception that reads as a bug."""
    return GraphQLError(message, extensions={"code": ErrorCode.BAD_USER_INPUT.value})


def coded_error(error: GraphQLError, request_id: str) -> GraphQLError:
    """The client-facing form of one error."""
    original = error.original_error
    if isinstance(original, GraphQLError) and original is not error:
        return coded_error(original, request_id)
    extensions: dict[str, Any] = {}
    if isinstance(original, DamagedData):
        # An integrity alarm for the operator, without a traceback: the detail says where.
        log.error(
            "damaged data in %s (request %s): %s",
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
            original.detail,
        )
        extensions = {"code": original.code.value, "requestId": request_id}
        message = f"{original.message} Quote request id {request_id} when reporting it."
    elif isinstance(original, CoveError):
        extensions["code"] = original.code.value
        if original.field:
            extensions["field"] = original.field
        if original.retry_after is not None:
            extensions["retryAfterSeconds"] = original.retry_after
        if original.reason:
            extensions["reason"] = original.reason
        message = original.message
    elif isinstance(original, StorageFull):
        # A full volume refused the write (nothing of it was applied): the operator's to fix,
        # the caller's to retry later; reads and deletes still work.
        log.warning("storage full (request %s): %s", request_id, original)
        extensions = {
            "code": ErrorCode.UNAVAILABLE.value,
            "reason": STORAGE_FULL,
            "retryAfterSeconds": STORAGE_FULL_RETRY_SECONDS,
            "requestId": request_id,
        }
        message = "The server's storage is full; delete to free space, or try again later."
    elif isinstance(original, StoreUnavailable):
        # Nodes down, too few replicas, a timeout: logged for the operator, told to the caller
        # as a temporary refusal (a write may or may not have been applied; retry it).
        log.warning("store unavailable (request %s): %s", request_id, original)
        extensions = {
            "code": ErrorCode.UNAVAILABLE.value,
            "reason": STORE_UNAVAILABLE,
            "retryAfterSeconds": STORE_RETRY_SECONDS,
            "requestId": request_id,
        }
        message = "The database cannot answer right now; try again shortly."
    elif isinstance(original, tuple(DEPENDENCIES)):
        dependency = next(n for kind, n in DEPENDENCIES.items() if isinstance(original, kind))
        log.warning("%s unavailable (request %s): %s", dependency, request_id, original)
        extensions = {
            "code": ErrorCode.UNAVAILABLE.value,
            "reason": DEPENDENCY_UNAVAILABLE,
            "dependency": dependency,
            "retryAfterSeconds": DEPENDENCY_RETRY_SECONDS,
            "requestId": request_id,
        }
        message = f"A service Cove depends on ({dependency}) cannot answer right now; try again."
    elif isinstance(original, InvalidOperationTypeError):
        extensions["code"] = ErrorCode.BAD_USER_INPUT.value
        # Raised where a transport allows only some operation types (the WebSocket carries
        # subscriptions only).
        message = (
            f"A {original.operation_type.value} cannot run here: the WebSocket carries "
            "subscriptions only; send queries and mutations over HTTP."
        )
    elif original is None:
        # Parse, validation, limit and variable-coercion errors: the document was at fault.
        # A limit's own extensions (a document's cost and the limit) go out with its code.
        extensions = {"code": ErrorCode.BAD_USER_INPUT.value, **(error.extensions or {})}
        message = error.message
    else:
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(map(str, error.path or [])) or "operation",
            request_id,
            exc_info=original,
        )
        extensions = {"code": ErrorCode.INTERNAL.value, "requestId": request_id}
        message = f"Internal error; quote request id {request_id} when reporting it."
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Adds the contract's error codes to every error and masks internal ones."""

    def _code(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            request_id = _request_id(self.execution_context.context)
            result.errors = [coded_error(e, request_id) for e in errors]  # type: ignore[attr-defined]

    def on_operation(self) -> Iterator[None]:
        yield
        self._code(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Subscriptions (and anything streamed over the socket) leave result by result.
        self._code(result)
        yield None
