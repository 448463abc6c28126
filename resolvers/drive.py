"""The drive: folders and files of a workspace, versions, trash, shares and share links.

Access comes from the workspace role (owners and admins manage everything, members write,
guests nothing), from having created an item (its creator manages it), and from shares on
the item or any folder above it, to a person or to a channel (`resolvers/authz.py`). File
contents move through `resolvers/transfers.py`; this module holds the metadata.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.tokens import hash_token, new_token
from persistence.drive_records import (
    FILE,
    FOLDER,
    DriveItemRecord,
    FileVersionRecord,
    ShareLinkRecord,
    ShareRecord,
    UploadRecord,
)
from persistence.ids import new_id
from resolvers.accounts import UserView
from resolvers.audit import AuditKind
from resolvers.authz import DriveAccess, WorkspaceAccess, forbidden
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.global_ids import file_version_id
from resolvers.global_ids import to_global_id as gid
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import AccessLevel, Role
from resolvers.workspaces import access as workspace_access

MAX_NAME = 255
MAX_CONTENT_TYPE = 127
MAX_DEPTH = 32  # folders within folders, counting the root
MAX_SHARES_PER_ITEM = 200
MAX_LINK_DOWNLOADS = 1_000_000
# What search walks for a caller the role does not give the whole drive: at most this many
# files, found in at most this many folder listings (files beyond are not searched).
MAX_SEARCH_FILES = 10_000
MAX_SEARCH_FOLDERS = 1_000
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# type "/" subtype, each an RFC 6838 restricted name; parameters are not kept.
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")


def name_ref(item_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(entity="drive_item", field="name", row_id=item_id, workspace_id=workspace_id)


def version_ref(field: str, version_id: str, workspace_id: str) -> FieldRef:
    """`content_type`, `sha256` or `key` of one file version."""
    return FieldRef(
        entity="file_version", field=field, row_id=version_id, workspace_id=workspace_id
    )


def blob_key(workspace_id: str, file_id: str, version_id: str) -> str:
    return f"drive/{workspace_id}/{file_id}/{version_id}"


def clean_item_name(name: str) -> str:
    """A file or folder name: no slashes, no control characters, not "." or ".."."""
    clean = unicodedata.normalize("NFC", name).strip()
    if not clean:
        raise bad_input("The name must not be empty.", field="name")
    if len(clean) > MAX_NAME:
        raise bad_input(f"The name must be at most {MAX_NAME} characters long.", field="name")
    if clean in {".", ".."} or "/" in clean or "\\" in clean:
        raise bad_input('The name must not contain "/" or "\\", nor be "." or "..".', field="name")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in clean):
        raise bad_input("The name must not contain control characters.", field="name")
    return clean


def clean_content_type(value: str | None) -> str:
    if value is None or not value.strip():
        return DEFAULT_CONTENT_TYPE
    clean = value.split(";", 1)[0].strip().lower()
    if len(clean) > MAX_CONTENT_TYPE or not _CONTENT_TYPE.match(clean):
        raise bad_input("The content type must look like `type/subtype`.", field="contentType")
    return clean


# Views


class ItemView:
    """A folder or a file as one caller sees it."""

    def __init__(
        self, ctx: RequestContext, access: DriveAccess, pinned_version_id: str | None = None
    ) -> None:
        self.access = access
        self.record = access.item
        self._ctx = ctx
        self._grant: Grant = ctx.services.authz.drive_grant(access)
        # An attachment shows the version that was attached, not whatever is current now.
        self.version_id = pinned_version_id or access.item.current_version_id

    @property
    def id(self) -> str:
        return self.record.item_id

    @property
    def is_folder(self) -> bool:
        return self.record.kind == FOLDER

    @property
    def workspace_id(self) -> str:
        return self.record.workspace_id

    async def name(self) -> str:
        ref = name_ref(self.id, self.workspace_id)
        return await self._ctx.services.keys.open_text(self._grant, ref, self.record.name_sealed)

    async def parent(self) -> ItemView | None:
        if self.record.is_root:
            return None
        try:
            return await get_item(self._ctx, self.record.parent_id)
        except CoveError:
            return None  # shared with the caller, but the folder above is not

    async def current_version(self) -> VersionView | None:
        if self.version_id is None:
            return None
        version = await self._ctx.services.drive.version(self.id, self.version_id)
        return None if version is None else VersionView(self._ctx, self.access, version)

    async def versions(self, first: int, after: str | None) -> Page[VersionView]:
        """Newest first; through a message attachment, only the version attached."""
        check_first(first)
        if self.access.message_id:
            pinned = await self.current_version()
            return Page([] if pinned is None or after else [("a", pinned)], False)
        cursor = decode_cursor(after, 1)
        rows = await self._ctx.services.drive.versions(
            self.id, limit=first + 1, after_version_id=None if cursor is None else str(cursor[0])
        )
        edges = [
            (encode_cursor([v.version_id]), VersionView(self._ctx, self.access, v))
            for v in rows[:first]
        ]
        return Page(edges, len(rows) > first)


class VersionView:
    """One stored version of a file; its content type and hash open with the file's access."""

    def __init__(self, ctx: RequestContext, access: DriveAccess, record: FileVersionRecord) -> None:
        self.access = access
        self.record = record
        self._ctx = ctx
        self._grant = ctx.services.authz.version_grant(access, record)

    @property
    def id(self) -> str:
        return self.record.version_id

    async def content_type(self) -> str:
        ref = version_ref("content_type", self.id, self.record.workspace_id)
        sealed = self.record.content_type_sealed
        return await self._ctx.services.keys.open_text(self._grant, ref, sealed)

    async def sha256(self) -> str:
        ref = version_ref("sha256", self.id, self.record.workspace_id)
        return await self._ctx.services.keys.open_text(self._grant, ref, self.record.sha256_sealed)

    async def download_url(self) -> str:
        return await download_url(self._ctx, self.access, self.record)


