"""Reach the per-request context from a strawberry `Info`."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from resolvers.context import RequestContext

CONTEXT_KEY = "cove"


def request_context(info: Info[Any, Any]) -> RequestContext:
    context = info.context
    found = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    if not isinstance(found, RequestContext):
        raise RuntimeError("the GraphQL context carries no Cove request context")
    return found
