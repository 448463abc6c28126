"""A real HTTP receiver for webhook tests, on 127.0.0.1 and a free port, in a thread.

Each request takes the next planned answer (`plan`), then plain 200 "ok": a status, a slow
answer, a huge body, or a redirect. Every request is recorded with its headers and body.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HUGE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Plan:
    status: int = 200
    delay: float = 0.0
    huge: bool = False
    location: str | None = None


@dataclass
class Receiver:
    server_: ThreadingHTTPServer | None = None
    plans: list[Plan] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    huge_sent: int = 0
    failing: set[str] = field(default_factory=set)  # paths that always answer 500

    @property
    def server(self) -> ThreadingHTTPServer:
        assert self.server_ is not None
        return self.server_

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def plan(self, *plans: Plan) -> None:
        with self.lock:
            self.plans.extend(plans)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if self.path in receiver.failing:
                    plan = Plan(status=500)
                else:
                    plan = receiver.plans.pop(0) if receiver.plans else Plan()
            if plan.delay:
                time.sleep(plan.delay)
            self.send_response(plan.status)
            if plan.location:
                self.send_header("Location", plan.location)
            if plan.huge:
                self.send_header("Content-Length", str(HUGE_BYTES))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(HUGE_BYTES // len(chunk)):
                        self.wfile.write(chunk)
                        receiver.huge_sent += len(chunk)
                except OSError:
                    pass  # the client hung up, as it should
                return
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


def start_receiver() -> Receiver:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.server_ = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
