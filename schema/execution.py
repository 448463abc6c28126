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

For these, the value is read or the method called directly. A scalar or enum result is
coerced as graphql-core would, in line in the loop over the object's fields (the field's path
is made only when an error must name it). An object result, and any object value graphql-core
completes (a list's items, an asynchronous field's result), has its fields executed at once,
after strawberry's own `is_type_of` check, without graphql-core's chain of completions.
Anything else (a list, an awaitable, a null, a value that does not coerce, an object of
another type, a deferred fragment, an error) goes back to graphql-core's own path, so errors,
null propagation and awaiting stay exactly graphql-core's. Resolvers with arguments, an
`Info`, extensions or permission classes, every asynchronous resolver, and every field while
a field middleware runs, always take graphql-core's path: per-field checks run where they are
declared.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# How a plain field's value is read from its object; None: the field takes the full path.
_Read = Callable[[Any], Any]


class _Plan:
    """What the short path needs of one field, worked out once: how to read its value, and
    either the leaf type that coerces it or the object type whose fields complete it."""

    __slots__ = ("leaf", "object", "read")

    def __init__(
        self, read: _Read, leaf: GraphQLLeafType | None, object_type: GraphQLObjectType | None
    ) -> None:
        self.read = read
        self.leaf = leaf
        self.object = object_type


_NO_PLAN: object = object()
_FULL_PATH: object = object()  # an object the short path leaves to graphql-core
_NO_INFO: Any = None  # what strawberry's own `is_type_of` is given: it reads only the value
# Values that are never null, an error or awaitable: most leaves, tested for nothing else.
_PLAIN_VALUES = frozenset({str, int, float, bool})
# By the field's id (graphql-core's fields are not hashable), with a weak reference that tells
# a field from a later one given the same id after the first was collected.
_plans: dict[int, tuple[weakref.ref[GraphQLField], _Plan | object]] = {}


def _reader(definition: StrawberryField, field: GraphQLField) -> _Read | None:
    """How to get the field's value without an `Info`, when the field allows it."""
    if field.args or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        # Strawberry's own basic-field resolver (marked `_is_default`; a field with exception
        # handlers gets another) reads the attribute through the configured default resolver
        # and never its info.
        if not getattr(field.resolve, "_is_default", False):
            return None
        name, default = definition.python_name, definition.default_resolver
        return attrgetter(name) if default is getattr else lambda source: default(source, name)
    if (
        definition.is_async
        or resolver.self_parameter is None
        or len(resolver.signature.parameters) != 1
    ):
        return None
    method = resolver.wrapped_func
    return method if callable(method) else None


def _infoless(object_type: GraphQLObjectType) -> bool:
    """Whether the type's `is_type_of` (if any) is one strawberry made, which reads only the
    value, so the short path may call it without an `Info`."""
    check = object_type.is_type_of
    return check is None or check.__qualname__.startswith(_STRAWBERRY_CHECKS)


_STRAWBERRY_CHECKS = GraphQLCoreConverter.__name__ + "."


def _plan(field: GraphQLField) -> _Plan | object:
    known = _plans.get(id(field))
    if known is not None and known[0]() is field:
        return known[1]
    plan: _Plan | object = _NO_PLAN
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return_type: GraphQLOutputType = field.type
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    read = _reader(definition, field) if isinstance(definition, StrawberryField) else None
    if read is not None and is_leaf_type(named):
        plan = _Plan(read, named, None)
    elif read is not None and isinstance(named, GraphQLObjectType):
        plan = _Plan(read, None, named)
    key = id(field)
    # The entry goes with its field, so schemas built and dropped leave nothing behind.
    _plans[key] = (weakref.ref(field, lambda _: _plans.pop(key, None)), plan)
    return plan


class CoveExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with the short path above for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each selection's fields with their plans, by the identity of graphql-core's grouped
        # field set (kept alive beside its entry, as graphql-core keeps its own memo's keys).
        self._planned: dict[int, tuple[Any, list[tuple[str, Any, GraphQLField | None, Any]]]]
        self._planned = {}

    def _middleware(self) -> bool:
        """Whether a field middleware runs (strawberry passes an empty manager when none do:
        extensions with a `resolve` hook are middleware, and each field must pass them)."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _fields_planned(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[str, Any, GraphQLField | None, Any]]:
        known = self._planned.get(id(grouped_field_set))
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        steps = []
        for response_name, field_details_list in grouped_field_set.items():
            field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            steps.append(
                (response_name, field_details_list, field, None if field is None else _plan(field))
            )
        self._planned[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's loop over one object's fields (answers in the query's order, the
        awaitable ones gathered at the end), a plain leaf read and coerced in line: its path
        is made only when something must be reported at it."""
        if self._middleware():
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list, field, plan in self._fields_planned(
                parent_type, grouped_field_set
            ):
                leaf = plan.leaf if isinstance(plan, _Plan) else None
                if leaf is not None and field is not None:
                    try:
                        value = plan.read(source_value)
                        if type(value) in _PLAIN_VALUES or not (
                            value is None or isinstance(value, Exception) or is_awaitable(value)
                        ):
                            coerced = leaf.coerce_output_value(value)
                            if coerced is not None and coerced is not Undefined:
                                results[response_name] = coerced
                                continue
                    except Exception as raw_error:
                        field_path = Path(path, response_name, parent_type.name)
                        self.handle_field_error(
                            raw_error, field.type, field_details_list, field_path
                        )
                        results[response_name] = None
                        continue
                # A leaf read but not completed in line, or any other field: its path now.
                field_path = Path(path, response_name, parent_type.name)
                if leaf is not None and field is not None:
                    result = self._complete_read(
                        field,
                        parent_type,
                        field_details_list,
                        field_path,
                        value,
                        position_context=position_context,
                    )
                else:
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                if result is not Undefined:
                    results[response_name] = result
                    # An object completed in line is a dict: only other values may be awaitable.
                    if type(result) is not dict and is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                # The fields already started may fail too: settle them, as graphql-core does.
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gathered(results, awaitable_fields)

    @staticmethod
    async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
        else:
            awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results

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
                if plan.leaf is not None:
                    coerced = plan.leaf.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
                elif (
                    plan.object is not None and position_context is None and _infoless(plan.object)
                ):
                    completed = self._object_fields(plan.object, field_details_list, path, value)
                    if completed is not _FULL_PATH:
                        if self.is_awaitable(completed):
                            return self._settled(completed, return_type, field_details_list, path)
                        return completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return self._complete_read(
            field, parent_type, field_details_list, path, value, position_context=position_context
        )

    def _complete_read(
        self,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        field_details_list: Any,
        path: Path,
        value: Any,
        *,
        position_context: Any,
    ) -> Any:
        """A value read by the short path that it does not complete itself (null, an
        awaitable, a value that does not coerce, an object of another type): graphql-core
        completes it, and words its error, as it does any other field's."""
        return_type = field.type
        try:
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

    # graphql-core's signature, positional arguments and all.
    def complete_value(  # noqa: PLR0917
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object value (a list's item, an asynchronous field's result) completes with its
        fields directly; anything else as graphql-core completes it."""
        named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        if (
            isinstance(named, GraphQLObjectType)
            and position_context is None
            and not (result is None or isinstance(result, Exception))
            and _infoless(named)
        ):
            completed = self._object_fields(named, field_details_list, path, result)
            if completed is not _FULL_PATH:
                return completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _object_fields(
        self, object_type: GraphQLObjectType, field_details_list: Any, path: Path, value: Any
    ) -> Any:
        """The object's fields, executed as graphql-core's `complete_object_value` executes
        them when nothing is deferred; `_FULL_PATH` for a value of another type or a deferred
        fragment, which graphql-core completes (and words the error of)."""
        check = object_type.is_type_of
        if check is not None and check(value, _NO_INFO) is not True:
            return _FULL_PATH
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            return _FULL_PATH
        return self.execute_fields(object_type, value, path, grouped, None)

    async def _settled(
        self, completed: Any, return_type: GraphQLOutputType, field_details_list: Any, path: Path
    ) -> Any:
        """An object's fields once awaited, a failure handled as graphql-core handles it."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
