"""Every scalar of the schema, built-in or Cove's own, refuses bad input with a coded error:
a scalar added later without one fails here, not in production as INTERNAL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLScalarType, ValueNode, parse_value

from schema.build import build_schema
from schema.errors import coded_error

SCALARS = sorted(
    name
    for name, type_ in build_schema()._schema.type_map.items()
    if isinstance(type_, GraphQLScalarType) and not name.startswith("__")
)
JUNK: list[Any] = [
    -1,
    2**31,
    2**53,
    2**64,
    -(2**64),
    1.5,
    float("inf"),
    "",
    "5",
    "x" * 10_000,
    "9" * 5000,
    "2024-02-30T00:00:00Z",
    "99999-01-01",
    True,
    None,
    [],
    [1],
    {},
    {"a": 1},
]
JUNK_LITERALS = [
    "-1",
    str(2**53),
    "9" * 5000,
    "1.5",
    "1e400",
    '"5"',
    '""',
    '"nope"',
    "true",
    "null",
    "[1]",
    "{a: 1}",
    "SOME_ENUM",
]


def _scalar(name: str) -> GraphQLScalarType:
    type_ = build_schema()._schema.type_map[name]
    assert isinstance(type_, GraphQLScalarType)
    return type_


def _code_of(call: Callable[[], object]) -> str | None:
    """The code a client would see if `call` refuses its input; None when it accepts it."""
    try:
        call()
    except GraphQLError as error:
        return str((coded_error(error, "test").extensions or {})["code"])
    except Exception as error:  # the ErrorCodes extension would mask it as INTERNAL
        return f"INTERNAL ({type(error).__name__}: {error})"
    return None


def test_the_schema_has_the_scalars_this_test_knows() -> None:
    assert {"Long", "DateTime", "ID", "Int", "String", "Boolean"} <= set(SCALARS)


@pytest.mark.parametrize("name", SCALARS)
def test_a_bad_variable_value_is_bad_user_input(name: str) -> None:
    scalar = _scalar(name)
    for value in JUNK:
        code = _code_of(lambda: scalar.parse_value(value))  # noqa: B023
        assert code in (None, "BAD_USER_INPUT"), (name, value)


@pytest.mark.parametrize("name", SCALARS)
def test_a_bad_literal_is_bad_user_input(name: str) -> None:
    scalar = _scalar(name)
    for literal in JUNK_LITERALS:
        node: ValueNode = parse_value(literal)
        code = _code_of(lambda: scalar.parse_literal(node))  # noqa: B023
        assert code in (None, "BAD_USER_INPUT"), (name, literal)
