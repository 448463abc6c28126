"""Task boards: lists in order, tasks with assignees, due dates, labels, checklists and
comments, moved within and across lists (and boards of one workspace) by fractional index."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from fractional_indexing import generate_key_between as _between

from crypto.field_seal import FieldRef
from persistence.ids import new_id
from persistence.tasks import (
    BoardRecord,
    ChecklistItemRecord,
    CommentRecord,
    ListRecord,
    TaskRecord,
)
from resolvers.accounts import UserView
from resolvers.authz import BoardAccess, ChannelAccess, WorkspaceAccess, forbidden
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import AccessLevel, Role
from resolvers.users import fellow as person
from resolvers.validation import clean_name, clean_text
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
        from resolvers.channels import channel_access

        try:
            channel = await channel_access(ctx, board.channel_id)
        except CoveError:
            raise not_found("board") from None
    return ctx.services.authz.board(granted, board, channel)


async def get_board(ctx: RequestContext, board_id: str) -> BoardView:
    return BoardView(ctx, await board_access(ctx, board_id))


async def _list_in(ctx: RequestContext, list_id: str) -> tuple[BoardAccess, ListRecord]:
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
    access, item = await _list_in(ctx, list_id)
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


async def _writable_task(ctx: RequestContext, task_id: str) -> tuple[BoardAccess, TaskRecord]:
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


# Boards and lists: changes


async def create_board(
    ctx: RequestContext, workspace_id: str, channel_id: str | None, name: str
) -> BoardView:
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    if channel_id is not None:
        from resolvers.channels import channel_access

        channel = await channel_access(ctx, channel_id)
        if channel.channel.workspace_id != workspace_id:
            raise not_found("channel")
        if not channel.member:
            raise forbidden("Join the channel first.")
    elif granted.role is Role.GUEST:
        raise forbidden("Guests make boards in their channels only.")
    clean = clean_name(name, field="name", max_length=MAX_BOARD_NAME)
    board_id = new_id()
    now = services.clock()
    board = BoardRecord(
        board_id=board_id,
        workspace_id=workspace_id,
        channel_id=channel_id or "",
        name_sealed=await services.keys.seal_text(board_name_ref(board_id, workspace_id), clean),
        created_by=granted.principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await services.tasks.create_board(board)
    return await get_board(ctx, board_id)


async def update_board(
    ctx: RequestContext, board_id: str, name: str | None, archived: bool | None
) -> BoardView:
    services = ctx.services
    access = await board_access(ctx, board_id)
    services.authz.board_require(access, AccessLevel.MANAGE)
    values: dict[str, object] = {"updated_at": services.clock()}
    if name is not None:
        clean = clean_name(name, field="name", max_length=MAX_BOARD_NAME)
        ref = board_name_ref(board_id, access.board.workspace_id)
        values["name_sealed"] = await services.keys.seal_text(ref, clean)
    if archived is not None:
        values["archived"] = archived
    await services.tasks.update_board(board_id, values)
    await _publish(ctx, board_id, "board.changed", {"id": gid("Board", board_id)})
    return await get_board(ctx, board_id)


async def create_list(
    ctx: RequestContext, board_id: str, name: str, after_list_id: str | None
) -> ListView:
    services = ctx.services
    access = await board_access(ctx, board_id)
    services.authz.board_require(access, AccessLevel.WRITE)
    lists = await services.tasks.lists(board_id, limit=MAX_LISTS + 1)
    if len(lists) >= MAX_LISTS:
        raise bad_input(f"A board holds at most {MAX_LISTS} lists.")
    position = _list_position(lists, after_list_id, None)
    list_id = new_id()
    clean = clean_name(name, field="name", max_length=MAX_LIST_NAME)
    item = ListRecord(
        board_id=board_id,
        list_id=list_id,
        name_sealed=await services.keys.seal_text(
            list_name_ref(list_id, access.board.workspace_id), clean
        ),
        position=position,
        archived=False,
        created_at=services.clock(),
    )
    await services.tasks.put_list(item)
    await _publish(ctx, board_id, "list.created", {"id": gid("TaskList", list_id), "name": clean})
    return ListView(ctx, access, item)


def _list_position(lists: list[ListRecord], after_list_id: str | None, moving: str | None) -> str:
    others = [item for item in lists if item.list_id != moving]
    if after_list_id is None:
        first = others[0].position if others else None
        return generate_key_between(None, first)
    index = next((i for i, item in enumerate(others) if item.list_id == after_list_id), None)
    if index is None:
        raise not_found("list")
    following = others[index + 1].position if index + 1 < len(others) else None
    return generate_key_between(others[index].position, following)


async def update_list(
    ctx: RequestContext,
    list_id: str,
    *,
    name: str | None,
    archived: bool | None,
    move_after: str | None,
    move_first: bool,
) -> ListView:
    services = ctx.services
    access, item = await _list_in(ctx, list_id)
    services.authz.board_require(access, AccessLevel.WRITE)
    changed = item
    if name is not None:
        clean = clean_name(name, field="name", max_length=MAX_LIST_NAME)
        ref = list_name_ref(list_id, access.board.workspace_id)
        changed = replace(changed, name_sealed=await services.keys.seal_text(ref, clean))
    if archived is not None:
        changed = replace(changed, archived=archived)
    if move_after is not None or move_first:
        lists = await services.tasks.lists(item.board_id, limit=MAX_LISTS)
        changed = replace(changed, position=_list_position(lists, move_after, list_id))
    await services.tasks.put_list(changed)
    await _publish(ctx, item.board_id, "list.changed", {"id": gid("TaskList", list_id)})
    return ListView(ctx, access, changed)


# Tasks: changes


async def _check_assignees(
    ctx: RequestContext, workspace_id: str, user_ids: list[str]
) -> tuple[str, ...]:
    unique = list(dict.fromkeys(user_ids))
    if len(unique) > MAX_ASSIGNEES:
        raise bad_input(f"A task has at most {MAX_ASSIGNEES} assignees.", field="assigneeIds")
    if unique:
        memberships = await ctx.services.workspaces.memberships(workspace_id, unique)
        if any(m is None for m in memberships):
            raise bad_input("Assignees must be members of the workspace.", field="assigneeIds")
    return tuple(unique)


def _due(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise bad_input("Give the due time with a time zone offset.", field="dueAt")
    return value.astimezone(UTC)


async def create_task(
    ctx: RequestContext,
    list_id: str,
    *,
    title: str,
    description: str | None,
    due_at: datetime | None,
    assignee_ids: list[str],
    labels: list[str] | None,
) -> TaskView:
    services = ctx.services
    access, item = await _list_in(ctx, list_id)
    services.authz.board_require(access, AccessLevel.WRITE)
    ws = access.board.workspace_id
    task_id = new_id()
    now = services.clock()
    clean_title = clean_text(title, MAX_TITLE, "title", required=True)
    assert clean_title is not None
    clean_description = clean_text(description, MAX_DESCRIPTION, "description")
    clean = clean_labels(labels)
    task = TaskRecord(
        task_id=task_id,
        board_id=item.board_id,
        list_id=list_id,
        workspace_id=ws,
        position=generate_key_between(await services.tasks.last_in_list(list_id), None),
        title_sealed=await services.keys.seal_text(task_ref("title", task_id, ws), clean_title),
        description_sealed=None
        if clean_description is None
        else await services.keys.seal_text(task_ref("description", task_id, ws), clean_description),
        labels_sealed=None
        if not clean
        else await services.keys.seal_text(task_ref("labels", task_id, ws), json.dumps(clean)),
        status=TaskStatus.TODO.value,
        due_at=_due(due_at),
        assignees=await _check_assignees(ctx, ws, assignee_ids),
        created_by=access.workspace.principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await services.tasks.put_task(task)
    await services.search.task(task, clean_title, clean_description)
    await _publish_task(ctx, task, "task.created", clean_title)
    return TaskView(ctx, access, task)


async def _same_task(
    before: TaskView,
    after: TaskRecord,
    title: str | None,
    description: str | None,
    labels: list[str] | None,
) -> bool:
    """Whether an update asks for exactly what the task already is."""
    task = before.record
    plain = ("due_at", "assignees", "status", "completed_at", "archived")
    if any(getattr(task, name) != getattr(after, name) for name in plain):
        return False
    if title is not None and title != await before.title():
        return False
    if description is not None:
        cleaned = clean_text(description, MAX_DESCRIPTION, "description")
        if cleaned != await before.description():
            return False
    return labels is None or labels == await before.labels()


async def update_task(
    ctx: RequestContext,
    task_id: str,
    *,
    title: str | None,
    description: str | None,
    due_at: datetime | None,
    clear_due: bool,
    assignee_ids: list[str] | None,
    labels: list[str] | None,
    status: TaskStatus | None,
    archived: bool | None,
) -> TaskView:
    services = ctx.services
    access, task = await _writable_task(ctx, task_id)
    ws = task.workspace_id
    changed = replace(task, updated_at=services.clock())
    clean_title = None
    if title is not None:
        clean_title = clean_text(title, MAX_TITLE, "title", required=True)
        assert clean_title is not None
        ref = task_ref("title", task_id, ws)
        changed = replace(changed, title_sealed=await services.keys.seal_text(ref, clean_title))
    if description is not None:
        clean_description = clean_text(description, MAX_DESCRIPTION, "description")
        changed = replace(
            changed,
            description_sealed=None
            if clean_description is None
            else await services.keys.seal_text(
                task_ref("description", task_id, ws), clean_description
            ),
        )
    if clear_due:
        changed = replace(changed, due_at=None)
    elif due_at is not None:
        changed = replace(changed, due_at=_due(due_at))
    if assignee_ids is not None:
        changed = replace(changed, assignees=await _check_assignees(ctx, ws, assignee_ids))
    clean = clean_labels(labels)
    if clean is not None:
        changed = replace(
            changed,
            labels_sealed=None
            if not clean
            else await services.keys.seal_text(task_ref("labels", task_id, ws), json.dumps(clean)),
        )
    if status is not None:
        done = status is TaskStatus.DONE
        changed = replace(
            changed,
            status=status.value,
            completed_at=(task.completed_at or services.clock()) if done else None,
        )
    if archived is not None:
        changed = replace(changed, archived=archived)
    before = TaskView(ctx, access, task)
    if await _same_task(before, changed, clean_title, description, clean):
        return before  # nothing would change: no write, and nobody is told
    await services.tasks.put_task(changed, task)
    kind = (
        "task.completed" if status is TaskStatus.DONE and task.status != "DONE" else "task.changed"
    )
    view = TaskView(ctx, access, changed)
    if title is not None or description is not None:
        await services.search.task(changed, await view.title(), await view.description())
    await _publish_task(ctx, changed, kind, clean_title or await view.title())
    return view


async def move_task(
    ctx: RequestContext,
    task_id: str,
    list_id: str,
    after_task_id: str | None,
) -> TaskView:
    """Put a task in a list (of the same or another board of the workspace), just after
    `after_task_id`, or first when that is None. Only this task's rows change."""
    services = ctx.services
    access, task = await _writable_task(ctx, task_id)
    target_access, target = await _list_in(ctx, list_id)
    services.authz.board_require(target_access, AccessLevel.WRITE)
    if target_access.board.workspace_id != task.workspace_id:
        raise bad_input("A task moves between boards of one workspace only.", field="listId")
    if task.archived:
        raise bad_input("Unarchive the task before moving it.", field="taskId")
    if after_task_id is None:
        rows = await services.tasks.in_list(list_id, limit=2)
        first = next((p for p, t in rows if t != task_id), None)
        position = generate_key_between(None, first)
    else:
        if after_task_id == task_id:
            raise bad_input("A task cannot move after itself.", field="afterTaskId")
        anchor = await services.tasks.task(after_task_id)
        if anchor is None or anchor.list_id != list_id or anchor.archived:
            raise bad_input("`afterTaskId` must be a task of that list.", field="afterTaskId")
        following = await services.tasks.position_after(list_id, anchor.position, anchor.task_id)
        if following == task.position and task.list_id == list_id:
            return TaskView(ctx, access, task)  # already there
        if following is not None and following == anchor.position:
            # Two tasks added to a list's end at the same moment can share a position; a key
            # strictly between equal keys does not exist, so go just after both.
            following = None
        position = generate_key_between(anchor.position, following)
    moved = replace(
        task,
        list_id=list_id,
        board_id=target.board_id,
        position=position,
        updated_at=services.clock(),
    )
    await services.tasks.put_task(moved, task)
    view = TaskView(ctx, target_access, moved)
    title = await view.title()
    await _publish_task(ctx, moved, "task.moved", title)
    if moved.board_id != task.board_id:
        await _publish(ctx, task.board_id, "task.removed", {"id": gid("Task", task_id)})
    return view


