"""The short path for plain leaf and object fields (schema/execution.py) answers exactly what
graphql-core's own execution answers: values, nulls, errors and their paths (through nested
objects, lists and asynchronous fields), values of the wrong type, deferred fragments; and
fields with arguments, an `Info`, extensions or permissions, and field middleware, still run as
declared."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any, cast

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


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Person(Named):
    """Implements an interface, so strawberry gives it an `is_type_of`."""

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def broken_required(self) -> str:
        raise ValueError("broken person")

    @strawberry.field
    def friend(self) -> Person | None:
        return None if self.name.endswith("!") else Person(name=self.name + "!")


@strawberry.type
class Tag:
    """Implements nothing: no `is_type_of`."""

    label: str


@strawberry.type
class Item:
    name: str
    count: int
    maybe: str | None
    when: datetime
    wrong: int  # holds a string: does not coerce
    missing: str  # holds None: null where the type forbids it
    owner: Person
    maybe_owner: Person | None
    tags: list[Tag]
    people: list[Person | None]
    wrong_owner: Person  # holds a Tag: the wrong type
    missing_owner: Person  # holds None

    @strawberry.field
    def buddy(self) -> Person:
        return Person(name="buddy of " + self.name)

    @strawberry.field
    async def later_owner(self) -> Person:
        return Person(name="later " + self.name)

    @strawberry.field
    def broken_owner(self) -> Person | None:
        raise ValueError("broken owner")

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
            owner=Person(name=f"owner {n}"),
            maybe_owner=None if n % 2 else Person(name="maybe"),
            tags=[Tag(label=f"t{n}.{k}") for k in range(n)],
            people=[Person(name="p"), None],
            wrong_owner=cast(Any, Tag(label="not a person")),
            missing_owner=missing,
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
    "{ items { owner { name shout friend { name friend { name } } } maybeOwner { name } } }",
    "{ items { buddy { name } laterOwner { name shout } tags { label } people { name } } }",
    "{ items { name owner { name brokenRequired } } }",
    "{ requiredItems { name owner { brokenRequired } } }",
    "{ items { name brokenOwner { name } } }",
    "{ items { name wrongOwner { name } } }",
    "{ requiredItems { name missingOwner { name } } }",
    "{ items { owner { __typename ... on Named { name } ... on Person { shout } } } }",
    "{ items { tags { label @skip(if: true) } owner { n: name n2: name } } }",
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


async def test_deferred_fragments_take_graphql_cores_path() -> None:
    from strawberry.schema.config import StrawberryConfig

    query = "{ items { name ... @defer { owner { name } } } }"
    answers = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, CoveExecutionContext):
        schema = strawberry.Schema(
            query=Query,
            execution_context_class=context_class,
            config=StrawberryConfig(enable_experimental_incremental_execution=True),
        )
        result = await schema.execute(query)
        initial = getattr(result, "initial_result", result)
        answers.append((initial.data, [item async for item in result.subsequent_results]))
    assert answers[0] == answers[1]
    assert answers[1][0] == {"items": [{"name": f"i{n}"} for n in range(3)]}


def test_only_plain_leaf_fields_take_the_short_path() -> None:
    from schema.execution import _Plan, _plan

    item = _schema(CoveExecutionContext)._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    fields = item.fields
    short = {name for name, field in fields.items() if isinstance(_plan(field), _Plan)}
    plain = {"name", "count", "maybe", "when", "wrong", "missing", "label", "later"}
    objects = {"owner", "maybeOwner", "wrongOwner", "missingOwner", "buddy", "brokenOwner"}
    # Lists, asynchronous resolvers and the rest take graphql-core's path.
    assert short == plain | {"broken", "brokenRequired"} | objects
