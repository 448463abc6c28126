"""Drive benchmark: upload then download one large file through Cove (sealed segment by
segment into the local blob store, opened on the way out) against a bare Litestar route that
streams the same bytes to and from a local file with no encryption (bench/raw_files.py), in
the same run, on the same machine; and the server's peak memory growth while it works.
Cove's mail goes to a real SMTP sink in this process (sign-up needs mail). Run: `python -m bench.drive` (BENCH_FILE_MIB=1024 by default).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

CHUNK = 1024 * 1024
UPLOAD = """mutation($w: ID!, $s: Long!) { createUpload(input: {workspaceId: $w, name: "big.bin",
  size: $s, contentType: "application/octet-stream"}) { upload { url } } }"""


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


class PeakMemory:
    """Resident memory of a process, sampled every 20 ms while a block of work runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = status_kib(pid, "VmRSS")
        self.peak = self.start
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> PeakMemory:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 1024


async def body(size: int) -> AsyncIterator[bytes]:
    block = os.urandom(CHUNK)  # incompressible; the same block again and again
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


async def transfer(base: str, put_url: str, get_url: str, size: int, pid: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        async with PeakMemory(pid) as up_memory:
            started = time.perf_counter()
            response = await http.put(
                put_url, content=body(size), headers={"Content-Length": str(size)}
            )
            up_seconds = time.perf_counter() - started
        if response.status_code != 201:
            raise SystemExit(f"upload answered {response.status_code}: {response.text}")
        return {"up": size / up_seconds, "up_memory": up_memory, "response": response.json()}


async def fetch(base: str, get_url: str, size: int, pid: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        async with PeakMemory(pid) as memory:
            started = time.perf_counter()
            received = 0
            async with http.stream("GET", get_url) as response:
                if response.status_code != 200:
                    raise SystemExit(f"download answered {response.status_code}")
                async for chunk in response.aiter_raw(CHUNK):
                    received += len(chunk)
            seconds = time.perf_counter() - started
        if received != size:
            raise SystemExit(f"downloaded {received} of {size} bytes")
        return {"down": size / seconds, "down_memory": memory}


async def cove_run(base: str, sink: MailSink, pid: int, size: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        token = (await sign_up(http, sink, "bench@drive.example", name="B")).token
        workspace = (
            await gql(
                http,
                'mutation { createWorkspace(input: {name: "Bench"}) { workspace { id } } }',
                token=token,
            )
        )["createWorkspace"]["workspace"]["id"]
        url = (await gql(http, UPLOAD, {"w": workspace, "s": size}, token))["createUpload"][
            "upload"
        ]["url"]
    up = await transfer(base, url, "", size, pid)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        download = (
            await gql(
                http,
                "query($f: ID!) { node(id: $f) { ... on File { downloadUrl } } }",
                {"f": up["response"]["fileId"]},
                token,
            )
        )["node"]["downloadUrl"]
    return {**up, **await fetch(base, download, size, pid)}


def main() -> None:
    size = int(os.environ.get("BENCH_FILE_MIB", "1024")) * CHUNK
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),  # measure the work, not the budget
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        with server_process([*command, "--port", str(port)], env, port) as running:
            cove = asyncio.run(cove_run(running.url, sink, running.pid, size))
        raw_port = free_port()
        raw_command = [sys.executable, "-m", "bench.raw_files", str(raw_port), tmp]
        with server_process(raw_command, os.environ, raw_port) as running:
            raw = asyncio.run(transfer(running.url, "/raw", "/raw", size, running.pid))
            raw |= asyncio.run(fetch(running.url, "/raw", size, running.pid))
    mib = 1024 * 1024
    print(f"file of {size / mib:.0f} MiB")
    for name, result in (("cove (sealed)", cove), ("bare litestar", raw)):
        print(
            f"{name:14s} upload {result['up'] / mib:7.1f} MiB/s  download {result['down'] / mib:7.1f} MiB/s"
            f"  peak memory growth: upload {result['up_memory'].growth_mib:5.1f} MiB,"
            f" download {result['down_memory'].growth_mib:5.1f} MiB"
        )
    print(
        f"ratio cove / bare: upload {cove['up'] / raw['up']:.2f}, download {cove['down'] / raw['down']:.2f}"
        "  (bar: at least 0.5; peak memory growth under 100 MiB)"
    )


if __name__ == "__main__":
    main()
