"""Realtime fan-out between API nodes: sealed payloads in, the same payloads out on every node."""

from __future__ import annotations

from integrations.broker.base import Broker, BrokerUnavailable, Handler
from integrations.broker.memory import MemoryBroker
from integrations.broker.redis import RedisBroker

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "Handler",
    "MemoryBroker",
    "RedisBroker",
    "broker_from_url",
]

_REDIS_SCHEMES = ("redis://", "rediss://")


def broker_from_url(url: str | None, *, timeout_seconds: float = 1.0) -> Broker:
    """The broker the `broker_url` setting names: unset or memory://, redis:// or rediss://."""
    if url is None or url == "memory://":
        return MemoryBroker()
    if url.lower().startswith(_REDIS_SCHEMES):
        try:
            return RedisBroker(url, timeout=timeout_seconds)
        except ValueError as exc:
            raise ValueError(f"broker_url is not a valid Redis URL: {exc}") from exc
    # The URL itself stays out of the message: it may carry a password.
    scheme = url.partition("://")[0] if "://" in url else "(none)"
    raise ValueError(
        f"broker_url must be memory://, redis://... or rediss://...; got scheme {scheme!r}"
    )