@dataclass(frozen=True)
class ShareView:
    item_id: str
    grantee_kind: str  # "user" or "channel"
    grantee_id: str
    level: AccessLevel
    granted_at: datetime


class ShareLinkVersion(StrEnum):
    """What a share link serves: the version current when it was made, or the latest one."""

    CURRENT = "CURRENT"
    LATEST = "LATEST"


@dataclass(frozen=True)
class ShareLinkView:
    record: ShareLinkRecord
    url: str | None  # only right after creation: the token is not kept
    downloads: int
    version_id: str | None  # the version it serves; None: the latest, whatever it is

    @property
    def id(self) -> str:
        return self.record.link_id


@dataclass(frozen=True)
class DriveUsage:
    bytes_used: int
    quota_bytes: int


def person(ctx: RequestContext, access: DriveAccess, user_id: str) -> UserView:
    """Someone seen on a drive item (creator, uploader), by name, to whoever sees the item."""
    from resolvers.users import fellow

    return fellow(ctx, access.workspace, user_id)


async def get_version(ctx: RequestContext, file_id: str, version_id: str) -> VersionView:
    access = await item_access(ctx, file_id)
    version = await ctx.services.drive.version(file_id, version_id)
    if version is None:
        raise not_found("file version")
    return VersionView(ctx, access, version)


# Access


async def _chain(ctx: RequestContext, item: DriveItemRecord) -> list[DriveItemRecord]:
    """The item and every folder above it, up to the root."""
    chain = [item]
    while not chain[-1].is_root:
        if len(chain) > MAX_DEPTH:
            raise CoveError(ErrorCode.INTERNAL, "The folder tree is deeper than allowed.")
        parent = await ctx.loaders.drive_items.load(chain[-1].parent_id)
        if parent is None:
            break  # its folder was deleted for good while it sat in the trash
        chain.append(parent)
    return chain


async def item_access(ctx: RequestContext, item_id: str) -> DriveAccess:
    """The caller's access to a drive item, or NOT_FOUND when it has none."""
    await ctx.require_user()
    item = await ctx.loaders.drive_items.load(item_id)
    if item is None:
        raise not_found("file")
    try:
        granted = await workspace_access(ctx, item.workspace_id)
    except CoveError:
        raise not_found("file") from None
    return await _access_in(ctx, granted, item)


