"""The circuit breaker: opens after failures in a row, refuses, lets one trial through."""

from __future__ import annotations

import pytest

from integrations.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_the_threshold_of_failures_in_a_row() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s3", failures=3, reset_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    breaker.success()  # a success in between starts the count again
    for _ in range(2):
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_after == pytest.approx(10)


def test_after_the_reset_time_one_trial_goes_through_and_a_success_closes_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s3", failures=1, reset_seconds=10, clock=clock)
    breaker.failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_failed_trial_opens_it_again_for_the_full_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker("search", failures=2, reset_seconds=5, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.now += 5
    assert breaker.allow()
    breaker.failure()  # one failure suffices once open
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    assert not breaker.allow()


def test_a_trial_that_never_reports_frees_its_slot_after_the_reset_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s3", failures=1, reset_seconds=5, clock=clock)
    breaker.failure()
    clock.now += 5
    assert breaker.allow()
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker("x", failures=0)
    with pytest.raises(ValueError, match="reset_seconds"):
        CircuitBreaker("x", reset_seconds=0)
