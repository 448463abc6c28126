"""ASGI middleware: a request id on every request, security headers on every response."""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"

# GraphiQL (dev only) loads its scripts and styles from a CDN and runs inline code.
_DEV_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; "
    "style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data:; "
    "font-src 'self' data: https://unpkg.com; connect-src 'self' ws: wss:; frame-ancestors 'none'"
)
_PROD_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HSTS = b"max-age=63072000; includeSubDomains"


def request_id_of(scope: Scope | MutableMapping[str, Any]) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


class SecurityMiddleware:
    """Assigns a request id and adds nosniff, frame denial, CSP, and HSTS under TLS."""

    def __init__(self, app: ASGIApp, *, dev: bool) -> None:
        self.app = app
        self.csp = (_DEV_CSP if dev else _PROD_CSP).encode()

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
                headers += [
                    (REQUEST_ID_HEADER, request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", self.csp),
                    (b"cache-control", b"no-store"),
                ]
                if tls:
                    headers.append((b"strict-transport-security", _HSTS))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
