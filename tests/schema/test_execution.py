"""The short path for plain leaf fields (schema/execution.py) answers exactly what
graphql-core's own execution answers: values, nulls, errors and their paths; and fields with
arguments, an `Info`, extensions or permissions, and field middleware, still run as declared."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.build import build_schema
from schema.execution import CoveExecutionContext

calls: list[str] = []


class Denied(BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        calls.append("permission")
        return False


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        calls.append("extension")
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Item:
    name: str
    count: int
    maybe: str | None
    when: datetime
    wrong: int  # holds a string: does not coerce
    missing: str  # holds None: null where the type forbids it

    @strawberry.field
    def label(self) -> str:
        return f"<{self.name}>"

    @strawberry.field
    def later(self) -> str:
        async def opened() -> str:
            return "later " + self.name

        return opened()  # type: ignore[return-value]

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("broken field")

    @strawberry.field
    def broken_required(self) -> str:
        raise ValueError("broken required field")

    @strawberry.field
    def with_info(self, info: Info) -> str:
        calls.append("with_info")
        return info.field_name

    @strawberry.field
    def with_argument(self, prefix: str = "-") -> str:
        return prefix + self.name

    @strawberry.field(extensions=[Upper()])
    def extended(self) -> str:
        return self.name

    @strawberry.field(permission_classes=[Denied])
    def guarded(self) -> str | None:
        return "secret"


def _items() -> list[Item]:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    wrong: Any = "x"
    missing: Any = None
    return [
        Item(
            name=f"i{n}",
            count=n,
            maybe=None if n % 2 else "m",
            when=when,
            wrong=wrong,
            missing=missing,
        )
        for n in range(3)
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def required_items(self) -> list[Item] | None:
        return _items()


QUERIES = [
    "{ items { name count maybe when label later } }",
    "{ items { name broken } }",
    "{ items { name wrong } }",
    "{ requiredItems { name missing } }",
    "{ requiredItems { name brokenRequired } }",
    '{ items { withInfo withArgument(prefix: "+") extended guarded } }',
    "{ items { a: name b: name ...F } } fragment F on Item { count @include(if: false) label }",
]


def _schema(context_class: type[Any], *extensions: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=context_class, extensions=list(extensions)
    )


def _answer(result: Any) -> tuple[Any, list[tuple[str, list[Any]]]]:
    errors = [(error.message, error.path) for error in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
async def test_the_short_path_answers_what_graphql_core_answers(query: str) -> None:
    stock = await _schema(StrawberryGraphQLCoreExecutionContext).execute(query)
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine made twice and dropped once would warn
        ours = await _schema(CoveExecutionContext).execute(query)
    assert _answer(ours) == _answer(stock)


async def test_fields_declaring_checks_still_run_them() -> None:
    calls.clear()
    query = "{ items { withInfo extended guarded } }"
    result = await _schema(CoveExecutionContext).execute(query)
    assert result.data is not None
    assert result.data["items"][0] == {"withInfo": "withInfo", "extended": "I0", "guarded": None}
    assert calls.count("with_info") == calls.count("extension") == calls.count("permission") == 3


async def test_field_middleware_sees_every_field() -> None:
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    result = await _schema(CoveExecutionContext, Watch).execute("{ items { name label } }")
    assert result.errors is None
    assert seen.count("name") == seen.count("label") == 3


def test_cove_schema_executes_with_the_short_path() -> None:
    assert build_schema().execution_context_class is CoveExecutionContext


def test_only_plain_leaf_fields_take_the_short_path() -> None:
    from schema.execution import _Plan, _plan

    item = _schema(CoveExecutionContext)._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    fields = item.fields
    short = {name for name, field in fields.items() if isinstance(_plan(field), _Plan)}
    plain = {"name", "count", "maybe", "when", "wrong", "missing", "label", "later"}
    assert short == plain | {"broken", "brokenRequired"}
