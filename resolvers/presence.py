"""Presence per person, from live subscriptions on any node and recent activity.

ONLINE: subscribed now (a node's heartbeat within the timeout) and active recently;
AWAY: subscribed but idle; OFFLINE: no live subscription.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from persistence.realtime import PresenceRecord, RealtimeRepository
from resolvers.hub import Hub

log = logging.getLogger("cove.presence")
_REMEMBERED = 100_000


class Presence(StrEnum):
    ONLINE = "ONLINE"
    AWAY = "AWAY"
    OFFLINE = "OFFLINE"


def status(
    record: PresenceRecord, now: datetime, timeout: timedelta, away_after: timedelta
) -> Presence:
    if record.seen_at is None or record.seen_at < now - timeout:
        return Presence.OFFLINE
    if record.active_at is not None and record.active_at >= now - away_after:
        return Presence.ONLINE
    return Presence.AWAY


class PresenceTracker:
    """Writes heartbeats for this node's subscribers, and activity at most once a minute."""

    def __init__(
        self,
        repo: RealtimeRepository,
        hub: Hub,
        clock: Callable[[], datetime],
        *,
        heartbeat_seconds: float,
        activity_every_seconds: float = 60,
    ) -> None:
        self._repo = repo
        self._hub = hub
        self._clock = clock
        self._heartbeat = heartbeat_seconds
        self._activity_every = activity_every_seconds
        self._written: OrderedDict[str, float] = OrderedDict()

    async def active(self, user_id: str) -> None:
        """Someone did something; written at most once per interval, so this costs nothing
        on the hot path most of the time."""
        now = time.monotonic()
        last = self._written.get(user_id)
        if last is not None and now - last < self._activity_every:
            return
        self._written[user_id] = now
        self._written.move_to_end(user_id)
        if len(self._written) > _REMEMBERED:
            self._written.popitem(last=False)
        await self._repo.mark_active(user_id, self._clock())

    async def seen(self, user_id: str) -> None:
        await self._repo.mark_seen([user_id], self._clock())

    async def heartbeat(self) -> None:
        await self._repo.mark_seen(self._hub.users(), self._clock())

    async def run(self) -> None:
        """Heartbeat until cancelled; a failed write is logged and retried next time."""
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self.heartbeat()
            except Exception:
                log.warning("presence heartbeat failed", exc_info=True)
