"""A store's own small thread pool for blocking I/O, safe to cancel.

A thread cannot be stopped: cancelling the coroutine that waits for one would leave the call
running on, writing to a file about to be closed or uploading a part after its upload was
aborted. So a cancelled wait first waits the thread out, undoes what it made if asked, and only
then lets the cancellation go on. A pool per store keeps long transfers from starving the
default executor, which other work (password hashing) shares.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from integrations.blobs.base import BlobStoreUnavailable, log

T = TypeVar("T")


class Threads:
    """Runs blocking calls on at most `max_threads` threads of its own."""

    def __init__(self, max_threads: int, name: str) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix=name)
        self._closed = False

    async def run(self, call: Callable[[], T], *, undo: Callable[[T], object] | None = None) -> T:
        """Run `call` in a thread; if cancelled meanwhile, let it end and `undo` its result."""
        future = self._submit(call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await _outlast(future)
            if undo is not None and not future.cancelled() and future.exception() is None:
                result = future.result()
                await self.finish(lambda: undo(result))
            raise

    async def finish(self, call: Callable[[], T]) -> T:
        """Run `call` in a thread to its end; a cancellation meanwhile is raised after it."""
        future = self._submit(call)
        if await _outlast(future):
            if not future.cancelled() and future.exception() is not None:
                log.warning(
                    "blob store call failed during cancellation", exc_info=future.exception()
                )
            raise asyncio.CancelledError
        return future.result()

    async def close(self) -> None:
        """Wait for the calls in flight, then stop the threads; later calls are refused."""
        self._closed = True
        await asyncio.to_thread(self._pool.shutdown, wait=True)

    def _submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        if self._closed:
            raise BlobStoreUnavailable("the blob store is closed")
        return asyncio.get_running_loop().run_in_executor(self._pool, call)


async def _outlast(future: asyncio.Future[Any]) -> bool:
    """Wait until `future` is done, through any cancellations; say whether one came."""
    cancelled = False
    while not future.done():  # each turn ends when the future does or a cancellation lands
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            cancelled = True
    if not future.cancelled():
        with contextlib.suppress(BaseException):
            future.exception()  # marks the exception retrieved; the caller decides what to do
    return cancelled
