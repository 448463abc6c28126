"""Drive changes: make a folder; rename, move, trash, restore or delete an item; pick a version."""

from __future__ import annotations

from collections.abc import Awaitable

from persistence.drive_records import FILE, FOLDER, DriveItemRecord, FileVersionRecord
from persistence.ids import new_id
from persistence.space import writes_when_full
from resolvers.authz import DriveAccess, forbidden
from resolvers.context import RequestContext
from resolvers.drive_access import (
    MAX_DEPTH,
    MAX_SHARES_PER_ITEM,
    ItemView,
    clean_item_name,
    folder_chain,
    get_item,
    item_access,
    name_ref,
    root_folder,
    writable_folder,
    writable_item,
)
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import file_version_id
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import DriveNotice
from resolvers.roles import AccessLevel


async def publish_item(
    ctx: RequestContext, folder_id: str, type_: DriveNotice, view: ItemView
) -> None:
    """Tell the folder's subscribers about one of its items; its readers may read the item."""
    data: dict[str, object] = {
        "id": gid("Folder" if view.is_folder else "File", view.id),
        "name": await view.name(),
        "folderId": gid("Folder", folder_id),
    }
    if view.record.size is not None:
        data["size"] = view.record.size
    if view.record.current_version_id is not None:
        data["versionId"] = file_version_id(view.id, view.record.current_version_id)
    await ctx.services.notices.publish(gid("Folder", folder_id), type_, data)


async def write_and_publish(
    ctx: RequestContext,
    write: Awaitable[None],
    item_id: str,
    folder_id: str,
    type_: DriveNotice,
    *,
    written: DriveItemRecord | None = None,
    index: bool = False,
    moved_folder: bool = False,
) -> ItemView:
    """The tail of a change to one item: apply the store `write`, view the item afresh (from
    `written`, the row just made, else read again), index its name for search when it may
    have changed (`index`), and tell the folder's subscribers (`publish_item`).

    A folder moved out of a shared folder may lose readers, it and everything below: every
    folder subscription is checked again before the notice goes out (`moved_folder`)."""
    await write
    if written is None:
        ctx.loaders.drive_items.clear(item_id)
    else:
        ctx.loaders.drive_items.prime(item_id, written)
    if moved_folder:
        await ctx.services.notices.kind_access_changed("Folder")
    view = await get_item(ctx, item_id)
    if index and view.record.kind == FILE:
        await ctx.services.indexer.queue(view.record.workspace_id, "file", [item_id])
    await publish_item(ctx, folder_id, type_, view)
    return view


async def create_folder(
    ctx: RequestContext, workspace_id: str, parent_id: str | None, name: str
) -> ItemView:
    services = ctx.services
    parent = await writable_folder(ctx, workspace_id, parent_id)
    depth = len(await folder_chain(ctx, parent.item))
    if depth >= MAX_DEPTH:
        raise bad_input(f"Folders nest at most {MAX_DEPTH - 1} deep.", field="parentId")
    clean = clean_item_name(name)
    folder_id = new_id()
    now = services.clock()
    record = DriveItemRecord(
        item_id=folder_id,
        workspace_id=workspace_id,
        parent_id=parent.item_id,
        kind=FOLDER,
        name_sealed=await services.keys.seal_text(name_ref(folder_id, workspace_id), clean),
        created_by=parent.workspace.principal.user_id,
        created_at=now,
        updated_at=now,
    )
    return await write_and_publish(
        ctx,
        services.drive.create_folder(record),
        folder_id,
        parent.item_id,
        DriveNotice.ITEM_ADDED,
        written=record,
    )


def _not_root(access: DriveAccess) -> None:
    if access.item.is_root:
        raise bad_input("The root folder cannot be renamed, moved or deleted.")