async def _access_in(
    ctx: RequestContext, granted: WorkspaceAccess, item: DriveItemRecord
) -> DriveAccess:
    chain = await _chain(ctx, item)
    shares: list[list[ShareRecord]] = []
    channels: set[str] = set()
    if granted.role not in (Role.OWNER, Role.ADMIN):
        shares = await ctx.services.drive.shares_many(
            [link.item_id for link in chain], limit=MAX_SHARES_PER_ITEM
        )
        channels = await _my_channels(ctx, shares)
    return ctx.services.authz.drive_item(granted, chain, shares, channels)


async def get_item(ctx: RequestContext, item_id: str) -> ItemView:
    return ItemView(ctx, await item_access(ctx, item_id))


async def get_item_of_kind(ctx: RequestContext, item_id: str, kind: str) -> ItemView:
    view = await get_item(ctx, item_id)
    if view.record.kind != kind:
        raise not_found("file" if kind == FILE else "folder")
    return view


async def _writable(ctx: RequestContext, item_id: str, kind: str | None = None) -> DriveAccess:
    access = await item_access(ctx, item_id)
    if kind is not None and access.item.kind != kind:
        raise not_found("folder" if kind == FOLDER else "file")
    ctx.services.authz.drive_require(access, AccessLevel.WRITE)
    if access.in_trash:
        raise bad_input("The item is in the trash; restore it first.")
    return access


async def root_folder(ctx: RequestContext, workspace_id: str) -> ItemView:
    """The workspace's root folder, made on first use (its id is the workspace id)."""
    granted = await workspace_access(ctx, workspace_id)
    item = await ctx.loaders.drive_items.load(workspace_id)
    if item is None:
        services = ctx.services
        now = services.clock()
        root = DriveItemRecord(
            item_id=workspace_id,
            workspace_id=workspace_id,
            parent_id="",
            kind=FOLDER,
            name_sealed=await services.keys.seal_text(name_ref(workspace_id, workspace_id), ""),
            created_by=granted.principal.user_id,
            created_at=now,
            updated_at=now,
        )
        await services.drive.create_root(root)
        ctx.loaders.drive_items.clear(workspace_id)
        item = await ctx.loaders.drive_items.load(workspace_id)
        assert item is not None  # made just now, by this request or another
    return ItemView(ctx, await _access_in(ctx, granted, item))


async def _parent_folder(
    ctx: RequestContext, workspace_id: str, parent_id: str | None
) -> DriveAccess:
    """A folder the caller may write into: `parent_id`, or the workspace's root."""
    if parent_id is None:
        root = await root_folder(ctx, workspace_id)
        access = root.access
        ctx.services.authz.drive_require(access, AccessLevel.WRITE)
        return access
    access = await _writable(ctx, parent_id, FOLDER)
    if access.item.workspace_id != workspace_id:
        raise not_found("folder")
    return access


# Listings


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
        channels = await _my_channels(ctx, shares)
    authz = ctx.services.authz
    edges = [
        (
            encode_cursor([child.item_id]),
            ItemView(ctx, authz.drive_child(parent, child, s, channels)),
        )
        for child, s in zip(children, shares, strict=True)
    ]
    return Page(edges, len(rows) > first)


async def _my_channels(ctx: RequestContext, shares: list[list[ShareRecord]]) -> set[str]:
    from resolvers.channels import my_channels_among

    return await my_channels_among(ctx, (s.grantee for group in shares for s in group))


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
    cursor = decode_cursor(after, 1)
    ids = await ctx.services.drive.shared_with(
        workspace_id,
        f"user:{granted.principal.user_id}",
        limit=first + 1,
        after_item_id=None if cursor is None else str(cursor[0]),
    )
    return await _page_of(ctx, ids, first)


