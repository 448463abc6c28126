"""uvicorn's limits as `cove serve` sets them (api/http_server.py), on a real loopback server:
a late request head is cut off, connections beyond the cap get 503, and a WebSocket frame
over `max_body_bytes` closes its socket (1009) without stalling other requests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support import Server, make_settings, serve


def _open(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes `sock` (reads return b"")."""
    began = time.monotonic()
    while sock.recv(1024):
        pass
    return time.monotonic() - began


async def _send_then_read(socket_: Any, text: str) -> None:
    # The server may close while the frame is still going out, or right after it.
    await socket_.send(text)
    await socket_.recv()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = make_settings(
        tmp_path / "data", http_header_timeout_seconds=1, max_connections=4, max_body_bytes=64_000
    )
    with serve(settings) as running:
        yield running


def test_a_slowloris_head_is_cut_off_after_the_header_timeout(server: Server) -> None:
    slow = _open(server)
    slow.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    began = time.monotonic()
    try:
        for _ in range(30):  # a byte every 0.2 s would reset uvicorn's keep-alive timer
            slow.sendall(b"a")
            time.sleep(0.2)
    except OSError:
        pass  # closed under us: what we want
    assert 0.8 < _closed_after(slow) + (time.monotonic() - began) < 3
    slow.close()
    # A whole request on a fresh connection is not affected, nor a kept-alive one.
    with httpx.Client(base_url=server.url) as client:
        for _ in range(2):
            assert client.get("/ready").status_code == 200
            time.sleep(0.6)


def test_requests_beyond_the_connection_cap_get_503(server: Server) -> None:
    held = [_open(server) for _ in range(4)]
    try:
        time.sleep(0.1)
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/ready").status_code == 503
        for sock in held:
            sock.close()
        time.sleep(0.2)
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/ready").status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_an_oversized_websocket_frame_closes_with_1009_quickly(server: Server) -> None:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url) as client:
            while not stop.is_set():
                began = time.monotonic()
                assert client.get("/ready").status_code == 200
                latencies.append(time.monotonic() - began)
                time.sleep(0.01)

    async def send_big() -> int | None:
        socket_ = await connect(url, subprotocols=["graphql-transport-ws"], max_size=None)
        began = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            await _send_then_read(socket_, "x" * (15 * 1024 * 1024))
        assert time.monotonic() - began < 2
        return closed.value.rcvd.code if closed.value.rcvd else None

    poller = threading.Thread(target=poll)
    poller.start()
    while not latencies:  # the first poll opens the connection: not what is measured
        time.sleep(0.01)
    warm = len(latencies)
    try:
        code = asyncio.run(send_big())
    finally:
        stop.set()
        poller.join()
    assert code == 1009
    during = latencies[warm:]
    assert during
    assert max(during) < 0.2, during
