"""The cost model on the real schema: connections, lists, fragments, variables, weights."""

from __future__ import annotations

import time

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType, parse

from schema.build import build_schema
from schema.cost import (
    HASHING_MUTATIONS,
    HASHING_WEIGHT,
    LIST_SIZES,
    MUTATION_WEIGHT,
    answer_cost,
    document_cost,
)

SCHEMA = build_schema()._schema


def cost(document: str, variables: dict[str, object] | None = None) -> int:
    return document_cost(SCHEMA, parse(document), None, variables).total


def test_a_field_costs_one_and_a_connection_multiplies_its_edges_only() -> None:
    assert cost("{ viewer { id } }") == 2
    page = "{ viewer { workspaces(first: 10) { pageInfo { hasNextPage } edges { node { id } } } } }"
    # viewer 1 + workspaces 1 + pageInfo 1 + hasNextPage 1 + edges 1 + 10 x (node 1 + id 1)
    assert cost(page) == 1 + 1 + 2 + 1 + 10 * 2


def test_the_page_size_comes_from_variables_or_the_schema_default() -> None:
    document = "query($n: Int!) { viewer { workspaces(first: $n) { edges { node { id } } } } }"
    assert cost(document, {"n": 7}) == 3 + 7 * 2
    default = "{ viewer { workspaces { edges { node { id } } } } }"
    assert cost(default) == 3 + 20 * 2
    # A value the field will refuse costs the most it could: never less than the truth.
    assert cost(document, {"n": "lots"}) == 3 + 100 * 2
    assert cost(document, {"n": 10**9}) == 3 + 100 * 2


def test_the_nested_messages_query_costs_about_its_ten_thousand_texts() -> None:
    nested = """{ node(id: "x") { ... on Channel { messages(first: 100) { edges { node {
      channel { messages(first: 100) { edges { node { text } } } } } } } } } }"""
    assert cost(nested) == 20_403  # 100 x 100 texts, each with its node; edges; the rest


def test_occurrence_lists_cost_their_first() -> None:
    agenda = """{ viewer { agenda(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z",
      first: 5000) { events { title start } } } }"""
    assert cost(agenda) == 3 + 5000 * 2
    small = agenda.replace("first: 5000", "first: 10")
    assert cost(small) == 3 + 10 * 2
    calendar = """{ node(id: "x") { ... on Calendar { events(from: "2026-01-01T00:00:00Z",
      to: "2026-02-01T00:00:00Z") { title } } } }"""
    assert cost(calendar) == 2 + 500  # the default first is 500


def test_plain_lists_cost_their_declared_size() -> None:
    document = '{ node(id: "x") { ... on Message { reactions { emoji count } } } }'
    assert cost(document) == 2 + LIST_SIZES["Message.reactions"] * 2


def test_every_list_without_first_has_a_declared_size() -> None:
    missing = []
    for type_ in SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            paged = name in ("edges", "nodes") and type_.name.endswith("Connection")
            declared = f"{type_.name}.{name}" in LIST_SIZES or "first" in field.args or paged
            if isinstance(inner, GraphQLList) and not declared:
                missing.append(f"{type_.name}.{name}")
    assert missing == [], "declare their most items in schema/cost.py LIST_SIZES"


def _mentions_password(type_: object, seen: set[str]) -> bool:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLInputObjectType) or type_.name in seen:
        return False
    seen.add(type_.name)
    return any(
        "password" in name.lower() or _mentions_password(field.type, seen)
        for name, field in type_.fields.items()
    )


def test_every_mutation_that_takes_a_password_counts_as_hashing() -> None:
    assert SCHEMA.mutation_type is not None
    taking = {
        name
        for name, field in SCHEMA.mutation_type.fields.items()
        if any(_mentions_password(arg.type, set()) for arg in field.args.values())
    }
    assert taking, "the schema has password mutations"
    assert taking <= HASHING_MUTATIONS


def test_aliases_of_a_hashing_mutation_add_up() -> None:
    one = 'mutation { logIn(input: {email: "a@b.c", password: "x"}) { token } }'
    assert cost(one) == HASHING_WEIGHT + 1
    five = (
        "mutation {"
        + " ".join(
            f'a{i}: logIn(input: {{email: "a@b.c", password: "x"}}) {{ token }}' for i in range(5)
        )
        + "}"
    )
    assert cost(five) == 5 * (HASHING_WEIGHT + 1)
    plain = "mutation { logOut { ok } }"
    assert cost(plain) == MUTATION_WEIGHT + 1


def test_fragments_count_where_they_are_spread_and_the_walk_stays_linear() -> None:
    document = """
      query { viewer { workspaces(first: 5) { edges { node { ...W } } } } }
      fragment W on Workspace { id name }
    """
    assert cost(document) == 3 + 5 * (1 + 2)
    # Fifteen levels of fragments, each spreading the next twice: 2^15 paths, one walk each.
    levels = ["fragment F0 on User { id }"]
    levels += [
        f"fragment F{i} on User {{ ...F{i - 1} a{i}: id ...F{i - 1} }}" for i in range(1, 16)
    ]
    exponential = "{ viewer { ...F15 } }\n" + "\n".join(levels)
    started = time.perf_counter()
    assert cost(exponential) > 2**15
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"viewer": {"id": "1"}}, 2),
        ({"viewer": None}, 1),
        ({"a": {"edges": [{"node": {"id": 1}}, {"node": {"id": 2}}]}}, 1 + 1 + 2 * 2),
        ({"labels": ["x", "y", "z"]}, 1 + 3),
        (None, 0),
    ],
)
def test_the_actual_cost_counts_the_values_answered(answer: object, expected: int) -> None:
    assert answer_cost(answer) == expected
