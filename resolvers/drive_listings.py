"""Drive listings: a folder's items, the trash, what is shared with me or a channel, usage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from persistence.drive_records import FILE, FOLDER, ShareRecord
from resolvers.authz import WorkspaceAccess
from resolvers.context import RequestContext
from resolvers.drive_access import MAX_SHARES_PER_ITEM, ItemView, get_item, my_channels_in
from resolvers.errors import CoveError
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import AccessLevel
from resolvers.workspaces import access as workspace_access

# What search walks for a caller the role does not give the whole drive: at most this many
# files, found in at most this many folder listings (files beyond are not searched).
MAX_SEARCH_FILES = 10_000
MAX_SEARCH_FOLDERS = 1_000


@dataclass(frozen=True)
class DriveUsage:
    bytes_used: int
    quota_bytes: int


async def children(
    ctx: RequestContext, folder: ItemView, first: int, after: str | None
) -> Page[ItemView]:
    """A folder's items, oldest first; each one's level is at least the folder's."""
    check_first(first)
    if not folder.is_folder:
        return Page([], False)
    cursor = decode_cursor(after, 1)
    rows = await ctx.services.drive.children(
        folder.id, limit=first + 1, after_item_id=None if cursor is None else str(cursor[0])
    )
    ids = [item_id for item_id, _ in rows[:first]]
    records = await ctx.loaders.drive_items.load_many(ids)
    children = [r for r in records if r is not None and r.parent_id == folder.id]
    parent = folder.access
    # One read of the children's shares for the whole page (none needed at MANAGE already).
    shares: list[list[ShareRecord]] = [[] for _ in children]
    channels: set[str] = set()
    if parent.level is not AccessLevel.MANAGE and children:
        shares = await ctx.services.drive.shares_many(
            [c.item_id for c in children], limit=MAX_SHARES_PER_ITEM
        )
        channels = await my_channels_in(ctx, shares)
    authz = ctx.services.authz
    edges = [
        (
            encode_cursor([child.item_id]),
            ItemView(ctx, authz.drive_child(parent, child, s, channels)),
        )
        for child, s in zip(children, shares, strict=True)
    ]
    return Page(edges, len(rows) > first)


async def _page_of(ctx: RequestContext, item_ids: list[str], first: int) -> Page[ItemView]:
    records = await ctx.loaders.drive_items.load_many(item_ids[:first])
    edges: list[tuple[str, ItemView]] = []
    for item_id, record in zip(item_ids[:first], records, strict=True):
        if record is None:
            continue
        try:
            edges.append((encode_cursor([item_id]), await get_item(ctx, item_id)))
        except CoveError:
            continue  # not readable by the caller: left out without a trace
    return Page(edges, len(item_ids) > first)


async def searchable_files(
    ctx: RequestContext, granted: WorkspaceAccess, my_channel_ids: Iterable[str]
) -> list[str] | None:
    """The files search may look at for the caller: None when the role reaches the whole
    drive; else the files shared with the caller or one of its channels (`my_channel_ids`,
    those it belongs to), and every file in a folder so shared or below it, out of the trash.

    The walk reads only what the caller may read (the shares naming it, then the folders
    they reach), so its cost does not depend on other files; it stops at MAX_SEARCH_FILES
    files or MAX_SEARCH_FOLDERS folder listings, oldest shares of each grantee last.
    """
    if ctx.services.authz.whole_drive(granted):
        return None
    drive = ctx.services.drive
    me = granted.principal.user_id
    grantees = [f"user:{me}", *(f"channel:{c}" for c in sorted(set(my_channel_ids)))]
    shared: list[str] = []
    for grantee in grantees:
        after: str | None = None
        while len(shared) < MAX_SEARCH_FILES:
            page = await drive.shared_with(
                granted.workspace_id, grantee, limit=500, after_item_id=after
            )
            shared += page
            if len(page) < 500:
                break
            after = page[-1]
    files: list[str] = []
    folders: list[str] = []
    for item in await drive.get_many(list(dict.fromkeys(shared))[:MAX_SEARCH_FILES]):
        if item is None or item.workspace_id != granted.workspace_id or item.trashed_at:
            continue
        (files if item.kind == FILE else folders).append(item.item_id)
    seen, listings = set(folders), 0
    while folders and listings < MAX_SEARCH_FOLDERS and len(files) < MAX_SEARCH_FILES:
        folder, last = folders.pop(0), None
        while listings < MAX_SEARCH_FOLDERS:  # the folder's live children, page by page
            rows = await drive.children(folder, limit=500, after_item_id=last)
            listings += 1
            files += [item_id for item_id, kind in rows if kind == FILE]
            below = [item_id for item_id, kind in rows if kind == FOLDER]
            folders += [item_id for item_id in below if item_id not in seen]
            seen.update(below)
            if len(rows) < 500:
                break
            last = rows[-1][0]
    return list(dict.fromkeys(files))[:MAX_SEARCH_FILES]


async def trash(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None
) -> Page[ItemView]:
    """Items put in the trash (not their contents), newest first, that the caller may see."""
    check_first(first)
    await workspace_access(ctx, workspace_id)
    cursor = decode_cursor(after, 1)
    ids = await ctx.services.drive.trash_list(
        workspace_id, limit=first + 1, after_item_id=None if cursor is None else str(cursor[0])
    )
    return await _page_of(ctx, ids, first)


async def shared_with_me(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None
) -> Page[ItemView]:
    check_first(first)
    granted = await workspace_access(ctx, workspace_id)
    return await _shared_with(ctx, workspace_id, f"user:{granted.principal.user_id}", first, after)


async def shared_with_channel(
    ctx: RequestContext, workspace_id: str, channel_id: str, first: int, after: str | None
) -> Page[ItemView]:
    """Items shared with a channel; the caller reached the channel already."""
    check_first(first)
    return await _shared_with(ctx, workspace_id, f"channel:{channel_id}", first, after)


async def _shared_with(
    ctx: RequestContext, workspace_id: str, grantee: str, first: int, after: str | None
) -> Page[ItemView]:
    """A page of the items shared with `grantee` ("user:<id>" or "channel:<id>"), newest first."""
    cursor = decode_cursor(after, 1)
    ids = await ctx.services.drive.shared_with(
        workspace_id,
        grantee,
        limit=first + 1,
        after_item_id=None if cursor is None else str(cursor[0]),
    )
    return await _page_of(ctx, ids, first)


async def usage(ctx: RequestContext, workspace_id: str) -> DriveUsage:
    await workspace_access(ctx, workspace_id)
    used = await ctx.services.drive.bytes_used(workspace_id)
    return DriveUsage(used, ctx.services.drive_policy.workspace_quota_bytes)
