"""A bare `websockets` broadcast server: the baseline for bench/realtime.py, in its own
process like Cove's. A client that sends "broadcast" makes it send one frame of SIZE bytes to
every other client. Run: python -m bench.raw_broadcast PORT SIZE"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from websockets.asyncio.server import broadcast, serve


async def main(port: int, size: int) -> None:
    listeners: set[Any] = set()
    frame = "x" * size

    async def handler(connection: Any) -> None:
        listeners.add(connection)
        try:
            async for message in connection:
                if message == "broadcast":
                    broadcast(listeners - {connection}, frame)
        finally:
            listeners.discard(connection)

    async with serve(handler, "127.0.0.1", port, max_queue=None, compression=None):
        await asyncio.Future()  # until the benchmark terminates the process


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
