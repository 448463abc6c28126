"""Reads and writes of the drive's rows (`persistence/drive_tables.py`), sealed values as bytes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime

from persistence.declare import Row
from persistence.drive_records import (
    FILE,
    FOLDER,
    DownloadTokenRecord,
    DriveItemRecord,
    FileVersionRecord,
    ShareLinkRecord,
    ShareRecord,
    UploadRecord,
)
from persistence.drive_tables import (
    DOWNLOAD_TOKENS,
    DRIVE_CHILDREN,
    DRIVE_ITEMS,
    DRIVE_SHARES,
    DRIVE_TRASH,
    DRIVE_USAGE,
    FILE_VERSIONS,
    MESSAGE_ATTACHMENTS,
    SHARE_LINK_DOWNLOADS,
    SHARE_LINK_TOKENS,
    SHARE_LINK_VERSIONS,
    SHARE_LINKS,
    SHARE_LINKS_BY_ITEM,
    SHARES_BY_GRANTEE,
    TOKEN_EXPIRY,
    UPLOAD_CLAIMS,
    UPLOADS,
)
from persistence.expiry import expiry_hour, forget_hour
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, StoreUnavailable, Update


def _expiry(kind: str, token_hash: bytes, expires_at: datetime) -> Put:
    row = {
        "hour": expiry_hour(expires_at),
        "kind": kind,
        "token_hash": token_hash,
        "expires_at": expires_at,
    }
    return Put(TOKEN_EXPIRY, row)


def _after(value: str | None) -> tuple[str] | None:
    return None if value is None else (value,)


# Lost compare-and-set races a usage change survives before it reports the store unavailable.
USAGE_ATTEMPTS = 64


class DriveRepository:
    """Drive rows; every sensitive value stays sealed bytes here."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Items

    async def get(self, item_id: str) -> DriveItemRecord | None:
        row = await self._store.get(DRIVE_ITEMS, {"item_id": item_id})
        return None if row is None else from_row(DriveItemRecord, row)

    async def get_many(self, item_ids: Sequence[str]) -> list[DriveItemRecord | None]:
        rows = await self._store.get_many(DRIVE_ITEMS, [{"item_id": i} for i in item_ids])
        return [None if row is None else from_row(DriveItemRecord, row) for row in rows]

    async def create_root(self, root: DriveItemRecord) -> None:
        """Make a workspace's root folder unless another request made it first."""
        await self._store.put_if_absent(DRIVE_ITEMS, to_row(root))

    async def create_folder(self, folder: DriveItemRecord) -> None:
        await self._store.batch(
            [
                Put(DRIVE_ITEMS, to_row(folder)),
                Put(
                    DRIVE_CHILDREN,
                    {"parent_id": folder.parent_id, "item_id": folder.item_id, "kind": FOLDER},
                ),
            ]
        )

    async def children(
        self, parent_id: str, *, limit: int, after_item_id: str | None = None
    ) -> list[tuple[str, str]]:
        """(item id, kind) of a folder's live children, oldest first."""
        rows = await self._store.scan(
            DRIVE_CHILDREN, {"parent_id": parent_id}, limit=limit, after=_after(after_item_id)
        )
        return [(row["item_id"], row["kind"]) for row in rows]

    async def trash_list(
        self, workspace_id: str, *, limit: int, after_item_id: str | None = None
    ) -> list[str]:
        rows = await self._store.scan(
            DRIVE_TRASH, {"workspace_id": workspace_id}, limit=limit, after=_after(after_item_id)
        )
        return [row["item_id"] for row in rows]

    async def rename(self, item_id: str, name_sealed: bytes, now: datetime) -> None:
        await self._store.update(
            DRIVE_ITEMS, {"item_id": item_id}, {"name_sealed": name_sealed, "updated_at": now}
        )

    async def move(self, item: DriveItemRecord, new_parent_id: str, now: datetime) -> None:
        await self._store.batch(
            [
                Delete(DRIVE_CHILDREN, {"parent_id": item.parent_id, "item_id": item.item_id}),
                Put(
                    DRIVE_CHILDREN,
                    {"parent_id": new_parent_id, "item_id": item.item_id, "kind": item.kind},
                ),
                Update(
                    DRIVE_ITEMS,
                    {"item_id": item.item_id},
                    {"parent_id": new_parent_id, "updated_at": now},
                ),
            ]
        )

    async def trash(self, item: DriveItemRecord, now: datetime) -> None:
        await self._store.batch(
            [
                Delete(DRIVE_CHILDREN, {"parent_id": item.parent_id, "item_id": item.item_id}),
                Put(
                    DRIVE_TRASH,
                    {
                        "workspace_id": item.workspace_id,
                        "item_id": item.item_id,
                        "kind": item.kind,
                        "trashed_at": now,
                    },
                ),
                Update(DRIVE_ITEMS, {"item_id": item.item_id}, {"trashed_at": now}),
            ]
        )

    async def restore(self, item: DriveItemRecord, parent_id: str, now: datetime) -> None:
        await self._store.batch(
            [
                Delete(DRIVE_TRASH, {"workspace_id": item.workspace_id, "item_id": item.item_id}),
                Put(
                    DRIVE_CHILDREN,
                    {"parent_id": parent_id, "item_id": item.item_id, "kind": item.kind},
                ),
                Update(
                    DRIVE_ITEMS,
                    {"item_id": item.item_id},
                    {"trashed_at": None, "parent_id": parent_id, "updated_at": now},
                ),
            ]
        )

    async def delete_item(
        self, item: DriveItemRecord, versions: Sequence[str], also: Sequence[Put] = ()
    ) -> None:
        """Remove an item with its versions (their file keys), shares and listings at once,
        with `also` (its search outbox entry)."""
        ops: list[Put | Delete | Update] = [
            Delete(DRIVE_ITEMS, {"item_id": item.item_id}),
            Delete(DRIVE_CHILDREN, {"parent_id": item.parent_id, "item_id": item.item_id}),
            Delete(DRIVE_TRASH, {"workspace_id": item.workspace_id, "item_id": item.item_id}),
        ]
        ops += [Delete(FILE_VERSIONS, {"file_id": item.item_id, "version_id": v}) for v in versions]
        for share in await self.shares(item.item_id, limit=10_000):
            ops.append(
                Delete(
                    SHARES_BY_GRANTEE,
                    {
                        "workspace_id": item.workspace_id,
                        "grantee": share.grantee,
                        "item_id": item.item_id,
                    },
                )
            )
        await self._store.batch([*ops, *also])
        await self._store.delete_partition(DRIVE_SHARES, {"item_id": item.item_id})

    # Versions

    async def versions(
        self, file_id: str, *, limit: int, after_version_id: str | None = None
    ) -> list[FileVersionRecord]:
        """Newest first."""
        rows = await self._store.scan(
            FILE_VERSIONS, {"file_id": file_id}, limit=limit, after=_after(after_version_id)
        )
        return [from_row(FileVersionRecord, row) for row in rows]

    async def version(self, file_id: str, version_id: str) -> FileVersionRecord | None:
        row = await self._store.get(FILE_VERSIONS, {"file_id": file_id, "version_id": version_id})
        return None if row is None else from_row(FileVersionRecord, row)

    async def add_version(
        self,
        item: DriveItemRecord,
        version: FileVersionRecord,
        *,
        new_file: bool,
        now: datetime,
    ) -> None:
        """Record a stored version and make it current; a new file also gets its listing."""
        ops: list[Put | Delete | Update] = [Put(FILE_VERSIONS, to_row(version))]
        current = {"current_version_id": version.version_id, "size": version.size}
        if new_file:
            ops += [
                Put(DRIVE_ITEMS, to_row(item)),
                Put(
                    DRIVE_CHILDREN,
                    {"parent_id": item.parent_id, "item_id": item.item_id, "kind": FILE},
                ),
            ]
        else:
            ops.append(
                Update(DRIVE_ITEMS, {"item_id": item.item_id}, {**current, "updated_at": now})
            )
        await self._store.batch(ops)

    async def set_current_version(
        self, file_id: str, version: FileVersionRecord, now: datetime
    ) -> None:
        await self._store.update(
            DRIVE_ITEMS,
            {"item_id": file_id},
            {"current_version_id": version.version_id, "size": version.size, "updated_at": now},
        )

    # Uploads and downloads

    async def add_upload(self, upload: UploadRecord) -> None:
        await self._store.batch(
            [
                Put(UPLOADS, to_row(upload)),
                _expiry("upload", upload.token_hash, upload.expires_at),
            ]
        )

    async def upload(self, token_hash: bytes) -> UploadRecord | None:
        row = await self._store.get(UPLOADS, {"token_hash": token_hash})
        return None if row is None else from_row(UploadRecord, row)

    async def claim_upload(self, token_hash: bytes, now: datetime) -> bool:
        """True for the one request that may use this upload URL."""
        return await self._store.put_if_absent(
            UPLOAD_CLAIMS, {"token_hash": token_hash, "claimed_at": now}
        )

    async def release_upload_claim(self, token_hash: bytes) -> None:
        """Let the upload URL be used again (its upload failed through no fault of the client)."""
        await self._store.delete(UPLOAD_CLAIMS, {"token_hash": token_hash})

    async def upload_claimed(self, token_hash: bytes) -> bool:
        return await self._store.get(UPLOAD_CLAIMS, {"token_hash": token_hash}) is not None

    async def forget_upload(self, token_hash: bytes) -> None:
        await self._store.delete(UPLOADS, {"token_hash": token_hash})

    async def add_download_token(self, token: DownloadTokenRecord) -> None:
        await self._store.batch(
            [
                Put(DOWNLOAD_TOKENS, to_row(token)),
                _expiry("download", token.token_hash, token.expires_at),
            ]
        )

    async def forget_expired_tokens(self, hour: int) -> int:
        """Delete the upload and download tokens that expired within one hour; a count."""

        def deletes(row: Row) -> list[Delete]:
            key = {"token_hash": row["token_hash"]}
            if row["kind"] == "upload":
                return [Delete(UPLOADS, key), Delete(UPLOAD_CLAIMS, key)]
            return [Delete(DOWNLOAD_TOKENS, key)]

        return await forget_hour(self._store, TOKEN_EXPIRY, hour, deletes)

    async def download_token(self, token_hash: bytes) -> DownloadTokenRecord | None:
        row = await self._store.get(DOWNLOAD_TOKENS, {"token_hash": token_hash})
        return None if row is None else from_row(DownloadTokenRecord, row)

    # Usage

    async def bytes_used(self, workspace_id: str) -> int:
        row = await self._store.get(DRIVE_USAGE, {"workspace_id": workspace_id})
        return 0 if row is None else int(row["bytes_used"] or 0)

    async def change_bytes_used(
        self, workspace_id: str, delta: int, *, limit: int | None = None
    ) -> bool:
        """Add `delta` bytes (negative frees them) to what a workspace uses, unless the sum
        would pass `limit`: False then, and nothing changes. A compare-and-set retried on a
        lost race, so nodes changing the count at once lose no change and never overshoot."""
        key = {"workspace_id": workspace_id}
        for attempt in range(USAGE_ATTEMPTS):
            row = await self._store.get(DRIVE_USAGE, key)
            used = None if row is None else row["bytes_used"]
            total = max(0, (used or 0) + delta)
            if limit is not None and delta > 0 and total > limit:
                return False
            if row is None:
                changed = await self._store.put_if_absent(DRIVE_USAGE, {**key, "bytes_used": total})
            else:
                expected = {"bytes_used": used if used is not None else 0}
                changed = await self._store.update_if(
                    DRIVE_USAGE, key, {"bytes_used": total}, expected
                )
            if changed:
                return True
            # Another node changed it first: read again after a short, growing, random wait.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311
        raise StoreUnavailable(f"the drive usage of {workspace_id} is too contended right now")

    # Shares

    async def shares(self, item_id: str, *, limit: int) -> list[ShareRecord]:
        rows = await self._store.scan(DRIVE_SHARES, {"item_id": item_id}, limit=limit)
        return [from_row(ShareRecord, row) for row in rows]

    async def shares_many(self, item_ids: Sequence[str], *, limit: int) -> list[list[ShareRecord]]:
        batches = await self._store.scan_many(
            DRIVE_SHARES, [{"item_id": i} for i in item_ids], limit_per_partition=limit
        )
        return [[from_row(ShareRecord, row) for row in rows] for rows in batches]

    async def put_share(self, workspace_id: str, share: ShareRecord) -> None:
        await self._store.batch(
            [
                Put(DRIVE_SHARES, to_row(share)),
                Put(
                    SHARES_BY_GRANTEE,
                    {
                        "workspace_id": workspace_id,
                        "grantee": share.grantee,
                        "item_id": share.item_id,
                        "level": share.level,
                    },
                ),
            ]
        )

    async def delete_share(self, workspace_id: str, item_id: str, grantee: str) -> None:
        await self._store.batch(
            [
                Delete(DRIVE_SHARES, {"item_id": item_id, "grantee": grantee}),
                Delete(
                    SHARES_BY_GRANTEE,
                    {"workspace_id": workspace_id, "grantee": grantee, "item_id": item_id},
                ),
            ]
        )

    async def shared_with(
        self, workspace_id: str, grantee: str, *, limit: int, after_item_id: str | None = None
    ) -> list[str]:
        """Ids of the items shared with a grantee, newest first."""
        rows = await self._store.scan(
            SHARES_BY_GRANTEE,
            {"workspace_id": workspace_id, "grantee": grantee},
            limit=limit,
            after=_after(after_item_id),
        )
        return [row["item_id"] for row in rows]

    async def add_share_link(self, link: ShareLinkRecord, version_id: str | None) -> None:
        """Store a link; `version_id` is the version it serves, None for the latest."""
        pin: list[Put] = []
        if version_id is not None:
            pin = [Put(SHARE_LINK_VERSIONS, {"link_id": link.link_id, "version_id": version_id})]
        await self._store.batch(
            [
                *pin,
                Put(SHARE_LINKS, to_row(link)),
                Put(SHARE_LINK_TOKENS, {"token_hash": link.token_hash, "link_id": link.link_id}),
                Put(
                    SHARE_LINKS_BY_ITEM,
                    {
                        "item_id": link.item_id,
                        "link_id": link.link_id,
                        "expires_at": link.expires_at,
                    },
                ),
            ]
        )

    async def share_link(self, link_id: str) -> ShareLinkRecord | None:
        row = await self._store.get(SHARE_LINKS, {"link_id": link_id})
        return None if row is None else from_row(ShareLinkRecord, row)

    async def share_link_version(self, link_id: str) -> str | None:
        """The version a link serves, or None when it serves the latest one."""
        row = await self._store.get(SHARE_LINK_VERSIONS, {"link_id": link_id})
        return None if row is None else str(row["version_id"])

    async def share_link_versions(self, link_ids: Sequence[str]) -> list[str | None]:
        rows = await self._store.get_many(SHARE_LINK_VERSIONS, [{"link_id": i} for i in link_ids])
        return [None if row is None else str(row["version_id"]) for row in rows]

    async def share_link_by_token(self, token_hash: bytes) -> ShareLinkRecord | None:
        row = await self._store.get(SHARE_LINK_TOKENS, {"token_hash": token_hash})
        return None if row is None else await self.share_link(row["link_id"])

    async def share_links(
        self, item_id: str, *, limit: int, after_link_id: str | None = None
    ) -> list[ShareLinkRecord]:
        rows = await self._store.scan(
            SHARE_LINKS_BY_ITEM, {"item_id": item_id}, limit=limit, after=_after(after_link_id)
        )
        found = await self._store.get_many(SHARE_LINKS, [{"link_id": r["link_id"]} for r in rows])
        return [from_row(ShareLinkRecord, row) for row in found if row is not None]

    async def delete_share_link(self, link: ShareLinkRecord) -> None:
        await self._store.batch(
            [
                Delete(SHARE_LINKS, {"link_id": link.link_id}),
                Delete(SHARE_LINK_TOKENS, {"token_hash": link.token_hash}),
                Delete(SHARE_LINKS_BY_ITEM, {"item_id": link.item_id, "link_id": link.link_id}),
                Delete(SHARE_LINK_VERSIONS, {"link_id": link.link_id}),
            ]
        )
        await self._store.delete_partition(SHARE_LINK_DOWNLOADS, {"link_id": link.link_id})

    async def claim_link_download(self, link_id: str, limit: int, now: datetime) -> bool:
        """Take one of a limited link's downloads; False once all `limit` are taken."""
        taken = await self._store.count(SHARE_LINK_DOWNLOADS, {"link_id": link_id}, limit=limit)
        for n in range(taken + 1, limit + 1):  # bounded by the limit
            if await self._store.put_if_absent(
                SHARE_LINK_DOWNLOADS, {"link_id": link_id, "n": n, "at": now}
            ):
                return True
        return False

    async def link_downloads(self, link_id: str, limit: int) -> int:
        return await self._store.count(SHARE_LINK_DOWNLOADS, {"link_id": link_id}, limit=limit)

    # Attachments

    async def attachments(self, message_id: str) -> list[tuple[str, str]]:
        rows = await self._store.scan(MESSAGE_ATTACHMENTS, {"message_id": message_id}, limit=100)
        return [(row["file_id"], row["version_id"]) for row in rows]

    async def attachments_many(self, message_ids: Sequence[str]) -> list[list[tuple[str, str]]]:
        batches = await self._store.scan_many(
            MESSAGE_ATTACHMENTS, [{"message_id": m} for m in message_ids], limit_per_partition=100
        )
        return [[(row["file_id"], row["version_id"]) for row in rows] for rows in batches]

    def attachment_ops(
        self, message_id: str, attached: Sequence[tuple[str, str]]
    ) -> list[Put | Delete | Update]:
        return [
            Put(
                MESSAGE_ATTACHMENTS,
                {"message_id": message_id, "position": n, "file_id": f, "version_id": v},
            )
            for n, (f, v) in enumerate(attached)
        ]

    async def put_attachments(self, message_id: str, attached: Sequence[tuple[str, str]]) -> None:
        if attached:
            await self._store.batch(self.attachment_ops(message_id, attached))

    async def delete_attachments(self, message_id: str) -> None:
        await self._store.delete_partition(MESSAGE_ATTACHMENTS, {"message_id": message_id})
