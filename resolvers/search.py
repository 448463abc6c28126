"""Search whose index never holds plaintext: keyed-hash tokens in, ids out.

On every write the resolvers hand the indexer the text they have just sealed; it hashes each
word (and each word's prefixes) under the workspace's search key, derived from the
workspace's first data key and never stored, one key per field (`crypto/search.py`), and
gives the engine ids and tokens only. A query is hashed the same way and asks the engine
only for what the caller may read (its channels, calendars and boards, and the whole drive
or, for guests, the files shared with them one by one), so hidden documents are neither
ranked nor opened and cost the request nothing; every hit is still checked against the
caller's rights before anything about it is opened, and one that fails is dropped without a
trace.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crypto import search as tokens
from integrations.search import SearchCursor, SearchDocument, SearchQuery
from integrations.search.base import MAX_QUERY_TOKENS
from persistence.drive_records import FILE
from persistence.messages import MessageRecord
from resolvers import calendars, drive, messages, search_sources, tasks
from resolvers.app_model import AppScope
from resolvers.authz import Principal, WorkspaceAccess, forbidden
from resolvers.calendars import workspace_calendars
from resolvers.context import RequestContext
from resolvers.drive_listings import searchable_files
from resolvers.errors import CoveError, DamagedData, bad_input
from resolvers.keys import KeyService
from resolvers.pagination import Page, check_first
from resolvers.roles import Visibility
from resolvers.search_index import DRIVE_SCOPE, FIELDS, SearchIndexer, doc_id
from resolvers.tasks import workspace_boards
from resolvers.workspaces import access as workspace_access

log = logging.getLogger("cove.search")

MAX_QUERY_LENGTH = 200
# Each page asks the engine for this many hits per result wanted, in at most this many rounds,
# so hits the caller may not see cost bounded work and never shorten a page silently early.
_OVERFETCH = 3
_ROUNDS = 5


class SearchKind(StrEnum):
    MESSAGE = "MESSAGE"
    FILE = "FILE"
    EVENT = "EVENT"
    TASK = "TASK"


# The scope an app needs to find results of each kind: a hit tells that something matching
# the words exists, so it is reading what is found.
APP_KIND_SCOPES = {
    SearchKind.MESSAGE: AppScope.MESSAGES_READ,
    SearchKind.FILE: AppScope.FILES_READ,
    SearchKind.EVENT: AppScope.CALENDARS_READ,
    SearchKind.TASK: AppScope.TASKS_READ,
}


def _kinds_for(principal: Principal, kinds: Sequence[SearchKind] | None) -> list[str]:
    """The kinds searched: those asked (all when none), and for an app only those its scopes
    read; an app asking for a kind it may not read is refused, naming the scope."""
    asked = list(kinds) if kinds else list(SearchKind)
    if principal.app is not None:
        granted = principal.app.scopes
        missing = [k for k in asked if APP_KIND_SCOPES[k] not in granted]
        if kinds and missing:
            needed = APP_KIND_SCOPES[missing[0]].value
            raise forbidden(f"Searching {missing[0].value} results needs the scope {needed}.")
        asked = [k for k in asked if k not in missing]
        if not asked:
            raise forbidden("Searching needs a read scope for at least one kind of result.")
    return [k.value.lower() for k in asked]


# Query


@dataclass(frozen=True)
class SearchResult:
    kind: SearchKind
    view: Any  # MessageView, ItemView, EventView or TaskView


def _encode(cursor: SearchCursor) -> str:
    raw = json.dumps([cursor.matched, cursor.created_at.isoformat(), cursor.doc_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> SearchCursor | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        matched, created_at, doc = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if not isinstance(matched, int) or not isinstance(doc, str) or moment.tzinfo is None:
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad_input("Malformed cursor.", field="after") from None
    return SearchCursor(matched=matched, created_at=moment, doc_id=doc)


@dataclass(frozen=True)
class _Readable:
    """Where the caller may look: containers (scopes), and the files one by one (doc ids)
    when the role does not give the whole drive (None: no file is listed)."""

    scopes: list[str]
    files: list[str] | None


async def _readable(
    ctx: RequestContext, workspace_id: str, granted: WorkspaceAccess, wanted: list[str]
) -> _Readable:
    """The channels, calendars and boards the caller may read, and its files: the engine is
    asked for these only, so hidden documents cost no ranking and no per-hit check."""

    services = ctx.services
    me = ctx.principal_now().user_id
    member_of: set[str] = set()
    after: str | None = None
    while True:  # pages of the caller's channels
        page = await services.channels.list_for_member(
            workspace_id, me, limit=500, after_channel_id=after
        )
        member_of |= {ref.channel_id for ref in page}
        if len(page) < 500:
            break
        after = page[-1].channel_id
    channel_ids = set(member_of)
    if not granted.role.joined_only:
        after = None
        while True:  # and every public channel
            refs = await services.channels.list_in_workspace(
                workspace_id, limit=500, after_channel_id=after
            )
            channel_ids |= {r.channel_id for r in refs if r.visibility == Visibility.PUBLIC}
            if len(refs) < 500:
                break
            after = refs[-1].channel_id
    scopes = [f"channel:{c}" for c in sorted(channel_ids)]
    scopes += [f"calendar:{c.id}" for c in await workspace_calendars(ctx, workspace_id)]
    scopes += [f"board:{b.id}" for b in await workspace_boards(ctx, workspace_id)]
    listed: list[str] | None = None  # files are not wanted, or all are in DRIVE_SCOPE
    if "file" in wanted:
        files = await searchable_files(ctx, granted, member_of)
        if files is None:
            scopes.append(DRIVE_SCOPE)  # the role reaches every file
        else:
            listed = [doc_id("file", file_id) for file_id in files]
    return _Readable(scopes, listed)


async def search(
    ctx: RequestContext,
    workspace_id: str,
    query: str,
    *,
    kinds: Sequence[SearchKind] | None,
    channel_id: str | None,
    author_id: str | None,
    since: datetime | None,
    until: datetime | None,
    first: int,
    after: str | None,
) -> Page[SearchResult]:
    """Results the caller may see, best first: most query words matched, then newest."""
    check_first(first)
    if len(query) > MAX_QUERY_LENGTH:
        raise bad_input(f"A query holds at most {MAX_QUERY_LENGTH} characters.", field="query")
    granted = await workspace_access(ctx, workspace_id)
    services = ctx.services
    for moment, field in ((since, "since"), (until, "until")):
        if moment is not None and moment.tzinfo is None:
            raise bad_input("Give times with a time zone offset.", field=field)
    wanted = _kinds_for(granted.principal, kinds)
    fields = sorted({f for kind in wanted for f in FIELDS[kind]})
    try:
        groups = _query_groups(await services.indexer.query_keys(workspace_id), fields, query)
    except ValueError as exc:
        raise bad_input(str(exc), field="query") from None
    if not groups:
        return Page([], False)
    await services.indexer.flush()  # what this node has just written is found
    if channel_id is not None:
        wanted = [k for k in wanted if k == "message"]
    readable = await _readable(ctx, workspace_id, granted, wanted)
    scopes, listed = readable.scopes, readable.files
    if channel_id is not None:
        scopes, listed = [s for s in scopes if s == f"channel:{channel_id}"], None
        if not scopes or not wanted:
            return Page([], False)
    cursor = _decode(after)
    results: list[tuple[str, SearchResult]] = []
    more = False
    for _ in range(_ROUNDS):
        hits = await services.indexer.engine.search(
            workspace_id,
            SearchQuery(
                groups=groups,
                kinds=wanted,
                scopes=scopes,
                doc_ids=listed,
                author_id=author_id,
                since=since.astimezone(UTC) if since else None,
                until=until.astimezone(UTC) if until else None,
                limit=min(200, (first + 1) * _OVERFETCH),
                after=cursor,
            ),
        )
        for hit in hits:
            cursor = SearchCursor(hit.matched, hit.created_at, hit.doc_id)
            opened = await _open(ctx, hit.kind, hit.doc_id.partition(":")[2])
            if opened is None:
                continue  # not the caller's to see (or gone): dropped, not counted
            if len(results) == first:
                more = True
                break
            results.append((_encode(cursor), opened))
        if more or len(hits) < min(200, (first + 1) * _OVERFETCH):
            break
    return Page(results, more)


def _query_groups(keys: Sequence[bytes], fields: Sequence[str], query: str) -> list[list[bytes]]:
    """One group per word holding its tokens under each key (the current one first): a
    document indexed under any of them matches the word. The earlier key is left out when
    both would pass the engine's token limit; the rotation's reindex soon makes it moot."""
    per_key = [tokens.query_tokens(key, fields, query) for key in keys]
    both = [[token for groups in per_key for token in groups[i]] for i in range(len(per_key[0]))]
    if sum(len(group) for group in both) > MAX_QUERY_TOKENS:
        return per_key[0]
    return both


async def _open(ctx: RequestContext, kind: str, raw_id: str) -> SearchResult | None:
    """The hit as the caller may see it, or None: every hit is checked like a direct read."""
    loaders: dict[str, tuple[SearchKind, Callable[[RequestContext, str], Awaitable[Any]]]] = {
        "message": (SearchKind.MESSAGE, messages.get_message),
        "file": (SearchKind.FILE, drive.get_item),
        "event": (SearchKind.EVENT, calendars.get_event),
        "task": (SearchKind.TASK, tasks.get_task),
    }
    if kind not in loaders:
        return None
    result_kind, load = loaders[kind]
    try:
        view = await load(ctx, raw_id)
    except CoveError:
        return None
    if kind == "file" and (view.access.in_trash or view.is_folder):
        return None
    return SearchResult(result_kind, view)


# Rebuilding


class _Rebuild:
    """`cove reindex` for one workspace: reads every sealed row, opens it with an operator's
    grant, and writes the index again in batches of 500."""

    def __init__(self, services: Any, workspace_id: str, report: Callable[[str, int], None]):
        self.services = services
        self.ws = workspace_id
        self.report = report
        self.indexer: SearchIndexer = services.indexer
        self.keys: KeyService = services.keys
        self.counts = dict.fromkeys(FIELDS, 0)
        self.damaged = 0
        self.batch: list[SearchDocument] = []

    async def add(self, kind: str, making: Awaitable[SearchDocument]) -> None:
        """Index one document (in the next batch); a row that does not open (damaged data) is
        left out, counted under "damaged" and logged by id, so one bad row never stops the
        rebuild of the rest."""
        try:
            document = await making
        except DamagedData as damage:
            self.damaged += 1
            log.warning("reindex of %s: a %s left out: %s", self.ws, kind, damage)
            return
        self.batch.append(document)
        self.counts[kind] += 1
        if len(self.batch) >= 500:
            await self.flush()
            self.report(kind, self.counts[kind])

    async def flush(self) -> None:
        if self.batch:
            await self.indexer.engine.index(self.ws, self.batch)
            self.batch = []

    async def message(self, record: MessageRecord) -> None:
        await self.add("message", search_sources.message_document(self.services, record))

    async def messages(self) -> None:
        channels, messages = self.services.channels, self.services.messages
        after: str | None = None
        while True:  # every channel, page by page
            refs = await channels.list_in_workspace(self.ws, limit=500, after_channel_id=after)
            for ref in refs:
                last: str | None = None
                while True:  # every message of the channel
                    page = await messages.list_channel(
                        ref.channel_id, self.ws, limit=500, after_id=last
                    )
                    for record in page:
                        await self.message(record)
                        if record.reply_count:
                            await self.replies(record)
                    if len(page) < 500:
                        break
                    last = page[-1].message_id
            if len(refs) < 500:
                return
            after = refs[-1].channel_id

    async def replies(self, parent: MessageRecord) -> None:
        after: str | None = None
        while True:
            page = await self.services.messages.list_replies(
                parent.location, limit=500, after_id=after
            )
            for reply in page:
                await self.message(reply)
            if len(page) < 500:
                return
            after = page[-1].message_id

    async def files(self) -> None:
        drive = self.services.drive
        folders = [self.ws]  # the root folder's id is the workspace's
        pending = await drive.trash_list(self.ws, limit=100_000)
        while folders or pending:
            ids: list[str] = []
            if folders:
                folder, last = folders.pop(), None
                while True:
                    rows = await drive.children(folder, limit=500, after_item_id=last)
                    ids += [item_id for item_id, _ in rows]
                    if len(rows) < 500:
                        break
                    last = rows[-1][0]
            else:
                ids, pending = pending, []
            for item in await drive.get_many(ids):
                if item is None:
                    continue
                if item.kind != FILE:
                    folders.append(item.item_id)
                    continue
                await self.add("file", search_sources.file_document(self.services, item))

    async def events(self) -> None:
        calendars = self.services.calendars
        for calendar_id, _ in await calendars.in_workspace(self.ws, limit=100_000):
            singles = await calendars.singles_between(
                calendar_id, datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
            )
            series = [event_id for event_id, _, _ in await calendars.series(calendar_id)]
            for event in await calendars.events(singles + series):
                if event is None:
                    continue
                await self.add("event", search_sources.event_document(self.services, event))

    async def tasks(self) -> None:
        boards = self.services.tasks
        for board_id in await boards.boards_in_workspace(self.ws, limit=100_000):
            task_ids = await boards.archived(board_id, limit=100_000)
            for item in await boards.lists(board_id, limit=10_000):
                position: tuple[str, str] | None = None
                while True:
                    rows = await boards.in_list(item.list_id, limit=500, after=position)
                    task_ids += [task_id for _, task_id in rows]
                    if len(rows) < 500:
                        break
                    position = rows[-1]
            for task in await boards.tasks(task_ids):
                if task is None:
                    continue
                await self.add("task", search_sources.task_document(self.services, task))


async def reindex_workspace(
    services: Any, workspace_id: str, report: Callable[[str, int], None]
) -> dict[str, int]:
    """Rebuild a workspace's index from its sealed rows: every message and reply, file name,
    event and task. `report(kind, count)` is called as the work goes on. Rows that do not
    open (damaged data) are left out and counted under "damaged"."""
    rebuild = _Rebuild(services, workspace_id, report)
    await rebuild.indexer.engine.clear(workspace_id)
    await rebuild.messages()
    await rebuild.files()
    await rebuild.events()
    await rebuild.tasks()
    await rebuild.flush()
    await rebuild.indexer.engine.refresh()
    for kind, count in rebuild.counts.items():
        report(kind, count)
    if rebuild.damaged:  # rows that did not open: left out, each logged by id
        rebuild.counts["damaged"] = rebuild.damaged
    return rebuild.counts
