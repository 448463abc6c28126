"""Which subscription documents take the direct path for `events`, and which do not."""

from __future__ import annotations

import pytest

from api.realtime_socket import _arguments, _plan
from schema.build import build_schema

SCHEMA = build_schema()._schema


@pytest.mark.parametrize(
    ("document", "direct"),
    [
        (
            "subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) { keyId seq nonce ciphertext } }",
            True,
        ),
        ('subscription { e: events(sessionId: "s", topics: ["t"]) { k: keyId __typename } }', True),
        (
            "subscription($s: ID!, $t: [ID!]!, $p: [RealtimePositionInput!]) { events(sessionId: $s, topics: $t, since: $p) { keyId seq nonce ciphertext } }",
            True,
        ),
        (
            "subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) { ...F } } fragment F on RealtimeEvent { seq }",
            False,
        ),
        (
            "subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) @skip(if: false) { seq } }",
            False,
        ),
        (
            "subscription($s: ID!, $t: [ID!]!) { events(sessionId: $s, topics: $t) { seq nope } }",
            False,
        ),  # invalid: usual path reports it
        ("{ viewer { id } }", False),
        ("subscription { events { seq } }", False),  # missing arguments: invalid
    ],
)
def test_direct_path_only_for_the_plain_events_subscription(document: str, direct: bool) -> None:
    assert (_plan(SCHEMA, document, None) is not None) is direct


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, {}),
        ([{"topic": "t", "position": 4}], {"t": 4}),
        ([{"topic": "t", "position": "4"}], None),  # the usual path reports the type
        ([{"topic": "t", "position": True}], None),
        ([{"topic": "t", "position": 2**31}], None),  # past GraphQL's Int
        ([{"topic": "t"}], None),
    ],
)
def test_since_is_read_as_positions_or_left_to_the_usual_path(
    since: object, expected: dict[str, int] | None
) -> None:
    document = (
        "subscription($s: ID!, $t: [ID!]!, $p: [RealtimePositionInput!]) {"
        " events(sessionId: $s, topics: $t, since: $p) { seq } }"
    )
    plan = _plan(SCHEMA, document, None)
    assert plan is not None
    found = _arguments(plan, {"s": "s", "t": ["t"], "p": since})
    assert (None if found is None else found[2]) == expected
