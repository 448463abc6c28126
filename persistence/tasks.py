"""Task boards: boards, lists (columns), tasks in order, checklist items and comments.

Order within a list is a fractional index (a string between its neighbours' strings), the
clustering key of `tasks_by_list`: a move rewrites one task's rows, never its neighbours'.
Titles, descriptions, labels, checklist items and comments are sealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from persistence.declare import Column, ColumnType, Order, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_EPSILON = timedelta(milliseconds=1)
_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_BOOL = ColumnType.BOOLEAN

BOARDS = Table(
    name="boards",
    partition_key=(Column("board_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("channel_id", _TEXT),  # empty for a workspace board
        Column("name_sealed", _BLOB),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
        Column("archived", _BOOL),
    ),
)

BOARDS_BY_WORKSPACE = Table(
    name="boards_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("board_id", _TEXT),),
    values=(Column("channel_id", _TEXT),),
)

BOARDS_BY_CHANNEL = Table(
    name="boards_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("board_id", _TEXT),),
    values=(),
)

TASK_LISTS = Table(
    name="task_lists",
    partition_key=(Column("board_id", _TEXT),),
    clustering=(Column("list_id", _TEXT),),
    values=(
        Column("name_sealed", _BLOB),
        Column("position", _TEXT),
        Column("archived", _BOOL),
        Column("created_at", _TIME),
    ),
)

# Where a list lives, for node(id) and moves.
LIST_LOCATIONS = Table(
    name="list_locations",
    partition_key=(Column("list_id", _TEXT),),
    values=(Column("board_id", _TEXT),),
)

TASKS = Table(
    name="tasks",
    partition_key=(Column("task_id", _TEXT),),
    values=(
        Column("board_id", _TEXT),
        Column("list_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("position", _TEXT),
        Column("title_sealed", _BLOB),
        Column("description_sealed", _BLOB),
        Column("labels_sealed", _BLOB),
        Column("status", _TEXT),
        Column("due_at", _TIME),
        Column("assignees", _TEXT),  # space-separated user ids
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
        Column("completed_at", _TIME),
        Column("archived", _BOOL),
    ),
)

TASKS_BY_LIST = Table(
    name="tasks_by_list",
    partition_key=(Column("list_id", _TEXT),),
    clustering=(Column("position", _TEXT), Column("task_id", _TEXT)),
    values=(),
)

ARCHIVED_TASKS = Table(
    name="archived_tasks",
    partition_key=(Column("board_id", _TEXT),),
    clustering=(Column("task_id", _TEXT),),
    order=Order.DESC,
    values=(),
)

TASKS_DUE_BY_ASSIGNEE = Table(
    name="tasks_due_by_assignee",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("due_at", _TIME), Column("task_id", _TEXT)),
    values=(Column("board_id", _TEXT),),
)

CHECKLIST_ITEMS = Table(
    name="checklist_items",
    partition_key=(Column("task_id", _TEXT),),
    clustering=(Column("item_id", _TEXT),),
    values=(Column("text_sealed", _BLOB), Column("done", _BOOL)),
)

TASK_COMMENTS = Table(
    name="task_comments",
    partition_key=(Column("task_id", _TEXT),),
    clustering=(Column("comment_id", _TEXT),),
    values=(Column("author_id", _TEXT), Column("text_sealed", _BLOB), Column("created_at", _TIME)),
)

TASK_TABLES = (
    BOARDS,
    BOARDS_BY_WORKSPACE,
    BOARDS_BY_CHANNEL,
    TASK_LISTS,
    LIST_LOCATIONS,
    TASKS,
    TASKS_BY_LIST,
    ARCHIVED_TASKS,
    TASKS_DUE_BY_ASSIGNEE,
    CHECKLIST_ITEMS,
    TASK_COMMENTS,
)


@dataclass(frozen=True, slots=True)
class BoardRecord:
    board_id: str
    workspace_id: str
    channel_id: str
    name_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ListRecord:
    board_id: str
    list_id: str
    name_sealed: bytes
    position: str
    archived: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TaskRecord:
    task_id: str
    board_id: str
    list_id: str
    workspace_id: str
    position: str
    title_sealed: bytes
    description_sealed: bytes | None
    labels_sealed: bytes | None
    status: str
    due_at: datetime | None
    assignees: tuple[str, ...]
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ChecklistItemRecord:
    task_id: str
    item_id: str
    text_sealed: bytes
    done: bool


@dataclass(frozen=True, slots=True)
class CommentRecord:
    task_id: str
    comment_id: str
    author_id: str
    text_sealed: bytes
    created_at: datetime


def _task(row: dict[str, object]) -> TaskRecord:
    assignees = tuple(str(row.get("assignees") or "").split())
    return from_row(
        TaskRecord, {**row, "assignees": assignees, "archived": bool(row.get("archived"))}
    )


def _task_row(task: TaskRecord) -> dict[str, object]:
    row = to_row(task)
    row["assignees"] = " ".join(task.assignees)
    return row


def _placement_ops(task: TaskRecord, *, delete: bool) -> list[Put | Delete | Update]:
    """The rows that place a task: in its list (unless archived) and in assignees' agendas."""
    ops: list[Put | Delete | Update] = []
    if task.archived:
        key = {"board_id": task.board_id, "task_id": task.task_id}
        ops.append(Delete(ARCHIVED_TASKS, key) if delete else Put(ARCHIVED_TASKS, key))
    else:
        key = {"list_id": task.list_id, "position": task.position, "task_id": task.task_id}
        ops.append(Delete(TASKS_BY_LIST, key) if delete else Put(TASKS_BY_LIST, key))
    if task.due_at is not None and task.status != "DONE" and not task.archived:
        for user_id in task.assignees:
            due = {"user_id": user_id, "due_at": task.due_at, "task_id": task.task_id}
            ops.append(
                Delete(TASKS_DUE_BY_ASSIGNEE, due)
                if delete
                else Put(TASKS_DUE_BY_ASSIGNEE, {**due, "board_id": task.board_id})
            )
    return ops


