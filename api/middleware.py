"""ASGI middleware: a request id on every request, security headers on every response."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"

# Nothing Cove answers runs in a browser, but for the GraphiQL page, which sets its own policy.
_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The headers a route may set for itself (the GraphiQL page and its cacheable assets);
# every other response gets the defaults.
_OVERRIDABLE = frozenset({b"content-security-policy", b"cache-control"})
_HSTS = b"max-age=63072000; includeSubDomains"


def request_id_of(scope: Scope | MutableMapping[str, Any]) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


def client_address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The peer's address, as audit entries and per-address limits name it."""
    return connection.client.host if connection.client else "unknown"


class SecurityMiddleware:
    """Assigns a request id and adds nosniff, frame denial, CSP, and HSTS under TLS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["type"] == ScopeType.WEBSOCKET:
            # Headers belong to HTTP responses; a socket's frames pass through untouched,
            # without a wrapper on every one of them.
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") in ("https", "wss")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {bytes(name).lower() for name, _ in headers} & _OVERRIDABLE
                headers += [
                    (REQUEST_ID_HEADER, request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                headers += [
                    (name, value)
                    for name, value in (
                        (b"content-security-policy", _CSP),
                        (b"cache-control", b"no-store"),
                    )
                    if name not in own
                ]
                if tls:
                    headers.append((b"strict-transport-security", _HSTS))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
