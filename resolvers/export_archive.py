"""The export archive: a zip of what one person may read, streamed as it is written.

Everything is read through the resolvers as the requester (`RequestContext.for_principal`),
so the archive holds exactly what the API would answer them, and nothing they may not read.
`archive_chunks` is an async generator of the zip's bytes: each document, line and file
segment is written into the zip (`zipfile` in streaming mode, ZIP64, data descriptors) and
handed on at once, so memory stays flat however big the workspace. The format is
docs/export.md's, versioned by `FORMAT_VERSION`.
"""

from __future__ import annotations

import asyncio
import json
import re
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from resolvers import calendar_ics, calendars, channels, messages, tasks, workspaces
from resolvers.accounts import viewer
from resolvers.context import RequestContext
from resolvers.drive_access import ItemView, root_folder
from resolvers.drive_downloads import serve_version
from resolvers.drive_listings import children
from resolvers.errors import CoveError
from resolvers.global_ids import to_global_id as gid

FORMAT = "cove-export"
FORMAT_VERSION = 1
_PAGE = 100
BATCH_BYTES = 1024 * 1024
# A zip entry's name part: no separators, no leading dot, no control characters.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]")


@dataclass
class Counts:
    """How much has gone into the archive: objects (documents, lines, files) and bytes."""

    objects: int = 0
    bytes: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.objects += n
        self.by_type[kind] = self.by_type.get(kind, 0) + n


Progress = Callable[[Counts], Awaitable[None]]


@dataclass(frozen=True)
class ExportScope:
    """What is exported: one workspace (its owner only), or the requester's own data."""

    requester_id: str
    workspace_id: str | None
    created_at: datetime
    job_id: str


class _Sink:
    """Where zipfile writes: bytes kept until taken. No `tell`: zipfile then streams (data
    descriptors after each entry) instead of seeking back."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def safe_name(name: str, fallback: str) -> str:
    """A file or folder name fit for a zip path segment."""
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(".")
    return cleaned[:200] or fallback


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
    taken.add(candidate.lower())
    return candidate


def _zip_time(at: datetime) -> tuple[int, int, int, int, int, int]:
    moment = max(at.astimezone(UTC), datetime(1980, 1, 1, tzinfo=UTC))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


async def _batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Segments gathered into batches of about BATCH_BYTES (fewer hops to a thread)."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class _Archive:
    def __init__(self, counts: Counts, made_at: datetime) -> None:
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(self.sink, "w", compression=zipfile.ZIP_DEFLATED)
        self.counts = counts
        self.made_at = made_at  # the time the documents carry in the zip

    def entry(self, name: str) -> IO[bytes]:
        info = zipfile.ZipInfo(name, date_time=_zip_time(self.made_at))
        info.compress_type = zipfile.ZIP_DEFLATED
        out: IO[bytes] = self.zip.open(info, "w", force_zip64=True)
        return out

    def stored_entry(self, name: str, modified: datetime) -> IO[bytes]:
        """An entry kept as it is, not deflated: files are mostly compressed already (images,
        PDFs, office documents), and deflating them costs time for nothing."""
        info = zipfile.ZipInfo(name, date_time=_zip_time(modified))
        info.compress_type = zipfile.ZIP_STORED
        out: IO[bytes] = self.zip.open(info, "w", force_zip64=True)
        return out

    def document(self, name: str, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()
        with self.entry(name) as out:
            out.write(data)
        self.counts.add("documents")
        self.counts.bytes += len(data)

    def close(self) -> bytes:
        self.zip.close()
        return self.sink.take()


@dataclass(frozen=True)
class _Part:
    """One workspace's sections: where they go in the archive and whose data they keep."""

    ctx: RequestContext
    archive: _Archive
    workspace_id: str
    prefix: str  # "" for a workspace export, "workspaces/<id>/" in a personal one
    mine: str | None  # a personal export keeps only what this user wrote or made
    progress: Progress


