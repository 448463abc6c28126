"""Tasks: creating, changing, moving and deleting them, their checklists and comments."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from persistence.ids import new_id
from persistence.tasks import (
    ChecklistItemRecord,
    CommentRecord,
    TaskRecord,
)
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import BoardNotice
from resolvers.roles import AccessLevel
from resolvers.tasks import (
    MAX_ASSIGNEES,
    MAX_CHECK_TEXT,
    MAX_CHECKLIST,
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_TITLE,
    TaskStatus,
    TaskView,
    clean_labels,
    generate_key_between,
    list_access,
    publish,
    publish_task,
    save_task,
    task_access,
    task_ref,
    writable_task,
)
from resolvers.validation import clean_text


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
    access, item = await list_access(ctx, list_id)
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
    return await save_task(
        ctx, access, task, None, BoardNotice.TASK_CREATED, title=clean_title, index=True
    )


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
    access, task = await writable_task(ctx, task_id)
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
    kind = (
        BoardNotice.TASK_COMPLETED
        if status is TaskStatus.DONE and task.status != "DONE"
        else BoardNotice.TASK_CHANGED
    )
    reindex = title is not None or description is not None
    return await save_task(ctx, access, changed, task, kind, title=clean_title, index=reindex)


async def move_task(
    ctx: RequestContext,
    task_id: str,
    list_id: str,
    after_task_id: str | None,
) -> TaskView:
    """Put a task in a list (of the same or another board of the workspace), just after
    `after_task_id`, or first when that is None. Only this task's rows change."""
    services = ctx.services
    access, task = await writable_task(ctx, task_id)
    target_access, target = await list_access(ctx, list_id)
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
    view = await save_task(ctx, target_access, moved, task, BoardNotice.TASK_MOVED)
    if moved.board_id != task.board_id:
        await publish(ctx, task.board_id, BoardNotice.TASK_REMOVED, {"id": gid("Task", task_id)})
    return view


async def delete_task(ctx: RequestContext, task_id: str) -> None:
    services = ctx.services
    _, task = await writable_task(ctx, task_id)
    await services.tasks.delete_task(
        task, [services.indexer.entry(task.workspace_id, "task", task_id)]
    )
    services.indexer.queued()
    await publish(ctx, task.board_id, BoardNotice.TASK_DELETED, {"id": gid("Task", task_id)})


async def add_checklist_item(ctx: RequestContext, task_id: str, text: str) -> TaskView:
    services = ctx.services
    access, task = await writable_task(ctx, task_id)
    if len(await services.tasks.checklist(task_id)) >= MAX_CHECKLIST:
        raise bad_input(f"A checklist holds at most {MAX_CHECKLIST} items.")
    clean = clean_text(text, MAX_CHECK_TEXT, "text", required=True)
    assert clean is not None
    item_id = new_id()
    sealed = await services.keys.seal_text(
        task_ref(f"check {item_id}", task_id, task.workspace_id), clean
    )
    await services.tasks.put_checklist_item(ChecklistItemRecord(task_id, item_id, sealed, False))
    await publish_task(ctx, task, BoardNotice.TASK_CHANGED, None)
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
    access, task = await writable_task(ctx, task_id)
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
    await publish_task(ctx, task, BoardNotice.TASK_CHANGED, None)
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
    await publish(
        ctx,
        task.board_id,
        BoardNotice.TASK_COMMENTED,
        {
            "id": gid("Task", task_id),
            "commentId": gid("TaskComment", f"{task_id}.{comment_id}"),
            "text": clean,
        },
    )
    return TaskView(ctx, access, task)
