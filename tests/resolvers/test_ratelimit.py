"""The limits: fixed windows, slots reserved before the check, refunds, and counting in this
process while the shared counters are away."""

from __future__ import annotations

import asyncio

import pytest

from integrations.counters import MemoryCounters, Window
from resolvers.errors import CoveError, ErrorCode
from resolvers.limit_counters import RETRY_SHARED_SECONDS, LimitCounters
from resolvers.ratelimit import FailureLimit, Limit, RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BrokenCounters:
    """Stands in for a Redis that does not answer (the Redis tests use a real one)."""

    def __init__(self) -> None:
        self.calls = 0

    async def add(self, key: str, amount: int, window_seconds: int) -> Window:
        self.calls += 1
        raise ConnectionError("redis is down")

    async def ping(self) -> None:
        raise ConnectionError("redis is down")

    async def close(self) -> None:
        return None


def _failures(clock: Clock, count: int = 2, *, forgive: bool = True) -> FailureLimit:
    counters = LimitCounters(MemoryCounters(clock))
    return FailureLimit(counters, "t", Limit(count, 60), "tries", forgive=forgive, clock=clock)


async def test_a_full_window_refuses_until_it_ends() -> None:
    clock = Clock()  # 1000 s: the 60 s window [960, 1020) ends in 20 s
    limit = RateLimit(LimitCounters(MemoryCounters(clock)), "t", Limit(2, 60), "tries", clock)
    await limit.hit("k")
    await limit.hit("k")
    with pytest.raises(CoveError) as caught:
        await limit.hit("k")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == 20
    await limit.hit("other")  # keys are independent
    clock.now = 1020
    await limit.hit("k")


async def test_concurrent_attempts_reserve_their_slots_before_the_check() -> None:
    limit = _failures(Clock(), 3)
    checked = 0

    async def guess() -> str:
        nonlocal checked
        try:
            await limit.reserve("account")
        except CoveError as exc:
            return exc.code.value
        checked += 1
        await asyncio.sleep(0.01)  # the slow password check
        return "WRONG"

    results = await asyncio.gather(*(guess() for _ in range(20)))
    assert checked == 3
    assert sorted(results) == ["RATE_LIMITED"] * 17 + ["WRONG"] * 3


async def test_success_refunds_its_slot_and_forgives_earlier_failures() -> None:
    limit = _failures(Clock(), 2)
    await limit.reserve("k")  # a failure
    await (await limit.reserve("k")).succeeded()
    for _ in range(2):  # both slots free again
        await limit.reserve("k")
    with pytest.raises(CoveError):
        await limit.reserve("k")


async def test_success_without_forgiving_refunds_only_its_own_slot() -> None:
    limit = _failures(Clock(), 2, forgive=False)
    await limit.reserve("k")
    attempt = await limit.reserve("k")
    await attempt.succeeded()
    await attempt.succeeded()  # once only
    await limit.reserve("k")
    with pytest.raises(CoveError):
        await limit.reserve("k")


async def test_counts_go_on_in_this_process_while_the_shared_counters_fail() -> None:
    broken, seconds = BrokenCounters(), [0.0]
    counters = LimitCounters(broken, monotonic=lambda: seconds[0])
    limit = FailureLimit(counters, "t", Limit(2, 60), "tries", forgive=True)
    await limit.reserve("k")
    await limit.reserve("k")
    with pytest.raises(CoveError):  # limited, not unlimited and not locked out
        await limit.reserve("k")
    assert broken.calls == 1  # not asked again on every attempt while it is down
    seconds[0] += RETRY_SHARED_SECONDS
    with pytest.raises(CoveError):
        await limit.reserve("k")
    assert broken.calls == 2


async def test_a_refund_goes_back_where_the_slot_was_taken() -> None:
    shared = MemoryCounters()
    counters = LimitCounters(shared)
    limit = FailureLimit(counters, "t", Limit(1, 60), "tries", forgive=False)
    attempt = await limit.reserve("k")
    counters.shared = BrokenCounters()  # the slot was taken in `shared`; it goes back there
    await attempt.succeeded()
    assert (await shared.add("limit:t:k", 0, 60)).used == 0
