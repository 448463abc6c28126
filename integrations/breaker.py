"""A circuit breaker: after repeated failures a dependency is refused at once for a while.

Closed, calls go through and consecutive failures are counted; `failures` of them in a row
open the breaker, and for `reset_seconds` every call is refused at once (`allow()` is False),
so no request waits for a timeout against a backend known to be down. After that, one call
at a time is let through as a trial (half-open): its success closes the breaker, its failure
opens it again for another `reset_seconds`. A trial that never reports back (its caller was
cancelled) frees its slot after `reset_seconds` too, so the breaker cannot stick half-open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures of one dependency; not thread-safe (use it on one loop)."""

    def __init__(
        self,
        name: str,
        *,
        failures: int = 5,
        reset_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("a breaker needs failures >= 1")
        if reset_seconds <= 0:
            raise ValueError("a breaker needs reset_seconds > 0")
        self.name = name
        self._threshold = failures
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_since: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self._reset:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def retry_after(self) -> float:
        """Seconds until the next trial is let through (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._reset - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go to the dependency now; a True when half-open is the trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        now = self._clock()
        if self._trial_since is not None and now - self._trial_since < self._reset:
            return False  # one trial at a time
        self._trial_since = now
        return True

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_since = None

    def failure(self) -> None:
        self._failures += 1
        self._trial_since = None
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
