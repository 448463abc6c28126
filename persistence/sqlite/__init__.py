"""The embedded engine: SQLite in WAL mode, every call run off the event loop."""

from __future__ import annotations

from persistence.sqlite.engine import SqliteStore

__all__ = ["SqliteStore"]