async def shared_with_channel(
    ctx: RequestContext, workspace_id: str, channel_id: str, first: int, after: str | None
) -> Page[ItemView]:
    """Items shared with a channel; the caller reached the channel already."""
    check_first(first)
    cursor = decode_cursor(after, 1)
    ids = await ctx.services.drive.shared_with(
        workspace_id,
        f"channel:{channel_id}",
        limit=first + 1,
        after_item_id=None if cursor is None else str(cursor[0]),
    )
    return await _page_of(ctx, ids, first)


async def usage(ctx: RequestContext, workspace_id: str) -> DriveUsage:
    await workspace_access(ctx, workspace_id)
    used = await ctx.services.drive.bytes_used(workspace_id)
    return DriveUsage(used, ctx.services.drive_policy.workspace_quota_bytes)


# Changes


async def publish_item(ctx: RequestContext, folder_id: str, type_: str, view: ItemView) -> None:
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
    await ctx.services.events.publish(gid("Folder", folder_id), type_, data)


async def create_folder(
    ctx: RequestContext, workspace_id: str, parent_id: str | None, name: str
) -> ItemView:
    services = ctx.services
    parent = await _parent_folder(ctx, workspace_id, parent_id)
    depth = len(await _chain(ctx, parent.item))
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
    await services.drive.create_folder(record)
    ctx.loaders.drive_items.prime(folder_id, record)
    view = await get_item(ctx, folder_id)
    await publish_item(ctx, parent.item_id, "drive.item_added", view)
    return view


def _not_root(access: DriveAccess) -> None:
    if access.item.is_root:
        raise bad_input("The root folder cannot be renamed, moved or deleted.")


async def rename_item(ctx: RequestContext, item_id: str, name: str) -> ItemView:
    services = ctx.services
    access = await _writable(ctx, item_id)
    _not_root(access)
    clean = clean_item_name(name)
    sealed = await services.keys.seal_text(name_ref(item_id, access.item.workspace_id), clean)
    await services.drive.rename(item_id, sealed, services.clock())
    ctx.loaders.drive_items.clear(item_id)
    view = await get_item(ctx, item_id)
    await services.search.file(view.record, clean)
    await publish_item(ctx, access.item.parent_id, "drive.item_renamed", view)
    return view


async def move_item(ctx: RequestContext, item_id: str, parent_id: str | None) -> ItemView:
    services = ctx.services
    access = await _writable(ctx, item_id)
    _not_root(access)
    target = await _parent_folder(ctx, access.item.workspace_id, parent_id)
    target_chain = await _chain(ctx, target.item)
    if any(link.item_id == item_id for link in target_chain):
        raise bad_input("A folder cannot move into itself or a folder inside it.", field="parentId")
    if access.item.kind == FOLDER and len(target_chain) + await _height(ctx, item_id) > MAX_DEPTH:
        raise bad_input(f"Folders nest at most {MAX_DEPTH - 1} deep.", field="parentId")
    old_parent = access.item.parent_id
    if target.item_id == old_parent:
        return ItemView(ctx, access)
    source_chain = (await _chain(ctx, access.item))[1:]
    await _require_to_reshare(ctx, access, source_chain, target_chain)
    await services.drive.move(access.item, target.item_id, services.clock())
    ctx.loaders.drive_items.clear(item_id)
    if access.item.kind == FOLDER:
        # Out of a shared folder, it and the folders below may lose readers: checked first.
        await services.events.kind_access_changed("Folder")
    view = await get_item(ctx, item_id)
    await publish_item(ctx, old_parent, "drive.item_removed", view)
    await publish_item(ctx, target.item_id, "drive.item_added", view)
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
    services = ctx.services
    access = await _writable(ctx, item_id)
    _not_root(access)
    await services.drive.trash(access.item, services.clock())
    ctx.loaders.drive_items.clear(item_id)
    view = await get_item(ctx, item_id)
    await publish_item(ctx, access.item.parent_id, "drive.item_trashed", view)
    return view


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
        source = (await _chain(ctx, access.item))[1:]
        await _require_to_reshare(ctx, access, source, [root.record])
        parent_id = root.id
    await services.drive.restore(access.item, parent_id, services.clock())
    ctx.loaders.drive_items.clear(item_id)
    view = await get_item(ctx, item_id)
    await publish_item(ctx, parent_id, "drive.item_added", view)
    return view


