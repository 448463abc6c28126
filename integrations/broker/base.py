"""The Broker protocol every realtime fan-out engine implements, and what the engines share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("cove.broker")

Handler = Callable[[bytes], Awaitable[None]]


class BrokerUnavailable(Exception):
    """The broker's backend did not answer, or the broker is closed."""


class Broker(Protocol):
    """Carries sealed event envelopes between API nodes; never sees plaintext."""

    async def start(self, handler: Handler) -> None:
        """Deliver every payload published from now on, by any node, to `handler`, in order."""

    async def publish(self, payload: bytes) -> None:
        """Send `payload` to every node; drops it (and logs) if the backend is down."""

    async def close(self) -> None:
        """Stop delivering and release connections; idempotent."""

    async def ping(self) -> None:
        """Raise BrokerUnavailable unless the backend answers."""

    @property
    def name(self) -> str:
        """The engine's name, as a `broker_url` scheme: "memory" or "redis"."""


def require_bytes(payload: object) -> None:
    """Refuse anything but bytes: sealed envelopes, never mutable buffers."""
    if not isinstance(payload, bytes):
        raise TypeError(f"broker payloads are sealed bytes, not {type(payload).__name__}")


async def deliver(handler: Handler, payload: bytes) -> None:
    """Hand one payload to the handler; a failing handler is logged and delivery goes on."""
    try:
        await handler(payload)
    except Exception:
        # Only the size: payloads are ciphertext, but logs are copied to too many places.
        log.exception("broker handler failed", extra={"payload_bytes": len(payload)})


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a broker's own task and wait for it, so no task is left pending."""
    task.cancel()
    if task is asyncio.current_task():
        return  # close() called from inside the handler: the cancel lands at its next await
    # asyncio.wait, unlike awaiting the task, never mistakes the task's cancellation for ours.
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        log.error("broker task failed", exc_info=task.exception())
