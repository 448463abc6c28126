"""Search documents rebuilt from the records: what the outbox drainer and `cove reindex` index.

Each record is opened with the system reindex grant (`Authorizer.system_reindex`): the node
indexes what it wrote itself, and the text goes no further than the keyed-hash tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from integrations.search import SearchDocument
from persistence.calendars_records import EventRecord
from persistence.drive_records import FILE, DriveItemRecord
from persistence.messages import MessageRecord
from persistence.tasks import TaskRecord
from resolvers.calendars import payload_ref
from resolvers.drive_access import name_ref
from resolvers.errors import DamagedData
from resolvers.event_details import EventDetails
from resolvers.messages import text_ref
from resolvers.services import Services
from resolvers.tasks import task_ref


async def message_document(services: Services, record: MessageRecord) -> SearchDocument:
    ws, message_id = record.workspace_id, record.message_id
    grant = services.authz.system_reindex(ws, message_id)
    text = await services.keys.open_text(grant, text_ref(message_id, ws), record.text_sealed)
    return await services.indexer.message_document(record, text)


async def file_document(services: Services, item: DriveItemRecord) -> SearchDocument:
    ws = item.workspace_id
    grant = services.authz.system_reindex(ws, item.item_id)
    name = await services.keys.open_text(grant, name_ref(item.item_id, ws), item.name_sealed)
    return await services.indexer.file_document(item, name)


async def event_document(services: Services, event: EventRecord) -> SearchDocument:
    ws = event.workspace_id
    grant = services.authz.system_reindex(ws, event.event_id)
    raw = await services.keys.open_bytes(
        grant, payload_ref(event.event_id, ws), event.payload_sealed
    )
    details = EventDetails.from_json(raw)
    return await services.indexer.event_document(event, details.title, details.description)


async def task_document(services: Services, task: TaskRecord) -> SearchDocument:
    ws = task.workspace_id
    grant = services.authz.system_reindex(ws, task.task_id)
    title_ref = task_ref("title", task.task_id, ws)
    title = await services.keys.open_text(grant, title_ref, task.title_sealed)
    description = None
    if task.description_sealed is not None:
        ref = task_ref("description", task.task_id, ws)
        description = await services.keys.open_text(grant, ref, task.description_sealed)
    return await services.indexer.task_document(task, title, description)


async def _records(
    services: Services, workspace_id: str, kind: str, raw_ids: Sequence[str]
) -> list[MessageRecord | DriveItemRecord | EventRecord | TaskRecord | None]:
    """Each id's record as it is now, or None: gone, of another workspace, or a folder."""
    found: list[MessageRecord | DriveItemRecord | EventRecord | TaskRecord | None] = []
    if kind == "message":
        locations = await services.messages.locations(raw_ids)
        wanted = [loc for loc in locations if loc is not None]
        by_id = {
            record.message_id: record
            for record in await services.messages.get_many(wanted)
            if record is not None
        }
        found += [by_id.get(raw_id) for raw_id in raw_ids]
    elif kind == "file":
        found += [
            item if item is not None and item.kind == FILE else None
            for item in await services.drive.get_many(raw_ids)
        ]
    elif kind == "event":
        found += await services.calendars.events(raw_ids)
    elif kind == "task":
        found += await services.tasks.tasks(raw_ids)
    else:
        found += [None] * len(raw_ids)
    return [r if r is not None and r.workspace_id == workspace_id else None for r in found]


async def load_documents(
    services: Services, workspace_id: str, kind: str, raw_ids: Sequence[str]
) -> list[SearchDocument | None]:
    """Each id's document as its record is now; None where the record is gone (or damaged,
    so that it cannot be shown either): the drainer then removes the document."""
    documents: list[SearchDocument | None] = []
    for record in await _records(services, workspace_id, kind, raw_ids):
        try:
            if isinstance(record, MessageRecord):
                documents.append(await message_document(services, record))
            elif isinstance(record, DriveItemRecord):
                documents.append(await file_document(services, record))
            elif isinstance(record, EventRecord):
                documents.append(await event_document(services, record))
            elif isinstance(record, TaskRecord):
                documents.append(await task_document(services, record))
            else:
                documents.append(None)
        except DamagedData:
            documents.append(None)
    return documents
