"""The sliding window: counts, slides, and stays bounded in memory."""

from __future__ import annotations

import pytest

from resolvers.errors import CoveError, ErrorCode
from resolvers.ratelimit import Limit, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_refuses_then_slides() -> None:
    clock = Clock()
    window = SlidingWindow(Limit(2, 10), "tries", clock)
    window.hit("k")
    clock.now += 4
    window.hit("k")
    with pytest.raises(CoveError) as caught:
        window.hit("k")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == 6
    window.hit("other")  # keys are independent
    clock.now += 6  # the first event leaves the window
    window.hit("k")
    with pytest.raises(CoveError):
        window.ensure_open("k")


def test_clear_forgets_a_key() -> None:
    window = SlidingWindow(Limit(1, 60), "tries", Clock())
    window.hit("k")
    window.clear("k")
    window.hit("k")


def test_memory_is_bounded_by_max_keys() -> None:
    window = SlidingWindow(Limit(1, 60), "tries", Clock(), max_keys=3)
    for key in "abcd":
        window.hit(key)
    window.hit("a")  # "a" was the least recently seen and was forgotten
    with pytest.raises(CoveError):
        window.hit("d")
