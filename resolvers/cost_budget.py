"""Each caller's query-cost budget per fixed window (GitHub's points per hour are the model).

The requested cost is reserved before execution and the actual cost settled after, so
concurrent requests cannot overdraw a budget by more than what they end up not using. The
counters live in Redis when a broker is configured (one budget across workers and nodes),
else in this process. While Redis cannot be reached, budgets count in this process instead
(resolvers/limit_counters.py, as the rate limits do): a Redis outage neither refuses requests
nor makes each of them wait for Redis's timeout.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from integrations.counters import Counters, Window
from resolvers.errors import CoveError, ErrorCode
from resolvers.limit_counters import Counted, LimitCounters, give_back


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
        self,
        counters: Counters | LimitCounters,
        policy: BudgetPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters if isinstance(counters, LimitCounters) else LimitCounters(counters)
        self.policy = policy
        self.clock = clock

    async def reserve(self, key: str, requested: int) -> Counted:
        """Take `requested` from the budget, or refuse with RATE_LIMITED and the retry time."""
        name, seconds = f"cost:{key}", self.policy.window_seconds
        counted = await self.counters.add(name, requested, seconds)
        if counted.window.used <= self.policy.budget:
            return counted
        await give_back(counted, name, requested, seconds)
        wait = max(1, math.ceil(counted.window.resets_at - self.clock()))
        raise CoveError(
            ErrorCode.RATE_LIMITED,
            f"Query-cost budget used up ({self.policy.budget} per "
            f"{self.policy.window_seconds} s); it renews in {wait} s.",
            retry_after=wait,
        )

    async def settle(self, key: str, reserved: Counted, requested: int, actual: int) -> Window:
        """Give back what a request reserved and did not use (or charge what it overran), in
        the counters that took the reservation; the caller's count as it then stands."""
        if actual == requested:
            return reserved.window
        changed = await give_back(
            reserved, f"cost:{key}", requested - actual, self.policy.window_seconds
        )
        return changed or reserved.window
