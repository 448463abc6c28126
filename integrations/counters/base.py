"""The counters protocol: add to a key's count in the current fixed window, read it back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Window:
    """A key's count in one fixed window, and when the window ends (Unix seconds)."""

    used: int
    resets_at: float


def window_of(now: float, seconds: int) -> tuple[int, float]:
    """The index of the window holding `now` and the time it ends: windows are aligned to the
    epoch, so every node agrees on them without talking."""
    index = math.floor(now / seconds)
    return index, float((index + 1) * seconds)


class Counters(Protocol):
    async def add(self, key: str, amount: int, window_seconds: int) -> Window:
        """Add `amount` (which may be negative, to give back) and return the new count."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
