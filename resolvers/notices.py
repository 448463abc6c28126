"""Publishing to the realtime broker: every payload is sealed before it leaves the process.

A notice is what subscribers are told of something that happened ("event" is kept for
calendar events; the wire keeps its names: the `events` subscription, the broker's `event`
kind). Its `type` is one of resolvers/notice_types.py. These kinds travel on the one broker
channel, in order:
- `event`: a notice, delivered to subscribers of its topic (with an `about` topic, only to
  those who may read that one too);
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
from typing import Any, Protocol

from crypto.realtime import BrokerSealer
from resolvers.notice_types import NoticeType


class Broker(Protocol):
    """What resolvers need of a broker (integrations/broker implements it)."""

    async def publish(self, payload: bytes) -> None: ...

    async def ping(self) -> None: ...


class Notices:
    """What resolvers use to tell subscribers something happened."""

    def __init__(self, broker: Broker, broker_key: bytes) -> None:
        self._broker = broker
        self._sealer = BrokerSealer(broker_key)

    async def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":"), default=str).encode()
        await self._broker.publish(self._sealer.seal(data))

    async def publish(
        self, topic: str, type_: NoticeType, data: dict[str, Any], *, about: str | None = None
    ) -> None:
        """A notice on `topic` (a global id); `data` must be fit for every reader of it, or,
        with `about` (another topic, such as a channel told of on its workspace), for every
        reader of both: only those receive it."""
        payload = {"kind": "event", "topic": topic, "type": str(type_), "data": data}
        if about is not None:
            payload["about"] = about
        await self._send(payload)

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
