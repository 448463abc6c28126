"""Task boards, lists, tasks, checklists and comments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import tasks
from resolvers.errors import not_found
from resolvers.tasks import BoardView, CommentView, ListView, TaskView
from resolvers.tasks import TaskStatus as TaskStatusValue
from schema.accounts import User
from schema.context import request_context
from schema.drive import AccessLevel
from schema.relay import Connection, Node, connection_from_page, expect_id, to_global_id

if TYPE_CHECKING:
    from schema.channels import Channel
    from schema.workspaces import Workspace

DEFAULT_PAGE = 50

TaskStatus = strawberry.enum(TaskStatusValue, name="TaskStatus")


@strawberry.type(description="A board of task lists, for a workspace or for one channel.")
class Board(Node):
    view: strawberry.Private[BoardView]

    @classmethod
    def from_view(cls, view: BoardView) -> Board:
        return cls(id=to_global_id("Board", view.id), view=view)

    @strawberry.field
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field
    def archived(self) -> bool:
        return self.view.record.archived

    @strawberry.field
    def viewer_level(self) -> AccessLevel:  # type: ignore[valid-type]
        return self.view.access.level

    @strawberry.field
    def workspace(self) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        return Workspace.from_view(self.view.workspace())

    @strawberry.field(description="The channel the board belongs to; null for a workspace board.")
    async def channel(
        self, info: Info[Any, Any]
    ) -> Annotated[Channel, strawberry.lazy("schema.channels")] | None:
        from resolvers.channels import get_channel
        from schema.channels import Channel

        if not self.view.record.channel_id:
            return None
        return Channel.from_view(
            await get_channel(request_context(info), self.view.record.channel_id)
        )

    @strawberry.field(description="The lists (columns), in order; archived ones left out.")
    async def lists(self) -> list[TaskList]:
        return [TaskList.from_view(v) for v in await self.view.lists()]


@strawberry.type(description="A list (column) of a board, holding tasks in order.")
class TaskList(Node):
    view: strawberry.Private[ListView]

    @classmethod
    def from_view(cls, view: ListView) -> TaskList:
        return cls(id=to_global_id("TaskList", view.id), view=view)

    @strawberry.field
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field
    def archived(self) -> bool:
        return self.view.record.archived

    @strawberry.field(description="Tasks in order (archived ones left out).")
    async def tasks(self, first: int = DEFAULT_PAGE, after: str | None = None) -> Connection[Task]:
        return connection_from_page(await self.view.tasks(first, after), Task.from_view)


@strawberry.type(description="One item of a task's checklist.")
class ChecklistItem:
    id: strawberry.ID
    text: str
    done: bool


@strawberry.type(description="A comment on a task.")
class TaskComment:
    id: strawberry.ID
    text: str
    author: User
    created_at: datetime


@strawberry.type(description="A task.")
class Task(Node):
    view: strawberry.Private[TaskView]

    @classmethod
    def from_view(cls, view: TaskView) -> Task:
        return cls(id=to_global_id("Task", view.id), view=view)

    @strawberry.field
    def title(self) -> str:
        ready = self.view.title_ready()
        return ready if ready is not None else self.view.title()  # type: ignore[return-value]

    @strawberry.field
    async def description(self) -> str | None:
        return await self.view.description()

    @strawberry.field
    def status(self) -> TaskStatus:  # type: ignore[valid-type]
        return TaskStatusValue(self.view.record.status)

    @strawberry.field
    def due_at(self) -> datetime | None:
        return self.view.record.due_at

    @strawberry.field
    def completed_at(self) -> datetime | None:
        return self.view.record.completed_at

    @strawberry.field
    def archived(self) -> bool:
        return self.view.record.archived

    @strawberry.field(description="Its place in its list: order by it, as text.")
    def position(self) -> str:
        return self.view.record.position

    @strawberry.field
    def assignees(self) -> list[User]:
        return [User.from_view(u) for u in self.view.assignees()]

    @strawberry.field
    async def labels(self) -> list[str]:
        return await self.view.labels()

    @strawberry.field
    async def checklist(self) -> list[ChecklistItem]:
        items = await self.view.checklist()
        return [
            ChecklistItem(id=to_global_id("ChecklistItem", f"{self.view.id}.{i}"), text=t, done=d)
            for i, t, d in items
        ]

    @strawberry.field(description="Comments, oldest first.")
    async def comments(self, first: int = 20, after: str | None = None) -> Connection[TaskComment]:
        page = await self.view.comments(first, after)

        def convert(row: CommentView) -> TaskComment:
            return TaskComment(
                id=to_global_id("TaskComment", f"{row.task_id}.{row.comment_id}"),
                text=row.text,
                author=User.from_view(self.view.comment_author(row)),
                created_at=row.created_at,
            )

        return connection_from_page(page, convert)

    @strawberry.field
    async def list(self) -> TaskList | None:
        found = await self.view.list_view()
        return None if found is None else TaskList.from_view(found)

    @strawberry.field
    def board(self) -> Board:
        return Board.from_view(self.view.board())

    @strawberry.field
    def created_by(self) -> User:
        return User.from_view(self.view.created_by())

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.view.record.updated_at


async def load_board(info: Info[Any, Any], raw_id: str) -> Board:
    return Board.from_view(await tasks.get_board(request_context(info), raw_id))


async def load_list(info: Info[Any, Any], raw_id: str) -> TaskList:
    return TaskList.from_view(await tasks.get_list(request_context(info), raw_id))


async def load_task(info: Info[Any, Any], raw_id: str) -> Task:
    return Task.from_view(await tasks.get_task(request_context(info), raw_id))


async def workspace_boards(info: Info[Any, Any], workspace_id: str) -> list[Board]:
    return [
        Board.from_view(v)
        for v in await tasks.workspace_boards(request_context(info), workspace_id)
    ]


async def due_tasks(info: Info[Any, Any], start: datetime, end: datetime) -> list[Task]:
    return [Task.from_view(v) for v in await tasks.due_tasks(request_context(info), start, end)]


# Mutations


@strawberry.input
class CreateBoardInput:
    workspace_id: strawberry.ID
    channel_id: strawberry.ID | None = strawberry.field(
        default=None, description="Make it the board of this channel."
    )
    name: str = strawberry.field(description="1 to 100 characters.")


@strawberry.input
class UpdateBoardInput:
    board_id: strawberry.ID
    name: str | None = None
    archived: bool | None = None


@strawberry.input
class CreateTaskListInput:
    board_id: strawberry.ID
    name: str
    after_list_id: strawberry.ID | None = strawberry.field(
        default=None, description="Place it after this list; first when left out."
    )


@strawberry.input
class UpdateTaskListInput:
    list_id: strawberry.ID
    name: str | None = None
    archived: bool | None = None
    move_after_list_id: strawberry.ID | None = None
    move_first: bool = False


@strawberry.input
class CreateTaskInput:
    list_id: strawberry.ID
    title: str = strawberry.field(description="1 to 500 characters.")
    description: str | None = None
    due_at: datetime | None = None
    assignee_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    labels: list[str] | None = None


@strawberry.input
class UpdateTaskInput:
    task_id: strawberry.ID
    title: str | None = None
    description: str | None = strawberry.field(default=None, description='"" clears it.')
    due_at: datetime | None = None
    clear_due_at: bool = False
    assignee_ids: list[strawberry.ID] | None = None
    labels: list[str] | None = None
    status: TaskStatus | None = None  # type: ignore[valid-type]
    archived: bool | None = None


@strawberry.input
class MoveTaskInput:
    task_id: strawberry.ID
    list_id: strawberry.ID = strawberry.field(
        description="The list to put it in (any board of the workspace)."
    )
    after_task_id: strawberry.ID | None = strawberry.field(
        default=None, description="Place it right after this task; first when left out."
    )


@strawberry.input
class TaskInput:
    task_id: strawberry.ID


@strawberry.input
class AddChecklistItemInput:
    task_id: strawberry.ID
    text: str


@strawberry.input
class UpdateChecklistItemInput:
    item_id: strawberry.ID
    text: str | None = None
    done: bool | None = None
    remove: bool = False


@strawberry.input
class AddTaskCommentInput:
    task_id: strawberry.ID
    text: str = strawberry.field(description="1 to 10,000 characters.")


@strawberry.type
class BoardPayload:
    board: Board


@strawberry.type
class TaskListPayload:
    list: TaskList


@strawberry.type
class TaskPayload:
    task: Task


@strawberry.type
class DeleteTaskPayload:
    deleted_task_id: strawberry.ID


def _users(ids: list[strawberry.ID]) -> list[str]:
    return [expect_id(u, "User") for u in ids]


async def create_board(info: Info[Any, Any], input: CreateBoardInput) -> BoardPayload | None:
    view = await tasks.create_board(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        None if input.channel_id is None else expect_id(input.channel_id, "Channel"),
        input.name,
    )
    return BoardPayload(board=Board.from_view(view))


async def update_board(info: Info[Any, Any], input: UpdateBoardInput) -> BoardPayload | None:
    view = await tasks.update_board(
        request_context(info), expect_id(input.board_id, "Board"), input.name, input.archived
    )
    return BoardPayload(board=Board.from_view(view))


async def create_task_list(
    info: Info[Any, Any], input: CreateTaskListInput
) -> TaskListPayload | None:
    view = await tasks.create_list(
        request_context(info),
        expect_id(input.board_id, "Board"),
        input.name,
        None if input.after_list_id is None else expect_id(input.after_list_id, "TaskList"),
    )
    return TaskListPayload(list=TaskList.from_view(view))


async def update_task_list(
    info: Info[Any, Any], input: UpdateTaskListInput
) -> TaskListPayload | None:
    view = await tasks.update_list(
        request_context(info),
        expect_id(input.list_id, "TaskList"),
        name=input.name,
        archived=input.archived,
        move_after=None
        if input.move_after_list_id is None
        else expect_id(input.move_after_list_id, "TaskList"),
        move_first=input.move_first,
    )
    return TaskListPayload(list=TaskList.from_view(view))


async def create_task(info: Info[Any, Any], input: CreateTaskInput) -> TaskPayload | None:
    view = await tasks.create_task(
        request_context(info),
        expect_id(input.list_id, "TaskList"),
        title=input.title,
        description=input.description,
        due_at=input.due_at,
        assignee_ids=_users(input.assignee_ids),
        labels=input.labels,
    )
    return TaskPayload(task=Task.from_view(view))


async def update_task(info: Info[Any, Any], input: UpdateTaskInput) -> TaskPayload | None:
    view = await tasks.update_task(
        request_context(info),
        expect_id(input.task_id, "Task"),
        title=input.title,
        description=input.description,
        due_at=input.due_at,
        clear_due=input.clear_due_at,
        assignee_ids=None if input.assignee_ids is None else _users(input.assignee_ids),
        labels=input.labels,
        status=input.status,
        archived=input.archived,
    )
    return TaskPayload(task=Task.from_view(view))


async def move_task(info: Info[Any, Any], input: MoveTaskInput) -> TaskPayload | None:
    view = await tasks.move_task(
        request_context(info),
        expect_id(input.task_id, "Task"),
        expect_id(input.list_id, "TaskList"),
        None if input.after_task_id is None else expect_id(input.after_task_id, "Task"),
    )
    return TaskPayload(task=Task.from_view(view))


async def delete_task(info: Info[Any, Any], input: TaskInput) -> DeleteTaskPayload | None:
    await tasks.delete_task(request_context(info), expect_id(input.task_id, "Task"))
    return DeleteTaskPayload(deleted_task_id=input.task_id)


async def add_checklist_item(
    info: Info[Any, Any], input: AddChecklistItemInput
) -> TaskPayload | None:
    view = await tasks.add_checklist_item(
        request_context(info), expect_id(input.task_id, "Task"), input.text
    )
    return TaskPayload(task=Task.from_view(view))


async def update_checklist_item(
    info: Info[Any, Any], input: UpdateChecklistItemInput
) -> TaskPayload | None:
    raw = expect_id(input.item_id, "ChecklistItem")
    task_id, _, item_id = raw.partition(".")
    if not task_id or not item_id:
        raise not_found("checklist item")
    view = await tasks.update_checklist_item(
        request_context(info),
        task_id,
        item_id=item_id,
        text=input.text,
        done=input.done,
        remove=input.remove,
    )
    return TaskPayload(task=Task.from_view(view))


async def add_task_comment(info: Info[Any, Any], input: AddTaskCommentInput) -> TaskPayload | None:
    view = await tasks.add_comment(
        request_context(info), expect_id(input.task_id, "Task"), input.text
    )
    return TaskPayload(task=Task.from_view(view))


@strawberry.type
class TasksMutation:
    create_board: BoardPayload | None = strawberry.mutation(
        resolver=create_board, description="Create a task board for a workspace or a channel."
    )
    update_board: BoardPayload | None = strawberry.mutation(
        resolver=update_board, description="Rename or archive a board."
    )
    create_task_list: TaskListPayload | None = strawberry.mutation(
        resolver=create_task_list, description="Add a list (column) to a board."
    )
    update_task_list: TaskListPayload | None = strawberry.mutation(
        resolver=update_task_list, description="Rename, archive or reorder a list."
    )
    create_task: TaskPayload | None = strawberry.mutation(
        resolver=create_task, description="Add a task at the end of a list."
    )
    update_task: TaskPayload | None = strawberry.mutation(
        resolver=update_task, description="Change a task's fields, status or archive it."
    )
    move_task: TaskPayload | None = strawberry.mutation(
        resolver=move_task, description="Move a task within a list or to another list."
    )
    delete_task: DeleteTaskPayload | None = strawberry.mutation(
        resolver=delete_task, description="Delete a task with its checklist and comments."
    )
    add_checklist_item: TaskPayload | None = strawberry.mutation(
        resolver=add_checklist_item, description="Add an item to a task's checklist."
    )
    update_checklist_item: TaskPayload | None = strawberry.mutation(
        resolver=update_checklist_item, description="Tick, reword or remove a checklist item."
    )
    add_task_comment: TaskPayload | None = strawberry.mutation(
        resolver=add_task_comment, description="Comment on a task."
    )
