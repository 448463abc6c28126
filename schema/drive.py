"""The drive: folders, files, versions, sharing, share links and uploads.

The types and the workspace and channel fields; the mutations are in schema/drive_mutations.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NewType

import strawberry
from strawberry.types import Info

from resolvers import drive
from resolvers.drive import DriveUsage as DriveUsageValue
from resolvers.drive import ItemView, ShareLinkView, ShareView, VersionView
from resolvers.drive import ShareLinkVersion as ShareLinkVersionValue
from resolvers.errors import not_found
from resolvers.global_ids import file_version_id, split_file_version
from resolvers.roles import AccessLevel as AccessLevelValue
from schema.accounts import User
from schema.context import request_context
from schema.errors import input_error
from schema.relay import (
    Connection,
    Node,
    connection_from_page,
    to_global_id,
)

if TYPE_CHECKING:
    from schema.workspaces import Workspace

DEFAULT_PAGE = 20
MAX_LONG = 2**53 - 1  # exact in every JSON reader


def _parse_long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LONG:
        raise input_error(f"Long must be an integer between 0 and {MAX_LONG}.")
    return value


Long = NewType("Long", int)
# Registered in the schema's scalar_map (schema/build.py).
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="An integer from 0 to 2^53 - 1 (byte counts beyond Int's 32 bits).",
    serialize=int,
    parse_value=_parse_long,
)


AccessLevel = strawberry.enum(
    AccessLevelValue,
    name="AccessLevel",
    description="What someone may do with a shared object. Drive: READ sees and downloads, "
    "WRITE also uploads, renames, trashes and moves between places shared alike, MANAGE also "
    "shares and moves anywhere. Calendars and boards: READ sees, WRITE also changes events "
    "or tasks, MANAGE also shares and deletes.",
)
ShareLinkVersion = strawberry.enum(
    ShareLinkVersionValue,
    name="ShareLinkVersion",
    description="What a share link serves. CURRENT: the version current when the link is made, "
    "whatever comes after; LATEST: whichever version is current each time it is used.",
)


@strawberry.interface(description="A folder or a file in a workspace's drive.")
class DriveItem(Node):
    view: strawberry.Private[ItemView]

    @strawberry.field(description="Empty for a workspace's root folder.")
    async def name(self) -> str:
        return await self.view.name()

    @strawberry.field(
        description="The folder holding this item; null for the root, or when "
        "that folder is not visible to you."
    )
    async def parent(self) -> Folder | None:
        parent = await self.view.parent()
        return None if parent is None else Folder.from_view(parent)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.view.record.updated_at

    @strawberry.field
    def created_by(self) -> User:
        return User.from_view(self.view.created_by())

    @strawberry.field(description="Whether the item, or a folder above it, is in the trash.")
    def trashed(self) -> bool:
        return self.view.access.in_trash

    @strawberry.field(description="What you may do with this item.")
    def viewer_level(self) -> AccessLevel:  # type: ignore[valid-type]
        return self.view.access.level

    @strawberry.field(description="Who it is shared with; empty unless you manage it.")
    async def shares(self) -> list[DriveShare]:
        return [DriveShare.from_view(s) for s in await self.view.shares()]

    @strawberry.field
    def workspace(self) -> Annotated[Workspace, strawberry.lazy("schema.workspaces")]:
        from schema.workspaces import Workspace

        return Workspace.from_view(self.view.workspace())


def item_from_view(view: ItemView) -> DriveItem:
    return Folder.from_view(view) if view.is_folder else File.from_view(view)


@strawberry.type(description="A folder.")
class Folder(DriveItem):
    @classmethod
    def from_view(cls, view: ItemView) -> Folder:
        return cls(id=to_global_id("Folder", view.id), view=view)

    @strawberry.field(description="Folders and files inside, oldest first (trash excluded).")
    async def children(
        self, info: Info[Any, Any], first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[DriveItem]:
        page = await drive.children(request_context(info), self.view, first, after)
        return connection_from_page(page, item_from_view)


@strawberry.type(description="A file; its contents are sealed and fetched through `downloadUrl`.")
class File(DriveItem):
    @classmethod
    def from_view(cls, view: ItemView) -> File:
        return cls(id=to_global_id("File", view.id), view=view)

    async def _version(self) -> VersionView:
        version = await self.view.current_version()
        if version is None:
            raise not_found("file version")
        return version

    @strawberry.field(description="Bytes in the current version.")
    async def size(self) -> Long:
        return Long((await self._version()).record.size)

    @strawberry.field
    async def content_type(self) -> str:
        return await (await self._version()).content_type()

    @strawberry.field(description="SHA-256 of the current version's contents, in hex.")
    async def sha256(self) -> str:
        return await (await self._version()).sha256()

    @strawberry.field
    async def current_version(self) -> FileVersion:
        return FileVersion.from_view(await self._version())

    @strawberry.field(
        description="A short-lived URL for the current version's contents (GET; Range served); "
        "null with an error while the file is in the trash."
    )
    async def download_url(self) -> str | None:
        return await (await self._version()).download_url()

    @strawberry.field(description="Versions, newest first.")
    async def versions(
        self, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[FileVersion]:
        page = await self.view.versions(first, after)
        return connection_from_page(page, FileVersion.from_view)

    @strawberry.field(description="Public links to this file; empty unless you manage it.")
    async def share_links(self) -> list[ShareLink]:
        links = await self.view.share_links()
        return [ShareLink.from_view(link) for link in links]


@strawberry.type(description="One stored version of a file, with its own file key.")
class FileVersion(Node):
    view: strawberry.Private[VersionView]

    @classmethod
    def from_view(cls, view: VersionView) -> FileVersion:
        return cls(id=strawberry.ID(file_version_id(view.record.file_id, view.id)), view=view)

    @strawberry.field(description="1 for the first upload, then 2, 3...")
    def number(self) -> int:
        return self.view.record.number

    @strawberry.field
    def size(self) -> Long:
        return Long(self.view.record.size)

    @strawberry.field
    async def content_type(self) -> str:
        return await self.view.content_type()

    @strawberry.field
    async def sha256(self) -> str:
        return await self.view.sha256()

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def created_by(self) -> User:
        return User.from_view(self.view.created_by())

    @strawberry.field(
        description="A short-lived URL for this version's contents; null with an error while "
        "the file is in the trash."
    )
    async def download_url(self) -> str | None:
        return await self.view.download_url()


@strawberry.type(description="A share of a drive item with a person or a channel.")
class DriveShare:
    view: strawberry.Private[ShareView]

    @classmethod
    def from_view(cls, view: ShareView) -> DriveShare:
        return cls(view=view)

    @strawberry.field
    def user_id(self) -> strawberry.ID | None:
        if self.view.grantee_kind != "user":
            return None
        return to_global_id("User", self.view.grantee_id)

    @strawberry.field
    def channel_id(self) -> strawberry.ID | None:
        if self.view.grantee_kind != "channel":
            return None
        return to_global_id("Channel", self.view.grantee_id)

    @strawberry.field
    def level(self) -> AccessLevel:  # type: ignore[valid-type]
        return self.view.level

    @strawberry.field
    def granted_at(self) -> datetime:
        return self.view.granted_at


@strawberry.type(description="A public link to a file, for people without an account.")
class ShareLink:
    view: strawberry.Private[ShareLinkView]

    @classmethod
    def from_view(cls, view: ShareLinkView) -> ShareLink:
        return cls(view=view)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ShareLink", self.view.id)

    @strawberry.field(description="Shown once, when the link is made: only its hash is kept.")
    def url(self) -> str | None:
        return self.view.url

    @strawberry.field
    def expires_at(self) -> datetime:
        return self.view.record.expires_at

    @strawberry.field
    def has_password(self) -> bool:
        return self.view.record.password_hash is not None

    @strawberry.field
    def max_downloads(self) -> int | None:
        return self.view.record.max_downloads

    @strawberry.field(description="Downloads counted so far (limited links only).")
    def downloads(self) -> int:
        return self.view.downloads

    @strawberry.field(description="True when the link serves whichever version is current.")
    def serves_latest(self) -> bool:
        return self.view.version_id is None

    @strawberry.field(
        description="The FileVersion the link serves; null when it serves the latest."
    )
    def version_id(self) -> strawberry.ID | None:
        if self.view.version_id is None:
            return None
        raw = f"{self.view.record.item_id}.{self.view.version_id}"
        return strawberry.ID(to_global_id("FileVersion", raw))


@strawberry.type(description="Bytes of files a workspace holds, against its quota.")
class DriveUsage:
    bytes_used: Long
    quota_bytes: Long

    @classmethod
    def from_value(cls, value: DriveUsageValue) -> DriveUsage:
        return cls(bytes_used=Long(value.bytes_used), quota_bytes=Long(value.quota_bytes))


@strawberry.type(description="A one-time upload URL: PUT the bytes to it before it expires.")
class Upload:
    id: strawberry.ID
    url: str
    expires_at: datetime
    file_id: strawberry.ID = strawberry.field(
        description="The file the upload will make or extend."
    )


# Loading by id


async def load_folder(info: Info[Any, Any], raw_id: str) -> Folder:
    view = await drive.get_item_of_kind(request_context(info), raw_id, "folder")
    return Folder.from_view(view)


async def load_file(info: Info[Any, Any], raw_id: str) -> File:
    return File.from_view(await drive.get_item_of_kind(request_context(info), raw_id, "file"))


async def load_file_version(info: Info[Any, Any], raw_id: str) -> FileVersion:
    ids = split_file_version(raw_id)
    if ids is None:
        raise not_found("file version")
    file_id, version_id = ids
    return FileVersion.from_view(
        await drive.get_version(request_context(info), file_id, version_id)
    )


# Workspace and channel fields


async def workspace_drive(info: Info[Any, Any], workspace_id: str) -> Folder:
    return Folder.from_view(await drive.root_folder(request_context(info), workspace_id))


async def workspace_trash(
    info: Info[Any, Any], workspace_id: str, first: int, after: str | None
) -> Connection[DriveItem]:
    page = await drive.trash(request_context(info), workspace_id, first, after)
    return connection_from_page(page, item_from_view)


async def workspace_shared_with_me(
    info: Info[Any, Any], workspace_id: str, first: int, after: str | None
) -> Connection[DriveItem]:
    page = await drive.shared_with_me(request_context(info), workspace_id, first, after)
    return connection_from_page(page, item_from_view)


async def channel_shared_items(
    info: Info[Any, Any], workspace_id: str, channel_id: str, first: int, after: str | None
) -> Connection[DriveItem]:
    page = await drive.shared_with_channel(
        request_context(info), workspace_id, channel_id, first, after
    )
    return connection_from_page(page, item_from_view)


async def workspace_usage(info: Info[Any, Any], workspace_id: str) -> DriveUsage:
    return DriveUsage.from_value(await drive.usage(request_context(info), workspace_id))
