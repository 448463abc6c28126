"""Drive sharing: share an item with a person or a channel, make and revoke public share links."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from crypto.tokens import hash_token, new_token
from persistence.drive_records import FILE, ShareLinkRecord, ShareRecord
from persistence.ids import new_id
from resolvers.audit import AuditKind
from resolvers.authz import DriveAccess
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.drive_access import (
    MAX_SHARES_PER_ITEM,
    ShareLinkView,
    ShareView,
    item_access,
    shares,
)
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.roles import AccessLevel
from resolvers.validation import check_password

MAX_LINK_DOWNLOADS = 1_000_000


class ShareLinkVersion(StrEnum):
    """What a share link serves: the version current when it was made, or the latest one."""

    CURRENT = "CURRENT"
    LATEST = "LATEST"


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
    await services.notices.kind_access_changed("Folder")
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

    channel = await channel_access(ctx, channel_id)
    if channel.channel.workspace_id != workspace_id:
        raise not_found("channel")
    return f"channel:{channel_id}"


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
    while its creator may still read the file (`resolvers/drive_downloads.py`)."""
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
