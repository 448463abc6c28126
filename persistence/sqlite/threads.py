"""Worker threads that each own one SQLite connection, so no call blocks the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ConnectionThreads:
    """Runs work in `workers` threads; each thread opens its own connection on first use."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, workers: int, name: str
    ) -> None:
        self._connect = connect
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` with this thread's connection in a worker thread, and await it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return work(connection)

    def shutdown(self) -> None:
        """Wait for queued work, then close every connection (blocking: call it in a thread)."""
        self._executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
