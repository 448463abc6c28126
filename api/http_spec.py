"""GraphQL over HTTP (graphql/graphql-over-http): media types, status codes, request JSON.

A client that accepts `application/graphql-response+json` gets it, with the spec's status
codes: 400 when the JSON or the document cannot be parsed, 422 when the request is not a
well-formed GraphQL request, fails validation or its variables cannot be coerced, 200 for a
result without errors, 294 (partial success) for a result with data and errors. A client that
accepts `application/json` (or anything, or sends no Accept) keeps the long-standing answers:
200 for every GraphQL result, 400 for a malformed request. Both get 405 for a mutation over
GET, 406 when they accept neither media type, 413 and 415 as before.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from cross_web import HTTPException as ViewHTTPException
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from schema.outcome import Outcome

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE}; charset=utf-8"
PARTIAL_SUCCESS = 294  # the spec's own code: data and errors together
TOO_DEEP = "The request JSON nests too deeply."
NOT_JSON = "Unable to parse request body as JSON"


class MalformedJSON(ViewHTTPException):
    """The request's JSON does not parse (or nests too deeply): 400 under either media type."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


def _quality(accept: str, media: str) -> tuple[float, int]:
    """The q-value `accept` gives `media`, from its most specific matching range, and that
    range's specificity (2 exact, 1 `type/*`, 0 `*/*`, -1 none)."""
    kind = media.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        name = name.lower()
        specificity = {media: 2, f"{kind}/*": 1, "*/*": 0}.get(name, -1)
        if specificity <= best[0]:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (specificity, q)
    return best[1], best[0]


def response_media(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither (406)."""
    if not accept or not accept.strip():
        return JSON
    graphql_q, graphql_exact = _quality(accept, GRAPHQL_RESPONSE)
    json_q, _ = _quality(accept, JSON)
    if graphql_q <= 0 and json_q <= 0:
        return None
    if graphql_q > json_q or (graphql_q == json_q and graphql_exact == 2):
        return GRAPHQL_RESPONSE
    return JSON


def graphql_status(outcome: Outcome | None) -> int:
    """The status of a GraphQL response sent as `application/graphql-response+json`."""
    if outcome is Outcome.UNPARSED:
        return 400
    if outcome is Outcome.INVALID:
        return 422
    return PARTIAL_SUCCESS if outcome is Outcome.PARTIAL else 200


def refusal_status(exc: ViewHTTPException, media: str) -> int:
    """The status of a request strawberry refused before GraphQL ran (it says 400 for most).

    A mutation over GET is 405 (with `Allow: POST`); a body that is not JSON is 415. Under
    the spec's media type a request that is JSON but not a well-formed GraphQL request (no
    query, wrong parameter types, no operation to run) is 422.
    """
    if exc.reason == "Unsupported content type":
        return 415
    cause = exc.__cause__
    if isinstance(cause, InvalidOperationTypeError):
        if cause.operation_type != OperationType.SUBSCRIPTION:
            return 405
        # A subscription over HTTP: no method would do; it belongs on the WebSocket.
        return 422 if media == GRAPHQL_RESPONSE else 400
    if exc.status_code == 400 and media == GRAPHQL_RESPONSE and not isinstance(exc, MalformedJSON):
        return 422
    return exc.status_code


def decode_request_json(data: str | bytes) -> Any:
    """A request's JSON (body or GET parameter); malformed or too deep is a coded 400.

    msgspec bounds nesting by the interpreter's recursion limit and raises RecursionError
    beyond it; that is the client's fault, never a 500. `null` reads as no parameters.
    """
    try:
        value = msgspec.json.decode(data)
    except RecursionError:
        raise MalformedJSON(TOO_DEEP) from None
    except msgspec.DecodeError:
        raise MalformedJSON(NOT_JSON) from None
    if value is None:
        return {}
    if not isinstance(value, dict | list):
        raise ViewHTTPException(400, "The request JSON must be an object.")
    return value


def decode_frame_json(data: str | bytes) -> object:
    """A socket frame's JSON; anything malformed or too deep reads as not JSON."""
    try:
        return msgspec.json.decode(data)
    except (RecursionError, msgspec.DecodeError):
        raise json.JSONDecodeError("not JSON, or nested too deeply", "", 0) from None
