"""Production reveals nothing about the schema it was not asked: probes in the manner of
schema-guessing tools (clairvoyance) get no suggestion and no name the request did not hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, is_named_type

from schema.build import build_schema
from schema.validation_messages import production_message
from support import Server, error_codes, make_settings, serve

PROBES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ viewr { id } }", None),
    ("{ viewer { emial } }", None),
    ('{ node(idd: "x") { id } }', None),
    ("{ node { id } }", None),
    ('{ node(id: "x") { ... on Usr { id } } }', None),
    ("fragment F on Worksapce { id } { viewer { ...F } }", None),
    ("{ viewer }", None),
    ("{ viewer { id { x } } }", None),
    ('mutation { signUp(input: {email: "a", password: "b"}) { message } }', None),
    ('mutation { signUp(input: {emial: "a", pasword: "b", displayNam: "c"}) { message } }', None),
    ("mutation { signUp(input: 5) { message } }", None),
    ("mutation($i: SignUpInput!) { signUp(input: $i) { message } }", {"i": {"email": "a"}}),
    ("mutation($i: SignUpInput!) { signUp(input: $i) { message } }", {"i": {"emal": "a"}}),
    ("mutation($i: SignUpInpt!) { signUp(input: $i) { message } }", {}),
    ("query($v: String!) { node(id: $v) { id } }", {"v": "x"}),
    ("query($v: ID!) { node(id: $v) { id } }", {"v": None}),
    ("query($v: ID!) { node(id: $v) { id } }", {}),
    ("query($v: ID!) { node(id: $v) { id } }", {"v": {"a": 1}}),
    (
        'mutation { inviteMember(input: {workspaceId: "w", email: "e", role: ADMN}) '
        "{ invitation { id } } }",
        None,
    ),
    (
        'mutation($r: Role!) { inviteMember(input: {workspaceId: "w", email: "e", role: $r}) '
        "{ invitation { id } } }",
        {"r": "ADMN"},
    ),
    ('{ search(workspaceId: "w", query: "q", kinds: [MESAGE]) { edges { cursor } } }', None),
    ('{ search(workspaceId: "w", query: "q", first: "x") { edges { cursor } } }', None),
    ('{ search(workspaceId: "w", query: "q", since: 5) { edges { cursor } } }', None),
    (
        'query($s: DateTime) { search(workspaceId: "w", query: "q", since: $s) '
        "{ edges { cursor } } }",
        {"s": "nope"},
    ),
    (
        'query($s: Boolean) { search(workspaceId: "w", query: "q", kinds: $s) '
        "{ edges { cursor } } }",
        {"s": True},
    ),
    ("{ viewer @skp { id } }", None),
    ("{ viewer @include { id } }", None),
    ("{ viewer @include(iff: true) { id } }", None),
    ("{ viewer { ...F } } fragment F on Channel { id }", None),
    ('{ node(id: "x") { ... on Channel { nme } } }', None),
    ("mutation { createWorkspace { workspace { id } } }", None),
    ("mutation { createWorkspace(input: {}) { workspace { id } } }", None),
    ('mutation { postMessage(input: {channelId: "c", txt: "t"}) { message { id } } }', None),
    ("subscription { events { keyId } }", None),
    ("subscription { event { keyId } }", None),
    ("{ a: viewer { id } a: viewer { email } }", None),
    ("{ viewer { workspaces { edges { node { id } } } } }", None),
    ("{ viewer { workspaces(first: 1) { edgs { cursor } } } }", None),
]


def schema_names() -> set[str]:
    """Every name the schema defines: types, fields, arguments, input fields, enum values."""
    schema = build_schema()._schema
    names: set[str] = set()
    for type_ in schema.type_map.values():
        if not is_named_type(type_) or type_.name.startswith("__"):
            continue
        names.add(type_.name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                names.add(field_name)
                names.update(getattr(field, "args", {}) or {})
        if isinstance(type_, GraphQLEnumType):
            names.update(type_.values)
    return names


def leaks(query: str, variables: dict[str, Any] | None, messages: list[str]) -> set[str]:
    """Schema names in the messages the request did not hold: every name in quotes, and any
    capitalised word (types, enum values, scalars such as `Int`), so English does not count."""
    word = r"[A-Za-z_][A-Za-z0-9_]*"
    sent = set(re.findall(word, query + json.dumps(variables or {})))
    text = " ".join(messages)
    quoted = {w for q in re.findall(r"'([^']*)'", text) for w in re.findall(word, q)}
    capitalised = {w for w in re.findall(word, text) if w[0].isupper()}
    names = schema_names() | {"Int", "Float", "String", "Boolean", "ID"}
    return ((quoted | capitalised) & names) - sent


@pytest.mark.parametrize(("query", "variables"), PROBES)
def test_probes_learn_no_name_they_did_not_send(
    shared_server: Server, query: str, variables: dict[str, Any] | None
) -> None:
    body = shared_server.client().post(query, variables).json()
    assert body.get("errors"), body
    messages = [e["message"] for e in body["errors"]]
    assert not any("Did you mean" in m for m in messages), messages
    assert not leaks(query, variables, messages), messages
    assert set(error_codes(body)) <= {"BAD_USER_INPUT", "UNAUTHENTICATED", "NOT_FOUND"}


def test_dev_keeps_the_full_messages(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", dev=True)) as server:
        client = server.client()
        for query, variables in PROBES[:5]:
            messages = [e["message"] for e in client.post(query, variables).json()["errors"]]
            assert any("Did you mean" in m or "Query" in m or "ID!" in m for m in messages)


@pytest.mark.parametrize(
    ("full", "production"),
    [
        (
            "Cannot query field 'x' on type 'Query'. Did you mean 'y'?",
            "Cannot query field 'x' here.",
        ),
        ("Unknown argument 'a' on field 'Query.node'. Did you mean 'id'?", "Unknown argument 'a'."),
        ("Unknown type 'Usr'. Did you mean 'User'?", "Unknown type 'Usr'."),
        ("Something new. Did you mean 'Secret'?", "Something new."),
        ("Syntax Error: Expected Name, found <EOF>.", "Syntax Error: Expected Name, found <EOF>."),
    ],
)
def test_production_message(full: str, production: str) -> None:
    assert production_message(full) == production


def test_repeated_directives_are_refused_at_the_limit(shared_server: Server) -> None:
    client = shared_server.client()
    many = "{ __typename " + "@include(if: true) " * 200 + "}"
    body = client.post(many).json()
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "The document holds more than 50 directives."
    allowed = "{ __typename " + "@skip(if: false) " + "}"
    assert client.post(allowed).json()["data"] == {"__typename": "Query"}
    spread = "{ " + " ".join(f"t{i}: __typename @include(if: true)" for i in range(19)) + " }"
    assert "errors" not in client.post(spread).json()
