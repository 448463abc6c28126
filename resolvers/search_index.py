"""The indexing side of search: text just sealed in, keyed-hash tokens out to the engine.

Kept apart from the query side (`resolvers/search.py`) so that services can hold it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from crypto import search as tokens
from integrations.search import SearchDocument, SearchEngine
from persistence.calendars import EventRecord
from persistence.collab_records import MessageRecord
from persistence.drive import FILE, DriveItemRecord
from persistence.tasks import TaskRecord
from resolvers.keys import KeyService

log = logging.getLogger("cove.search")


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
        try:
            await self.engine.index(workspace_id, documents)
        except Exception:
            log.warning("search indexing failed; `cove reindex` repairs it", exc_info=True)

    async def remove(self, workspace_id: str, kind: str, raw_id: str) -> None:
        try:
            await self.engine.delete(workspace_id, [doc_id(kind, raw_id)])
        except Exception:
            log.warning("search removal failed; `cove reindex` repairs it", exc_info=True)

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
            scope="drive",
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
