"""Build the executable schema with its limits, caches and error handling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from schema.accounts import Session, User
from schema.app_scopes import AppFieldScopes
from schema.calendars import Calendar, Event
from schema.channels import Channel
from schema.context import CONTEXT_KEY
from schema.cost import QueryCost
from schema.directive_limit import max_directives_rule
from schema.documents import DocumentCache, Documents
from schema.drive import LONG_SCALAR, File, FileVersion, Folder, Long
from schema.errors import ErrorCodes
from schema.execution import CoveExecutionContext
from schema.introspection import IntrospectionPolicy, SignedInIntrospection
from schema.messages import Message
from schema.outcome import RecordOutcome
from schema.root import Mutation, Query, Subscription
from schema.validation_messages import ConcealSchema
from schema.workspaces import Invitation, Workspace


@dataclass(frozen=True)
class SchemaOptions:
    """What the schema needs from the settings, and nothing more."""

    introspection: IntrospectionPolicy = False
    field_suggestions: bool = False
    max_depth: int = 12
    max_tokens: int = 2000
    max_aliases: int = 20
    max_bytes: int = 64 * 1024
    max_cost: int = 10_000
    max_directives: int = 50
    # Validation messages name schema types and suggest names (dev); else only what was sent.
    reveal_schema: bool = False
    extra_extensions: Sequence[Callable[[], SchemaExtension]] = field(default_factory=tuple)


class CoveSchema(strawberry.Schema):
    async def stream(self, query: str | None, *args: Any, **kwargs: Any) -> StreamResult:
        # A WebSocket carries subscriptions only: queries and mutations go over HTTP, where
        # each request reads memberships afresh (a socket's context lives for hours).
        context = kwargs.get("context_value")
        found = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
        if getattr(found, "transport", None) == "websocket":
            kwargs["allowed_operation_types"] = (OperationType.SUBSCRIPTION,)
        return await super().stream(query, *args, **kwargs)

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Plain execution answers HTTP requests, which have no stream for a subscription's
        # events: subscriptions are refused there (they run on the WebSocket), never run to
        # an empty answer.
        allowed = kwargs.get("allowed_operation_types") or DEFAULT_ALLOWED_OPERATION_TYPES
        kwargs["allowed_operation_types"] = tuple(
            kind for kind in allowed if kind != OperationType.SUBSCRIPTION
        )
        return await super().execute(query, *args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors are coded, masked and logged by the ErrorCodes extension, not printed here.
        return None


def build_schema(options: SchemaOptions | None = None) -> strawberry.Schema:
    opts = options or SchemaOptions()
    # Validation rules are made once: they are classes, and the validation cache keys on them,
    # so rules rebuilt per request would miss the cache every time.
    rules = [
        *QueryDepthLimiter(max_depth=opts.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=opts.max_aliases).validation_rules,
        max_directives_rule(opts.max_directives),
    ]
    if opts.introspection is False:
        rules += DisableIntrospection().validation_rules
    documents = DocumentCache(max_bytes=opts.max_bytes, max_tokens=opts.max_tokens)
    # Factories, not instances: an extension holds its request's execution context, so each
    # request must get its own (the parse and validation caches are shared in `documents`).
    extensions: list[Callable[[], SchemaExtension]] = [
        # Order matters: errors are coded last, so the ErrorCodes extension wraps the rest.
        ErrorCodes,
        *(() if opts.reveal_schema else (ConcealSchema,)),
        *opts.extra_extensions,
        lambda: Documents(documents),
        lambda: AddValidationRules(rules),
        lambda: QueryCost(opts.max_cost),
        RecordOutcome,
    ]
    if opts.introspection == "authenticated":
        extensions.append(SignedInIntrospection)
    extensions.append(AppFieldScopes)  # every field an app token asks for, checked up front
    return CoveSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            User,
            Session,
            Workspace,
            Invitation,
            Channel,
            Message,
            Folder,
            File,
            FileVersion,
            Calendar,
            Event,
        ],
        extensions=extensions,
        execution_context_class=CoveExecutionContext,
        config=StrawberryConfig(
            disable_field_suggestions=not opts.field_suggestions,
            scalar_map={Long: LONG_SCALAR},
        ),
    )
