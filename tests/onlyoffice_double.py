"""A stand-in for the ONLYOFFICE Document Server, over real HTTP on 127.0.0.1.

No Document Server can run here, so this double does what the real one does on the wire,
and no more: it opens a document only when the configuration's JWT verifies with the shared
secret and signs exactly that configuration; it fetches `document.url`; it serves the edited
file from its own origin; and it calls `editorConfig.callbackUrl` with a signed status, the
JWT in the body's `token` (claims = the body) or in `Authorization: Bearer` (claims wrap the
body in `payload`), with `iat` and `exp` as the Document Server sets them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt

# The Document Server's token lifetime for outgoing requests (`services.CoAuthoring.token.
# outbox.expires`, 5 minutes by default).
TOKEN_SECONDS = 300


class NotSigned(Exception):
    """The configuration's JWT did not verify, or signs another configuration."""


@dataclass
class Opened:
    config: dict[str, Any]
    original: bytes


@dataclass
class DocumentServer:
    secret: str
    server_: ThreadingHTTPServer | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # path -> bytes served
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server_ is not None
        return f"http://127.0.0.1:{self.server_.server_address[1]}/"

    def open(self, config: dict[str, Any], token: str) -> Opened:
        """Verify the editor configuration as the Document Server does, then fetch the file."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError as error:
            raise NotSigned(str(error)) from None
        if claims != config:
            raise NotSigned("the token signs another configuration")
        response = httpx.get(config["document"]["url"], timeout=30)
        response.raise_for_status()
        return Opened(config, response.content)

    def serve(self, body: bytes, name: str = "output.docx") -> str:
        """Serve `body` from this server's origin, as the Document Server serves a saved file."""
        path = f"/cache/files/data/{secrets.token_hex(8)}/{name}"
        with self.lock:
            self.files[path] = body
        return self.url.rstrip("/") + path

    def callback_body(
        self, opened: Opened, status: int, url: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": opened.config["document"]["key"],
            "status": status,
            "users": [opened.config["editorConfig"]["user"]["id"]],
            "actions": [{"type": 0, "userid": opened.config["editorConfig"]["user"]["id"]}],
        }
        if url is not None:
            body |= {"url": url, "filetype": opened.config["document"]["fileType"]}
        return body | extra

    def sign(self, claims: dict[str, Any], secret: str | None = None, age: int = 0) -> str:
        now = int(time.time()) - age
        signed = claims | {"iat": now, "exp": now + TOKEN_SECONDS}
        return jwt.encode(signed, secret or self.secret, algorithm="HS256")

    def call_back(
        self,
        opened: Opened,
        body: dict[str, Any],
        *,
        via: str = "body",
        secret: str | None = None,
        age: int = 0,
    ) -> httpx.Response:
        """POST a status to the callback URL, signed as the Document Server signs it (`via`
        "body", "header", or "none" for no JWT at all)."""
        headers: dict[str, str] = {}
        sent = dict(body)
        if via == "body":
            sent["token"] = self.sign(body, secret, age)
        elif via == "header":
            headers["Authorization"] = "Bearer " + self.sign({"payload": body}, secret, age)
        return httpx.post(
            opened.config["editorConfig"]["callbackUrl"], json=sent, headers=headers, timeout=60
        )

    def edit_and_save(self, opened: Opened, edited: bytes, status: int = 2) -> httpx.Response:
        """What an editing session ends with: the edited file served here, a signed callback."""
        return self.call_back(opened, self.callback_body(opened, status, self.serve(edited)))


@contextmanager
def document_server(secret: str) -> Iterator[DocumentServer]:
    double = DocumentServer(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with double.lock:
                body = double.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.server_ = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
