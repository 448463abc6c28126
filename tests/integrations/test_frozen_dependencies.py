"""Frozen dependencies answer within their timeouts, and a breaker then answers at once.

Each backend sits behind a TcpProxy the test freezes: connections are accepted and then nothing
moves, as with a hung S3 or Redis. The bounds are generous (timeout + 2 s, not tight timing);
the times are printed for the report (`pytest -s`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from redis.exceptions import RedisError
from redis_server import RedisServer, free_port
from tcp_proxy import TcpProxy

from integrations.blobs import BlobStoreUnavailable, S3BlobStore
from integrations.breaker import BreakerState, CircuitBreaker
from integrations.broker import BrokerUnavailable, RedisBroker
from integrations.counters import RedisCounters
from integrations.mail import SmtpTransport
from integrations.mail.base import MailDeliveryError
from integrations.search import SearchQuery, SearchUnavailable, search_engine_from_config

TIMEOUT = 1.0
MARGIN = 2.0


@pytest.fixture
def s3_proxy(moto_server: Any) -> Iterator[TcpProxy]:
    with TcpProxy(moto_server.port) as proxy:
        yield proxy


@pytest.fixture
def redis_proxy(shared_redis: RedisServer) -> Iterator[TcpProxy]:
    with TcpProxy(int(shared_redis.url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        yield proxy


async def _bytes(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _took(start: float) -> float:
    return time.monotonic() - start


async def test_a_frozen_s3_fails_within_its_timeout_then_the_breaker_answers_at_once(
    s3_proxy: TcpProxy, s3_bucket: str
) -> None:
    breaker = CircuitBreaker("blobs", failures=2, reset_seconds=60)
    store = S3BlobStore(
        s3_bucket,
        endpoint_url=f"http://127.0.0.1:{s3_proxy.port}",
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
        max_attempts=1,
        breaker=breaker,
    )
    try:
        await store.put_stream("a/b", _bytes(b"sealed"))
        assert await store.size("a/b") == 6
        s3_proxy.pause()
        times = []
        for _ in range(2):
            start = time.monotonic()
            with pytest.raises(BlobStoreUnavailable):
                await store.size("a/b")
            times.append(_took(start))
        assert breaker.state is BreakerState.OPEN
        start = time.monotonic()
        with pytest.raises(BlobStoreUnavailable, match="refused"):
            await store.put_stream("a/c", _bytes(b"more"))
        times.append(_took(start))
        print(
            f"frozen S3: call 1 {times[0]:.2f} s, call 2 {times[1]:.2f} s, breaker {times[2]:.3f} s"
        )
        assert all(t < TIMEOUT + MARGIN for t in times[:2])
        assert times[2] < 0.1
        s3_proxy.resume()
    finally:
        s3_proxy.resume()
        await store.close()


async def test_publishing_to_a_frozen_redis_costs_no_time_and_ping_fails_in_time(
    redis_proxy: TcpProxy,
) -> None:
    url = f"redis://127.0.0.1:{redis_proxy.port}/0"
    broker = RedisBroker(url, f"cove:test:{uuid.uuid4().hex}", timeout=TIMEOUT)
    try:
        await broker.ping()
        redis_proxy.pause()
        slowest = 0.0
        for n in range(200):
            start = time.monotonic()
            await broker.publish(b"event %d" % n)
            slowest = max(slowest, _took(start))
        start = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await broker.ping()
        ping = _took(start)
        print(f"frozen Redis: slowest of 200 publishes {slowest * 1000:.2f} ms, ping {ping:.2f} s")
        assert slowest < 0.005
        assert ping < TIMEOUT + MARGIN
    finally:
        redis_proxy.resume()
        await broker.close()


async def test_counting_in_a_frozen_redis_fails_within_its_timeout(redis_proxy: TcpProxy) -> None:
    counters = RedisCounters(f"redis://127.0.0.1:{redis_proxy.port}/0", timeout=TIMEOUT)
    try:
        assert (await counters.add(f"t:{uuid.uuid4().hex}", 1, 60)).used == 1
        redis_proxy.pause()
        start = time.monotonic()
        with pytest.raises((RedisError, TimeoutError, OSError)):
            await counters.add(f"t:{uuid.uuid4().hex}", 1, 60)
        took = _took(start)
        print(f"frozen Redis: a counter {took:.2f} s")
        assert took < TIMEOUT + MARGIN
    finally:
        redis_proxy.resume()
        await counters.close()


@pytest.fixture
def frozen_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a paused proxy: it does not even
    reach for its upstream, so the upstream port may be anything)."""
    with TcpProxy(free_port()) as proxy:
        proxy.pause()
        yield proxy.port


async def test_a_frozen_search_cluster_fails_within_its_timeout_then_the_breaker_answers(
    frozen_port: int,
) -> None:
    breaker = CircuitBreaker("search", failures=2, reset_seconds=60)
    engine = search_engine_from_config(
        "elasticsearch",
        store=None,
        url=f"http://127.0.0.1:{frozen_port}",
        timeout_seconds=TIMEOUT,
        breaker=breaker,
    )
    wanted = SearchQuery(groups=[[b"\x01" * 16]], kinds=["message"], limit=10)
    try:
        times = []
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(SearchUnavailable):
                await engine.search("ws1", wanted)
            times.append(_took(start))
        print(f"frozen Elasticsearch: {times[0]:.2f} s, {times[1]:.2f} s, breaker {times[2]:.3f} s")
        assert all(t < TIMEOUT + MARGIN for t in times[:2])
        assert breaker.state is BreakerState.OPEN
        assert times[2] < 0.1
    finally:
        await engine.close()


async def test_a_frozen_smtp_server_fails_within_its_timeout(frozen_port: int) -> None:
    smtp = SmtpTransport(
        host="127.0.0.1", port=frozen_port, security="none", timeout_seconds=int(TIMEOUT)
    )
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@test.invalid", "b@test.invalid", "x"
    message.set_content("hello")
    start = time.monotonic()
    with pytest.raises(MailDeliveryError):
        await smtp.send(message)
    took = _took(start)
    print(f"frozen SMTP: {took:.2f} s")
    assert took < TIMEOUT + MARGIN
