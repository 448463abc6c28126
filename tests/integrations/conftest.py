"""Broker fixtures: every engine under the same tests, and real redis-server processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from integrations.broker import Broker, MemoryBroker, RedisBroker

ENGINES = ["memory", "redis"]


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the tests that only need one up; each test takes its own channel."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(shared_redis: RedisServer) -> str:
    return shared_redis.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, for tests that kill it (not yet started)."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def channel() -> str:
    return f"cove:test:{uuid.uuid4().hex}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_broker(
    engine: str, channel: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[], Broker]]:
    """Makes brokers of the engine under test (on one Redis channel); closes them all after."""
    made: list[Broker] = []
    url = str(request.getfixturevalue("redis_url")) if engine == "redis" else None

    def make() -> Broker:
        broker: Broker = MemoryBroker() if url is None else RedisBroker(url, channel)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


# Blob store fixtures live in their own module; importing them here is what registers them.
# The S3 server fixtures (moto) are registered once for the whole suite, in tests/conftest.py.
from tests.integrations.blob_fixtures import (  # noqa: E402, F401
    blob_backend,
    blob_engine,
    blob_store,
)
