"""This node's realtime hub: it receives every sealed broker payload and fans each notice out
to the local subscriptions of its topic, each with a bounded queue of its own.

Notices carry their topic's position (numbered in the store before the broker): each
subscription remembers the last position it delivered per topic, and `watch_history`
compares those with the store's now and then, asking a subscription that fell behind (the
broker lost notices, or held them back) to catch up from the topic's history
(resolvers/realtime.py does, checking access again).

The hub never seals for subscribers (their own streams do, so a slow one delays no one) and
never blocks on a subscriber: a full queue ends that subscription instead. It acts on an
envelope only if it authenticates under the broker key and its replay guard admits it: each
sending node's envelopes once, in order, and fresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from crypto.errors import SealError
from crypto.realtime import open_from_broker
from resolvers.authz import Principal
from resolvers.errors import CoveError, ErrorCode
from resolvers.global_ids import from_global_id
from resolvers.replay_guard import ReplayGuard

log = logging.getLogger("cove.realtime")

CanRead = Callable[[Principal, str], Awaitable[bool]]
# The newest position of each topic, from the store.
Heads = Callable[[list[str]], Awaitable[dict[str, int]]]

# Drops are logged at most this often per reason: a flood of replays must not flood the logs.
DROP_LOG_EVERY_SECONDS = 60.0


# The plaintext of a numbered notice the subscriber may not read: its position is passed.
SKIPPED = b""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notice's plaintext for a subscriber, with its topic and position when it has one;
    without a plaintext, a request to catch up on `topic` up to `position` from the history."""

    topic: str | None
    position: int | None
    plaintext: bytes | None


class _End:
    """Queued to end a stream: `error` None completes it, otherwise it fails with that."""

    def __init__(self, error: CoveError | None) -> None:
        self.error = error


@dataclass(eq=False)
class Subscription:
    """One live `events` subscription: its caller, its topics and its queue of notices."""

    session_id: str
    login_session_id: str
    principal: Principal
    topics: set[str]
    queue_limit: int
    # The last position delivered, per topic (set when the stream starts).
    positions: dict[str, int] = field(default_factory=dict)
    _queue: asyncio.Queue[Delivery | _End] = field(default_factory=asyncio.Queue)
    _ended: bool = False
    # Topics with a catch-up request queued and not yet handled.
    _catching_up: set[str] = field(default_factory=set)

    def offer(self, notice: bytes, topic: str | None = None, position: int | None = None) -> None:
        """Queue a notice's plaintext without waiting; one too far behind is ended."""
        self._put(Delivery(topic, position, notice))

    def catch_up(self, topic: str, position: int) -> None:
        """Ask the stream to deliver `topic` up to `position` from the history (once at a
        time per topic)."""
        if topic not in self._catching_up:
            self._catching_up.add(topic)
            self._put(Delivery(topic, position, None))

    def caught_up(self, topic: str) -> None:
        self._catching_up.discard(topic)

    def _put(self, delivery: Delivery) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self.queue_limit:
            self.end(
                CoveError(
                    ErrorCode.RATE_LIMITED,
                    "The subscription fell behind and was closed; read the channel's messages "
                    "after the last one you saw, then subscribe again.",
                )
            )
            return
        self._queue.put_nowait(delivery)

    def end(self, error: CoveError | None = None) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_End(error))

    async def deliveries(self) -> AsyncIterator[Delivery]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    async def stream(self) -> AsyncIterator[bytes]:
        """The plaintexts of the notices queued, catch-up requests left out."""
        async for delivery in self.deliveries():
            if delivery.plaintext:
                yield delivery.plaintext


