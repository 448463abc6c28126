"""What an app token may ask for: every field of a document, at every depth, checked against
the fields declared open to apps and the scopes each needs, before any resolver runs.

The declaration is an allow-list: a field that is not in `APP_FIELDS` is refused to every app
(`FORBIDDEN`), so a field added to the schema is closed to apps until someone decides which
scope opens it. A field in `APP_FIELDS` with a scope needs that scope among the install's
approved ones. Checking the document as a validation rule means a refused operation does
nothing at all: no mutation half-runs, no resolver opens a sealed value.

Fields are opened here as the resolvers behind them learn to narrow what an app reaches
(its install's workspace, the channels it was added to: issue #16); until then apps read
their own bot's identity and the scope list, and nothing in any workspace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

from resolvers.app_model import APP_TOKEN_PREFIX
from resolvers.context import RequestContext
from resolvers.errors import ErrorCode
from schema.context import CONTEXT_KEY

# (type name, field name) -> the scope it needs, or None when any app may ask for it.
APP_FIELDS: dict[tuple[str, str], str | None] = {
    ("Query", "viewer"): None,  # the app's own bot
    ("User", "id"): None,
    ("User", "displayName"): None,
    ("Query", "appScopes"): None,
    ("AppScope", "name"): None,
    ("AppScope", "description"): None,
}


def app_rule(scopes: frozenset[str]) -> type[ValidationRule]:
    """The validation rule for an app holding `scopes` (one class per set of scopes, so that
    the validation cache, keyed on the rules, never answers one caller with another's)."""
    return _rule_for(tuple(sorted(scopes)))


@lru_cache(maxsize=256)
def _rule_for(scopes: tuple[str, ...]) -> type[ValidationRule]:
    granted = frozenset(scopes)

    class AppScopes(ValidationRule):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = self.context.get_parent_type()
            name = node.name.value
            if parent is None or name.startswith("__") or parent.name.startswith("__"):
                return  # unknown fields are reported by the usual rules; introspection is open
            key = (parent.name, name)
            if key not in APP_FIELDS:
                message = f"Apps cannot use {parent.name}.{name}."
            elif (needed := APP_FIELDS[key]) is not None and needed not in granted:
                message = f"{parent.name}.{name} needs the scope {needed}, not granted."
            else:
                return
            self.report_error(
                GraphQLError(message, [node], extensions={"code": ErrorCode.FORBIDDEN.value})
            )

    return AppScopes


class AppFieldScopes(SchemaExtension):
    """Adds the app's rule to the validation of documents sent with an app token (`cove_app_`),
    per request; people's requests are not looked at here (no store read)."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        found = context.context.get(CONTEXT_KEY) if isinstance(context.context, dict) else None
        token = found.bearer_token if isinstance(found, RequestContext) else None
        if isinstance(found, RequestContext) and token and token.startswith(APP_TOKEN_PREFIX):
            try:
                principal = await found.principal()
            except Exception:
                # The store cannot say (it is down): check against no scope at all, and let
                # the resolvers report the store's error as they would for anyone.
                principal = None
            scopes = principal.app.scopes if principal and principal.app else frozenset()
            context.validation_rules = (*context.validation_rules, app_rule(scopes))
        yield
