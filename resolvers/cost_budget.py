"""Each caller's query-cost budget per fixed window (GitHub's points per hour are the model).

The requested cost is reserved before execution and the actual cost settled after, so
concurrent requests cannot overdraw a budget by more than what they end up not using. The
counters live in Redis when a broker is configured (one budget across workers and nodes),
else in this process. If the counters cannot be reached, requests go on uncounted (logged
once per outage): a budget protects capacity, and must not take the API down with Redis.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from integrations.counters import Counters, Window
from resolvers.errors import CoveError, ErrorCode

log = logging.getLogger("cove.cost")


@dataclass(frozen=True)
class BudgetPolicy:
    """`budget` cost points per `window_seconds` for each caller."""

    budget: int
    window_seconds: int


@dataclass(frozen=True)
class CostReport:
    """What one request cost, and what its caller has left."""

    requested: int
    actual: int
    maximum: int
    budget: int
    remaining: int | None
    resets_at: float | None


class CostBudget:
    def __init__(
        self, counters: Counters, policy: BudgetPolicy, clock: Callable[[], float] = time.time
    ) -> None:
        self.counters = counters
        self.policy = policy
        self.clock = clock
        self._down = False

    async def _add(self, key: str, amount: int) -> Window | None:
        try:
            window = await self.counters.add(f"cost:{key}", amount, self.policy.window_seconds)
        except Exception as exc:  # Redis down or slow: count nothing rather than refuse
            if not self._down:
                log.warning("query-cost counters unavailable; not counting: %s", exc)
            self._down = True
            return None
        if self._down:
            log.warning("query-cost counters are back")
        self._down = False
        return window

    async def reserve(self, key: str, requested: int) -> Window | None:
        """Take `requested` from the budget, or refuse with RATE_LIMITED and the retry time."""
        window = await self._add(key, requested)
        if window is None or window.used <= self.policy.budget:
            return window
        await self._add(key, -requested)
        wait = max(1, math.ceil(window.resets_at - self.clock()))
        raise CoveError(
            ErrorCode.RATE_LIMITED,
            f"Query-cost budget used up ({self.policy.budget} per "
            f"{self.policy.window_seconds} s); it renews in {wait} s.",
            retry_after=wait,
        )

    async def settle(self, key: str, requested: int, actual: int) -> Window | None:
        """Give back what a request reserved and did not use (or charge what it overran)."""
        if actual == requested:
            return None
        return await self._add(key, actual - requested)
