"""Which broker envelopes a node acts on: each one once, in its sender's order, and only fresh.

Every node seals its envelopes with a random id of its own and a counter that only grows
(crypto/realtime.py). A node seals and hands each one to the broker in one step, and both
brokers keep one publisher's order, so from any one node the counters arrive strictly
increasing: anything not above the highest seen from that node is a replay. Gaps are fine
(envelopes lost while Redis was down).

Freshness bounds what has to be remembered. An envelope sent more than MAX_AGE_SECONDS ago,
more than MAX_SKEW_SECONDS ahead of this node's clock, or before this node started listening
is refused whatever its counter; so a node silent for longer than both windows can be
forgotten (a restarted node comes back under a new id) without opening a way to replay it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# How old an envelope may be when it arrives. Redis itself cuts off a subscriber that is a
# minute behind (its default pub/sub output-buffer limit), so nothing older is deliverable.
MAX_AGE_SECONDS = 60.0
# How far apart the nodes' clocks may be (NTP keeps them within milliseconds).
MAX_SKEW_SECONDS = 10.0
# Nodes remembered at most: far more than restart in FORGET_AFTER_SECONDS in any real cluster.
MAX_NODES = 10_000
FORGET_AFTER_SECONDS = MAX_AGE_SECONDS + MAX_SKEW_SECONDS


@dataclass
class _Node:
    highest: int
    heard_at: float


class ReplayGuard:
    """Per sending node, the highest counter admitted; refuses replays and stale envelopes."""

    def __init__(self, clock: Callable[[], float], *, max_nodes: int = MAX_NODES) -> None:
        self._clock = clock
        self._max_nodes = max_nodes
        # Anything sent before this node listened reached it only as a replay.
        self._floor = clock() - MAX_SKEW_SECONDS
        self._nodes: OrderedDict[bytes, _Node] = OrderedDict()  # least recently heard first

    def __len__(self) -> int:
        return len(self._nodes)

    def check(self, node: bytes, counter: int, sent_at: float) -> str | None:
        """Admit an authentic envelope (None), or say why not: stale, future or replayed."""
        now = self._clock()
        self._forget_silent(now)
        if sent_at < max(now - MAX_AGE_SECONDS, self._floor):
            return "stale"
        if sent_at > now + MAX_SKEW_SECONDS:
            return "future"
        known = self._nodes.get(node)
        if known is None:
            self._nodes[node] = _Node(counter, now)
            if len(self._nodes) > self._max_nodes:
                self._nodes.popitem(last=False)
            return None
        if counter <= known.highest:
            return "replayed"
        known.highest, known.heard_at = counter, now
        self._nodes.move_to_end(node)
        return None

    def _forget_silent(self, now: float) -> None:
        while self._nodes:
            oldest = next(iter(self._nodes.values()))
            if now - oldest.heard_at <= FORGET_AFTER_SECONDS:
                return
            self._nodes.popitem(last=False)
