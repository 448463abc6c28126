"""The indexing side of search: outbox entries queued with each change, and documents of
keyed-hash tokens built from records for the engine (by the drainer, `search_queue.py`).

Kept apart from the query side (`resolvers/search.py`) so that services can hold it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime

from crypto import search as tokens
from integrations.search import SearchDocument, SearchEngine
from persistence.calendars_records import EventRecord
from persistence.drive_records import DriveItemRecord
from persistence.messages import MessageRecord
from persistence.search_outbox import SearchOutboxRepository, bucket_of
from persistence.store import Put
from persistence.tasks import TaskRecord
from resolvers.keys import KeyService
from resolvers.search_queue import SearchDrainer

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
    """Turns records into index documents, and queues documents to index in the store's
    search outbox: `entry` gives the put to write in the batch of the change itself, `queue`
    writes entries on their own. The node's `SearchDrainer` (`drainer`) indexes them a moment
    later; a search engine that is down delays the index but loses nothing."""

    def __init__(
        self,
        engine: SearchEngine,
        keys: KeyService,
        prefix_min: int | None,
        drainer: SearchDrainer,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.drainer = drainer
        self._keys = keys
        self._prefix_min = prefix_min
        self._clock = clock
        self._search_keys: dict[tuple[str, int], bytes] = {}

    def entry(self, workspace_id: str, kind: str, raw_id: str) -> Put:
        """The outbox entry for one document, to write with the change (then `queued`)."""
        now = self._clock()
        self.drainer.note(bucket_of(now))
        return SearchOutboxRepository.entry(workspace_id, kind, raw_id, now)

    def queued(self) -> None:
        """Entries were written: the drainer indexes them soon, and before a search here."""
        self.drainer.wake()

    async def queue(self, workspace_id: str, kind: str, raw_ids: Sequence[str]) -> None:
        """Queue documents to bring up to date (indexed, or removed if their record is gone)."""
        if raw_ids:
            ops = [self.entry(workspace_id, kind, raw_id) for raw_id in raw_ids]
            await self.drainer.outbox.add(ops)
            self.queued()

    async def flush(self) -> None:
        """Index what this node queued: a search on it then finds what it has just written."""
        await self.drainer.flush()

    async def search_key(self, workspace_id: str) -> bytes:
        """The workspace's search key, under which documents are indexed: derived from its
        newest data key, so a workspace key rotation changes it (and reindexes)."""
        current = await self._keys.current(workspace_id)  # makes the first key if none yet
        return self._derived(workspace_id, current.version, current.secret)

    async def query_keys(self, workspace_id: str) -> list[bytes]:
        """The keys a query's words are hashed under: the current search key and, after a
        key rotation, the one before it, so documents indexed before the rotation's reindex
        (or by a node that had not yet seen the new key) are still found meanwhile."""
        current = await self._keys.current(workspace_id)
        keys = [self._derived(workspace_id, current.version, current.secret)]
        if current.version > 1:
            with suppress(LookupError):
                previous = await self._keys.version(workspace_id, current.version - 1)
                keys.append(self._derived(workspace_id, previous.version, previous.secret))
        return keys

    def _derived(self, workspace_id: str, version: int, secret: bytes) -> bytes:
        key = self._search_keys.get((workspace_id, version))
        if key is None:
            key = self._search_keys[(workspace_id, version)] = tokens.search_key(secret)
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
