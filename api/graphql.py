"""The GraphQL route: strawberry's Litestar controller with Cove's context and HTTP errors."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import msgspec
from cross_web import HTTPException as ViewHTTPException
from graphql import GraphQLError
from litestar import Request, Response
from litestar.background_tasks import BackgroundTasks
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Dependencies, Scope
from strawberry import Schema
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.litestar import make_graphql_controller
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from api.errors import error_response
from api.graphiql import GraphiQL
from api.http_spec import (
    GRAPHQL_RESPONSE,
    GRAPHQL_RESPONSE_CONTENT_TYPE,
    JSON,
    decode_frame_json,
    decode_request_json,
    graphql_status,
    refusal_status,
    response_media,
)
from api.middleware import client_address_of, request_id_of
from api.realtime_socket import CoveTransportWSHandler
from api.socket_auth import CoveWebSocketAdapter, connection_token
from resolvers.app_model import AppScope
from resolvers.context import RequestContext
from resolvers.cost_budget import CostReport
from resolvers.errors import CoveError
from resolvers.services import Services
from schema.context import CONTEXT_KEY
from schema.errors import coded_error
from schema.outcome import OUTCOME_KEY, Outcome

SERVICES_STATE_KEY = "services"


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def cove_context(scope: Scope, state: State) -> dict[str, Any]:
    services: Services = state[SERVICES_STATE_KEY]
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    return {
        CONTEXT_KEY: RequestContext(
            services=services,
            request_id=request_id_of(scope),
            bearer_token=bearer_token(connection.headers.get("authorization")),
            client_address=client_address_of(connection),
        )
    }


def rate_limit_headers(cost: CostReport, services: Services) -> dict[str, str]:
    """The caller's budget in the IETF draft's RateLimit-* headers (reset: seconds from now)."""
    budget = services.cost_budget
    if budget is None or cost.remaining is None or cost.resets_at is None:
        return {}
    reset = max(0, math.ceil(cost.resets_at - budget.clock()))
    headers = {
        "RateLimit-Limit": str(cost.budget),
        "RateLimit-Remaining": str(cost.remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{cost.budget};w={budget.policy.window_seconds}",
    }
    if cost.remaining == 0:
        headers["Retry-After"] = str(max(1, reset))
    return headers


async def _new_sub_response() -> Response[Any]:
    return Response({}, background=BackgroundTasks([]))


# Litestar resolves dependencies of one level together in an anyio task group, a few tasks
# per request; chained (sub-response, then root value, then Cove's context, then
# strawberry's), each level holds one and is awaited in place.
async def _no_root_value(response: Response[Any]) -> None:
    return None


async def _cove_context_after_root(scope: Scope, state: State, root_value: None) -> dict[str, Any]:
    return await cove_context(scope, state)


def graphql_controller(
    schema: Schema, *, graphiql: GraphiQL | None, max_body_bytes: int
) -> type[Any]:
    """The `/graphql` controller: GET for queries only, POST with JSON, and, when given, the
    bundled GraphiQL for browsers (a GET that accepts HTML)."""
    base = make_graphql_controller(
        schema,
        path="/graphql",
        # Strawberry decides when a GET wants the IDE (and answers 404 without one); the
        # page itself is Cove's, whose assets come from Cove and not from a CDN.
        graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=True,
        context_getter=cove_context,
        multipart_uploads_enabled=False,
        # The contract's one subscription protocol; the legacy graphql-ws is not offered.
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    class CoveGraphQLController(base):  # type: ignore[valid-type,misc]
        request_max_body_size = max_body_bytes
        graphql_transport_ws_handler_class = CoveTransportWSHandler
        websocket_adapter_class = CoveWebSocketAdapter

        def encode_json(self, data: object) -> bytes:
            # Every response and every socket frame passes here; msgspec (Litestar's own
            # encoder) is several times faster than the standard library's.
            return msgspec.json.encode(data)

        def parse_json(self, data: str | bytes) -> Any:
            return decode_request_json(data)

        def decode_json(self, data: str | bytes) -> object:
            return decode_frame_json(data)

        async def parse_http_body(self, request: Any) -> Any:
            parsed = await super().parse_http_body(request)
            name = getattr(parsed, "operation_name", None)
            if name is not None and not isinstance(name, str):
                raise ViewHTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null."
                )
            return parsed

        async def process_result(self, request: Any, result: Any) -> Any:
            body = await super().process_result(request, result)
            # A request error has no data entry (GraphQL spec 7.1.2); `application/json`
            # keeps its long-standing `"data": null`.
            if (
                result.data is None
                and result.errors
                and all(not e.path for e in result.errors)
                and response_media(request.headers.get("accept")) == GRAPHQL_RESPONSE
            ):
                body.pop("data", None)
            return body

        # Strawberry makes the sub-response in a worker thread; it is trivial, so make it inline.
        dependencies: ClassVar[Dependencies] = {
            **base.dependencies,
            "response": Provide(_new_sub_response),
            "root_value": Provide(_no_root_value),
            "custom_context": Provide(_cove_context_after_root),
        }

        async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[Any]:
            assert graphiql is not None  # strawberry asks only when graphql_ide is set
            return graphiql.page()

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Response[Any]:
            media = response_media(request.headers.get("accept"))
            if media is None and not self.should_render_graphql_ide(request):
                return error_response(
                    406,
                    f"Accept {GRAPHQL_RESPONSE} or application/json.",
                    request_id_of(request.scope),
                )
            media = media or JSON
            try:
                response: Response[Any] = await self.run(
                    request, context=context, root_value=root_value
                )
            except ViewHTTPException as exc:
                status = refusal_status(exc, media)
                refused = error_response(status, exc.reason, request_id_of(request.scope))
                if status == 405:
                    refused.headers["allow"] = "POST"
                if media == GRAPHQL_RESPONSE:
                    refused.media_type = GRAPHQL_RESPONSE_CONTENT_TYPE
                return refused
            ctx: RequestContext = context[CONTEXT_KEY]
            if media == GRAPHQL_RESPONSE and response.media_type == "application/json":
                outcome = context.get(OUTCOME_KEY) if isinstance(context, dict) else None
                response.status_code = graphql_status(outcome)
                response.media_type = GRAPHQL_RESPONSE_CONTENT_TYPE
                if ctx.cost is not None and ctx.cost.remaining == 0 and ctx.cost.actual == 0:
                    response.status_code = 429  # refused: the caller's budget is used up
            if ctx.cost is not None:
                response.headers.update(rate_limit_headers(ctx.cost, ctx.services))
            return response

        def should_render_graphql_ide(self, request: Any) -> bool:
            # A GET carrying only a persisted query's hash is a query, not a visit to the IDE.
            asks_by_hash = request.query_params.get("extensions") is not None
            return not asks_by_hash and bool(super().should_render_graphql_ide(request))

        async def execute_single(  # noqa: PLR0917 - strawberry's signature
            self,
            request: Any,
            request_adapter: Any,
            sub_response: Any,
            context: Any,
            root_value: Any,
            request_data: GraphQLRequestData,
        ) -> ExecutionResult:
            # Persisted queries: the hash becomes the document (or a coded refusal) before
            # strawberry looks for a document at all.
            ctx: RequestContext = context[CONTEXT_KEY]
            persisted = ctx.services.persisted_queries
            if persisted is not None:
                try:
                    request_data.query = await persisted.document(
                        request_data.query, request_data.extensions
                    )
                except CoveError as refused:
                    context[OUTCOME_KEY] = Outcome.INVALID  # a request error: nothing ran
                    error = GraphQLError(refused.message, original_error=refused)
                    return ExecutionResult(data=None, errors=[coded_error(error, ctx.request_id)])
            try:
                return await super().execute_single(  # type: ignore[no-any-return]
                    request, request_adapter, sub_response, context, root_value, request_data
                )
            except ViewHTTPException as exc:
                cause = exc.__cause__
                if not isinstance(cause, InvalidOperationTypeError):
                    raise
                if cause.operation_type != OperationType.SUBSCRIPTION:
                    raise
                reason = "Subscriptions run on the WebSocket at /graphql (graphql-transport-ws)."
                raise ViewHTTPException(400, reason) from cause

        async def on_ws_connect(self, context: Any) -> Any:
            """Authenticate a socket from `connection_init` {"authorization": "Bearer <token>"};
            refusing closes it with 4403 before any subscription."""
            params = context.get("connection_params") if isinstance(context, dict) else None
            token = connection_token(params)
            ctx: RequestContext = context[CONTEXT_KEY]
            ctx.transport = "websocket"
            ctx.bearer_token = token
            ctx.forget_principal()
            principal = None if token is None else await ctx.principal()
            # An app token opens a socket only with the realtime:read scope approved.
            if principal is None or (
                principal.app is not None and AppScope.REALTIME_READ not in principal.app.scopes
            ):
                raise ConnectionRejectionError
            return UNSET

    return CoveGraphQLController
