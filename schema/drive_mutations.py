"""The drive's mutations: folders and files, uploads, versions, shares and share links.

The types they answer live in schema/drive.py.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import drive
from resolvers.drive import ShareLinkVersion as ShareLinkVersionValue
from resolvers.errors import bad_input, not_found
from resolvers.global_ids import split_file_version
from resolvers.roles import AccessLevel as AccessLevelValue
from schema.context import request_context
from schema.drive import (
    AccessLevel,
    DriveItem,
    DriveShare,
    File,
    Folder,
    Long,
    ShareLink,
    ShareLinkVersion,
    Upload,
    item_from_view,
)
from schema.relay import expect_id, from_global_id, to_global_id, user_or_channel

# Parsing ids


def item_id(global_id: strawberry.ID) -> str:
    """The raw id of a Folder or File id; anything else is NOT_FOUND."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] not in ("Folder", "File"):
        raise not_found("file")
    return parsed[1]


def _folder(global_id: strawberry.ID | None) -> str | None:
    return None if global_id is None else expect_id(global_id, "Folder")


# Inputs and payloads


@strawberry.input
class CreateFolderInput:
    workspace_id: strawberry.ID
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The folder to create it in; the drive's root when left out."
    )
    name: str = strawberry.field(
        description='1 to 255 characters; no "/", "\\\\" or control characters.'
    )


@strawberry.input
class DriveItemInput:
    item_id: strawberry.ID = strawberry.field(description="A Folder or File id.")


@strawberry.input
class RenameDriveItemInput:
    item_id: strawberry.ID
    name: str


@strawberry.input
class MoveDriveItemInput:
    item_id: strawberry.ID
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The destination folder; the drive's root when left out."
    )


@strawberry.input
class CreateUploadInput:
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="For a new file (with `name`)."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="For a new file: its folder; the root when left out."
    )
    file_id: strawberry.ID | None = strawberry.field(
        default=None, description="For a new version of an existing file."
    )
    name: str | None = None
    size: Long = strawberry.field(description="Exact byte count the PUT body must carry.")
    content_type: str | None = strawberry.field(
        default=None, description="`type/subtype`; application/octet-stream when left out."
    )


@strawberry.input
class RestoreFileVersionInput:
    file_id: strawberry.ID
    version_id: strawberry.ID


@strawberry.input
class ShareDriveItemInput:
    item_id: strawberry.ID
    user_id: strawberry.ID | None = None
    channel_id: strawberry.ID | None = None
    level: AccessLevel = AccessLevelValue.READ  # type: ignore[valid-type]


@strawberry.input
class UnshareDriveItemInput:
    item_id: strawberry.ID
    user_id: strawberry.ID | None = None
    channel_id: strawberry.ID | None = None


@strawberry.input
class CreateShareLinkInput:
    file_id: strawberry.ID
    expires_in_seconds: int = strawberry.field(
        default=7 * 24 * 3600, description="60 s up to the server's maximum (90 days by default)."
    )
    password: str | None = strawberry.field(
        default=None, description="Asked of whoever opens the link (10 to 1,024 characters)."
    )
    max_downloads: int | None = strawberry.field(
        default=None, description="Downloads allowed; unlimited when left out."
    )
    version: ShareLinkVersion = strawberry.field(  # type: ignore[valid-type]
        default=ShareLinkVersionValue.CURRENT,
        description="CURRENT (the default): this version, not later ones; LATEST: each new one.",
    )


@strawberry.input
class RevokeShareLinkInput:
    share_link_id: strawberry.ID


@strawberry.type
class FolderPayload:
    folder: Folder


@strawberry.type
class DriveItemPayload:
    item: DriveItem


@strawberry.type
class FilePayload:
    file: File


@strawberry.type
class DeleteDriveItemPayload:
    deleted_item_id: strawberry.ID


@strawberry.type
class UploadPayload:
    upload: Upload


@strawberry.type
class DriveSharesPayload:
    item: DriveItem
    shares: list[DriveShare]


@strawberry.type
class ShareLinkPayload:
    share_link: ShareLink


@strawberry.type
class RevokeShareLinkPayload:
    revoked_share_link_id: strawberry.ID


async def create_folder(info: Info[Any, Any], input: CreateFolderInput) -> FolderPayload | None:
    view = await drive.create_folder(
        request_context(info),
        expect_id(input.workspace_id, "Workspace"),
        _folder(input.parent_id),
        input.name,
    )
    return FolderPayload(folder=Folder.from_view(view))


async def rename_drive_item(
    info: Info[Any, Any], input: RenameDriveItemInput
) -> DriveItemPayload | None:
    view = await drive.rename_item(request_context(info), item_id(input.item_id), input.name)
    return DriveItemPayload(item=item_from_view(view))


async def move_drive_item(
    info: Info[Any, Any], input: MoveDriveItemInput
) -> DriveItemPayload | None:
    view = await drive.move_item(
        request_context(info), item_id(input.item_id), _folder(input.parent_id)
    )
    return DriveItemPayload(item=item_from_view(view))


async def trash_drive_item(info: Info[Any, Any], input: DriveItemInput) -> DriveItemPayload | None:
    view = await drive.trash_item(request_context(info), item_id(input.item_id))
    return DriveItemPayload(item=item_from_view(view))


async def restore_drive_item(
    info: Info[Any, Any], input: DriveItemInput
) -> DriveItemPayload | None:
    view = await drive.restore_item(request_context(info), item_id(input.item_id))
    return DriveItemPayload(item=item_from_view(view))


