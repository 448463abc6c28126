"""Counters in Redis: every worker and node shares them; each window's key expires with it."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from integrations.counters.base import Window, window_of

_TIMEOUT = 0.5
_PREFIX = "cove:count:"


class RedisCounters:
    """INCRBY on `cove:count:<key>:<window>`, which expires when its window has passed."""

    def __init__(
        self, url: str, clock: Callable[[], float] = time.time, *, timeout: float = _TIMEOUT
    ) -> None:
        self._clock = clock
        # Counting must never hold a request up for long: no retries, short timeouts.
        self._redis = Redis.from_url(
            url,
            decode_responses=False,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    async def add(self, key: str, amount: int, window_seconds: int) -> Window:
        index, resets_at = window_of(self._clock(), window_seconds)
        name = f"{_PREFIX}{key}:{index}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expireat(name, int(resets_at) + 60)
            used, _ = await pipe.execute()
        return Window(used=int(used), resets_at=resets_at)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
