"""Counters per fixed time window, shared by every worker and node when Redis is configured."""

from __future__ import annotations

from integrations.counters.base import Counters, Window, window_of
from integrations.counters.memory import MemoryCounters
from integrations.counters.redis import RedisCounters


def counters_from_url(url: str | None, *, timeout_seconds: float = 0.5) -> Counters:
    """Redis when the broker is Redis (one budget for the whole deployment); else this process."""
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounters(url, timeout=timeout_seconds)
    return MemoryCounters()


__all__ = [
    "Counters",
    "MemoryCounters",
    "RedisCounters",
    "Window",
    "counters_from_url",
    "window_of",
]