async def archive_chunks(
    ctx: RequestContext, scope: ExportScope, progress: Progress
) -> AsyncIterator[bytes]:
    """The zip's bytes, a piece at a time; raises CoveError (FORBIDDEN, NOT_FOUND) when the
    requester may not make this export (checked again when the job runs)."""
    counts = Counts()
    archive = _Archive(counts, scope.created_at)
    principal = await ctx.require_user()
    if scope.workspace_id is not None:
        granted = await workspaces.access(ctx, scope.workspace_id)
        ctx.services.authz.export_workspace(granted)
        spaces = [scope.workspace_id]
    else:
        me = await viewer(ctx)
        profile = {
            "id": gid("User", principal.user_id),
            "displayName": await me.display_name(),
            "email": await me.email(),
            "createdAt": await me.created_at(),
        }
        archive.document("profile.json", profile)
        spaces = []
        after: str | None = None
        memberships = []
        while True:
            page = await workspaces.my_workspaces(ctx, _PAGE, after)
            for _, ws in page.edges:
                spaces.append(ws.id)
                role = ws.access.role if ws.access is not None else None
                memberships.append(
                    {"id": gid("Workspace", ws.id), "name": await ws.name(), "role": role}
                )
            if not page.has_next_page:
                break
            after = page.end_cursor
        archive.counts.add("workspaces", len(memberships))
        archive.document("workspaces.json", memberships)
    yield archive.sink.take()
    mine = None if scope.workspace_id is not None else principal.user_id
    for workspace_id in spaces:
        prefix = "" if mine is None else f"workspaces/{workspace_id}/"
        try:
            await workspaces.access(ctx, workspace_id)
        except CoveError:
            continue  # held back (two-factor required): nothing of it may be read
        if mine is None:
            await _workspace_document(ctx, archive, workspace_id)
        part = _Part(ctx, archive, workspace_id, prefix, mine, progress)
        async for chunk in _channels(part):
            yield chunk
        async for chunk in _files(part):
            yield chunk
        await _calendars(ctx, archive, workspace_id, prefix, mine)
        yield archive.sink.take()
        await _tasks(ctx, archive, workspace_id, prefix, mine)
        yield archive.sink.take()
        await progress(counts)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exportId": gid("Export", scope.job_id),
        "createdAt": scope.created_at,
        "requestedBy": gid("User", scope.requester_id),
        "scope": "workspace" if scope.workspace_id is not None else "personal",
        "workspaceId": None if scope.workspace_id is None else gid("Workspace", scope.workspace_id),
        "counts": dict(sorted(counts.by_type.items())),
    }
    archive.document("export.json", manifest)
    yield archive.close()
    await progress(counts)


async def _workspace_document(ctx: RequestContext, archive: _Archive, workspace_id: str) -> None:
    ws = await workspaces.get_workspace(ctx, workspace_id)
    people = []
    after: str | None = None
    while True:
        page = await workspaces.members(ctx, workspace_id, _PAGE, after)
        for _, member in page.edges:
            people.append(
                {
                    "userId": gid("User", member.user.id),
                    "displayName": await member.user.display_name(),
                    "role": member.role.value,
                    "joinedAt": member.joined_at,
                }
            )
        if not page.has_next_page:
            break
        after = page.end_cursor
    document = {
        "id": gid("Workspace", workspace_id),
        "name": await ws.name(),
        "createdAt": await ws.created_at(),
        "members": people,
    }
    archive.counts.add("members", len(people))
    archive.document("workspace.json", document)


async def _message_line(view: messages.MessageView) -> dict[str, Any]:
    record = view.record
    return {
        "id": gid("Message", view.id),
        "threadId": gid("Message", record.thread_id) if record.thread_id else None,
        "authorId": gid("User", record.author_id),
        "createdAt": view.created_at,
        "editedAt": view.edited_at,
        "text": await view.text(),
    }


async def _channels(part: _Part) -> AsyncIterator[bytes]:
    ctx, archive, workspace_id, prefix = part.ctx, part.archive, part.workspace_id, part.prefix
    listed: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = await channels.workspace_channels(ctx, workspace_id, _PAGE, after)
        for _, channel in page.edges:
            listed.append(
                {
                    "id": gid("Channel", channel.id),
                    "name": await channel.name(),
                    "topic": await channel.topic(),
                    "visibility": channel.visibility.value,
                    "archived": channel.record.archived,
                    "createdAt": channel.record.created_at,
                    "messages": f"{prefix}messages/{channel.id}.jsonl",
                }
            )
            async for chunk in _messages(part, channel):
                yield chunk
        if not page.has_next_page:
            break
        after = page.end_cursor
    archive.counts.add("channels", len(listed))
    archive.document(f"{prefix}channels.json", listed)
    yield archive.sink.take()


async def _messages(part: _Part, channel: channels.ChannelView) -> AsyncIterator[bytes]:
    ctx, archive, prefix, mine = part.ctx, part.archive, part.prefix, part.mine
    counts = archive.counts
    with archive.entry(f"{prefix}messages/{channel.id}.jsonl") as out:
        after: str | None = None
        while True:
            page = await messages.channel_messages(ctx, channel.access, _PAGE, after)
            for _, view in page.edges:
                threads = [view]
                if view.reply_count:
                    threads += await _all_replies(ctx, view)
                for message in threads:
                    if mine is not None and message.record.author_id != mine:
                        continue
                    line = _dumps(await _message_line(message)) + b"\n"
                    out.write(line)
                    counts.add("messages")
                    counts.bytes += len(line)
            yield archive.sink.take()
            await part.progress(counts)
            if not page.has_next_page:
                break
            after = page.end_cursor