async def delete_task(ctx: RequestContext, task_id: str) -> None:
    services = ctx.services
    _, task = await _writable_task(ctx, task_id)
    await services.tasks.delete_task(task)
    await services.search.remove(task.workspace_id, "task", task_id)
    await _publish(ctx, task.board_id, "task.deleted", {"id": gid("Task", task_id)})


async def add_checklist_item(ctx: RequestContext, task_id: str, text: str) -> TaskView:
    services = ctx.services
    access, task = await _writable_task(ctx, task_id)
    if len(await services.tasks.checklist(task_id)) >= MAX_CHECKLIST:
        raise bad_input(f"A checklist holds at most {MAX_CHECKLIST} items.")
    clean = clean_text(text, MAX_CHECK_TEXT, "text", required=True)
    assert clean is not None
    item_id = new_id()
    sealed = await services.keys.seal_text(
        task_ref(f"check {item_id}", task_id, task.workspace_id), clean
    )
    await services.tasks.put_checklist_item(ChecklistItemRecord(task_id, item_id, sealed, False))
    await _publish_task(ctx, task, "task.changed", None)
    return TaskView(ctx, access, task)


async def update_checklist_item(
    ctx: RequestContext,
    task_id: str,
    *,
    item_id: str,
    text: str | None,
    done: bool | None,
    remove: bool,
) -> TaskView:
    services = ctx.services
    access, task = await _writable_task(ctx, task_id)
    current = next(
        (i for i in await services.tasks.checklist(task_id) if i.item_id == item_id), None
    )
    if current is None:
        raise not_found("checklist item")
    if remove:
        await services.tasks.delete_checklist_item(task_id, item_id)
    else:
        changed = current
        if text is not None:
            clean = clean_text(text, MAX_CHECK_TEXT, "text", required=True)
            assert clean is not None
            ref = task_ref(f"check {item_id}", task_id, task.workspace_id)
            changed = replace(changed, text_sealed=await services.keys.seal_text(ref, clean))
        if done is not None:
            changed = replace(changed, done=done)
        await services.tasks.put_checklist_item(changed)
    await _publish_task(ctx, task, "task.changed", None)
    return TaskView(ctx, access, task)