class TaskRepository:
    """Board, list and task rows; their text stays sealed bytes here."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Boards

    async def create_board(self, board: BoardRecord) -> None:
        ops: list[Put | Delete | Update] = [
            Put(BOARDS, to_row(board)),
            Put(BOARDS_BY_WORKSPACE, to_row(board, "workspace_id", "board_id", "channel_id")),
        ]
        if board.channel_id:
            ops.append(
                Put(BOARDS_BY_CHANNEL, {"channel_id": board.channel_id, "board_id": board.board_id})
            )
        await self._store.batch(ops)

    async def board(self, board_id: str) -> BoardRecord | None:
        row = await self._store.get(BOARDS, {"board_id": board_id})
        return None if row is None else from_row(BoardRecord, row)

    async def boards(self, board_ids: Sequence[str]) -> list[BoardRecord | None]:
        rows = await self._store.get_many(BOARDS, [{"board_id": b} for b in board_ids])
        return [None if row is None else from_row(BoardRecord, row) for row in rows]

    async def update_board(self, board_id: str, values: dict[str, object]) -> None:
        await self._store.update(BOARDS, {"board_id": board_id}, values)

    async def boards_in_workspace(self, workspace_id: str, *, limit: int) -> list[str]:
        rows = await self._store.scan(
            BOARDS_BY_WORKSPACE, {"workspace_id": workspace_id}, limit=limit
        )
        return [row["board_id"] for row in rows]

    async def boards_in_channel(self, channel_id: str, *, limit: int) -> list[str]:
        rows = await self._store.scan(BOARDS_BY_CHANNEL, {"channel_id": channel_id}, limit=limit)
        return [row["board_id"] for row in rows]

    # Lists

    async def lists(self, board_id: str, *, limit: int) -> list[ListRecord]:
        """A board's lists in their order."""
        rows = await self._store.scan(TASK_LISTS, {"board_id": board_id}, limit=limit)
        lists = [from_row(ListRecord, row) for row in rows]
        return sorted(lists, key=lambda item: (item.position, item.list_id))

    async def list_board(self, list_id: str) -> str | None:
        row = await self._store.get(LIST_LOCATIONS, {"list_id": list_id})
        return None if row is None else str(row["board_id"])

    async def get_list(self, board_id: str, list_id: str) -> ListRecord | None:
        row = await self._store.get(TASK_LISTS, {"board_id": board_id, "list_id": list_id})
        return None if row is None else from_row(ListRecord, row)

    async def put_list(self, item: ListRecord) -> None:
        await self._store.batch(
            [
                Put(TASK_LISTS, to_row(item)),
                Put(LIST_LOCATIONS, {"list_id": item.list_id, "board_id": item.board_id}),
            ]
        )

    # Tasks

    async def task(self, task_id: str) -> TaskRecord | None:
        row = await self._store.get(TASKS, {"task_id": task_id})
        return None if row is None else _task(row)

    async def tasks(self, task_ids: Sequence[str]) -> list[TaskRecord | None]:
        rows = await self._store.get_many(TASKS, [{"task_id": t} for t in task_ids])
        return [None if row is None else _task(row) for row in rows]

    async def in_list(
        self, list_id: str, *, limit: int, after: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """(position, task id) of a list's tasks in order."""
        rows = await self._store.scan(TASKS_BY_LIST, {"list_id": list_id}, limit=limit, after=after)
        return [(row["position"], row["task_id"]) for row in rows]

    async def last_in_list(self, list_id: str) -> str | None:
        rows = await self._store.scan(TASKS_BY_LIST, {"list_id": list_id}, limit=1, reverse=True)
        return None if not rows else str(rows[0]["position"])

    async def position_after(self, list_id: str, position: str, task_id: str) -> str | None:
        """The position of the task right after this one in its list, if any."""
        rows = await self._store.scan(
            TASKS_BY_LIST, {"list_id": list_id}, limit=1, after=(position, task_id)
        )
        return str(rows[0]["position"]) if rows else None

    async def put_task(
        self, task: TaskRecord, previous: TaskRecord | None = None, also: Sequence[Put] = ()
    ) -> None:
        """Write a task (new or changed), moving its placement rows if they changed, with
        `also` (its search outbox entry) in the same batch."""
        ops: list[Put | Delete | Update] = []
        if previous is not None:
            ops += _placement_ops(previous, delete=True)
        ops += [Put(TASKS, _task_row(task)), *_placement_ops(task, delete=False), *also]
        await self._store.batch(ops)

    async def delete_task(self, task: TaskRecord, also: Sequence[Put] = ()) -> None:
        await self._store.batch(
            [Delete(TASKS, {"task_id": task.task_id}), *_placement_ops(task, delete=True), *also]
        )
        await self._store.delete_partition(CHECKLIST_ITEMS, {"task_id": task.task_id})
        await self._store.delete_partition(TASK_COMMENTS, {"task_id": task.task_id})

    async def archived(self, board_id: str, *, limit: int) -> list[str]:
        rows = await self._store.scan(ARCHIVED_TASKS, {"board_id": board_id}, limit=limit)
        return [row["task_id"] for row in rows]

    async def due_for(
        self, user_id: str, start: datetime, end: datetime, *, limit: int
    ) -> list[tuple[str, datetime]]:
        """(task id, due time) of open tasks assigned to a person, due in [start, end)."""
        rows = await self._store.scan(
            TASKS_DUE_BY_ASSIGNEE,
            {"user_id": user_id},
            limit=limit,
            after=(start - _EPSILON, "~"),
            before=(end, ""),
        )
        return [(row["task_id"], row["due_at"]) for row in rows]

    # Checklists and comments

    async def checklist(self, task_id: str) -> list[ChecklistItemRecord]:
        rows = await self._store.scan(CHECKLIST_ITEMS, {"task_id": task_id}, limit=1000)
        return [from_row(ChecklistItemRecord, row) for row in rows]

    async def put_checklist_item(self, item: ChecklistItemRecord) -> None:
        await self._store.put(CHECKLIST_ITEMS, to_row(item))

    async def delete_checklist_item(self, task_id: str, item_id: str) -> None:
        await self._store.delete(CHECKLIST_ITEMS, {"task_id": task_id, "item_id": item_id})

    async def comments(
        self, task_id: str, *, limit: int, after_comment_id: str | None = None
    ) -> list[CommentRecord]:
        rows = await self._store.scan(
            TASK_COMMENTS,
            {"task_id": task_id},
            limit=limit,
            after=None if after_comment_id is None else (after_comment_id,),
        )
        return [from_row(CommentRecord, row) for row in rows]

    async def add_comment(self, comment: CommentRecord) -> None:
        await self._store.put(TASK_COMMENTS, to_row(comment))