async def _all_replies(
    ctx: RequestContext, parent: messages.MessageView
) -> list[messages.MessageView]:
    found: list[messages.MessageView] = []
    after: str | None = None
    while True:
        page = await messages.replies(ctx, parent, _PAGE, after)
        found += [view for _, view in page.edges]
        if not page.has_next_page:
            return found
        after = page.end_cursor


async def _files(part: _Part) -> AsyncIterator[bytes]:
    ctx, archive, prefix, mine = part.ctx, part.archive, part.prefix, part.mine
    counts = archive.counts
    listed: list[dict[str, Any]] = []
    taken: set[str] = set()
    folders: list[tuple[ItemView, str]] = [(await root_folder(ctx, part.workspace_id), "")]
    while folders:
        folder, path = folders.pop()
        after: str | None = None
        while True:
            page = await children(ctx, folder, _PAGE, after)
            for _, item in page.edges:
                if item.record.trashed_at is not None:
                    continue
                name = safe_name(await item.name(), item.id)
                if item.is_folder:
                    folders.append((item, f"{path}{name}/"))
                    continue
                if mine is not None and item.record.created_by != mine:
                    continue
                version = await item.current_version()
                if version is None:
                    continue
                entry = _unique(f"{prefix}files/{path}{name}", taken)
                download = await serve_version(ctx.services, item.access, version.record)
                with archive.stored_entry(entry, item.record.updated_at) as out:
                    async for data in _batches(download.body):
                        # CRC-32 of a batch releases the GIL: off the event loop.
                        await asyncio.to_thread(out.write, data)
                        counts.bytes += len(data)
                        yield archive.sink.take()
                        await part.progress(counts)
                counts.add("files")
                listed.append(
                    {
                        "id": gid("File", item.id),
                        "path": entry,
                        "size": version.record.size,
                        "contentType": await version.content_type(),
                        "sha256": await version.sha256(),
                        "createdBy": gid("User", item.record.created_by),
                        "createdAt": item.record.created_at,
                    }
                )
                await part.progress(counts)
            if not page.has_next_page:
                break
            after = page.end_cursor
    archive.document(f"{prefix}files.json", listed)
    yield archive.sink.take()


async def _calendars(
    ctx: RequestContext, archive: _Archive, workspace_id: str, prefix: str, mine: str | None
) -> None:
    listed: list[dict[str, Any]] = []
    taken: set[str] = set()
    for view in await calendars.workspace_calendars(ctx, workspace_id):
        if mine is not None and view.record.owner_id != mine:
            continue
        name = await view.name()
        entry = _unique(f"{prefix}calendars/{safe_name(name, view.id)}.ics", taken)
        text = (await calendar_ics.export_ics(ctx, view.access)).encode()
        with archive.entry(entry) as out:
            out.write(text)
        archive.counts.add("calendars")
        archive.counts.bytes += len(text)
        listed.append(
            {"id": gid("Calendar", view.id), "name": name, "color": view.record.color, "ics": entry}
        )
    archive.document(f"{prefix}calendars.json", listed)


async def _tasks(
    ctx: RequestContext, archive: _Archive, workspace_id: str, prefix: str, mine: str | None
) -> None:
    boards: list[dict[str, Any]] = []
    for board in await tasks.workspace_boards(ctx, workspace_id):
        lists: list[dict[str, Any]] = []
        for listing in await board.lists():
            items: list[dict[str, Any]] = []
            after: str | None = None
            while True:
                page = await listing.tasks(_PAGE, after)
                for _, task in page.edges:
                    record = task.record
                    if (
                        mine is not None
                        and mine not in record.assignees
                        and (record.created_by != mine)
                    ):
                        continue
                    items.append(
                        {
                            "id": gid("Task", task.id),
                            "title": await task.title(),
                            "description": await task.description(),
                            "labels": await task.labels(),
                            "status": record.status,
                            "dueAt": record.due_at,
                            "assignees": [gid("User", u) for u in record.assignees],
                            "createdBy": gid("User", record.created_by),
                        }
                    )
                    archive.counts.add("tasks")
                if not page.has_next_page:
                    break
                after = page.end_cursor
            lists.append(
                {"id": gid("TaskList", listing.id), "name": await listing.name(), "tasks": items}
            )
        boards.append({"id": gid("Board", board.id), "name": await board.name(), "lists": lists})
    archive.counts.add("boards", len(boards))
    archive.document(f"{prefix}tasks.json", boards)
