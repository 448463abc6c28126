"""Publishing to the realtime broker: every payload is sealed before it leaves the process.

A notice is what subscribers are told of something that happened ("event" is kept for
calendar events; the wire keeps its names: the `events` subscription, the broker's `event`
kind). Its `type` is one of resolvers/notice_types.py. These kinds travel on the one broker
channel, in order:
- `event`: a notice, delivered to subscribers of its topic (with an `about` topic, only to
  those who may read that one too), with its `position` in the topic: numbered in the store
  before it reaches the broker, and kept there sealed in the topic's bounded history
  (persistence/realtime_history.py), so a subscriber that the broker failed is served from
  the store (resolvers/realtime.py);
- `access`: someone's rights, or who may read a topic or topics of a kind, changed: the
  subscriptions concerned are checked again before anything after it is delivered;
- `login_ended`, `session_ended`: a login or a realtime session ended: its subscriptions
  complete.

Each `Notices` is one node's sender: its envelopes carry the node's random id, a counter and
the time, authenticated, so every receiving hub acts on each of them once and only while
fresh (resolvers/replay_guard.py). Sealing and handing to the broker happen without a pause
between them, so a node's envelopes reach the broker in counter order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crypto.realtime import BrokerSealer, seal_history
from persistence.realtime_history import RealtimeHistoryRepository
from persistence.store import StoreError
from resolvers.notice_types import ChannelNotice, NoticeType

log = logging.getLogger("cove.realtime")

# Notices that are never stored, so have no position: they matter only live.
EPHEMERAL: frozenset[str] = frozenset({ChannelNotice.TYPING})


@dataclass(frozen=True)
class NoticeHistory:
    """Where notices are numbered and kept: the store, under a key of their own."""

    repository: RealtimeHistoryRepository
    key: bytes
    limit: int
    clock: Callable[[], datetime]

    async def append(self, topic: str, record: dict[str, Any]) -> int:
        """Number the notice and keep it sealed; answers its position."""
        plaintext = json.dumps(record, separators=(",", ":"), default=str).encode()
        return await self.repository.append(
            topic,
            lambda position: seal_history(self.key, topic, position, plaintext),
            self.clock(),
            limit=self.limit,
        )


class NoticeHook(Protocol):
    async def __call__(
        self, topic: str, type_: NoticeType, data: dict[str, Any], about: str | None
    ) -> None: ...


class Broker(Protocol):
    """What resolvers need of a broker (integrations/broker implements it)."""

    async def publish(self, payload: bytes) -> None: ...

    async def ping(self) -> None: ...


class Notices:
    """What resolvers use to tell subscribers something happened."""

    def __init__(
        self, broker: Broker, broker_key: bytes, history: NoticeHistory | None = None
    ) -> None:
        self._broker = broker
        self._sealer = BrokerSealer(broker_key)
        self._history = history
        self._then: NoticeHook | None = None

    def then(self, hook: NoticeHook) -> None:
        """Also hand every notice, once published, to `hook` (apps' webhooks:
        resolvers/app_events.py); the hook never raises."""
        self._then = hook

    @property
    def history(self) -> NoticeHistory | None:
        """Where notices are numbered and kept; None where nothing is kept (some tests)."""
        return self._history

    async def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":"), default=str).encode()
        await self._broker.publish(self._sealer.seal(data))

    async def publish(
        self, topic: str, type_: NoticeType, data: dict[str, Any], *, about: str | None = None
    ) -> None:
        """A notice on `topic` (a global id); `data` must be fit for every reader of it, or,
        with `about` (another topic, such as a channel told of on its workspace), for every
        reader of both: only those receive it."""
        payload: dict[str, Any] = {
            "kind": "event",
            "topic": topic,
            "type": str(type_),
            "data": data,
        }
        if about is not None:
            payload["about"] = about
        if self._history is not None and type_ not in EPHEMERAL:
            record = {"type": str(type_), "data": data, "about": about}
            try:
                payload["position"] = await self._history.append(topic, record)
            except StoreError:
                # The change itself is made: it still goes out live, unnumbered, as before.
                log.warning("could not number a notice: sent without a position", exc_info=True)
        await self._send(payload)
        if self._then is not None:
            await self._then(topic, type_, data, about)

    async def access_changed(self, user_id: str) -> None:
        """Someone's rights changed: each of their subscriptions is checked again."""
        await self._send({"kind": "access", "user": user_id})

    async def topic_access_changed(self, topic: str) -> None:
        """Who may read a topic changed (a share taken back): its subscribers are checked."""
        await self._send({"kind": "access", "topic": topic})

    async def kind_access_changed(self, kind: str) -> None:
        """Who may read some topics of a kind changed, too many to name (a drive subtree moved
        or unshared): every subscriber to a topic of that kind is checked again."""
        await self._send({"kind": "access", "topic_kind": kind})

    async def login_ended(self, login_session_id: str) -> None:
        await self._send({"kind": "login_ended", "login": login_session_id})

    async def session_ended(self, session_id: str) -> None:
        await self._send({"kind": "session_ended", "session": session_id})
