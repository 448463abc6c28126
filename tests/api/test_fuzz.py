"""Property-based fuzzing of the whole GraphQL API against a live server holding real data.

hypothesis-graphql writes valid documents from `schema/schema.graphql`, with argument values
drawn from the seeded workspace's real ids and from junk. Whatever the document, the answer
must be coded: never `INTERNAL`, never a 5xx, never a null where the schema says non-null.
Bounded for CI: a fixed number of examples per test, derandomized, and a wall-clock budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from drive_support import upload_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from support import GraphQLClient, Server, make_settings, serve, sign_up

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
SCHEMA = graphql.build_schema(SCHEMA_FILE.read_text())
QUERY_EXAMPLES = 100  # per root query field
MUTATION_EXAMPLES = 20  # per mutation
BUDGET_SECONDS = 35.0  # per test; examples past it are not sent
# Mutations that would end the fuzzing caller's own session or its access: not bugs, but
# everything after them would only meet UNAUTHENTICATED. Sign-up and log-in cost an Argon2
# hash each and are covered by their own tests.
SPARED = {"logOut", "changePassword", "revokeSession", "leaveWorkspace", "signUp", "logIn"}


@dataclass
class Seeded:
    server: Server
    client: GraphQLClient
    ids: list[str]


def _ids_in(value: Any) -> Iterator[str]:
    """Every id in a response: the seeded objects the fuzzer should reach."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str) and (key == "id" or key.endswith("Id")):
                yield item
            else:
                yield from _ids_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids_in(item)


def _seed(server: Server) -> Seeded:
    token, user = sign_up(server.client(), "fuzz@fuzz.example", name="Fuzz")
    _, other = sign_up(server.client(), "other@fuzz.example", name="Other")
    client = server.client(token)
    found: list[Any] = [user, other]

    def run(document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        data = client.data(document, variables)
        found.append(data)
        return data

    ws = run('mutation { createWorkspace(input: {name: "Fuzz"}) { workspace { id } } }')
    workspace = ws["createWorkspace"]["workspace"]["id"]
    run(
        'mutation($w: ID!) { inviteMember(input: {workspaceId: $w, email: "x@fuzz.example"}) '
        "{ invitation { id } } }",
        {"w": workspace},
    )
    channels = [
        run(
            "mutation($w: ID!, $n: String!) { createChannel(input: {workspaceId: $w, name: $n}) "
            "{ channel { id } } }",
            {"w": workspace, "n": name},
        )["createChannel"]["channel"]["id"]
        for name in ("general", "random")
    ]
    for text in ("hello", "world"):
        posted = run(
            "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) "
            "{ message { id } } }",
            {"c": channels[0], "t": text},
        )
    run(
        'mutation($m: ID!) { addReaction(input: {messageId: $m, emoji: "+1"}) { message { id } } }',
        {"m": posted["postMessage"]["message"]["id"]},
    )
    run(
        'mutation($w: ID!) { createFolder(input: {workspaceId: $w, name: "docs"}) '
        "{ folder { id } } }",
        {"w": workspace},
    )
    found.append({"id": upload_file(server, client, workspace, b"fuzz " * 100)})
    calendar = run(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Plans"}) '
        "{ calendar { id } } }",
        {"w": workspace},
    )["createCalendar"]["calendar"]["id"]
    run(
        'mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Standup", '
        'start: "2030-01-07T09:00:00+00:00", end: "2030-01-07T09:15:00+00:00", '
        'recurrence: "FREQ=WEEKLY;COUNT=5"}}) { event { id } } }',
        {"c": calendar},
    )
    board = run(
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "Work"}) '
        "{ board { id } } }",
        {"w": workspace},
    )["createBoard"]["board"]["id"]
    task_list = run(
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "Todo"}) { list { id } } }',
        {"b": board},
    )["createTaskList"]["list"]["id"]
    task = run(
        'mutation($l: ID!) { createTask(input: {listId: $l, title: "Fix"}) { task { id } } }',
        {"l": task_list},
    )["createTask"]["task"]["id"]
    run(
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "a"}) { task { id } } }',
        {"t": task},
    )
    run("mutation { openRealtimeSession { session { id key { id } } } }")
    run("{ viewer { sessions(first: 5) { edges { node { id } } } } }")
    ids = sorted(set(_ids_in(found)))
    return Seeded(server, client, ids)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with serve(make_settings(tmp_path_factory.mktemp("fuzz") / "data")) as server:
        yield _seed(server)


# Argument values: mostly the seeded ids and sensible values, so documents reach real
# objects, with junk mixed in for the refusals.
def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    junk = st.sampled_from(["", " ", "!!!", "x" * 300, "null", "0", "-1", "Q2hhbm5lbDo"])
    real = st.sampled_from(ids)
    # Around the seeded events, with and without an offset (naive times are refused).
    times = st.datetimes(min_value=datetime(2029, 12, 1), max_value=datetime(2030, 3, 1)).flatmap(
        lambda d: st.sampled_from([f"{d.isoformat()}+00:00", d.isoformat(), f"{d.isoformat()}Z"])
    )
    sizes = st.integers(min_value=0, max_value=2**53 - 1).map(nodes.Int)
    return {
        "ID": st.one_of(real, real, real, junk).map(nodes.String),
        "Int": st.one_of(
            st.integers(min_value=1, max_value=100),
            st.integers(min_value=1, max_value=10),
            st.sampled_from([0, -1, 101, 2**31 - 1, -(2**31)]),
        ).map(nodes.Int),
        "DateTime": st.one_of(
            times, times, times, st.sampled_from(["", "nope", "2030-01-07", "99999-01-01"])
        ).map(nodes.String),
        "Long": st.one_of(
            sizes,
            sizes,
            sizes,
            st.sampled_from([-1, 2**53, 2**64]).map(nodes.Int),
            st.sampled_from([1.5, -0.5]).map(nodes.Float),
            st.just("5").map(nodes.String),
        ),
    }