async def add_comment(ctx: RequestContext, task_id: str, text: str) -> TaskView:
    """Comment on a task: anyone who may read the board."""
    services = ctx.services
    access, task = await task_access(ctx, task_id)
    clean = clean_text(text, MAX_COMMENT, "text", required=True)
    assert clean is not None
    comment_id = new_id()
    ref = task_ref(f"comment {comment_id}", task_id, task.workspace_id)
    comment = CommentRecord(
        task_id=task_id,
        comment_id=comment_id,
        author_id=access.workspace.principal.user_id,
        text_sealed=await services.keys.seal_text(ref, clean),
        created_at=services.clock(),
    )
    await services.tasks.add_comment(comment)
    await _publish(
        ctx,
        task.board_id,
        "task.commented",
        {
            "id": gid("Task", task_id),
            "commentId": gid("TaskComment", f"{task_id}.{comment_id}"),
            "text": clean,
        },
    )
    return TaskView(ctx, access, task)


# Realtime


async def _publish(ctx: RequestContext, board_id: str, type_: str, data: dict[str, object]) -> None:
    await ctx.services.events.publish(gid("Board", board_id), type_, data)


async def _publish_task(
    ctx: RequestContext, task: TaskRecord, type_: str, title: str | None
) -> None:
    data: dict[str, object] = {
        "id": gid("Task", task.task_id),
        "listId": gid("TaskList", task.list_id),
        "position": task.position,
        "status": task.status,
    }
    if title is not None:
        data["title"] = title
    await _publish(ctx, task.board_id, type_, data)
