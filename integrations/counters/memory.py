"""Counters in this process's memory: one node, one worker."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from integrations.counters.base import Window, window_of


class MemoryCounters:
    """Counts per (key, window); forgets the least recently used keys beyond `max_keys`."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (window, used)

    async def add(self, key: str, amount: int, window_seconds: int) -> Window:
        index, resets_at = window_of(self._clock(), window_seconds)
        window, used = self._counts.get(key, (index, 0))
        used = (used if window == index else 0) + amount
        self._counts[key] = (index, used)
        self._counts.move_to_end(key)
        while len(self._counts) > self._max_keys:
            self._counts.popitem(last=False)
        return Window(used=used, resets_at=resets_at)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
