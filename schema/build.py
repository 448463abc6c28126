"""Build the executable schema with its limits, caches and error handling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.accounts import Session, User
from schema.errors import ErrorCodes
from schema.parser_cache import SafeParserCache
from schema.root import Mutation, Query

CACHE_SIZE = 1024


@dataclass(frozen=True)
class SchemaOptions:
    """What the schema needs from the settings, and nothing more."""

    introspection: bool = False
    field_suggestions: bool = False
    max_depth: int = 12
    max_tokens: int = 2000
    max_aliases: int = 20
    extra_extensions: Sequence[SchemaExtension] = field(default_factory=tuple)


class CoveSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors are coded, masked and logged by the ErrorCodes extension, not printed here.
        return None


def build_schema(options: SchemaOptions | None = None) -> strawberry.Schema:
    opts = options or SchemaOptions()
    extensions: list[Any] = [
        # Order matters: errors are coded last, so the ErrorCodes extension wraps the rest.
        ErrorCodes(),
        *opts.extra_extensions,
        MaxTokensLimiter(max_token_count=opts.max_tokens),
        SafeParserCache(maxsize=CACHE_SIZE),
        ValidationCache(maxsize=CACHE_SIZE),
        QueryDepthLimiter(max_depth=opts.max_depth),
        MaxAliasesLimiter(max_alias_count=opts.max_aliases),
    ]
    if not opts.introspection:
        extensions.append(DisableIntrospection())
    return CoveSchema(
        query=Query,
        mutation=Mutation,
        types=[User, Session],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not opts.field_suggestions),
    )