async def rename_item(ctx: RequestContext, item_id: str, name: str) -> ItemView:
    services = ctx.services
    access = await writable_item(ctx, item_id)
    _not_root(access)
    clean = clean_item_name(name)
    sealed = await services.keys.seal_text(name_ref(item_id, access.item.workspace_id), clean)
    return await write_and_publish(
        ctx,
        services.drive.rename(item_id, sealed, services.clock()),
        item_id,
        access.item.parent_id,
        DriveNotice.ITEM_RENAMED,
        index=True,
    )


async def move_item(ctx: RequestContext, item_id: str, parent_id: str | None) -> ItemView:
    services = ctx.services
    access = await writable_item(ctx, item_id)
    _not_root(access)
    target = await writable_folder(ctx, access.item.workspace_id, parent_id)
    target_chain = await folder_chain(ctx, target.item)
    if any(link.item_id == item_id for link in target_chain):
        raise bad_input("A folder cannot move into itself or a folder inside it.", field="parentId")
    if access.item.kind == FOLDER and len(target_chain) + await _height(ctx, item_id) > MAX_DEPTH:
        raise bad_input(f"Folders nest at most {MAX_DEPTH - 1} deep.", field="parentId")
    old_parent = access.item.parent_id
    if target.item_id == old_parent:
        return ItemView(ctx, access)
    source_chain = (await folder_chain(ctx, access.item))[1:]
    await _require_to_reshare(ctx, access, source_chain, target_chain)
    view = await write_and_publish(
        ctx,
        services.drive.move(access.item, target.item_id, services.clock()),
        item_id,
        old_parent,
        DriveNotice.ITEM_REMOVED,
        moved_folder=access.item.kind == FOLDER,
    )
    await publish_item(ctx, target.item_id, DriveNotice.ITEM_ADDED, view)
    return view


async def _require_to_reshare(
    ctx: RequestContext,
    access: DriveAccess,
    source: list[DriveItemRecord],
    destination: list[DriveItemRecord],
) -> None:
    """An item inherits the shares of every folder above it, so a move between places shared
    differently changes who reads it (and its later versions): deciding that is sharing it,
    which takes MANAGE on the item. Between places shared alike, writing is enough."""
    if access.level is AccessLevel.MANAGE:
        return
    if await _inherited(ctx, source) != await _inherited(ctx, destination):
        raise forbidden(
            "Moving this item there changes who may read it: only people who manage it may."
        )


async def _inherited(ctx: RequestContext, folders: list[DriveItemRecord]) -> dict[str, int]:
    """What the shares on these folders grant: each grantee's highest level."""
    found = await ctx.services.drive.shares_many(
        [f.item_id for f in folders], limit=MAX_SHARES_PER_ITEM
    )
    levels: dict[str, int] = {}
    for share in (s for group in found for s in group):
        rank = AccessLevel(share.level).rank
        levels[share.grantee] = max(rank, levels.get(share.grantee, rank))
    return levels


async def _height(ctx: RequestContext, folder_id: str) -> int:
    """Levels of folders inside this one, itself included (bounded by MAX_DEPTH)."""
    level, frontier = 1, [folder_id]
    while frontier and level <= MAX_DEPTH:
        nxt: list[str] = []
        for fid in frontier:
            after: str | None = None
            while True:  # every page of the folder: the store ends it
                rows = await ctx.services.drive.children(fid, limit=500, after_item_id=after)
                nxt += [i for i, kind in rows if kind == FOLDER]
                if len(rows) < 500:
                    break
                after = rows[-1][0]
        if not nxt:
            break
        level, frontier = level + 1, nxt
    return level


async def trash_item(ctx: RequestContext, item_id: str) -> ItemView:
    """Into the trash: the first step of deleting, so it goes through on a full volume."""
    services = ctx.services
    access = await writable_item(ctx, item_id)
    _not_root(access)
    with writes_when_full():
        return await write_and_publish(
            ctx,
            services.drive.trash(access.item, services.clock()),
            item_id,
            access.item.parent_id,
            DriveNotice.ITEM_TRASHED,
        )


