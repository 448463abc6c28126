"""The socket side of `events`: a direct path for the one subscription realtime UIs run.

graphql-core executes a subscription's selection again for every notice, which costs more
than sealing the notice. A subscription that is exactly `events(sessionId, topics)` selecting
some of `keyId seq nonce ciphertext __typename` (aliases allowed) is validated once, then each
envelope is written as a `next` frame directly. Anything else takes strawberry's usual path,
so errors and behaviour stay those of the schema.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
    validate,
    value_from_ast_untyped,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    NextMessage,
)

from api.socket_auth import LOGIN_ENDED_REASON, REFUSED_CODE
from resolvers import realtime
from resolvers.context import RequestContext
from resolvers.errors import CoveError
from schema.context import CONTEXT_KEY
from schema.documents import CACHEABLE_BYTES, Lru, document_digest
from schema.errors import coded_error

log = logging.getLogger("cove.realtime")

_ENVELOPE_FIELDS = {"keyId": "key_id", "seq": "seq", "nonce": "nonce", "ciphertext": "ciphertext"}


@dataclass(frozen=True)
class Plan:
    """How to answer one `events` subscription document without graphql-core per notice."""

    response_key: str
    field: FieldNode
    session_id: ValueNode
    topics: ValueNode
    since: ValueNode | None
    selections: tuple[tuple[str, str], ...]  # (response key, field name)


_PLANS = Lru(256)
_NO_PLAN = object()


def _plan(schema: GraphQLSchema, query: str, operation_name: str | None) -> Plan | None:
    """The direct path's plan for a document, or None to take the usual path.

    The `events` subscription is a few hundred bytes: anything much larger is not one, and
    only small documents are cached, keyed by digest, so no stranger can fill the cache."""
    if len(query) > CACHEABLE_BYTES:
        return None
    key = (id(schema), document_digest(query), operation_name)
    found = _PLANS.get(key)
    if found is None:
        found = _make_plan(schema, query, operation_name) or _NO_PLAN
        _PLANS.put(key, found)
    return found if isinstance(found, Plan) else None


def _make_plan(schema: GraphQLSchema, query: str, operation_name: str | None) -> Plan | None:
    try:
        document = parse(query, max_tokens=2000)
    except GraphQLError:
        return None
    if validate(schema, document):
        return None  # the usual path reports the errors
    return _shape(document, operation_name)


def _shape(document: DocumentNode, operation_name: str | None) -> Plan | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or len(document.definitions) != 1:
        return None
    operation = operations[0]
    if operation.operation != OperationType.SUBSCRIPTION or operation.directives:
        return None
    if operation_name is not None and (
        operation.name is None or operation.name.value != operation_name
    ):
        return None
    [field] = (
        operation.selection_set.selections
        if len(operation.selection_set.selections) == 1
        else [None]
    )
    if not isinstance(field, FieldNode) or field.name.value != "events" or field.directives:
        return None
    arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
    if not {"sessionId", "topics"} <= set(arguments) <= {"sessionId", "topics", "since"}:
        return None
    if field.selection_set is None:
        return None
    selections = []
    for sub in field.selection_set.selections:
        if not isinstance(sub, FieldNode) or sub.directives or sub.arguments or sub.selection_set:
            return None
        if sub.name.value not in {*_ENVELOPE_FIELDS, "__typename"}:
            return None
        selections.append(((sub.alias or sub.name).value, sub.name.value))
    return Plan(
        response_key=(field.alias or field.name).value,
        field=field,
        session_id=arguments["sessionId"],
        topics=arguments["topics"],
        since=arguments.get("since"),
        selections=tuple(selections),
    )


def _value(node: ValueNode, variables: dict[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        return [_value(item, variables) for item in node.values]
    return None


class CoveTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """strawberry's graphql-transport-ws handler, with the direct path for `events`, and a
    socket that closes (4403) when the login it was opened with ends."""

    _login: str | None = None
    _closing: asyncio.Task[None] | None = None
    _expiry: asyncio.TimerHandle | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._login is None:
            ctx: RequestContext = self.context[CONTEXT_KEY]
            principal = ctx.principal_now()
            self._login = principal.session_id
            ctx.services.hub.watch_login(self._login, self._login_ended)
            # A login also ends by running out: the socket closes then, not at the next
            # notice or key rotation.
            until = await realtime.login_until(ctx.services, principal, principal.session_id)
            if until is None:
                self._login_ended()
                return
            left = (until - ctx.services.clock()).total_seconds()
            self._expiry = asyncio.get_running_loop().call_later(max(0, left), self._login_ended)

    def _login_ended(self) -> None:
        if self._closing is None:
            self._closing = asyncio.create_task(
                self.websocket.close(code=REFUSED_CODE, reason=LOGIN_ENDED_REASON)
            )

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        if self._login is not None:
            ctx: RequestContext = self.context[CONTEXT_KEY]
            ctx.services.hub.unwatch_login(self._login, self._login_ended)
        await super().shutdown()

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        ctx: RequestContext = self.context[CONTEXT_KEY]
        persisted = ctx.services.persisted_queries
        if persisted is not None and persisted.mode == "only":
            # The allow-list holds on sockets too: a subscription runs only if registered.
            try:
                await persisted.document(operation.query, None)
            except CoveError as refused:
                error = GraphQLError(refused.message, original_error=refused)
                await operation.send_initial_errors([coded_error(error, ctx.request_id)])
                return
        plan = _plan(self.schema._schema, operation.query, operation.operation_name)  # type: ignore[attr-defined]
        arguments = _arguments(plan, operation.variables or {}) if plan else None
        if plan is None or arguments is None:
            await super().run_operation(operation)
            return
        await self._events(operation, plan, *arguments)

    async def _events(
        self,
        operation: Operation[Any, Any],
        plan: Plan,
        session_id: str,
        topics: list[str],
        since: dict[str, int],
    ) -> None:
        ctx: RequestContext = self.context[CONTEXT_KEY]
        outcome = "ok"
        try:
            async for envelope in realtime.subscribe(ctx, session_id, topics, since):
                notice = {
                    key: "RealtimeEvent"
                    if name == "__typename"
                    else getattr(envelope, _ENVELOPE_FIELDS[name])
                    for key, name in plan.selections
                }
                frame: NextMessage = {
                    "id": operation.id,
                    "type": "next",
                    "payload": {"data": {plan.response_key: notice}},
                }
                await operation.send_operation_message(frame)
        except Exception as exc:  # reported to the client coded, as the usual path would
            outcome = "error"
            error = GraphQLError(
                str(exc), nodes=[plan.field], path=[plan.response_key], original_error=exc
            )
            failed: NextMessage = {
                "id": operation.id,
                "type": "next",
                "payload": {"data": None, "errors": [coded_error(error, ctx.request_id).formatted]},
            }
            await operation.send_operation_message(failed)
        done: CompleteMessage = {"id": operation.id, "type": "complete"}
        await operation.send_operation_message(done)
        self._count(outcome)

    def _count(self, outcome: str) -> None:
        """Subscriptions on this path are counted like any other operation (when they end)."""
        socket = getattr(self.websocket, "ws", None)
        metrics = socket.app.state.get("metrics") if socket is not None else None
        if metrics is not None:
            metrics.graphql_requests.labels("subscription:events", outcome).inc()


def _arguments(
    plan: Plan, variables: dict[str, Any]
) -> tuple[str, list[str], dict[str, int]] | None:
    """The session id, topics and `since` positions when they have the types the schema
    asks; else None, and the usual path reports the problem."""
    session_id = _value(plan.session_id, variables)
    topics = _value(plan.topics, variables)
    if not isinstance(session_id, str) or not isinstance(topics, list):
        return None
    if not all(isinstance(topic, str) for topic in topics):
        return None
    since = _since(plan.since, variables)
    return None if since is None else (session_id, topics, since)


def _since(node: ValueNode | None, variables: dict[str, Any]) -> dict[str, int] | None:
    """`since` as {topic: position}; None when it is not a list of {topic, position}."""
    given = None if node is None else value_from_ast_untyped(node, variables)
    if given is None:
        return {}
    if not isinstance(given, list):
        return None
    positions: dict[str, int] = {}
    for item in given:
        if not isinstance(item, dict) or set(item) != {"topic", "position"}:
            return None
        topic, position = item["topic"], item["position"]
        # GraphQL's Int is 32-bit; bool is an int to Python but not to GraphQL.
        if not isinstance(topic, str) or type(position) is not int:
            return None
        if not -(2**31) <= position < 2**31:
            return None
        positions[topic] = position
    return positions
