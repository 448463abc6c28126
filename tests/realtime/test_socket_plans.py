"""Which subscription documents take the direct path for `events`, and which do not."""

from __future__ import annotations

import pytest

from api.realtime_socket import _plan
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