async def delete_item(ctx: RequestContext, item_id: str) -> None:
    """Delete for good an item in the trash, with everything in it: file keys and contents.

    Destroying each version's file key makes any copy of its contents left in a bucket or a
    backup unreadable (crypto-shredding); the contents are deleted from the blob store too.
    """
    services = ctx.services
    access = await item_access(ctx, item_id)
    services.authz.drive_require(access, AccessLevel.WRITE)
    _not_root(access)
    if access.item.trashed_at is None:
        raise bad_input("Put the item in the trash before deleting it for good.")
    freed = await _delete_tree(ctx, access.item)
    workspace_id = access.item.workspace_id
    async with services.drive_usage_lock(workspace_id):
        used = await services.drive.bytes_used(workspace_id)
        await services.drive.set_bytes_used(workspace_id, used - freed)
    ctx.loaders.drive_items.clear(item_id)
    await services.events.publish(
        gid("Folder", access.item.parent_id),
        "drive.item_deleted",
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
    await services.drive.delete_item(item, [v.version_id for v in versions])
    if item.kind == FILE:
        await services.search.remove(item.workspace_id, "file", item.item_id)
    for version in versions:
        freed += version.size
        await services.blobs.delete(version.blob_key)
    for link in await services.drive.share_links(item.item_id, limit=1000):
        await services.drive.delete_share_link(link)
    return freed


async def restore_version(ctx: RequestContext, file_id: str, version_id: str) -> ItemView:
    """Make an earlier version the current one again."""
    services = ctx.services
    access = await _writable(ctx, file_id, FILE)
    version = await services.drive.version(file_id, version_id)
    if version is None:
        raise not_found("file version")
    await services.drive.set_current_version(file_id, version, services.clock())
    ctx.loaders.drive_items.clear(file_id)
    view = await get_item(ctx, file_id)
    await publish_item(ctx, access.item.parent_id, "drive.version_added", view)
    return view


# Sharing


async def share_item(
    ctx: RequestContext,
    item_id: str,
    user_id: str | None,
    channel_id: str | None,
    level: AccessLevel,
) -> list[ShareView]:
    services = ctx.services
    access = await item_access(ctx, item_id)
    services.authz.drive_require(access, AccessLevel.MANAGE)
    grantee = await _grantee(ctx, access, user_id, channel_id)
    existing = await services.drive.shares(item_id, limit=MAX_SHARES_PER_ITEM + 1)
    if len(existing) >= MAX_SHARES_PER_ITEM and all(s.grantee != grantee for s in existing):
        raise bad_input(f"An item may be shared at most {MAX_SHARES_PER_ITEM} times.")
    share = ShareRecord(
        item_id=item_id,
        grantee=grantee,
        level=level.value,
        granted_by=access.workspace.principal.user_id,
        granted_at=services.clock(),
    )
    await services.drive.put_share(access.item.workspace_id, share)
    return await shares(ctx, access)


async def unshare_item(
    ctx: RequestContext, item_id: str, user_id: str | None, channel_id: str | None
) -> list[ShareView]:
    services = ctx.services
    access = await item_access(ctx, item_id)
    services.authz.drive_require(access, AccessLevel.MANAGE)
    grantee = await _grantee(ctx, access, user_id, channel_id)
    await services.drive.delete_share(access.item.workspace_id, item_id, grantee)
    # Readers of any folder below may have read it through this share alone.
    await services.events.kind_access_changed("Folder")
    return await shares(ctx, access)


async def _grantee(
    ctx: RequestContext, access: DriveAccess, user_id: str | None, channel_id: str | None
) -> str:
    if (user_id is None) == (channel_id is None):
        raise bad_input("Give either userId or channelId.", field="userId")
    workspace_id = access.item.workspace_id
    if user_id is not None:
        membership = await ctx.services.workspaces.memberships(workspace_id, [user_id])
        if membership[0] is None:
            raise not_found("user")
        return f"user:{user_id}"
    assert channel_id is not None
    from resolvers.channels import channel_access

    channel = await channel_access(ctx, channel_id)
    if channel.channel.workspace_id != workspace_id:
        raise not_found("channel")
    return f"channel:{channel_id}"


async def shares(ctx: RequestContext, access: DriveAccess) -> list[ShareView]:
    """Who an item is shared with; shown to those who may manage it, else empty."""
    if access.level is not AccessLevel.MANAGE:
        return []
    rows = await ctx.services.drive.shares(access.item_id, limit=MAX_SHARES_PER_ITEM)
    views = []
    for row in rows:
        kind, _, grantee_id = row.grantee.partition(":")
        views.append(
            ShareView(row.item_id, kind, grantee_id, AccessLevel(row.level), row.granted_at)
        )
    return views


async def create_share_link(
    ctx: RequestContext,
    file_id: str,
    expires_in_seconds: int,
    password: str | None,
    max_downloads: int | None,
    *,
    pin_version: bool = True,
) -> ShareLinkView:
    """A public link to a file, for people without an account: to the version current now
    (`pin_version`), or to whichever version is the latest when it is used. It serves only
    while its creator may still read the file (`resolvers/transfers.py`)."""
    services = ctx.services
    access = await item_access(ctx, file_id)
    if access.item.kind != FILE:
        raise bad_input("Only files have share links.", field="fileId")
    services.authz.drive_require(access, AccessLevel.MANAGE)
    if access.in_trash:
        raise bad_input("The file is in the trash; restore it first.")
    longest = int(services.drive_policy.share_link_max_ttl.total_seconds())
    if not 60 <= expires_in_seconds <= longest:
        raise bad_input(
            f"A share link lives between 60 and {longest} seconds.", field="expiresInSeconds"
        )
    if max_downloads is not None and not 1 <= max_downloads <= MAX_LINK_DOWNLOADS:
        raise bad_input(
            f"maxDownloads must be between 1 and {MAX_LINK_DOWNLOADS}.", field="maxDownloads"
        )
    password_hash = None
    if password is not None:
        from resolvers.validation import check_password

        password_hash = await services.passwords.hash(check_password(password))
    version_id = access.item.current_version_id if pin_version else None
    if pin_version and version_id is None:
        raise bad_input("The file has no version to link to yet.", field="fileId")
    token = new_token("cvs_")
    now = services.clock()
    link = ShareLinkRecord(
        link_id=new_id(),
        item_id=file_id,
        workspace_id=access.item.workspace_id,
        token_hash=hash_token(token),
        password_hash=password_hash,
        expires_at=now + timedelta(seconds=expires_in_seconds),
        max_downloads=max_downloads,
        created_by=access.workspace.principal.user_id,
        created_at=now,
    )
    await services.drive.add_share_link(link, version_id)
    await services.audit.workspace_event(
        link.workspace_id,
        AuditKind.SHARE_LINK_CREATED,
        actor_id=link.created_by,
        client_address=ctx.client_address,
        targets=link_targets(link),
        details={
            "expiresAt": link.expires_at.isoformat(),
            "password": "yes" if password_hash else "no",
            "maxDownloads": "" if max_downloads is None else str(max_downloads),
        },
    )
    url = services.drive_policy.url(f"/files/share/{token}")
    return ShareLinkView(link, url, 0, version_id)


async def share_links(ctx: RequestContext, access: DriveAccess) -> list[ShareLinkView]:
    if access.level is not AccessLevel.MANAGE or access.item.kind != FILE:
        return []
    links = await ctx.services.drive.share_links(access.item_id, limit=100)
    pins = await ctx.services.drive.share_link_versions([link.link_id for link in links])
    views = []
    for link, pin in zip(links, pins, strict=True):
        taken = 0
        if link.max_downloads is not None:
            taken = await ctx.services.drive.link_downloads(link.link_id, link.max_downloads)
        views.append(ShareLinkView(link, None, taken, pin))
    return views


async def revoke_share_link(ctx: RequestContext, link_id: str) -> None:
    services = ctx.services
    await ctx.require_user()
    link = await services.drive.share_link(link_id)
    if link is None:
        raise not_found("share link")
    try:
        access = await item_access(ctx, link.item_id)
    except CoveError:
        raise not_found("share link") from None
    services.authz.drive_require(access, AccessLevel.MANAGE)
    await services.drive.delete_share_link(link)
    await services.audit.workspace_event(
        link.workspace_id,
        AuditKind.SHARE_LINK_REVOKED,
        actor_id=access.workspace.principal.user_id,
        client_address=ctx.client_address,
        targets=link_targets(link),
    )


def link_targets(link: ShareLinkRecord) -> list[str]:
    """What a share link's audit events name: the link and its file."""
    return [gid("ShareLink", link.link_id), gid("File", link.item_id)]


# Uploads and download URLs


async def create_upload(
    ctx: RequestContext,
    *,
    workspace_id: str | None,
    parent_id: str | None,
    file_id: str | None,
    name: str | None,
    size: int,
    content_type: str | None,
) -> tuple[str, UploadRecord]:
    """Check rights, size and quota; return a one-time upload URL and what it will make."""
    services = ctx.services
    principal = await ctx.require_user()
    policy = services.drive_policy
    if not 0 <= size <= policy.max_file_bytes:
        raise bad_input(f"A file holds at most {policy.max_file_bytes:,} bytes.", field="size")
    clean_type = clean_content_type(content_type)
    name_sealed: bytes | None = None
    if file_id is not None:
        target = await _writable(ctx, file_id, FILE)
        workspace_id = target.item.workspace_id
        parent = target.item.parent_id
        new_file = False
        if name is not None:
            raise bad_input("A new version keeps the file's name; rename it apart.", field="name")
    else:
        if workspace_id is None:
            raise bad_input("Give workspaceId for a new file, or fileId for a new version.")
        if name is None:
            raise bad_input("A new file needs a name.", field="name")
        folder = await _parent_folder(ctx, workspace_id, parent_id)
        parent = folder.item_id
        clean_name = clean_item_name(name)
        file_id = new_id()
        new_file = True
        name_sealed = await services.keys.seal_text(name_ref(file_id, workspace_id), clean_name)
    used = await services.drive.bytes_used(workspace_id)
    if used + size > policy.workspace_quota_bytes:
        raise bad_input(
            f"The workspace's drive would exceed its quota of {policy.workspace_quota_bytes:,} "
            f"bytes ({used:,} used).",
            field="size",
        )
    version_id = new_id()
    token = new_token("cvu_")
    record = UploadRecord(
        token_hash=hash_token(token),
        upload_id=new_id(),
        workspace_id=workspace_id,
        parent_id=parent,
        file_id=file_id,
        new_file=new_file,
        version_id=version_id,
        name_sealed=name_sealed,
        content_type_sealed=await services.keys.seal_text(
            version_ref("content_type", version_id, workspace_id), clean_type
        ),
        size=size,
        created_by=principal.user_id,
        session_id=principal.session_id,
        expires_at=services.clock() + policy.upload_ttl,
    )
    await services.drive.add_upload(record)
    return policy.url(f"/files/upload/{token}"), record


async def download_url(ctx: RequestContext, access: DriveAccess, version: FileVersionRecord) -> str:
    """A short-lived URL for one version; each GET checks access again before decrypting."""
    from persistence.drive_records import DownloadTokenRecord

    services = ctx.services
    if access.in_trash:
        raise bad_input("The file is in the trash; restore it first.")
    if version.file_id != access.item_id:
        raise not_found("file version")
    token = new_token("cvd_")
    principal = access.workspace.principal
    await services.drive.add_download_token(
        DownloadTokenRecord(
            token_hash=hash_token(token),
            file_id=version.file_id,
            version_id=version.version_id,
            workspace_id=version.workspace_id,
            user_id=principal.user_id,
            session_id=principal.session_id,
            message_id=access.message_id,
            expires_at=services.clock() + services.drive_policy.download_ttl,
        )
    )
    return services.drive_policy.url(f"/files/download/{token}")
