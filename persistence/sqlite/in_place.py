"""Small reads run in place, on the thread of the event loop that asks, on its own connection.

Handing a read to a reader thread and its answer back costs the loop a wake-up each way and
the GIL changing hands: more CPU than reading a few rows by key from SQLite's page cache, and
it buys nothing while the process is busy on one core (the rows are decoded in Python either
way). So a read bounded to a few rows runs in place. Three limits keep the loop responsive:

- only reads of at most `MOST_ROWS` rows (by key, or one bounded page of a partition);
- at most `ROWS_PER_TURN` rows' worth of them in one turn of the loop: a task reading in a
  long loop, which would never suspend, has its next reads handed to the threads (and so
  lets the loop turn);
- the connection never waits for a lock (busy timeout 0): a read refused as busy is handed
  to a reader thread, which waits for it.

What is left is the disk: a row not in SQLite's or the system's cache is read while the loop
waits, which is why this suits a database the machine's memory holds (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable

# The most rows one read may return or count and still run in place.
MOST_ROWS = 256
# Rows' worth of reads run in place in one turn of an event loop, beyond which they are
# handed to the reader threads until the loop turns.
ROWS_PER_TURN = 512


class InPlaceReads:
    """A reader connection for each thread that runs an event loop and reads in place."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def take(self, rows: int) -> sqlite3.Connection | None:
        """This thread's connection, if a read of up to `rows` rows may run in place now."""
        if rows > MOST_ROWS:
            return None
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = self._connect()
            local.loop = None
            with self._lock:
                self._connections.append(connection)
        loop = asyncio.get_running_loop()
        if local.loop is not loop:
            # The first read of this turn (or of a loop that is new on this thread).
            local.loop, local.spent = loop, 0
            loop.call_soon(self._turned)
        if local.spent + rows > ROWS_PER_TURN:
            return None
        local.spent += rows
        return connection

    def _turned(self) -> None:
        # On the loop's own thread, once it has run what was ready when the turn began.
        self._local.loop = None

    def close(self) -> None:
        """Close every thread's connection (the store is closed: no read starts any more)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


def busy(error: sqlite3.Error) -> bool:
    """SQLITE_BUSY: another connection holds a lock this read would have to wait for."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
