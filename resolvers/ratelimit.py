"""Rate limits: sliding windows per key, in this process's memory, bounded in size."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from resolvers.errors import CoveError, ErrorCode


@dataclass(frozen=True)
class Limit:
    """At most `count` events per `seconds` for one key."""

    count: int
    seconds: float


class SlidingWindow:
    """Counts recent events per key; forgets the least recently seen keys beyond `max_keys`.

    Per process: with several workers or nodes each keeps its own counts, so the effective
    limit is the configured one times the number of processes (see docs/operations.md).
    """

    def __init__(
        self,
        limit: Limit,
        what: str,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self._what = what
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            if len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and events[0] <= now - self.limit.seconds:
            events.popleft()
        return events

    def ensure_open(self, key: str) -> None:
        """Refuse with RATE_LIMITED while `key` has used up its window."""
        events = self._recent(key)
        if len(events) >= self.limit.count:
            wait = max(1, math.ceil(events[0] + self.limit.seconds - self._clock()))
            raise CoveError(
                ErrorCode.RATE_LIMITED,
                f"Too many {self._what}; try again in {wait} s.",
                retry_after=wait,
            )

    def record(self, key: str) -> None:
        self._recent(key).append(self._clock())

    def hit(self, key: str) -> None:
        """Count one event, refusing it if the window is full."""
        self.ensure_open(key)
        self.record(key)

    def clear(self, key: str) -> None:
        self._events.pop(key, None)


@dataclass(frozen=True)
class AuthLimits:
    """The limits on signing up and in (settings `login_*` and `signups_*`)."""

    logins_per_ip: SlidingWindow
    failures_per_account: SlidingWindow
    signups_per_ip: SlidingWindow

    @classmethod
    def build(
        cls,
        *,
        logins_per_ip_per_minute: int,
        failures_per_account: int,
        failure_window_seconds: int,
        signups_per_ip_per_hour: int,
    ) -> AuthLimits:
        return cls(
            logins_per_ip=SlidingWindow(
                Limit(logins_per_ip_per_minute, 60), "sign-in attempts from this address"
            ),
            failures_per_account=SlidingWindow(
                Limit(failures_per_account, failure_window_seconds),
                "failed sign-ins for this account",
            ),
            signups_per_ip=SlidingWindow(
                Limit(signups_per_ip_per_hour, 3600), "sign-ups from this address"
            ),
        )
