"""The baseline for bench/drive.py: a bare Litestar app that streams a request body to a local
file and back, with no encryption, served by uvicorn like Cove. Never part of Cove itself.
Run: python -m bench.raw_files PORT DIRECTORY"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from litestar import Litestar, Request, get, put
from litestar.response import Stream

CHUNK = 1024 * 1024


def build(directory: Path) -> Litestar:
    target = directory / "raw.bin"

    @put("/raw", request_max_body_size=None, status_code=201)
    async def upload(request: Request[Any, Any, Any]) -> dict[str, int]:
        written = 0
        async with await anyio.open_file(target, "wb") as out:
            async for chunk in request.stream():
                if chunk:
                    await out.write(chunk)
                    written += len(chunk)
        return {"written": written}

    @get("/raw")
    async def download() -> Stream:
        async def body() -> AsyncIterator[bytes]:
            async with await anyio.open_file(target, "rb") as source:
                while chunk := await source.read(CHUNK):
                    yield chunk

        return Stream(body(), headers={"Content-Length": str(target.stat().st_size)})

    @get("/ready", sync_to_thread=False)
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return Litestar([upload, download, ready], debug=False)


if __name__ == "__main__":
    uvicorn.run(
        build(Path(sys.argv[2])),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        server_header=False,
    )
