"""Task boards: lists in order, tasks with assignees, due dates, labels, checklists and
comments, moved within and across lists (and boards of one workspace) by fractional index.

Here: views, access, listing and the realtime notices; the writes are in `resolvers.task_boards`
(boards and lists) and `resolvers.task_changes` (tasks, checklists, comments)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fractional_indexing import generate_key_between as _between

from crypto.field_seal import FieldRef
from persistence.tasks import (
    BoardRecord,
    ListRecord,
    TaskRecord,
)
from resolvers.accounts import UserView
from resolvers.authz import BoardAccess, ChannelAccess, WorkspaceAccess
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import BoardNotice
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import AccessLevel
from resolvers.users import fellow as person
from resolvers.validation import clean_name
from resolvers.workspaces import WorkspaceView
from resolvers.workspaces import access as workspace_access
from resolvers.workspaces import view as workspace_view

MAX_BOARD_NAME = 100
MAX_LIST_NAME = 100
MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_LABELS = 20
MAX_LABEL = 50
MAX_ASSIGNEES = 20
MAX_CHECKLIST = 200
MAX_CHECK_TEXT = 500
MAX_COMMENT = 10_000
MAX_LISTS = 100
MAX_BOARDS = 500
MAX_AGENDA_TASKS = 1000


class TaskStatus(StrEnum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


def board_name_ref(board_id: str, workspace_id: str) -> FieldRef:
    return FieldRef("board", "name", board_id, workspace_id)


def list_name_ref(list_id: str, workspace_id: str) -> FieldRef:
    return FieldRef("task_list", "name", list_id, workspace_id)


def task_ref(field: str, task_id: str, workspace_id: str) -> FieldRef:
    """`title`, `description`, `labels`, `check <item id>` or `comment <comment id>`."""
    return FieldRef("task", field, task_id, workspace_id)


def generate_key_between(before: str | None, after: str | None) -> str:
    """A position strictly between two (None: an end of the list), from fractional-indexing."""
    return str(_between(before, after))


def clean_labels(labels: list[str] | None) -> list[str] | None:
    if labels is None:
        return None
    if len(labels) > MAX_LABELS:
        raise bad_input(f"A task has at most {MAX_LABELS} labels.", field="labels")
    cleaned = [clean_name(label, field="labels", max_length=MAX_LABEL) for label in labels]
    return list(dict.fromkeys(cleaned))


# Views


@dataclass(frozen=True)
class CommentView:
    task_id: str
    comment_id: str
    author_id: str
    text: str
    created_at: datetime


class BoardView:
    def __init__(self, ctx: RequestContext, access: BoardAccess) -> None:
        self.access = access
        self.record = access.board
        self._ctx = ctx

    @property
    def id(self) -> str:
        return self.record.board_id

    async def name(self) -> str:
        grant = self._ctx.services.authz.board_grant(self.access)
        ref = board_name_ref(self.id, self.record.workspace_id)
        return await self._ctx.services.keys.open_text(grant, ref, self.record.name_sealed)

    async def lists(self) -> list[ListView]:
        rows = await self._ctx.services.tasks.lists(self.id, limit=MAX_LISTS)
        return [ListView(self._ctx, self.access, row) for row in rows if not row.archived]

    def workspace(self) -> WorkspaceView:
        return workspace_view(self._ctx, self.access.workspace)


class ListView:
    def __init__(self, ctx: RequestContext, access: BoardAccess, record: ListRecord) -> None:
        self.access = access
        self.record = record
        self._ctx = ctx

    @property
    def id(self) -> str:
        return self.record.list_id

    async def name(self) -> str:
        grant = self._ctx.services.authz.list_grant(self.access, self.record)
        ref = list_name_ref(self.id, self.access.board.workspace_id)
        return await self._ctx.services.keys.open_text(grant, ref, self.record.name_sealed)

    async def tasks(self, first: int, after: str | None) -> Page[TaskView]:
        check_first(first)
        cursor = decode_cursor(after, 2)
        rows = await self._ctx.services.tasks.in_list(
            self.id,
            limit=first + 1,
            after=None if cursor is None else (str(cursor[0]), str(cursor[1])),
        )
        records = await self._ctx.services.tasks.tasks([t for _, t in rows[:first]])
        ws = self.access.board.workspace_id
        await self._ctx.services.keys.preload(ws, (r.title_sealed for r in records if r))
        edges = [
            (encode_cursor([r.position, r.task_id]), TaskView(self._ctx, self.access, r))
            for r in records
            if r is not None and r.list_id == self.id
        ]
        return Page(edges, len(rows) > first)


class TaskView:
    def __init__(self, ctx: RequestContext, access: BoardAccess, record: TaskRecord) -> None:
        self.access = access
        self.record = record
        self._ctx = ctx
        self._grant = ctx.services.authz.task_grant(access, record)

    @property
    def id(self) -> str:
        return self.record.task_id

    async def _open(self, field: str, sealed: bytes | None) -> str | None:
        if sealed is None:
            return None
        ref = task_ref(field, self.id, self.record.workspace_id)
        return await self._ctx.services.keys.open_text(self._grant, ref, sealed)

    def title_ready(self) -> str | None:
        ref = task_ref("title", self.id, self.record.workspace_id)
        return self._ctx.services.keys.open_text_now(self._grant, ref, self.record.title_sealed)

    async def title(self) -> str:
        return await self._open("title", self.record.title_sealed) or ""

    async def description(self) -> str | None:
        return await self._open("description", self.record.description_sealed)

    async def labels(self) -> list[str]:
        raw = await self._open("labels", self.record.labels_sealed)
        return [] if raw is None else list(json.loads(raw))

    def assignees(self) -> list[UserView]:
        return [person(self._ctx, self.access.workspace, u) for u in self.record.assignees]

    async def checklist(self) -> list[tuple[str, str, bool]]:
        rows = await self._ctx.services.tasks.checklist(self.id)
        return [
            (row.item_id, await self._open(f"check {row.item_id}", row.text_sealed) or "", row.done)
            for row in rows
        ]

    async def comments(self, first: int, after: str | None) -> Page[CommentView]:
        check_first(first)
        cursor = decode_cursor(after, 1)
        rows = await self._ctx.services.tasks.comments(
            self.id, limit=first + 1, after_comment_id=None if cursor is None else str(cursor[0])
        )
        edges = []
        for row in rows[:first]:
            text = await self._open(f"comment {row.comment_id}", row.text_sealed) or ""
            view = CommentView(row.task_id, row.comment_id, row.author_id, text, row.created_at)
            edges.append((encode_cursor([row.comment_id]), view))
        return Page(edges, len(rows) > first)

    async def list_view(self) -> ListView | None:
        item = await self._ctx.services.tasks.get_list(self.record.board_id, self.record.list_id)
        return None if item is None else ListView(self._ctx, self.access, item)

    def board(self) -> BoardView:
        return BoardView(self._ctx, self.access)

    def created_by(self) -> UserView:
        return person(self._ctx, self.access.workspace, self.record.created_by)

    def comment_author(self, comment: CommentView) -> UserView:
        return person(self._ctx, self.access.workspace, comment.author_id)


# Access


async def board_access(ctx: RequestContext, board_id: str) -> BoardAccess:
    await ctx.require_user()
    board = await ctx.services.tasks.board(board_id)
    if board is None:
        raise not_found("board")
    try:
        granted = await workspace_access(ctx, board.workspace_id)
    except CoveError:
        raise not_found("board") from None
    return await _board_in(ctx, granted, board)


async def _board_in(
    ctx: RequestContext, granted: WorkspaceAccess, board: BoardRecord
) -> BoardAccess:
    channel: ChannelAccess | None = None
    if board.channel_id:
        try:
            channel = await channel_access(ctx, board.channel_id)
        except CoveError:
            raise not_found("board") from None
    return ctx.services.authz.board(granted, board, channel)


async def get_board(ctx: RequestContext, board_id: str) -> BoardView:
    return BoardView(ctx, await board_access(ctx, board_id))


async def list_access(ctx: RequestContext, list_id: str) -> tuple[BoardAccess, ListRecord]:
    await ctx.require_user()
    board_id = await ctx.services.tasks.list_board(list_id)
    if board_id is None:
        raise not_found("list")
    try:
        access = await board_access(ctx, board_id)
    except CoveError:
        raise not_found("list") from None
    item = await ctx.services.tasks.get_list(board_id, list_id)
    if item is None:
        raise not_found("list")
    return access, item


async def get_list(ctx: RequestContext, list_id: str) -> ListView:
    access, item = await list_access(ctx, list_id)
    return ListView(ctx, access, item)


async def task_access(ctx: RequestContext, task_id: str) -> tuple[BoardAccess, TaskRecord]:
    await ctx.require_user()
    task = await ctx.services.tasks.task(task_id)
    if task is None:
        raise not_found("task")
    try:
        access = await board_access(ctx, task.board_id)
    except CoveError:
        raise not_found("task") from None
    return access, task


async def get_task(ctx: RequestContext, task_id: str) -> TaskView:
    access, task = await task_access(ctx, task_id)
    return TaskView(ctx, access, task)


async def writable_task(ctx: RequestContext, task_id: str) -> tuple[BoardAccess, TaskRecord]:
    access, task = await task_access(ctx, task_id)
    ctx.services.authz.board_require(access, AccessLevel.WRITE)
    return access, task


# Listing


async def workspace_boards(ctx: RequestContext, workspace_id: str) -> list[BoardView]:
    granted = await workspace_access(ctx, workspace_id)
    ids = await ctx.services.tasks.boards_in_workspace(workspace_id, limit=MAX_BOARDS)
    return await _visible(ctx, granted, ids)


async def channel_boards(ctx: RequestContext, channel: ChannelAccess) -> list[BoardView]:
    ids = await ctx.services.tasks.boards_in_channel(channel.channel_id, limit=MAX_BOARDS)
    return await _visible(ctx, channel.workspace, ids)


async def _visible(
    ctx: RequestContext, granted: WorkspaceAccess, ids: list[str]
) -> list[BoardView]:
    views = []
    for board in await ctx.services.tasks.boards(ids):
        if board is None or board.archived:
            continue
        try:
            views.append(BoardView(ctx, await _board_in(ctx, granted, board)))
        except CoveError:
            continue
    return views


async def due_tasks(ctx: RequestContext, start: datetime, end: datetime) -> list[TaskView]:
    """Open tasks assigned to the caller and due in [start, end), by due time."""
    caller = await ctx.require_user()
    rows = await ctx.services.tasks.due_for(caller.user_id, start, end, limit=MAX_AGENDA_TASKS)
    views = []
    for task in await ctx.services.tasks.tasks([t for t, _ in rows]):
        if task is None:
            continue
        try:
            access = await board_access(ctx, task.board_id)
        except CoveError:
            continue  # no longer theirs to see
        views.append(TaskView(ctx, access, task))
    return views


# Realtime


async def publish(
    ctx: RequestContext, board_id: str, type_: BoardNotice, data: dict[str, object]
) -> None:
    await ctx.services.notices.publish(gid("Board", board_id), type_, data)


async def publish_task(
    ctx: RequestContext, task: TaskRecord, type_: BoardNotice, title: str | None
) -> None:
    data: dict[str, object] = {
        "id": gid("Task", task.task_id),
        "listId": gid("TaskList", task.list_id),
        "position": task.position,
        "status": task.status,
    }
    if title is not None:
        data["title"] = title
    await publish(ctx, task.board_id, type_, data)


async def save_task(
    ctx: RequestContext,
    access: BoardAccess,
    task: TaskRecord,
    previous: TaskRecord | None,
    type_: BoardNotice,
    *,
    title: str | None = None,
    index: bool = False,
) -> TaskView:
    """The tail of a task write: store the task, view it, index its title and description
    for search when they changed (`index`), and publish `type_` with its title (`title`,
    or read from the view)."""
    services = ctx.services
    entries = [services.indexer.entry(task.workspace_id, "task", task.task_id)] if index else []
    await services.tasks.put_task(task, previous, entries)
    services.indexer.queued()
    view = TaskView(ctx, access, task)
    await publish_task(ctx, task, type_, title if title is not None else await view.title())
    return view
