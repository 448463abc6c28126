"""The GraphQL route: strawberry's Litestar controller with Cove's context and HTTP errors."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from cross_web import HTTPException as ViewHTTPException
from litestar import Request, Response
from litestar.background_tasks import BackgroundTasks
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Dependencies, Scope
from strawberry import Schema
from strawberry.exceptions import ConnectionRejectionError
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from api.errors import error_response
from api.graphiql import GraphiQL
from api.middleware import request_id_of
from api.realtime_socket import CoveTransportWSHandler
from resolvers.context import RequestContext
from resolvers.services import Services
from schema.context import CONTEXT_KEY

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
            client_address=connection.client.host if connection.client else "unknown",
        )
    }


async def _new_sub_response() -> Response[Any]:
    return Response({}, background=BackgroundTasks([]))


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

        def encode_json(self, data: object) -> bytes:
            # Every response and every socket frame passes here; msgspec (Litestar's own
            # encoder) is several times faster than the standard library's.
            return msgspec.json.encode(data)

        # Strawberry makes the sub-response in a worker thread; it is trivial, so make it inline.
        dependencies: ClassVar[Dependencies] = {
            **base.dependencies,
            "response": Provide(_new_sub_response),
        }

        async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[Any]:
            assert graphiql is not None  # strawberry asks only when graphql_ide is set
            return graphiql.page()

        async def execute_request(
            self, request: Request[Any, Any, Any], context: Any, root_value: Any
        ) -> Response[Any]:
            try:
                return await self.run(request, context=context, root_value=root_value)  # type: ignore[no-any-return]
            except ViewHTTPException as exc:
                status = exc.status_code
                if exc.reason == "Unsupported content type":
                    status = 415
                return error_response(status, exc.reason, request_id_of(request.scope))

        async def on_ws_connect(self, context: Any) -> Any:
            """Authenticate a socket from `connection_init` {"authorization": "Bearer <token>"};
            refusing closes it with 4403 before any subscription."""
            params = context.get("connection_params") if isinstance(context, dict) else None
            raw = params.get("authorization") if isinstance(params, dict) else None
            token = bearer_token(raw) if isinstance(raw, str) else None
            ctx: RequestContext = context[CONTEXT_KEY]
            ctx.transport = "websocket"
            ctx.bearer_token = token
            ctx.forget_principal()
            if token is None or await ctx.principal() is None:
                raise ConnectionRejectionError
            return UNSET

    return CoveGraphQLController
