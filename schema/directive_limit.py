"""A limit on directives in one document, so `@include(if: true)` repeated hundreds of times
costs one short error rather than a rule visit and an error for each repeat."""

from __future__ import annotations

from typing import Any

from graphql import DirectiveNode, DocumentNode, ValidationRule, Visitor, visit
from graphql.validation.validate import ValidationAbortedError


class _CountDirectives(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[DirectiveNode] = []

    def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
        self.found.append(node)


def max_directives_rule(limit: int) -> type[ValidationRule]:
    """A validation rule allowing at most `limit` directives in a document."""

    class MaxDirectives(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            # Counted when the document is entered, before the rules running alongside visit
            # any field (one of them reports each repeated directive on its own).
            counter = _CountDirectives()
            visit(node, counter)
            if len(counter.found) > limit:
                # graphql-core's own way to stop validating: no other rule runs further.
                raise ValidationAbortedError(
                    f"The document holds more than {limit} directives.", counter.found[limit]
                )

    return MaxDirectives
