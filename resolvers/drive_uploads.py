"""Uploads into the drive: a one-time URL (createUpload), then the body sealed as it arrives.

The one-time token names what will be made; the body is hashed and encrypted as it arrives
(segmented AES-256-GCM, `crypto/stream.py`) and streamed into the blob store, which makes the
object visible only once complete; the version row holding its sealed file key is written
last. From before the first byte until after that row, the upload holds an intent for its
blob key in the store (resolvers/blob_leases.py), which keeps every node's sweep off it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from crypto import stream
from crypto.tokens import hash_token, new_token
from integrations.blobs import BlobStoreUnavailable
from persistence.drive_records import FILE, DriveItemRecord, FileVersionRecord, UploadRecord
from persistence.ids import new_id
from persistence.space import writes_when_full
from persistence.store import StorageFull, StoreUnavailable
from resolvers.app_auth import bot_principal
from resolvers.authz import DriveAccess, Principal
from resolvers.blob_leases import UploadLease
from resolvers.context import RequestContext
from resolvers.drive_access import (
    blob_key,
    clean_content_type,
    clean_item_name,
    item_access,
    name_ref,
    version_ref,
    writable_folder,
    writable_item,
)
from resolvers.drive_items import write_and_publish
from resolvers.errors import CoveError, bad_input
from resolvers.global_ids import file_version_id
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import DriveNotice
from resolvers.roles import AccessLevel
from resolvers.services import Services
from resolvers.transfers import TransferError, storage_full, storage_unavailable

log = logging.getLogger("cove.files")

# Plaintext gathered before one round of hashing and encryption off the event loop.
BATCH_BYTES = 1024 * 1024


class _BodyError(Exception):
    """The request body broke the upload's terms; raised inside the blob store's stream."""

    def __init__(self, error: TransferError) -> None:
        super().__init__(error.message)
        self.error = error


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
        target = await writable_item(ctx, file_id, FILE)
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
        folder = await writable_folder(ctx, workspace_id, parent_id, new_file=True)
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


async def receive_upload(
    services: Services,
    token: str,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> dict[str, str]:
    """Store the body for the upload this token names; returns the new file and version ids."""
    token_hash = hash_token(token)
    upload = await _claim(services, token_hash, content_length)
    ctx, access = await _uploader_access(services, upload)
    file_key = stream.new_file_key()
    content_key = services.keyring.file_content_key(file_key, upload.file_id, upload.version_id)
    digest = hashlib.sha256()
    key = blob_key(upload.workspace_id, upload.file_id, upload.version_id)
    lease = UploadLease(services, key)
    try:
        await lease.start()  # the intent, before any byte of the object
    except StoreUnavailable:
        await _release_quietly(services, token_hash)  # the URL stays good for a retry
        raise
    except StorageFull:
        await _release_when_full(services, token_hash)
        raise storage_full() from None
    attempt = _Attempt()
    try:
        encryptor = stream.StreamEncryptor(content_key)
        chunks = _sealed_chunks(body, upload.size, encryptor, digest)
        await _put_object(services, lease, key, chunks, attempt)
        try:
            item = await _record_version(ctx, upload, access, file_key, digest.hexdigest())
        except StorageFull:
            # Nothing of the version was written: its contents go, the URL stays good.
            log.warning("no space left to record an upload's version", exc_info=True)
            await _forget_blob(services, key)
            attempt.give_back = "when full"
            raise storage_full() from None
        except BaseException:
            await _forget_blob(services, key)  # no version points to it
            raise
        attempt.committed = True
    finally:
        # The intent ends before the URL may be used again, so it never ends a retry's (its
        # bookkeeping goes through on a full volume, as the URL's release does).
        with writes_when_full():
            await lease.close(committed=attempt.committed)
        if attempt.give_back == "when full":
            await _release_when_full(services, token_hash)
        elif attempt.give_back == "quietly":
            await _release_quietly(services, token_hash)
    await _announce(ctx, upload, item)
    return {
        "fileId": gid("File", upload.file_id),
        "versionId": file_version_id(upload.file_id, upload.version_id),
    }


@dataclass
class _Attempt:
    """How an upload attempt ended: committed, or with its URL to give back for a retry
    ("quietly", or "when full": through a full volume)."""

    committed: bool = False
    give_back: str | None = None


async def _put_object(
    services: Services,
    lease: UploadLease,
    key: str,
    chunks: AsyncIterator[bytes],
    attempt: _Attempt,
) -> None:
    """Store the sealed object under the upload's intent; a failure that is not the client's
    leaves the URL good for a retry (`attempt.give_back`)."""
    try:
        await lease.guard(services.blobs.put_stream(key, chunks))
    except _BodyError as exc:
        raise exc.error from None
    except BlobStoreUnavailable:
        # Not the client's fault: the URL stays good for a retry (until it expires).
        log.warning("blob store unavailable for an upload", exc_info=True)
        attempt.give_back = "quietly"
        raise storage_unavailable() from None
    except StorageFull:
        # The blob store removed the partial object; the URL stays good for a retry.
        log.warning("no space left for an upload", exc_info=True)
        attempt.give_back = "when full"
        raise storage_full() from None
    except asyncio.CancelledError:
        # Cut by the server (a shutdown past its deadline): the blob store removed the
        # partial object; the URL stays good for a retry.
        log.warning("an upload was cut short by the server")
        attempt.give_back = "quietly"
        raise
    if not lease.held():
        # A sweep may take the object once the lease lapses: give up before the version.
        log.warning("an upload's intent could not be renewed; the upload is dropped")
        await _forget_blob(services, key)
        attempt.give_back = "quietly"
        raise storage_unavailable()


async def _release_quietly(services: Services, token_hash: bytes) -> None:
    """Let the upload URL be used again; a failure is logged (the claim then stays)."""
    try:
        await services.drive.release_upload_claim(token_hash)
    except Exception:
        log.warning("could not release a cut upload's URL", exc_info=True)


async def _claim(services: Services, token_hash: bytes, content_length: int | None) -> UploadRecord:
    """The upload this token names, claimed for this request (refused if used or expired)."""
    upload = await services.drive.upload(token_hash)
    now = services.clock()
    if upload is None:
        if await services.drive.upload_claimed(token_hash):  # done: its row is gone
            raise TransferError(410, "This upload URL was used already; ask for a new one.")
        raise TransferError(404, "No such upload URL.")
    if upload.expires_at <= now:
        raise TransferError(410, "This upload URL has expired; ask for a new one.")
    if content_length is not None and content_length != upload.size:
        raise TransferError(
            400, f"The body must hold exactly {upload.size} bytes, as declared ({content_length})."
        )
    try:
        claimed = await services.drive.claim_upload(token_hash, now)
    except StorageFull:
        raise storage_full() from None  # nothing claimed: the URL stays good for a retry
    if not claimed:
        raise TransferError(410, "This upload URL was used already; ask for a new one.")
    return upload


async def _uploader_access(
    services: Services, upload: UploadRecord
) -> tuple[RequestContext, DriveAccess]:
    """Check again that the uploader may still write there (it may have been removed since):
    into the folder for a new file, to the file for a new version."""
    principal: Principal | None = Principal(upload.created_by, upload.session_id)
    session = await services.accounts.get_session(upload.created_by, upload.session_id)
    if session is None:  # an app's bot, while its token family lasts
        principal = await bot_principal(
            services, upload.created_by, upload.session_id, upload.workspace_id
        )
    elif session.expires_at <= services.clock():
        principal = None
    if principal is None:
        raise TransferError(404, "No such upload URL.")
    ctx = RequestContext.for_principal(services, principal, "upload")
    target = upload.parent_id if upload.new_file else upload.file_id
    try:
        if upload.new_file and principal.app is not None and target == upload.workspace_id:
            access = await writable_folder(ctx, upload.workspace_id, None, new_file=True)
        else:
            access = await item_access(ctx, target)
            services.authz.drive_require(access, AccessLevel.WRITE)
    except CoveError:
        raise TransferError(404, "No such upload URL.") from None
    if access.in_trash:
        raise TransferError(409, "The destination is in the trash; restore it first.")
    return ctx, access


async def _sealed_chunks(
    body: AsyncIterator[bytes],
    size: int,
    encryptor: stream.StreamEncryptor,
    digest: hashlib._Hash,
) -> AsyncIterator[bytes]:
    """Ciphertext for the blob store: the header, then segments as the body arrives."""

    def seal(data: bytes) -> bytes:
        digest.update(data)  # hashlib and AES-GCM release the GIL on large inputs
        return b"".join(encryptor.push(data))

    yield encryptor.header
    received = 0
    pending: list[bytes] = []
    pending_bytes = 0
    async for chunk in body:
        if not chunk:
            continue
        received += len(chunk)
        if received > size:
            raise _BodyError(
                TransferError(413, f"The body is longer than the {size} bytes declared.")
            )
        pending.append(chunk)
        pending_bytes += len(chunk)
        if pending_bytes >= BATCH_BYTES:
            data = b"".join(pending)
            pending, pending_bytes = [], 0
            sealed = await asyncio.to_thread(seal, data)
            if sealed:
                yield sealed
    if received < size:
        raise _BodyError(
            TransferError(400, f"The body ended after {received} of the {size} bytes declared.")
        )
    data = b"".join(pending)
    yield await asyncio.to_thread(lambda: seal(data) + encryptor.finish())


async def _record_version(
    ctx: RequestContext,
    upload: UploadRecord,
    access: DriveAccess,
    file_key: bytes,
    sha256_hex: str,
) -> DriveItemRecord:
    """Write the version (and, for a new file, the file) once its contents are stored."""
    services = ctx.services
    now = services.clock()
    ws = upload.workspace_id
    quota = services.drive_policy.workspace_quota_bytes
    # The bytes are counted first, by a compare-and-set every node shares: two uploads
    # finishing at once on different nodes cannot both pass the quota.
    if not await services.drive.change_bytes_used(ws, upload.size, limit=quota):
        raise TransferError(
            413, f"The workspace's drive would exceed its quota of {quota:,} bytes."
        )
    try:
        previous = None
        if not upload.new_file:
            previous = await services.drive.versions(upload.file_id, limit=1)
        number = previous[0].number + 1 if previous else 1
        version = FileVersionRecord(
            file_id=upload.file_id,
            version_id=upload.version_id,
            workspace_id=ws,
            number=number,
            size=upload.size,
            content_type_sealed=upload.content_type_sealed,
            sha256_sealed=await services.keys.seal_text(
                version_ref("sha256", upload.version_id, ws), sha256_hex
            ),
            key_sealed=await services.keys.seal_bytes(
                version_ref("key", upload.version_id, ws), file_key
            ),
            blob_key=blob_key(ws, upload.file_id, upload.version_id),
            created_by=upload.created_by,
            created_at=now,
        )
        if upload.new_file:
            assert upload.name_sealed is not None
            item = DriveItemRecord(
                item_id=upload.file_id,
                workspace_id=ws,
                parent_id=upload.parent_id,
                kind=FILE,
                name_sealed=upload.name_sealed,
                created_by=upload.created_by,
                created_at=now,
                updated_at=now,
                current_version_id=upload.version_id,
                size=upload.size,
            )
        else:
            item = access.item
        await services.drive.add_version(item, version, new_file=upload.new_file, now=now)
    except StoreUnavailable:
        # The write may have been applied: the bytes stay counted (a quota errs on the safe side).
        raise
    except BaseException:
        with writes_when_full():  # gives back what was counted, on a full volume too
            await services.drive.change_bytes_used(ws, -upload.size)
        raise
    return item


async def _announce(ctx: RequestContext, upload: UploadRecord, item: DriveItemRecord) -> None:
    """Forget the used upload and tell the folder; the version is stored whatever happens."""
    try:
        await write_and_publish(
            ctx,
            ctx.services.drive.forget_upload(upload.token_hash),
            upload.file_id,
            item.parent_id,
            DriveNotice.ITEM_ADDED if upload.new_file else DriveNotice.VERSION_ADDED,
            index=upload.new_file,
        )
    except Exception:
        log.warning("upload %s stored, but not announced", upload.upload_id, exc_info=True)


async def _release_when_full(services: Services, token_hash: bytes) -> None:
    """Let the upload URL be used again after a full volume refused its upload (the claim's
    delete goes through on a full volume)."""
    try:
        with writes_when_full():
            await services.drive.release_upload_claim(token_hash)
    except Exception:
        log.warning("could not release the URL of an upload refused for space", exc_info=True)


async def _forget_blob(services: Services, key: str) -> None:
    try:
        await services.blobs.delete(key)
    except Exception:  # the orphan sweep will get it
        log.warning("could not delete blob %s after a failed upload", key, exc_info=True)
