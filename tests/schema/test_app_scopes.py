"""Every field of the schema declares what an app needs to ask for it (#16 item 3), and the
check refuses every field to an app without its scope, at any depth, before anything runs.

The matrix is built from the schema itself: for each field, a document that reaches it (by
the fields open to apps where it can), validated with every scope but the one the field needs
(refused, naming the field), with every scope (let through), and, for a closed field, with
every scope (refused)."""

from __future__ import annotations

from collections import deque
from functools import cache

import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
    parse,
    validate,
)

from resolvers.app_model import AppScope
from schema.app_scopes import CLOSED, CLOSED_TYPES, OPEN, app_rule, is_wrapper, needed_scope
from schema.build import build_schema

ALL = frozenset(scope.value for scope in AppScope)
Step = tuple[str, str]  # (parent type, field)


@cache
def schema() -> GraphQLSchema:
    return build_schema()._schema


def with_fields() -> list[GraphQLObjectType | GraphQLInterfaceType]:
    return [
        t
        for name, t in sorted(schema().type_map.items())
        if not name.startswith("__") and isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
    ]


def every_field() -> list[Step]:
    return [(t.name, name) for t in with_fields() for name in t.fields]


def test_every_type_and_field_is_decided() -> None:
    """A new type or field fails here until someone decides which scope opens it, if any."""
    undecided = []
    for found in with_fields():
        if is_wrapper(found.name) or found.name in CLOSED_TYPES:
            assert found.name not in OPEN and found.name not in CLOSED, found.name
            continue
        opened = set(OPEN.get(found.name, {}))
        closed = set(CLOSED.get(found.name, "").split())
        assert not opened & closed, (found.name, opened & closed)
        assert opened | closed <= set(found.fields), (
            found.name,
            (opened | closed) - set(found.fields),
        )
        undecided += [
            f"{found.name}.{name}" for name in found.fields if name not in opened | closed
        ]
    assert undecided == []
    names = {t.name for t in with_fields()}
    assert set(OPEN) | set(CLOSED) | CLOSED_TYPES <= names


def _types_behind(parent: str, name: str) -> set[str]:
    """The types whose fields an answer to `parent.name` may show, through wrappers."""
    found = schema().get_type(parent)
    assert isinstance(found, GraphQLObjectType | GraphQLInterfaceType)
    target = get_named_type(found.fields[name].type)
    reached = {target.name}
    if is_abstract_type(target):
        reached |= {t.name for t in schema().get_possible_types(target)}  # type: ignore[arg-type]
    behind = set()
    for each in reached:
        wrapper = schema().get_type(each)
        if is_wrapper(each) and isinstance(wrapper, GraphQLObjectType):
            for inner in wrapper.fields:
                behind |= _types_behind(each, inner)
        else:
            behind.add(each)
    return behind


def test_no_open_field_leads_to_a_closed_type() -> None:
    """What CLOSED_TYPES claims: no open field leads to them, but `node`, which answers any
    node's id (the one field of the Node interface) and nothing else of a closed type."""
    for parent, name in every_field():
        if is_wrapper(parent) or not needed_scope(parent, name)[0]:
            continue
        closed = _types_behind(parent, name) & CLOSED_TYPES
        if (parent, name) == ("Query", "node"):
            assert OPEN["Node"] == {"id": None}
            continue
        assert not closed, (parent, name, closed)


def test_payloads_are_reached_through_mutations_only() -> None:
    """Wrappers follow the field that led to them: a payload must be a mutation's answer."""
    mutation = schema().mutation_type
    assert mutation is not None
    for parent, name in every_field():
        found = schema().get_type(parent)
        assert isinstance(found, GraphQLObjectType | GraphQLInterfaceType)
        target = get_named_type(found.fields[name].type)
        if target.name.endswith("Payload"):
            assert parent == mutation.name, (parent, name)


