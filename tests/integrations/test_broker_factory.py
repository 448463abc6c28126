"""broker_url picks the engine; a wrong URL fails at start with the setting's name."""

from __future__ import annotations

import pytest

from integrations.broker import MemoryBroker, RedisBroker, broker_from_url
from integrations.broker.backoff import Backoff


@pytest.mark.parametrize("url", [None, "memory://"])
async def test_memory_is_the_default(url: str | None) -> None:
    broker = broker_from_url(url)
    assert isinstance(broker, MemoryBroker)
    assert broker.name == "memory"
    await broker.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6390/0", "rediss://:secret@cache:6380"])
async def test_redis_urls_make_a_redis_broker_without_connecting(url: str) -> None:
    broker = broker_from_url(url)
    assert isinstance(broker, RedisBroker)
    assert broker.name == "redis"
    await broker.close()


@pytest.mark.parametrize(
    "url", ["", "memory", "kafka://broker:9092", "http://redis", "redis://:hunter2@host:port"]
)
def test_anything_else_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="broker_url") as refused:
        broker_from_url(url)
    assert "hunter2" not in str(refused.value)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.2, 1.0)
    delays = [backoff.next_delay() for _ in range(5)]
    for delay, step in zip(delays, [0.2, 0.4, 0.8, 1.0, 1.0], strict=True):
        assert step / 2 <= delay <= step
    backoff.reset()
    assert backoff.next_delay() <= 0.2


@pytest.mark.parametrize(("initial", "maximum"), [(0, 1), (-1, 1), (2, 1)])
def test_backoff_refuses_nonsense(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="reconnect_initial"):
        Backoff(initial, maximum)
