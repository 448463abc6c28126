"""Cluster contact points as settings give them: `host:port, host:port`."""

from __future__ import annotations

DEFAULT_PORT = 9042


def parse_hosts(text: str) -> tuple[tuple[str, int], ...]:
    """`host:port, host:port` (port 9042 when left out) as pairs; ValueError when malformed."""
    hosts = []
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep:
            host, port = entry, str(DEFAULT_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    if not hosts:
        raise ValueError("no host given")
    return tuple(hosts)
