"""Load for the benchmarks: a server process on a free loopback port, and a lean client."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import h11
import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Running:
    url: str
    pid: int


@contextmanager
def server_process(command: Sequence[str], env: Mapping[str, str], port: int) -> Iterator[Running]:
    """Run a server until the block ends; yields its URL and pid once /ready answers 200."""
    server = subprocess.Popen(list(command), env=dict(env), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield Running(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


async def throughput(
    port: int,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    total: int,
    concurrency: int,
) -> float:
    """Requests per second for `total` keep-alive requests over `concurrency` connections.

    A lean client (asyncio streams with h11 framing) so that the client is not the bottleneck.
    """
    remaining = total
    head = [("Host", "127.0.0.1"), ("Content-Length", str(len(body))), *headers.items()]

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        http = h11.Connection(h11.CLIENT)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(
                    http.send(h11.Request(method=method, target=path, headers=head))
                    + http.send(h11.Data(data=body))
                    + http.send(h11.EndOfMessage())
                )
                status = 0
                while True:
                    event = http.next_event()
                    if event is h11.NEED_DATA:
                        http.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, h11.EndOfMessage):
                        break
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                http.start_next_cycle()
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)
