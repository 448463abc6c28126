"""Capped exponential backoff with jitter, for reconnecting to a broker backend."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `maximum`; `reset` after a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("reconnect delays need 0 < reconnect_initial <= reconnect_max")
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        """The next delay in seconds, between half and all of the current step."""
        step = self._next
        self._next = min(step * 2, self._maximum)
        # Jitter keeps many nodes from reconnecting in lockstep after Redis restarts.
        return step * random.uniform(0.5, 1.0)  # noqa: S311 - timing jitter, not a secret

    def reset(self) -> None:
        self._next = self._initial
