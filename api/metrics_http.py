"""`/metrics` over HTTP: behind a bearer token when one is set, on the main port or its own."""

from __future__ import annotations

import hmac
import socket
import threading
import time
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler

from api.errors import error_response, http_exception_handler, internal_error_handler
from api.metrics import Metrics
from api.middleware import SecurityMiddleware, request_id_of

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def token_matches(authorization: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>` holds the metrics token (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_route(token: str | None) -> HTTPRouteHandler:
    """The `/metrics` handler; with a token, a request without it is a coded 401."""

    @get("/metrics", sync_to_thread=False)
    def metrics(request: Request[Any, Any, Any]) -> Response[Any]:
        """Prometheus text format."""
        if token is not None and not token_matches(request.headers.get("authorization"), token):
            refused = error_response(
                401,
                "Send the metrics token: Authorization: Bearer <token>.",
                request_id_of(request.scope),
            )
            refused.headers["www-authenticate"] = 'Bearer realm="metrics"'
            return refused
        registry: Metrics = request.app.state["metrics"]
        return Response(registry.render(), media_type=PROMETHEUS_TEXT)

    return metrics


def parse_bind(bind: str) -> tuple[str, int]:
    """`host:port` (`[::1]:9100` for IPv6) as a (host, port) pair; ValueError if malformed."""
    host, sep, port = bind.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit():
        raise ValueError("expected host:port, e.g. 127.0.0.1:9100")
    number = int(port)
    if not 1 <= number <= 65535:
        raise ValueError("the port must be 1 to 65535")
    return host, number


class MetricsListener:
    """A second, small HTTP listener that serves only `/metrics` (e.g. on a private address).

    It runs its own uvicorn server in a thread with its own event loop, so a scrape never
    waits on the API's loop and the API's signal handling stays the main server's. Worker
    processes share the port (SO_REUSEPORT) and each answers with its own counts, as on the
    main port.
    """

    def __init__(self, bind: str, metrics: Metrics, token: str | None) -> None:
        host, port = parse_bind(bind)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.socket.bind((host, port))
        app = Litestar(
            route_handlers=[metrics_route(token)],
            exception_handlers={
                HTTPException: http_exception_handler,
                Exception: internal_error_handler,
            },
            state={"metrics": metrics},  # type: ignore[arg-type]
            openapi_config=None,
            logging_config=None,
        )
        app.asgi_handler = SecurityMiddleware(app.asgi_handler)
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", server_header=False, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            daemon=True,
            name="cove-metrics",
        )

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the metrics listener did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
