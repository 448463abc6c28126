"""Drive items and versions as one caller sees them (views), and what reaches them (access).

Access comes from the workspace role (owners and admins manage everything, members write,
guests nothing), from having created an item (its creator manages it), and from shares on
the item or any folder above it, to a person or to a channel (`resolvers/authz.py`). The
drive's other modules build on this one: `drive_listings`, `drive_items`, `drive_shares`,
`drive_uploads` and `drive_downloads`; `resolvers/drive.py` gathers their operations.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.tokens import hash_token, new_token
from persistence.drive_records import (
    FILE,
    FOLDER,
    DownloadTokenRecord,
    DriveItemRecord,
    FileVersionRecord,
    ShareLinkRecord,
    ShareRecord,
)
from persistence.space import writes_when_full
from resolvers.accounts import UserView
from resolvers.authz import DriveAccess, WorkspaceAccess
from resolvers.channels import my_channels_among
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import AccessLevel, Role
from resolvers.users import fellow
from resolvers.workspaces import WorkspaceView
from resolvers.workspaces import access as workspace_access
from resolvers.workspaces import view as workspace_view

MAX_NAME = 255
MAX_CONTENT_TYPE = 127
MAX_DEPTH = 32  # folders within folders, counting the root
MAX_SHARES_PER_ITEM = 200
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

    def created_by(self) -> UserView:
        return person(self._ctx, self.access, self.record.created_by)

    async def shares(self) -> list[ShareView]:
        return await shares(self._ctx, self.access)

    async def share_links(self) -> list[ShareLinkView]:
        return await share_links(self._ctx, self.access)

    def workspace(self) -> WorkspaceView:
        return workspace_view(self._ctx, self.access.workspace)


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

    def created_by(self) -> UserView:
        return person(self._ctx, self.access, self.record.created_by)


@dataclass(frozen=True)
class ShareView:
    item_id: str
    grantee_kind: str  # "user" or "channel"
    grantee_id: str
    level: AccessLevel
    granted_at: datetime


@dataclass(frozen=True)
class ShareLinkView:
    record: ShareLinkRecord
    url: str | None  # only right after creation: the token is not kept
    downloads: int
    version_id: str | None  # the version it serves; None: the latest, whatever it is

    @property
    def id(self) -> str:
        return self.record.link_id


def person(ctx: RequestContext, access: DriveAccess, user_id: str) -> UserView:
    """Someone seen on a drive item (creator, uploader), by name, to whoever sees the item."""
    return fellow(ctx, access.workspace, user_id)


async def get_version(ctx: RequestContext, file_id: str, version_id: str) -> VersionView:
    access = await item_access(ctx, file_id)
    version = await ctx.services.drive.version(file_id, version_id)
    if version is None:
        raise not_found("file version")
    return VersionView(ctx, access, version)


# Access


async def folder_chain(ctx: RequestContext, item: DriveItemRecord) -> list[DriveItemRecord]:
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
    chain = await folder_chain(ctx, item)
    shares: list[list[ShareRecord]] = []
    channels: set[str] = set()
    if granted.role not in (Role.OWNER, Role.ADMIN):
        shares = await ctx.services.drive.shares_many(
            [link.item_id for link in chain], limit=MAX_SHARES_PER_ITEM
        )
        channels = await my_channels_in(ctx, shares)
    return ctx.services.authz.drive_item(granted, chain, shares, channels)


async def get_item(ctx: RequestContext, item_id: str) -> ItemView:
    return ItemView(ctx, await item_access(ctx, item_id))


async def get_item_of_kind(ctx: RequestContext, item_id: str, kind: str) -> ItemView:
    view = await get_item(ctx, item_id)
    if view.record.kind != kind:
        raise not_found("file" if kind == FILE else "folder")
    return view


async def writable_item(ctx: RequestContext, item_id: str, kind: str | None = None) -> DriveAccess:
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
    item = await _root_item(ctx, granted)
    return ItemView(ctx, await _access_in(ctx, granted, item))


async def _root_item(ctx: RequestContext, granted: WorkspaceAccess) -> DriveItemRecord:
    workspace_id = granted.workspace_id
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
    return item


async def writable_folder(
    ctx: RequestContext, workspace_id: str, parent_id: str | None, *, new_file: bool = False
) -> DriveAccess:
    """A folder the caller may write into: `parent_id`, or the workspace's root (where an
    app's bot may put a `new_file`, and reaches nothing else)."""
    if parent_id is None:
        granted = await workspace_access(ctx, workspace_id)
        root = await _root_item(ctx, granted)
        if new_file and granted.role is Role.BOT:
            return ctx.services.authz.bot_new_file_in_root(granted, root)
        access = await _access_in(ctx, granted, root)
        ctx.services.authz.drive_require(access, AccessLevel.WRITE)
        return access
    access = await writable_item(ctx, parent_id, FOLDER)
    if access.item.workspace_id != workspace_id:
        raise not_found("folder")
    return access


async def my_channels_in(ctx: RequestContext, shares: list[list[ShareRecord]]) -> set[str]:
    """The caller's channels among the grantees of these shares."""
    return await my_channels_among(ctx, (s.grantee for group in shares for s in group))


# Shares, as the item's managers see them


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


# Download URLs


async def download_url(ctx: RequestContext, access: DriveAccess, version: FileVersionRecord) -> str:
    """A short-lived URL for one version; each GET checks access again before decrypting."""
    services = ctx.services
    if access.in_trash:
        raise bad_input("The file is in the trash; restore it first.")
    if version.file_id != access.item_id:
        raise not_found("file version")
    token = new_token("cvd_")
    principal = access.workspace.principal
    record = DownloadTokenRecord(
        token_hash=hash_token(token),
        file_id=version.file_id,
        version_id=version.version_id,
        workspace_id=version.workspace_id,
        user_id=principal.user_id,
        session_id=principal.session_id,
        message_id=access.message_id,
        expires_at=services.clock() + services.drive_policy.download_ttl,
    )
    # A read's small bookkeeping: it goes through on a full volume, so downloads still work.
    with writes_when_full():
        await services.drive.add_download_token(record)
    return services.drive_policy.url(f"/files/download/{token}")
