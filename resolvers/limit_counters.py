"""The counters the rate limits use: shared ones (Redis) when they answer, this process's when not.

Failing open while Redis is away would allow unlimited password guessing; failing closed
would let anyone who can disturb Redis lock every account out. Counting in this process
keeps the pre-Redis guarantee (the limit times the number of processes) for the outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from integrations.counters import Counters, MemoryCounters, Window

log = logging.getLogger("cove.limits")

# After a failure the shared counters are tried again this often, not on every attempt: a
# paused Redis would otherwise add its timeout to every sign-in.
RETRY_SHARED_SECONDS = 5.0


@dataclass(frozen=True)
class Counted:
    """A count, and the counters that hold it (a refund must go back to the same ones)."""

    window: Window
    counters: Counters


class LimitCounters:
    def __init__(
        self,
        shared: Counters,
        fallback: Counters | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.fallback = fallback or MemoryCounters()
        self._monotonic = monotonic
        self._down_since: float | None = None

    async def add(self, key: str, amount: int, window_seconds: int) -> Counted:
        """Add to `key`'s count in the shared counters, or in this process's while they fail."""
        down_since = self._down_since
        if down_since is None or self._monotonic() - down_since >= RETRY_SHARED_SECONDS:
            try:
                window = await self.shared.add(key, amount, window_seconds)
            except Exception as exc:  # Redis down or slow: count here rather than not at all
                if down_since is None:
                    log.warning("rate-limit counters unavailable; counting per process: %s", exc)
                self._down_since = self._monotonic()
            else:
                if down_since is not None:
                    log.warning("rate-limit counters are back")
                self._down_since = None
                return Counted(window, self.shared)
        return Counted(await self.fallback.add(key, amount, window_seconds), self.fallback)


async def give_back(counted: Counted, key: str, amount: int, window_seconds: int) -> Window | None:
    """Take `amount` off a count where it was made; None if those counters cannot be reached
    (the slot then stays used until its window ends, which errs on the safe side)."""
    try:
        return await counted.counters.add(key, -amount, window_seconds)
    except Exception:
        log.warning("rate-limit counters unavailable; a slot stays used", exc_info=True)
        return None
