"""Redis pub/sub broker: every API node publishes to, and listens on, one channel.

Each node holds one subscription to one channel, so payloads from one publisher arrive in
the order they were published, whatever their topics. Redis pub/sub keeps nothing: payloads
published while a node is cut off (Redis down or restarting, a network cut, or Redis dropping
a subscriber that reads too slowly) are lost for that node and never replayed. The listener
logs the outage once, reconnects with capped exponential backoff and goes on with the next
payload. Publishing never waits on Redis at all: `publish` puts the payload on a bounded
queue that one sender task drains, so a frozen or dead Redis costs a mutation nothing. While
Redis fails (or the queue is full) payloads are dropped and counted, the outage logged once,
and the sender pauses with backoff before trying again. `ping` has a connection of its own,
so a readiness probe never waits behind publishing. Payloads arrive sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from integrations.broker.backoff import Backoff
from integrations.broker.base import (
    BrokerUnavailable,
    Handler,
    deliver,
    log,
    require_bytes,
    stop_task,
)

DEFAULT_CHANNEL = "cove:events"
_PUBLISH_TIMEOUT = 1.0
_CONNECT_TIMEOUT = 2.0
# Payloads waiting for the sender; beyond this they are dropped (Redis is slow or away).
OUTBOX_SIZE = 1000
# close() lets the sender flush what is queued for at most this long.
_FLUSH_SECONDS = 2.0
# A subscription silent this long is PINGed; silent as long again, it is taken for dead
# (a cut network does not always close the socket).
_PROBE_AFTER = 15.0
_DOWN = (RedisError, OSError, TimeoutError)


def _client(url: str, socket_timeout: float, *, single_connection: bool) -> Redis:
    # No retries inside redis-py: the broker does its own backoff, and publish must fail fast.
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=socket_timeout,
        socket_connect_timeout=_CONNECT_TIMEOUT,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=single_connection,
    )


class RedisBroker:
    """One publishing connection and one subscribed connection per node, on one channel."""

    def __init__(
        self,
        url: str,
        channel: str = DEFAULT_CHANNEL,
        *,
        reconnect_initial: float = 0.2,
        reconnect_max: float = 5.0,
        timeout: float = _PUBLISH_TIMEOUT,
        outbox_size: int = OUTBOX_SIZE,
    ) -> None:
        if not channel:
            raise ValueError("the broker channel must not be empty")
        self._channel = channel
        self._reconnect = (reconnect_initial, reconnect_max)
        self._publish_backoff = Backoff(reconnect_initial, reconnect_max)
        self._publisher = _client(url, timeout, single_connection=True)
        self._prober = _client(url, timeout, single_connection=True)
        # The listener's connection is the one its PubSub takes from this client's pool.
        self._listener = _client(url, _CONNECT_TIMEOUT, single_connection=False)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(outbox_size)
        self._sender: asyncio.Task[None] | None = None
        self._publish_paused_until = 0.0
        self._publish_down = False
        self._dropped = 0
        self._first_attempt = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return "redis"

    async def start(self, handler: Handler) -> None:
        """Subscribe and start delivering; if Redis is down, go on retrying in the background."""
        if self._closed:
            raise RuntimeError("the broker is closed")
        if self._task is not None:
            raise RuntimeError("the broker is already started")
        self._task = asyncio.create_task(self._listen(handler), name="cove-broker-redis")
        # Waiting for the first subscription means a publish right after start is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), _CONNECT_TIMEOUT * 3)

    async def publish(self, payload: bytes) -> None:
        """Queue the payload for the sender and return at once; dropped while Redis is down."""
        require_bytes(payload)
        if self._closed:
            log.debug("broker closed: payload dropped")
            return
        if asyncio.get_running_loop().time() < self._publish_paused_until:
            self._dropped += 1
            return
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="cove-broker-redis-publish")
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            self._dropped += 1

    @property
    def dropped(self) -> int:
        """Payloads dropped since publishing last worked."""
        return self._dropped

    async def close(self) -> None:
        """Flush the queue briefly, stop the listener and close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), _FLUSH_SECONDS)
            await stop_task(self._sender)
        if self._task is not None:
            await stop_task(self._task)
        await self._listener.aclose()
        await self._publisher.aclose()
        await self._prober.aclose()

    async def ping(self) -> None:
        """PING Redis over a connection of its own (never behind publishing)."""
        if self._closed:
            raise BrokerUnavailable("the broker is closed")
        try:
            await self._prober.ping()
        except _DOWN as exc:
            raise BrokerUnavailable(f"Redis did not answer PING: {exc}") from exc

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        # Ends when close() cancels it; each turn takes one payload off the queue.
        while True:
            payload = await self._outbox.get()
            try:
                if loop.time() < self._publish_paused_until:
                    self._dropped += 1
                    continue
                await self._publisher.publish(self._channel, payload)
            except _DOWN as exc:
                self._dropped += 1
                self._publish_paused_until = loop.time() + self._publish_backoff.next_delay()
                if not self._publish_down:
                    self._publish_down = True
                    log.warning("cannot publish to Redis: dropping events", extra=_error(exc))
                continue
            finally:
                self._outbox.task_done()
            if self._publish_down:
                log.warning("publishing to Redis again", extra={"dropped": self._dropped})
                self._publish_down, self._dropped = False, 0
                self._publish_backoff.reset()

    async def _listen(self, handler: Handler) -> None:
        backoff = Backoff(*self._reconnect)
        down = False
        # Ends when close() cancels it (or flags it, from inside the handler); every failed
        # turn sleeps a backoff delay.
        while not self._closed:
            pubsub = self._listener.pubsub()
            try:
                await self._subscribe(pubsub)
                if down:
                    log.warning("subscribed to Redis again; events sent meanwhile are lost")
                down = False
                backoff.reset()
                self._first_attempt.set()
                await self._pump(pubsub, handler)
            except _DOWN as exc:
                if not down:
                    log.warning("lost the Redis subscription: retrying", extra=_error(exc))
                down = True
            except Exception:
                log.exception("broker listener failed: retrying")
            finally:
                # Closing a connection that just broke may fail too; that must not end the loop.
                with contextlib.suppress(*_DOWN):
                    await pubsub.aclose()
            self._first_attempt.set()
            await asyncio.sleep(backoff.next_delay())

    async def _subscribe(self, pubsub: PubSub) -> None:
        await pubsub.subscribe(self._channel)
        confirmation = await pubsub.get_message(timeout=_CONNECT_TIMEOUT)
        if confirmation is None or confirmation["type"] != "subscribe":
            raise RedisConnectionError("Redis did not confirm the subscription")

    async def _pump(self, pubsub: PubSub, handler: Handler) -> None:
        probed = False
        # Ends by error, cancellation or close(); each turn waits up to _PROBE_AFTER.
        while not self._closed:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=_PROBE_AFTER)
            if message is None:
                if probed:
                    raise RedisConnectionError("Redis did not answer PING")
                await pubsub.ping()
                probed = True
                continue
            probed = False
            if message["type"] == "message":
                await deliver(handler, message["data"])


def _error(exc: BaseException) -> dict[str, str]:
    # The error text names host and port, never the password in the URL.
    return {"error": f"{type(exc).__name__}: {exc}"}