class Hub:
    """Local subscriptions by topic, user and login session; fed by the broker."""

    def __init__(
        self, broker_key: bytes, can_read: CanRead, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = broker_key
        self._can_read = can_read
        self._clock = clock
        self._guard = ReplayGuard(clock)
        # Envelopes dropped, by reason: unauthentic, stale, future, replayed (in /metrics).
        self.drops: Counter[str] = Counter()
        self._drops_logged: dict[str, tuple[float, int]] = {}
        self._by_topic: dict[str, set[Subscription]] = {}
        self._by_user: dict[str, set[Subscription]] = {}
        self._by_login: dict[str, set[Subscription]] = {}
        self._by_session: dict[str, Subscription] = {}
        self._sockets_by_login: dict[str, set[Callable[[], None]]] = {}

    def has_session(self, session_id: str) -> bool:
        return session_id in self._by_session

    def add(self, subscription: Subscription) -> bool:
        """Register the session's one stream; False (and nothing changes) when it has one.

        Checked and claimed with no await between, so racing subscribes open one stream."""
        if subscription.session_id in self._by_session:
            return False
        self._by_session[subscription.session_id] = subscription
        self._by_user.setdefault(subscription.principal.user_id, set()).add(subscription)
        self._by_login.setdefault(subscription.login_session_id, set()).add(subscription)
        for topic in subscription.topics:
            self._by_topic.setdefault(topic, set()).add(subscription)
        return True

    def remove(self, subscription: Subscription) -> None:
        if self._by_session.get(subscription.session_id) is subscription:
            del self._by_session[subscription.session_id]
        _discard(self._by_user, subscription.principal.user_id, subscription)
        _discard(self._by_login, subscription.login_session_id, subscription)
        for topic in subscription.topics:
            _discard(self._by_topic, topic, subscription)

    def watch_login(self, login_session_id: str, close: Callable[[], None]) -> None:
        """Call `close` (which must not block) when the login ends: a socket opened with it."""
        self._sockets_by_login.setdefault(login_session_id, set()).add(close)

    def unwatch_login(self, login_session_id: str, close: Callable[[], None]) -> None:
        closers = self._sockets_by_login.get(login_session_id)
        if closers is not None:
            closers.discard(close)
            if not closers:
                del self._sockets_by_login[login_session_id]

    def end_session(self, session_id: str) -> None:
        subscription = self._by_session.get(session_id)
        if subscription is not None:
            subscription.end()

    def users(self) -> list[str]:
        """The people with a live subscription on this node."""
        return list(self._by_user)

    @property
    def subscriptions(self) -> int:
        return len(self._by_session)

    async def on_payload(self, envelope: bytes) -> None:
        """Handle one broker envelope; one that does not open, or is not fresh and new, is
        dropped (counted, and logged now and then)."""
        try:
            opened = open_from_broker(self._key, envelope)
            payload = json.loads(opened.payload)
        except (SealError, ValueError):
            self._drop("unauthentic")
            return
        refused = self._guard.check(opened.node, opened.counter, opened.sent_at)
        if refused is not None:
            self._drop(refused)
            return
        kind = payload.get("kind")
        if kind == "event":  # a notice
            subscribers = self._by_topic.get(payload["topic"])
            if subscribers:
                # The plaintext every subscriber gets, serialised once; each seals it apart.
                body = {"type": payload["type"], "topic": payload["topic"], "data": payload["data"]}
                position = payload.get("position")
                if position is not None:
                    body["position"] = position
                plaintext = json.dumps(body, separators=(",", ":")).encode()
                about = payload.get("about")
                answers: dict[tuple[Principal, str], bool] = {}
                for subscription in list(subscribers):
                    # A notice that tells of another object (a channel, on its workspace's
                    # topic) reaches only those who may read that object too.
                    if about is None or await self._may_read(subscription, about, answers):
                        subscription.offer(plaintext, payload["topic"], position)
                    elif position is not None:
                        # Not for this reader, but its place is taken: nothing is missing.
                        subscription.offer(SKIPPED, payload["topic"], position)
        elif kind == "access":
            # Checked before the next payload is handled, so nothing published after a
            # removal reaches the removed member.
            answers = {}
            for subscription in self._concerned(payload):
                await self._recheck(subscription, answers)
        elif kind == "login_ended":
            for subscription in list(self._by_login.get(payload["login"], ())):
                subscription.end()
            # The sockets themselves close too: nothing more may be asked over them.
            for close in list(self._sockets_by_login.pop(payload["login"], ())):
                close()
        elif kind == "session_ended":
            self.end_session(payload["session"])

    def drop_topic(self, subscription: Subscription, topic: str) -> None:
        """The subscription's caller may no longer read `topic`: it stops, and with no topic
        left the subscription completes."""
        subscription.topics.discard(topic)
        _discard(self._by_topic, topic, subscription)
        if not subscription.topics:
            subscription.end()

    async def compare_positions(self, heads: Heads) -> None:
        """Ask every subscription behind the store's newest position of a topic to catch up."""
        topics = list(self._by_topic)
        if not topics:
            return
        newest = await heads(topics)
        for topic, head in newest.items():
            for subscription in list(self._by_topic.get(topic, ())):
                if subscription.positions.get(topic, head) < head:
                    subscription.catch_up(topic, head)

    async def watch_history(self, heads: Heads, every_seconds: float) -> None:
        """Compare positions every `every_seconds` until cancelled: whatever the broker lost
        (Redis down, cut off or stalled) reaches subscribers from the store."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.compare_positions(heads)
            except Exception:
                log.warning("comparing realtime positions failed", exc_info=True)

    def _drop(self, reason: str) -> None:
        self.drops[reason] += 1
        now = self._clock()
        logged_at, logged_count = self._drops_logged.get(reason, (float("-inf"), 0))
        if now - logged_at >= DROP_LOG_EVERY_SECONDS:
            # Only counts: envelopes are ciphertext, but logs are copied to too many places.
            log.warning(
                "dropped broker envelopes (%s)",
                reason,
                extra={"reason": reason, "dropped": self.drops[reason] - logged_count},
            )
            self._drops_logged[reason] = (now, self.drops[reason])

    def _concerned(self, payload: dict[str, Any]) -> list[Subscription]:
        """The subscriptions an `access` payload asks to check: a person's, a topic's, or
        every one holding a topic of a kind."""
        if "user" in payload:
            return list(self._by_user.get(payload["user"], ()))
        if "topic" in payload:
            return list(self._by_topic.get(payload["topic"], ()))
        kind = payload.get("topic_kind")
        return [
            subscription
            for subscription in self._by_session.values()
            if any(_kind(topic) == kind for topic in subscription.topics)
        ]

    async def _may_read(
        self, subscription: Subscription, topic: str, answers: dict[tuple[Principal, str], bool]
    ) -> bool:
        """Whether the subscription's caller may read `topic`, asked once per caller and topic
        within one payload: a caller's many subscriptions share one answer."""
        key = (subscription.principal, topic)
        found = answers.get(key)
        if found is None:
            found = answers[key] = await self._can_read(subscription.principal, topic)
        return found

    async def _recheck(
        self, subscription: Subscription, answers: dict[tuple[Principal, str], bool]
    ) -> None:
        for topic in list(subscription.topics):
            if not await self._may_read(subscription, topic, answers):
                self.drop_topic(subscription, topic)
        if not subscription.topics:
            subscription.end()


def _kind(topic: str) -> str | None:
    parsed = from_global_id(topic)
    return parsed[0] if parsed else None


def _discard(index: dict[str, set[Subscription]], key: str, subscription: Subscription) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(subscription)
        if not members:
            del index[key]
