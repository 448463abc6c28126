"""How far a request got (parsed, valid, executed), recorded for the HTTP status code."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from strawberry.extensions import SchemaExtension

OUTCOME_KEY = "cove.outcome"


class Outcome(StrEnum):
    UNPARSED = "unparsed"  # the document did not parse (or hit the token limit)
    INVALID = "invalid"  # validation or variable coercion failed: nothing ran
    PARTIAL = "partial"  # it ran, with field errors
    EXECUTED = "executed"


class RecordOutcome(SchemaExtension):
    """Puts the request's Outcome in its context, where the HTTP view reads it.

    A request error (GraphQL spec 7.1.2) has no data and errors without a path; a field error
    always has a path, also when it nulls the whole result.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, dict):
            return
        result = self.execution_context.result
        errors = getattr(result, "errors", None) or []
        if self.execution_context.graphql_document is None:
            outcome = Outcome.UNPARSED
        elif getattr(result, "data", None) is None and errors and all(not e.path for e in errors):
            outcome = Outcome.INVALID
        else:
            outcome = Outcome.PARTIAL if errors else Outcome.EXECUTED
        context[OUTCOME_KEY] = outcome
