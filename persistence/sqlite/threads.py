"""Worker threads that each own one SQLite connection, so no call blocks the event loop.

Handing work to a thread and its answer back costs more than most of Cove's statements (a
wake-up each way, and the GIL changing hands), so calls made while the threads are busy, or
in the same turn of the event loop, travel together: one hand-off runs them one after the
other on one connection and answers them all. Each call still runs alone (its own
statements, its own transaction if it opens one), in the order calls were made.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
_Work = Callable[[sqlite3.Connection], Any]
_Call = tuple[_Work, "asyncio.Future[Any]"]
# Runs the calls of one hand-off on a connection: (True, result) or (False, error) each.
RunAll = Callable[[sqlite3.Connection, list[_Work]], list[tuple[bool, Any]]]
# Calls handed over at once: bounds how long one hand-off keeps its thread.
_MOST_PER_HANDOFF = 64


@dataclass
class _Queue:
    """Calls waiting for a hand-off, made on one event loop (touched only on that loop)."""

    waiting: list[_Call] = field(default_factory=list)
    scheduled: bool = False


class ConnectionThreads:
    """Runs work in `workers` threads; each thread opens its own connection on first use.

    Any number of event loops may call `run` (a server's, and a script's or a test's next to
    it): each loop's calls wait in a queue of their own, are handed off from that loop, and
    are answered on it. Only the count of hand-offs under way is shared, under a lock.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        workers: int,
        name: str,
        run_all: RunAll | None = None,
    ) -> None:
        self._connect = connect
        self._run_all = run_all or run_each
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}
        self._busy = 0  # hand-offs under way, from every loop

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` with a thread's connection in a worker thread, and await it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:
            with self._lock:
                for closed in [other for other in self._queues if other.is_closed()]:
                    del self._queues[closed]
                queue = self._queues[loop] = _Queue()
        queue.waiting.append((work, future))
        if not queue.scheduled:
            # Calls made in this turn of the loop go together.
            queue.scheduled = True
            loop.call_soon(self._hand_off, loop, queue)
        return await future

    def _take_worker(self) -> bool:
        with self._lock:
            if self._busy >= self._workers:
                return False
            self._busy += 1
            return True

    def _hand_off(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        queue.scheduled = False
        while queue.waiting and self._take_worker():
            calls = queue.waiting[:_MOST_PER_HANDOFF]
            del queue.waiting[:_MOST_PER_HANDOFF]
            try:
                done = self._executor.submit(self._call_all, [work for work, _ in calls])
            except RuntimeError as error:  # shut down
                with self._lock:
                    self._busy -= 1
                for _, future in calls:
                    if not future.done():
                        future.set_exception(error)
                continue
            done.add_done_callback(partial(self._answered, loop, calls))

    def _answered(
        self,
        loop: asyncio.AbstractEventLoop,
        calls: list[_Call],
        finished: Future[list[tuple[bool, Any]]],
    ) -> None:
        # In the worker thread: the answers go back to the loop that made the calls, and
        # every loop with calls waiting for a free worker is told one is free.
        with self._lock:
            self._busy -= 1
            loops = list(self._queues.items())
        with suppress(RuntimeError):  # that loop has closed: nobody awaits the answers
            loop.call_soon_threadsafe(self._answer, calls, finished)
        for other, queue in loops:
            if queue.waiting:
                with suppress(RuntimeError):
                    other.call_soon_threadsafe(self._resume, other, queue)

    def _resume(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        if queue.waiting and not queue.scheduled:
            queue.scheduled = True
            loop.call_soon(self._hand_off, loop, queue)

    @staticmethod
    def _answer(calls: list[_Call], finished: Future[list[tuple[bool, Any]]]) -> None:
        error = finished.exception()
        outcomes = [(False, error)] * len(calls) if error is not None else finished.result()
        for (_, future), (ok, value) in zip(calls, outcomes, strict=True):
            if future.done():  # the caller was cancelled
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _call_all(self, works: list[_Work]) -> list[tuple[bool, Any]]:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return self._run_all(connection, works)

    def shutdown(self) -> None:
        """Wait for queued work, then close every connection (blocking: call it in a thread)."""
        self._executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


def run_each(connection: sqlite3.Connection, works: list[_Work]) -> list[tuple[bool, Any]]:
    """Each call alone, in order; one that raises does not stop the next."""
    outcomes: list[tuple[bool, Any]] = []
    for work in works:
        try:
            outcomes.append((True, work(connection)))
        except Exception as error:
            outcomes.append((False, error))
    return outcomes
