"""In-process broker: the embedded default, for a single API node and no services.

Each MemoryBroker is its own bus: two of them, even in one process, never share payloads.
Run Redis (`broker_url = redis://...`) as soon as there is more than one node.
"""

from __future__ import annotations

import asyncio

from integrations.broker.base import (
    BrokerUnavailable,
    Handler,
    deliver,
    log,
    require_bytes,
    stop_task,
)

DEFAULT_MAX_PENDING = 10_000


class MemoryBroker:
    """Delivers through one bounded queue; when it is full the oldest payloads are dropped."""

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        # Bounded before start and after: a stuck handler must not grow memory without end.
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=max_pending)
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._dropped = 0

    @property
    def name(self) -> str:
        return "memory"

    async def start(self, handler: Handler) -> None:
        """Start the one task that hands queued payloads to `handler`, oldest first."""
        if self._closed:
            raise RuntimeError("the broker is closed")
        if self._task is not None:
            raise RuntimeError("the broker is already started")
        self._task = asyncio.create_task(self._deliver_all(handler), name="cove-broker-memory")

    async def publish(self, payload: bytes) -> None:
        """Queue `payload`; before start it waits in the same bounded queue."""
        require_bytes(payload)
        if self._closed:
            log.debug("broker closed: payload dropped")
            return
        if self._queue.full():
            self._queue.get_nowait()
            if self._dropped == 0:
                log.warning(
                    "broker queue full: dropping the oldest payloads",
                    extra={"max_pending": self._queue.maxsize},
                )
            self._dropped += 1
        self._queue.put_nowait(payload)

    async def close(self) -> None:
        """Stop delivery; payloads still queued are dropped."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            await stop_task(self._task)

    async def ping(self) -> None:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")

    async def _deliver_all(self, handler: Handler) -> None:
        # Ends when close() cancels it; the flag covers close() from inside the handler, whose
        # cancel would otherwise wait for an await that really suspends.
        while not self._closed:
            payload = await self._queue.get()
            await deliver(handler, payload)
            if self._dropped and self._queue.empty():
                log.warning("broker caught up", extra={"dropped": self._dropped})
                self._dropped = 0