async def delete_drive_item(
    info: Info[Any, Any], input: DriveItemInput
) -> DeleteDriveItemPayload | None:
    await drive.delete_item(request_context(info), item_id(input.item_id))
    return DeleteDriveItemPayload(deleted_item_id=input.item_id)


async def create_upload(info: Info[Any, Any], input: CreateUploadInput) -> UploadPayload | None:
    if input.file_id is not None and (input.workspace_id is not None or input.parent_id):
        raise bad_input("Give fileId alone for a new version, or workspaceId for a new file.")
    url, record = await drive.create_upload(
        request_context(info),
        workspace_id=None
        if input.workspace_id is None
        else expect_id(input.workspace_id, "Workspace"),
        parent_id=_folder(input.parent_id),
        file_id=None if input.file_id is None else expect_id(input.file_id, "File"),
        name=input.name,
        size=input.size,
        content_type=input.content_type,
    )
    upload = Upload(
        id=to_global_id("Upload", record.upload_id),
        url=url,
        expires_at=record.expires_at,
        file_id=to_global_id("File", record.file_id),
    )
    return UploadPayload(upload=upload)


async def restore_file_version(
    info: Info[Any, Any], input: RestoreFileVersionInput
) -> FilePayload | None:
    file_id = expect_id(input.file_id, "File")
    ids = split_file_version(expect_id(input.version_id, "FileVersion"))
    if ids is None or ids[0] != file_id:
        raise not_found("file version")
    version_id = ids[1]
    view = await drive.restore_version(request_context(info), file_id, version_id)
    return FilePayload(file=File.from_view(view))


async def share_drive_item(
    info: Info[Any, Any], input: ShareDriveItemInput
) -> DriveSharesPayload | None:
    ctx = request_context(info)
    user, channel = user_or_channel(input.user_id, input.channel_id)
    raw = item_id(input.item_id)
    shares = await drive.share_item(ctx, raw, user, channel, input.level)
    view = await drive.get_item(ctx, raw)
    return DriveSharesPayload(
        item=item_from_view(view), shares=[DriveShare.from_view(s) for s in shares]
    )


async def unshare_drive_item(
    info: Info[Any, Any], input: UnshareDriveItemInput
) -> DriveSharesPayload | None:
    ctx = request_context(info)
    user, channel = user_or_channel(input.user_id, input.channel_id)
    raw = item_id(input.item_id)
    shares = await drive.unshare_item(ctx, raw, user, channel)
    view = await drive.get_item(ctx, raw)
    return DriveSharesPayload(
        item=item_from_view(view), shares=[DriveShare.from_view(s) for s in shares]
    )


async def create_share_link(
    info: Info[Any, Any], input: CreateShareLinkInput
) -> ShareLinkPayload | None:
    view = await drive.create_share_link(
        request_context(info),
        expect_id(input.file_id, "File"),
        input.expires_in_seconds,
        input.password,
        input.max_downloads,
        pin_version=input.version is ShareLinkVersionValue.CURRENT,
    )
    return ShareLinkPayload(share_link=ShareLink.from_view(view))


async def revoke_share_link(
    info: Info[Any, Any], input: RevokeShareLinkInput
) -> RevokeShareLinkPayload | None:
    await drive.revoke_share_link(
        request_context(info), expect_id(input.share_link_id, "ShareLink")
    )
    return RevokeShareLinkPayload(revoked_share_link_id=input.share_link_id)


@strawberry.type
class DriveMutation:
    create_folder: FolderPayload | None = strawberry.mutation(
        resolver=create_folder, description="Create a folder in a workspace's drive."
    )
    rename_drive_item: DriveItemPayload | None = strawberry.mutation(
        resolver=rename_drive_item, description="Rename a folder or file."
    )
    move_drive_item: DriveItemPayload | None = strawberry.mutation(
        resolver=move_drive_item, description="Move a folder or file to another folder."
    )
    trash_drive_item: DriveItemPayload | None = strawberry.mutation(
        resolver=trash_drive_item, description="Put a folder or file in the trash."
    )
    restore_drive_item: DriveItemPayload | None = strawberry.mutation(
        resolver=restore_drive_item, description="Take an item out of the trash."
    )
    delete_drive_item: DeleteDriveItemPayload | None = strawberry.mutation(
        resolver=delete_drive_item,
        description="Delete for good an item in the trash; its file keys are destroyed.",
    )
    create_upload: UploadPayload | None = strawberry.mutation(
        resolver=create_upload,
        description="Get a one-time URL to PUT a new file, or a new version of one, to.",
    )
    restore_file_version: FilePayload | None = strawberry.mutation(
        resolver=restore_file_version, description="Make an earlier version current."
    )
    share_drive_item: DriveSharesPayload | None = strawberry.mutation(
        resolver=share_drive_item,
        description="Share an item with a member or a channel, or change the level.",
    )
    unshare_drive_item: DriveSharesPayload | None = strawberry.mutation(
        resolver=unshare_drive_item, description="Stop sharing an item with someone."
    )
    create_share_link: ShareLinkPayload | None = strawberry.mutation(
        resolver=create_share_link,
        description="A public link to a file, with expiry, optional password and limit.",
    )
    revoke_share_link: RevokeShareLinkPayload | None = strawberry.mutation(
        resolver=revoke_share_link, description="Make a share link stop working."
    )