def _paths() -> dict[str, list[Step]]:
    """For each type, the fields from a root to it, by fields open to apps where possible."""
    found: dict[str, list[Step]] = {}
    for only_open in (True, False):
        kinds = (schema().query_type, schema().mutation_type, schema().subscription_type)
        roots = [t for t in kinds if t is not None]
        queue = deque((root.name, list[Step]()) for root in roots)
        seen = {root.name for root in roots}
        for root in roots:
            found.setdefault(root.name, [])
        while queue:
            type_name, path = queue.popleft()
            parent = schema().get_type(type_name)
            assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            for name, field in parent.fields.items():
                if only_open and not needed_scope(type_name, name)[0]:
                    continue
                target = get_named_type(field.type)
                reached = [target]
                if is_abstract_type(target):
                    reached += list(schema().get_possible_types(target))  # type: ignore[arg-type]
                for each in reached:
                    if each.name in seen or not isinstance(
                        each, GraphQLObjectType | GraphQLInterfaceType
                    ):
                        continue
                    seen.add(each.name)
                    found.setdefault(each.name, [*path, (type_name, name)])
                    queue.append((each.name, found[each.name]))
    return found


PATHS = _paths()


def _document(steps: list[Step]) -> str:
    """A document that follows `steps`: required arguments as variables, inline fragments
    where a field's type is abstract, `__typename` under a last field that is not a leaf."""
    variables: list[str] = []
    root = steps[0][0]
    text, closing = "", ""
    declared: str = root
    for parent, name in steps:
        if parent != declared:
            text += f"... on {parent} {{ "
            closing = "} " + closing
        found = schema().get_type(parent)
        assert isinstance(found, GraphQLObjectType | GraphQLInterfaceType)
        field: GraphQLField = found.fields[name]
        args = []
        for arg_name, arg in field.args.items():
            if is_non_null_type(arg.type) and arg.default_value is None:
                variables.append(f"$v{len(variables)}: {arg.type}")
                args.append(f"{arg_name}: $v{len(variables) - 1}")
        text += name + (f"({', '.join(args)})" if args else "")
        target = get_named_type(field.type)
        if (parent, name) == steps[-1]:
            text += "" if is_leaf_type(target) else " { __typename }"
        else:
            text += " { "
            closing = "} " + closing
        declared = target.name
    operation = {"Mutation": "mutation", "Subscription": "subscription"}.get(root, "query")
    header = f"({', '.join(variables)})" if variables else ""
    return f"{operation}{header} {{ {text} {closing}}}"


def _messages(document: str, scopes: frozenset[str]) -> list[str]:
    errors = validate(schema(), parse(document), rules=[app_rule(scopes)])
    return [e.message for e in errors]


def _reachable() -> list[Step]:
    return [step for step in every_field() if step[0] in PATHS]


@pytest.mark.parametrize("step", _reachable(), ids=lambda s: f"{s[0]}.{s[1]}")
def test_every_field_is_refused_without_its_scope(step: Step) -> None:
    parent, name = step
    document = _document([*PATHS[parent], step])
    is_open, scope = needed_scope(parent, name)
    with_all = _messages(document, ALL)
    if not is_open:
        assert f"Apps cannot use {parent}.{name}." in with_all, document
        return
    assert not [m for m in with_all if f"{parent}.{name} " in m or f"{parent}.{name}." in m]
    if scope is not None:
        without = _messages(document, ALL - {scope.value})
        assert f"{parent}.{name} needs the scope {scope.value}, not granted." in without


def test_the_matrix_covers_the_schema() -> None:
    """Every type with fields is reached from a root, so the matrix above checks every
    field."""
    unreached = {t.name for t in with_fields()} - set(PATHS)
    assert unreached == set()


def test_every_scope_opens_a_field_or_says_it_opens_nothing() -> None:
    """A scope shown to an admin for approval is not a promise the schema does not keep:
    each one opens at least one field, or its description says it opens nothing."""
    used = {scope for fields in OPEN.values() for scope in fields.values() if scope is not None}
    for scope in AppScope:
        assert scope in used or scope.description.startswith("Nothing yet"), scope
