"""The indexing side of search: text just sealed in, keyed-hash tokens out to the engine.

Kept apart from the query side (`resolvers/search.py`) so that services can hold it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crypto import search as tokens
from integrations.search import SearchDocument, SearchEngine
from persistence.calendars_records import EventRecord
from persistence.drive_records import FILE, DriveItemRecord
from persistence.messages import MessageRecord
from persistence.tasks import TaskRecord
from resolvers.keys import KeyService

log = logging.getLogger("cove.search")


# The scope of every file: the role gives all of it, or only the files search lists one by one.
DRIVE_SCOPE = "drive"

FIELDS: dict[str, tuple[str, ...]] = {
    "message": ("body",),
    "file": ("name",),
    "event": ("title", "description"),
    "task": ("title", "description"),
}


def doc_id(kind: str, raw_id: str) -> str:
    return f"{kind}:{raw_id}"


class SearchIndexer:
    """Turns what resolvers write into index documents; failures are logged, never raised,
    so a search engine that is down never stops a message or an upload (`cove reindex`
    rebuilds what was missed)."""

    def __init__(self, engine: SearchEngine, keys: KeyService, prefix_min: int | None) -> None:
        self.engine = engine
        self._keys = keys
        self._prefix_min = prefix_min
        self._search_keys: dict[str, bytes] = {}
        self._pending: list[tuple[str, str, list[Any]]] = []
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    async def search_key(self, workspace_id: str) -> bytes:
        """The workspace's search key: derived from its first data key, so it stays the same
        when later data keys are added (a new search key would need `cove reindex`)."""
        key = self._search_keys.get(workspace_id)
        if key is None:
            await self._keys.current(workspace_id)  # makes the first key if there is none yet
            first = await self._keys.version(workspace_id, 1)
            key = self._search_keys[workspace_id] = tokens.search_key(first.secret)
        return key

    async def document(
        self,
        workspace_id: str,
        kind: str,
        raw_id: str,
        *,
        scope: str,
        author_id: str,
        created_at: datetime,
        texts: dict[str, str | None],
    ) -> SearchDocument:
        key = await self.search_key(workspace_id)
        found: set[bytes] = set()
        for field, text in texts.items():
            if text:
                found |= tokens.document_tokens(key, field, text, prefix_min=self._prefix_min)
        return SearchDocument(
            doc_id=doc_id(kind, raw_id),
            kind=kind,
            scope=scope,
            author_id=author_id,
            created_at=created_at,
            tokens=frozenset(found),
        )

    async def put(self, workspace_id: str, documents: Sequence[SearchDocument]) -> None:
        """Queue documents for the index; they are written together with whatever else is
        queued, a moment later (or at once when a search on this node needs them)."""
        self._queue(("index", workspace_id, list(documents)))

    async def remove(self, workspace_id: str, kind: str, raw_id: str) -> None:
        self._queue(("delete", workspace_id, [doc_id(kind, raw_id)]))

    def _queue(self, op: tuple[str, str, list[Any]]) -> None:
        self._pending.append(op)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="cove-search-flush")

    async def _flush_soon(self) -> None:
        # A short pause gathers the writes of concurrent requests into one engine call.
        await asyncio.sleep(_GATHER_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        """Write every queued change, in order; searches call this first, so a node always
        finds what it has just written. Concurrent writers share one engine call: under
        load, many messages are indexed in one batch."""
        async with self._flush_lock:
            while self._pending:
                ops, self._pending = self._pending, []
                for kind, workspace_id, items in _merged(ops):
                    try:
                        if kind == "index":
                            for start in range(0, len(items), _BATCH):
                                await self.engine.index(workspace_id, items[start : start + _BATCH])
                        else:
                            await self.engine.delete(workspace_id, items)
                    except Exception:
                        log.warning(
                            "search %s failed; `cove reindex` repairs it", kind, exc_info=True
                        )

    async def message_document(self, record: MessageRecord, text: str) -> SearchDocument:
        return await self.document(
            record.workspace_id,
            "message",
            record.message_id,
            scope=f"channel:{record.channel_id}",
            author_id=record.author_id,
            created_at=record.created_at,
            texts={"body": text},
        )

    async def message(self, record: MessageRecord, text: str) -> None:
        await self.put(record.workspace_id, [await self.message_document(record, text)])

    async def file_document(self, item: DriveItemRecord, name: str) -> SearchDocument:
        return await self.document(
            item.workspace_id,
            "file",
            item.item_id,
            scope=DRIVE_SCOPE,
            author_id=item.created_by,
            created_at=item.created_at,
            texts={"name": name},
        )

    async def file(self, item: DriveItemRecord, name: str) -> None:
        if item.kind == FILE:
            await self.put(item.workspace_id, [await self.file_document(item, name)])

    async def event_document(
        self, record: EventRecord, title: str, description: str | None
    ) -> SearchDocument:
        return await self.document(
            record.workspace_id,
            "event",
            record.event_id,
            scope=f"calendar:{record.calendar_id}",
            author_id=record.created_by,
            created_at=record.start_at,
            texts={"title": title, "description": description},
        )

    async def event(self, record: EventRecord, title: str, description: str | None) -> None:
        await self.put(record.workspace_id, [await self.event_document(record, title, description)])

    async def task_document(
        self, record: TaskRecord, title: str, description: str | None
    ) -> SearchDocument:
        return await self.document(
            record.workspace_id,
            "task",
            record.task_id,
            scope=f"board:{record.board_id}",
            author_id=record.created_by,
            created_at=record.created_at,
            texts={"title": title, "description": description},
        )

    async def task(self, record: TaskRecord, title: str, description: str | None) -> None:
        await self.put(record.workspace_id, [await self.task_document(record, title, description)])


_BATCH = 500
_GATHER_SECONDS = 0.0


def _merged(ops: list[tuple[str, str, list[Any]]]) -> list[tuple[str, str, list[Any]]]:
    """Consecutive operations of one kind on one workspace as one; order kept otherwise.

    Within one merged index call a document queued twice keeps its latest version (the
    engines refuse an id twice in one call)."""
    merged: list[tuple[str, str, list[Any]]] = []
    for kind, workspace_id, items in ops:
        if merged and merged[-1][0] == kind and merged[-1][1] == workspace_id:
            merged[-1][2].extend(items)
        else:
            merged.append((kind, workspace_id, list(items)))
    result: list[tuple[str, str, list[Any]]] = []
    for kind, workspace_id, items in merged:
        if kind == "index":
            latest: dict[str, SearchDocument] = {d.doc_id: d for d in items}
            result.append((kind, workspace_id, list(latest.values())))
        else:
            result.append((kind, workspace_id, list(dict.fromkeys(items))))
    return result
