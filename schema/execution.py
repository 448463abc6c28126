"""A leaner field execution for plain fields: the same answers, with less work per field.

graphql-core executes every field alike: it builds a resolve info, calls the field's resolver
through strawberry's wrappers (an `Info`, argument conversion, the field-extension chain),
checks whether the result is awaitable twice, and then completes it by walking the type.
A page of 50 messages is some 350 fields, most of them an attribute read (`id`,
`createdAt`) or a method of the object that takes nothing but the object (`text`,
`displayName`), so that per-field work, not the data, bounds how many pages a second Cove
serves.

`CoveExecutionContext` takes a shorter path for two kinds of field, decided once per field
of the schema:

- a *plain attribute*: strawberry's resolver-less field with no extensions and no
  arguments (what strawberry itself runs without an `Info`);
- a *self method*: a synchronous resolver that takes only `self`, with no extensions and no
  arguments, so it needs no `Info` and no argument conversion.

For these, the value is read or the method called directly, and a scalar or enum result is
coerced as graphql-core would. Anything else (an object or list result, an awaitable, a
null where the type forbids one, an error) goes back to graphql-core's own path, so errors,
null propagation and awaiting stay exactly graphql-core's. Resolvers with arguments, an
`Info`, extensions or permission classes, and every asynchronous resolver, always take
graphql-core's path: per-field checks run where they are declared.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How a plain field's value is read from its object; None: the field takes the full path.
_Read = Callable[[Any], Any]


class _Plan:
    """What the short path needs of one field, worked out once."""

    __slots__ = ("leaf", "non_null", "read")

    def __init__(self, read: _Read, leaf: GraphQLLeafType, non_null: bool) -> None:
        self.read = read
        self.leaf = leaf
        self.non_null = non_null


_NO_PLAN: object = object()
# By the field's id (graphql-core's fields are not hashable), with a weak reference that tells
# a field from a later one given the same id after the first was collected.
_plans: dict[int, tuple[weakref.ref[GraphQLField], _Plan | object]] = {}


def _reader(definition: StrawberryField, field: GraphQLField) -> _Read | None:
    """How to get the field's value without an `Info`, when the field allows it."""
    if field.args or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        # Strawberry's own basic-field resolver ignores its info: call it without one.
        resolve = field.resolve
        return None if resolve is None else lambda source: resolve(source, None)
    if (
        definition.is_async
        or resolver.self_parameter is None
        or len(resolver.signature.parameters) != 1
    ):
        return None
    method = resolver.wrapped_func
    return method if callable(method) else None


def _plan(field: GraphQLField) -> _Plan | object:
    known = _plans.get(id(field))
    if known is not None and known[0]() is field:
        return known[1]
    plan: _Plan | object = _NO_PLAN
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return_type: GraphQLOutputType = field.type
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if isinstance(definition, StrawberryField) and is_leaf_type(named):
        read = _reader(definition, field)
        if read is not None:
            plan = _Plan(read, named, is_non_null_type(return_type))
    key = id(field)
    # The entry goes with its field, so schemas built and dropped leave nothing behind.
    _plans[key] = (weakref.ref(field, lambda _: _plans.pop(key, None)), plan)
    return plan


class CoveExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with the short path above for plain leaf fields."""

    def _middleware(self) -> bool:
        """Whether a field middleware runs (strawberry passes an empty manager when none do:
        extensions with a `resolve` hook are middleware, and each field must pass them)."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        plan = _NO_PLAN if field is None or self._middleware() else _plan(field)
        if field is None or not isinstance(plan, _Plan):
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return_type = field.type
        try:
            value = plan.read(source)
            if not (value is None or isinstance(value, Exception) or self.is_awaitable(value)):
                coerced = plan.leaf.coerce_output_value(value)
                if coerced is not None and coerced is not Undefined:
                    return coerced
            # Null, an awaitable or a value that does not coerce: graphql-core completes
            # it (and words its error) as it does any other field's.
            info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, path)
            if self.is_awaitable(value):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, value, position_context
                )
            return self.complete_value(
                return_type, field_details_list, info, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
