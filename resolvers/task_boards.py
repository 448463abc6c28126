"""Task boards and their lists: creating, renaming, archiving and ordering them."""

from __future__ import annotations

from dataclasses import replace

from persistence.ids import new_id
from persistence.tasks import (
    BoardRecord,
    ListRecord,
)
from resolvers.authz import forbidden
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import BoardNotice
from resolvers.roles import AccessLevel
from resolvers.tasks import (
    MAX_BOARD_NAME,
    MAX_LIST_NAME,
    MAX_LISTS,
    BoardView,
    ListView,
    board_access,
    board_name_ref,
    generate_key_between,
    get_board,
    list_access,
    list_name_ref,
    publish,
)
from resolvers.validation import clean_name
from resolvers.workspaces import access as workspace_access

# Boards and lists: changes


async def create_board(
    ctx: RequestContext, workspace_id: str, channel_id: str | None, name: str
) -> BoardView:
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    if channel_id is not None:
        channel = await channel_access(ctx, channel_id)
        if channel.channel.workspace_id != workspace_id:
            raise not_found("channel")
        if not channel.member:
            raise forbidden("Join the channel first.")
    elif granted.role.joined_only:
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
    await publish(ctx, board_id, BoardNotice.BOARD_CHANGED, {"id": gid("Board", board_id)})
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
    await publish(
        ctx, board_id, BoardNotice.LIST_CREATED, {"id": gid("TaskList", list_id), "name": clean}
    )
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
    access, item = await list_access(ctx, list_id)
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
    await publish(ctx, item.board_id, BoardNotice.LIST_CHANGED, {"id": gid("TaskList", list_id)})
    return ListView(ctx, access, changed)