async def restore_item(ctx: RequestContext, item_id: str) -> ItemView:
    """Back where it was, or to the root when that folder is gone or itself in the trash."""
    services = ctx.services
    access = await item_access(ctx, item_id)
    services.authz.drive_require(access, AccessLevel.WRITE)
    if access.item.trashed_at is None:
        raise bad_input("The item is not in the trash.")
    parent_id = access.item.parent_id
    try:
        parent = await item_access(ctx, parent_id)
        usable = not parent.in_trash and parent.item.kind == FOLDER
    except CoveError:
        usable = False
    if not usable:
        root = await root_folder(ctx, access.item.workspace_id)
        # Landing in the root is a move: under the same rule as moveDriveItem.
        source = (await folder_chain(ctx, access.item))[1:]
        await _require_to_reshare(ctx, access, source, [root.record])
        parent_id = root.id
    return await write_and_publish(
        ctx,
        services.drive.restore(access.item, parent_id, services.clock()),
        item_id,
        parent_id,
        DriveNotice.ITEM_ADDED,
    )


async def delete_item(ctx: RequestContext, item_id: str) -> None:
    """Delete for good an item in the trash, with everything in it: file keys and contents.

    Destroying each version's file key makes any copy of its contents left in a bucket or a
    backup unreadable (crypto-shredding); the contents are deleted from the blob store too.
    It frees space, so it goes through on a full volume (persistence/space.py).
    """
    services = ctx.services
    access = await item_access(ctx, item_id)
    services.authz.drive_require(access, AccessLevel.WRITE)
    _not_root(access)
    if access.item.trashed_at is None:
        raise bad_input("Put the item in the trash before deleting it for good.")
    with writes_when_full():
        freed = await _delete_tree(ctx, access.item)
        workspace_id = access.item.workspace_id
        await services.drive.change_bytes_used(workspace_id, -freed)
        ctx.loaders.drive_items.clear(item_id)
        await services.notices.publish(
            gid("Folder", access.item.parent_id),
            DriveNotice.ITEM_DELETED,
            {"id": gid("Folder" if access.item.kind == FOLDER else "File", item_id)},
        )


async def _delete_tree(ctx: RequestContext, item: DriveItemRecord) -> int:
    """Delete an item and what it holds, deepest first; returns the bytes freed."""
    services = ctx.services
    freed = 0
    if item.kind == FOLDER:
        while True:  # each round deletes a page, so the loop ends when the folder is empty
            rows = await services.drive.children(item.item_id, limit=200)
            if not rows:
                break
            children = await services.drive.get_many([i for i, _ in rows])
            for child in children:
                if child is not None:
                    freed += await _delete_tree(ctx, child)
    versions: list[FileVersionRecord] = []
    while True:
        page = await services.drive.versions(
            item.item_id,
            limit=500,
            after_version_id=versions[-1].version_id if versions else None,
        )
        versions += page
        if len(page) < 500:
            break
    entries = [services.indexer.entry(item.workspace_id, "file", item.item_id)]
    await services.drive.delete_item(
        item, [v.version_id for v in versions], entries if item.kind == FILE else ()
    )
    services.indexer.queued()
    for version in versions:
        freed += version.size
        await services.blobs.delete(version.blob_key)
    for link in await services.drive.share_links(item.item_id, limit=1000):
        await services.drive.delete_share_link(link)
    return freed


async def restore_version(ctx: RequestContext, file_id: str, version_id: str) -> ItemView:
    """Make an earlier version the current one again."""
    services = ctx.services
    access = await writable_item(ctx, file_id, FILE)
    version = await services.drive.version(file_id, version_id)
    if version is None:
        raise not_found("file version")
    return await write_and_publish(
        ctx,
        services.drive.set_current_version(file_id, version, services.clock()),
        file_id,
        access.item.parent_id,
        DriveNotice.VERSION_ADDED,
    )
