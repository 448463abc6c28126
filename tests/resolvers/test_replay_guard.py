"""The replay guard: one counter per sending node, a freshness window, bounded state."""

from __future__ import annotations

from resolvers.replay_guard import MAX_AGE_SECONDS, MAX_SKEW_SECONDS, ReplayGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_each_counter_is_admitted_once_and_only_while_it_grows() -> None:
    clock = Clock()
    guard = ReplayGuard(clock)
    assert guard.check(b"a", 5, clock.now) is None  # a node may be first heard mid-count
    assert guard.check(b"a", 5, clock.now) == "replayed"
    assert guard.check(b"a", 4, clock.now) == "replayed"
    assert guard.check(b"a", 9, clock.now) is None  # gaps: envelopes lost while Redis was down
    assert guard.check(b"b", 1, clock.now) is None


def test_the_freshness_window_and_the_skew_allowance() -> None:
    clock = Clock()
    guard = ReplayGuard(clock)
    clock.now += 1_000
    assert guard.check(b"a", 1, clock.now - MAX_AGE_SECONDS - 0.01) == "stale"
    assert guard.check(b"a", 2, clock.now + MAX_SKEW_SECONDS + 0.01) == "future"
    assert guard.check(b"a", 3, clock.now - MAX_AGE_SECONDS + 1) is None
    assert guard.check(b"a", 4, clock.now + MAX_SKEW_SECONDS - 1) is None


def test_nothing_sent_before_this_node_listened_is_admitted() -> None:
    """Such an envelope cannot have come here first: it can only be a replay."""
    clock = Clock()
    guard = ReplayGuard(clock)
    assert guard.check(b"a", 1, clock.now - MAX_SKEW_SECONDS - 1) == "stale"
    assert guard.check(b"a", 2, clock.now - MAX_SKEW_SECONDS + 1) is None


def test_silent_nodes_are_forgotten_once_their_envelopes_are_stale_anyway() -> None:
    clock = Clock()
    guard = ReplayGuard(clock)
    for node in (b"a", b"b", b"c"):
        assert guard.check(node, 1, clock.now) is None
    sent_by_a = clock.now
    clock.now += MAX_AGE_SECONDS
    assert guard.check(b"c", 2, clock.now) is None
    clock.now += MAX_SKEW_SECONDS + 1
    assert guard.check(b"c", 3, clock.now) is None
    assert len(guard) == 1  # a and b restarted (new ids) or stopped: their state is gone
    assert guard.check(b"a", 1, sent_by_a) == "stale"  # and a replay of theirs is still refused


def test_the_number_of_nodes_tracked_is_bounded() -> None:
    clock = Clock()
    guard = ReplayGuard(clock, max_nodes=3)
    for n in range(10):
        assert guard.check(b"node %d" % n, 1, clock.now) is None
    assert len(guard) == 3
