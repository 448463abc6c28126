"""`cove serve` on SIGTERM with a slow upload in flight: the upload is cut at
`shutdown_grace_seconds`, its partial object removed, and the process exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from drive_support import CREATE_UPLOAD
from mail_sink import link_token, mail_sink
from redis_server import free_port
from worlds import CREATE_WS

from support import (
    FAST_ARGON2,
    GENEROUS_LIMITS,
    LOG_IN,
    PASSWORD,
    SIGN_UP,
    VERIFY_EMAIL,
    store_under_test,
)

GRACE = 2
MARGIN = 8.0
DECLARED = 10 * 1024 * 1024
SENT = 3 * 1024 * 1024  # past the blob store's first write: a partial file exists


def _environment(data: Path) -> dict[str, str]:
    sink = mail_sink()
    # On ScyllaDB, the keyspace is emptied for this data dir (its keys wrap with its root key).
    settings = {
        **FAST_ARGON2,
        **GENEROUS_LIMITS,
        **store_under_test(data),
        "shutdown_grace_seconds": GRACE,
    }
    env = {**os.environ, **{f"COVE_{k.upper()}": str(v) for k, v in settings.items()}}
    env.update(
        COVE_SMTP_HOST="127.0.0.1",
        COVE_SMTP_PORT=str(sink.port),
        COVE_SMTP_SECURITY="none",
        COVE_SMTP_SENDER="cove@test.invalid",
        COVE_DATA_DIR=str(data),
    )
    return env


def _wait_ready(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while True:  # bounded by the deadline; polls every 100 ms
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, "cove serve exited before it was ready"
        assert time.monotonic() < deadline, "cove serve did not become ready"
        time.sleep(0.1)


def _upload_url(url: str) -> str:
    sink = mail_sink()
    email = "slow@shutdown.example"
    with httpx.Client(base_url=url, timeout=30) as http:

        def data(query: str, variables: dict[str, object], token: str | None = None) -> dict:  # type: ignore[type-arg]
            headers = {"authorization": f"Bearer {token}"} if token else {}
            answer = http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            body = answer.json()
            assert "errors" not in body, body
            return body["data"]  # type: ignore[no-any-return]

        mark = sink.mark()
        data(SIGN_UP, {"email": email, "password": PASSWORD, "name": "Slow"})
        message = sink.wait_for(email, after=mark, link="verify-email")
        data(VERIFY_EMAIL, {"t": link_token(message, "verify-email")})
        token = data(LOG_IN, {"email": email, "password": PASSWORD})["logIn"]["token"]
        ws = data(CREATE_WS, {"n": "Acme"}, token)["createWorkspace"]["workspace"]["id"]
        variables = {"w": ws, "p": None, "f": None, "n": "big.bin", "s": DECLARED, "t": None}
        upload = data(CREATE_UPLOAD, variables, token)["createUpload"]["upload"]
        return str(upload["url"])


def _partials(data: Path) -> list[Path]:
    partial = data / "blobs" / ".partial"
    return list(partial.iterdir()) if partial.exists() else []


def test_sigterm_cuts_a_slow_upload_at_the_deadline_removes_its_partial_and_exits_0(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, env=_environment(data), stdout=log, stderr=subprocess.STDOUT)
    client: socket.socket | None = None
    try:
        _wait_ready(server, url)
        path = urlsplit(_upload_url(url)).path
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {DECLARED}\r\n\r\n"
        client.sendall(head.encode() + os.urandom(SENT))  # ... and the rest never comes
        deadline = time.monotonic() + 20
        while not _partials(data):  # bounded by the deadline; polls every 50 ms
            assert time.monotonic() < deadline, "the upload never reached the blob store"
            time.sleep(0.05)
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=GRACE + MARGIN)
        took = time.monotonic() - start
        print(f"SIGTERM with a slow upload in flight: exit {code} after {took:.2f} s")
        assert code == 0
        assert took < GRACE + MARGIN
        assert took >= GRACE - 0.5  # the upload was given its grace
        assert _partials(data) == []
        assert not any(p.is_file() for p in (data / "blobs").rglob("*"))
    finally:
        if client is not None:
            client.close()
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        log.close()


def test_sigterm_on_an_idle_server_exits_0_at_once(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command,
        env=_environment(tmp_path / "data"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(server, f"http://127.0.0.1:{port}")
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=GRACE + MARGIN) == 0
        assert time.monotonic() - start < GRACE
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