def _non_null_violations(
    data: Any, selections: graphql.SelectionSetNode, parent: graphql.GraphQLObjectType
) -> Iterator[str]:
    """Where `data` holds a null that the schema says cannot be: each as a path."""
    yield from _walk(data, selections, parent, [])


def _fields_of(
    selections: graphql.SelectionSetNode, parent: graphql.GraphQLNamedType
) -> Iterator[tuple[graphql.FieldNode, graphql.GraphQLNamedType]]:
    for selection in selections.selections:
        if isinstance(selection, graphql.FieldNode):
            yield selection, parent
        elif isinstance(selection, graphql.InlineFragmentNode):
            condition = selection.type_condition
            owner = SCHEMA.get_type(condition.name.value) if condition else parent
            assert owner is not None
            yield from _fields_of(selection.selection_set, owner)


def _walk(
    value: Any,
    selections: graphql.SelectionSetNode,
    parent: graphql.GraphQLNamedType,
    path: list[str | int],
) -> Iterator[str]:
    if not isinstance(value, Mapping):
        return
    for field, owner in _fields_of(selections, parent):
        key = (field.alias or field.name).value
        name = field.name.value
        if key not in value or name.startswith("__"):
            continue  # a fragment on another type than the object's
        assert isinstance(owner, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType)
        definition = owner.fields.get(name)
        if definition is None:
            continue
        yield from _check(value[key], definition.type, field, [*path, key])


def _check(
    value: Any, type_: graphql.GraphQLOutputType, field: graphql.FieldNode, path: list[str | int]
) -> Iterator[str]:
    if isinstance(type_, graphql.GraphQLNonNull):
        if value is None:
            yield ".".join(map(str, path))
            return
        type_ = type_.of_type
    if value is None:
        return
    if isinstance(type_, graphql.GraphQLList):
        for index, item in enumerate(value):
            yield from _check(item, type_.of_type, field, [*path, index])
    elif field.selection_set is not None:
        named = graphql.get_named_type(type_)
        yield from _walk(value, field.selection_set, named, path)


def _check_answer(seeded: Seeded, document: str) -> None:
    response = seeded.client.post(document)
    assert response.status_code < 500, (document, response.status_code, response.text)
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"not JSON ({response.status_code}): {response.text[:200]}\n{document}")
    errors = body.get("errors") or []
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    assert None not in codes, (document, errors)
    assert "INTERNAL" not in codes, (document, errors)
    data = body.get("data")
    if data is None:
        return
    operation = graphql.get_operation_ast(graphql.parse(document))
    assert operation is not None
    root = SCHEMA.get_root_type(operation.operation)
    assert root is not None
    violations = list(_non_null_violations(data, operation.selection_set, root))
    assert violations == [], (document, violations, body)


def _fuzz(seeded: Seeded, strategies: dict[str, st.SearchStrategy[Any]], examples: int) -> None:
    """`examples` documents from each strategy in turn, until the time budget is spent."""
    deadline = time.monotonic() + BUDGET_SECONDS
    # A sweep over the root fields, not a random pick: each is reached in every run, and in a
    # document of several fields the first refused input would hide what the others do.
    for strategy in strategies.values():
        _examples(seeded, strategy, examples, deadline)()


def _examples(
    seeded: Seeded, strategy: st.SearchStrategy[Any], examples: int, deadline: float
) -> Callable[[], None]:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(document=strategy)
    def run(document: str) -> None:
        if time.monotonic() <= deadline:
            _check_answer(seeded, document)

    return run  # type: ignore[no-any-return]


def test_fuzzed_queries_answer_coded_and_schema_shaped(seeded: Seeded) -> None:
    scalars = _scalars(seeded.ids)
    fields = list(SCHEMA.query_type.fields)  # type: ignore[union-attr]
    strategies = {f: queries(SCHEMA, fields=[f], custom_scalars=scalars) for f in fields}
    _fuzz(seeded, strategies, QUERY_EXAMPLES)


def test_fuzzed_mutations_answer_coded_and_schema_shaped(seeded: Seeded) -> None:
    scalars = _scalars(seeded.ids)
    fields = [f for f in SCHEMA.mutation_type.fields if f not in SPARED]  # type: ignore[union-attr]
    strategies = {f: mutations(SCHEMA, fields=[f], custom_scalars=scalars) for f in fields}
    _fuzz(seeded, strategies, MUTATION_EXAMPLES)


def test_the_answer_checker_sees_a_null_at_a_non_null_position() -> None:
    # The checker must be able to fail, or the fuzzing above proves nothing.
    document = "{ viewer { id displayName workspaces(first: 1) { edges { cursor node { id } } } } }"
    operation = graphql.get_operation_ast(graphql.parse(document))
    assert operation is not None and SCHEMA.query_type is not None
    good = {
        "viewer": {
            "id": "u",
            "displayName": "A",
            "workspaces": {"edges": [{"cursor": "c", "node": None}]},
        }
    }
    bad = {
        "viewer": {
            "id": "u",
            "displayName": None,
            "workspaces": {"edges": [{"cursor": None, "node": None}]},
        }
    }
    assert list(_non_null_violations(good, operation.selection_set, SCHEMA.query_type)) == []
    assert list(_non_null_violations(bad, operation.selection_set, SCHEMA.query_type)) == [
        "viewer.displayName",
        "viewer.workspaces.edges.0.cursor",
    ]


def test_the_server_is_still_healthy_after_the_fuzzing(seeded: Seeded) -> None:
    assert httpx.get(seeded.server.url + "/ready", timeout=5).status_code == 200
