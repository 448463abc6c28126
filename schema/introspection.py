"""Introspection for signed-in callers only (`introspection = "authenticated"`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Literal

from strawberry.extensions import DisableIntrospection, SchemaExtension

from resolvers.context import RequestContext
from schema.context import CONTEXT_KEY

IntrospectionPolicy = bool | Literal["authenticated"]

# The rule that refuses `__schema` and `__type`; anonymous callers get exactly the error they
# would get with introspection off.
_REFUSE = tuple(DisableIntrospection().validation_rules)
# Field names are plain tokens in the document, so a document without these words cannot
# introspect; a stray match (in a string or a comment) only runs the rule for nothing.
_MAY_INTROSPECT = re.compile(r"__(?:schema|type)\b")


class SignedInIntrospection(SchemaExtension):
    """Adds the refusing rule to anonymous callers' validation, per request.

    The validation cache keys on document and rules, so an anonymous caller's document is
    always validated (and cached) with the rule: a signed-in caller's result never serves it.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        if _MAY_INTROSPECT.search(context.query or "") and not await _signed_in(context.context):
            context.validation_rules = (*context.validation_rules, *_REFUSE)
        yield


async def _signed_in(context: object) -> bool:
    found = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    return isinstance(found, RequestContext) and await found.principal() is not None
