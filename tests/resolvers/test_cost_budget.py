"""The query-cost budget while Redis cannot be reached: counted in this process, not lost."""

from __future__ import annotations

import pytest
from redis_server import free_port

from api.policies import budget_policy_from
from api.settings import load_settings
from integrations.counters import RedisCounters
from resolvers.cost_budget import CostBudget
from resolvers.errors import CoveError, ErrorCode


async def test_a_budget_counts_in_this_process_while_redis_is_down() -> None:
    nobody = RedisCounters(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    small = load_settings(environ={}, overrides={"max_query_cost": 100, "query_cost_budget": 100})
    budget = CostBudget(nobody, budget_policy_from(small))
    try:
        first = await budget.reserve("user:u", 60)
        assert first.window.used == 60
        assert first.counters is budget.counters.fallback
        settled = await budget.settle("user:u", first, 60, 10)  # given back where it was taken
        assert settled.used == 10
        await budget.reserve("user:u", 90)
        with pytest.raises(CoveError) as refused:
            await budget.reserve("user:u", 1)
        assert refused.value.code == ErrorCode.RATE_LIMITED
    finally:
        await nobody.close()
