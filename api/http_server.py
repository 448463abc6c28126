"""How uvicorn serves Cove: its limits from the settings, and a deadline for request heads.

uvicorn has no header-read timeout (its issue #157 lists `--timeout-request-start` as never
done), and `timeout_keep_alive` is reset by every byte received, so a client trickling a
header line a byte at a time (slowloris) would hold a connection, and a slot under
`limit_concurrency`, for ever. `HeadTimeoutProtocol` arms a timer when a connection opens
and again when it waits for its next request, and closes the connection if the request line
and headers have not all arrived when it fires. Bodies and responses are not under it (the
body is bounded by `max_body_bytes`).
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from api.settings import Settings


class CoveConfig(uvicorn.Config):
    """uvicorn's configuration plus the request-head deadline, which uvicorn does not have.

    It travels inside the configuration, which uvicorn hands to every protocol instance and
    pickles for each worker process.
    """

    def __init__(self, app: Any, *, head_timeout_seconds: float, **options: Any) -> None:
        super().__init__(app, **options)
        self.head_timeout_seconds = head_timeout_seconds


class HeadTimeoutProtocol(HttpToolsProtocol):
    """httptools' protocol that closes a connection whose request head is late."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout = config.head_timeout_seconds if isinstance(config, CoveConfig) else 10.0
        self.head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer: the connection now waits for its next head.
        if self.timeout_keep_alive_task is not None:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self.head_deadline = self.loop.call_later(self.head_timeout, self._head_late)

    def _disarm(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_late(self) -> None:
        self.head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def server_config(settings: Settings, app: Any, **options: Any) -> CoveConfig:
    """uvicorn's configuration for Cove; `options` add to or replace uvicorn's own."""
    chosen: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": HeadTimeoutProtocol,
        # Counts open connections and running requests; beyond it a request gets 503.
        "limit_concurrency": settings.max_connections,
        "ws": "websockets-sansio",
        # A frame is read whole before Cove sees it: cap it like an HTTP body (close 1009).
        "ws_max_size": settings.max_body_bytes,
        # Events are ciphertext: compressing them costs CPU per frame and saves nothing.
        "ws_per_message_deflate": False,
        "server_header": False,
        "proxy_headers": False,
        "log_level": settings.log_level.lower(),
        # On SIGTERM, requests still running after this are cancelled (an upload cut so
        # removes its partial object), then the services close.
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        **options,
    }
    return CoveConfig(app, head_timeout_seconds=settings.http_header_timeout_seconds, **chosen)


class CoveServer(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM it has shut down for cleanly ends the process
    with status 0: uvicorn raises the signal again once done, so the process died of it (-15)
    and supervisors took a clean stop for a crash."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        captured: list[int] | None = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and captured and captured[-1] == sig:
            captured.pop()


def run(config: CoveConfig) -> bool:
    """Serve until stopped, in this process or in `config.workers` processes, as `uvicorn.run`
    does; False if a single server failed to start."""
    server = CoveServer(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return True
        config.load_app()
        server.run()
    except KeyboardInterrupt:
        return True
    return server.started
