"""File contents in and out: sealed segment by segment on the way in, opened on the way out.

Upload: the one-time token names what will be made; the body is hashed and encrypted as it
arrives (segmented AES-256-GCM, `crypto/stream.py`) and streamed into the blob store, which
makes the object visible only once complete; the version row holding its sealed file key is
written last. Download: each GET checks the caller's access again, then reads only the
segments the Range needs and sends each one's plaintext only after it authenticates.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto import stream
from crypto.errors import SealError
from crypto.grants import Grant
from crypto.tokens import hash_token
from integrations.blobs import BlobNotFound, BlobStoreUnavailable
from persistence.drive import expiry_hour
from persistence.drive_records import (
    FILE,
    DriveItemRecord,
    FileVersionRecord,
    ShareLinkRecord,
    UploadRecord,
)
from persistence.ids import id_time
from resolvers.audit import AuditKind
from resolvers.authz import DriveAccess, Principal
from resolvers.context import RequestContext
from resolvers.drive import (
    blob_key,
    get_item,
    item_access,
    link_targets,
    name_ref,
    publish_item,
    version_ref,
)
from resolvers.errors import CoveError, DamagedData
from resolvers.global_ids import file_version_id
from resolvers.global_ids import to_global_id as gid
from resolvers.roles import AccessLevel
from resolvers.services import Services

log = logging.getLogger("cove.files")

# Plaintext gathered before one round of hashing and encryption off the event loop.
BATCH_BYTES = 1024 * 1024
_SEALED_SEGMENT = stream.SEGMENT_BYTES + 16  # a segment's plaintext and its GCM tag
# ASCII digits only: `\d` would also take other scripts' digits, which int() accepts.
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# More digits than any offset below 2^63 has: such a number cannot name a byte of a file, and
# int() refuses to read one past 4,300 digits.
_MAX_RANGE_DIGITS = 18


class TransferError(Exception):
    """A refused transfer: an HTTP status and a message safe to show."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class _BodyError(Exception):
    """The request body broke the upload's terms; raised inside the blob store's stream."""

    def __init__(self, error: TransferError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class Download:
    status: int  # 200, or 206 for a Range
    headers: dict[str, str]
    body: AsyncIterator[bytes]


# Uploads


async def receive_upload(
    services: Services,
    token: str,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> dict[str, str]:
    """Store the body for the upload this token names; returns the new file and version ids."""
    token_hash = hash_token(token)
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
    if not await services.drive.claim_upload(token_hash, now):
        raise TransferError(410, "This upload URL was used already; ask for a new one.")
    ctx, access = await _uploader_access(services, upload)
    file_key = stream.new_file_key()
    content_key = services.keyring.file_content_key(file_key, upload.file_id, upload.version_id)
    digest = hashlib.sha256()
    key = blob_key(upload.workspace_id, upload.file_id, upload.version_id)
    try:
        await services.blobs.put_stream(
            key, _sealed_chunks(body, upload.size, stream.StreamEncryptor(content_key), digest)
        )
    except _BodyError as exc:
        raise exc.error from None
    except BlobStoreUnavailable:
        log.exception("blob store refused an upload")
        raise TransferError(503, "File storage is unavailable; try again later.") from None
    try:
        item = await _record_version(ctx, upload, access, file_key, digest.hexdigest())
    except BaseException:
        await _forget_blob(services, key)  # no version points to it
        raise
    await _announce(ctx, upload, item)
    return {
        "fileId": gid("File", upload.file_id),
        "versionId": file_version_id(upload.file_id, upload.version_id),
    }


async def _uploader_access(
    services: Services, upload: UploadRecord
) -> tuple[RequestContext, DriveAccess]:
    """Check again that the uploader may still write there (it may have been removed since):
    into the folder for a new file, to the file for a new version."""
    principal = Principal(upload.created_by, upload.session_id)
    session = await services.accounts.get_session(upload.created_by, upload.session_id)
    if session is None or session.expires_at <= services.clock():
        raise TransferError(404, "No such upload URL.")
    ctx = RequestContext.for_principal(services, principal, "upload")
    target = upload.parent_id if upload.new_file else upload.file_id
    try:
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
    async with services.drive_usage_lock(ws):
        used = await services.drive.bytes_used(ws)
        quota = services.drive_policy.workspace_quota_bytes
        if used + upload.size > quota:
            raise TransferError(
                413, f"The workspace's drive would exceed its quota of {quota:,} bytes."
            )
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
        await services.drive.set_bytes_used(ws, used + upload.size)
    return item


async def _announce(ctx: RequestContext, upload: UploadRecord, item: DriveItemRecord) -> None:
    """Forget the used upload and tell the folder; the version is stored whatever happens."""
    try:
        await ctx.services.drive.forget_upload(upload.token_hash)
        ctx.loaders.drive_items.clear(upload.file_id)
        view = await get_item(ctx, upload.file_id)
        if upload.new_file:
            await ctx.services.search.file(view.record, await view.name())
        kind = "drive.item_added" if upload.new_file else "drive.version_added"
        await publish_item(ctx, item.parent_id, kind, view)
    except Exception:
        log.warning("upload %s stored, but not announced", upload.upload_id, exc_info=True)


async def _forget_blob(services: Services, key: str) -> None:
    try:
        await services.blobs.delete(key)
    except Exception:  # the orphan sweep will get it
        log.warning("could not delete blob %s after a failed upload", key, exc_info=True)


# Downloads


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range of RFC 9110, as inclusive (start, end); None without a Range header."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        raise TransferError(400, "Malformed Range header: Cove serves one range, `bytes=a-b`.")
    first, last = match.groups()
    if not first and not last:
        raise TransferError(400, "Malformed Range header: give a start, an end, or both.")
    unsatisfiable = TransferError(
        416, "The range lies outside the file.", {"Content-Range": f"bytes */{size}"}
    )
    if max(len(first), len(last)) > _MAX_RANGE_DIGITS:
        raise unsatisfiable
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        raise TransferError(400, "Malformed Range header: the end comes before the start.")
    if start >= size:
        raise unsatisfiable
    return start, end


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback and the exact name in RFC 5987 form."""
    fallback = (
        "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;%' else "_" for ch in name).strip()
        or "download"
    )
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def requested_range(
    range_header: str | None, if_range: str | None, version: FileVersionRecord
) -> tuple[int, int] | None:
    """The range to serve of `version`, or None for all of it. An `If-Range` naming another
    version (or a date: Cove sends no Last-Modified) asks for the whole file (RFC 9110 13.1.5)."""
    stale = if_range is not None and if_range.strip() != _etag(version)
    if range_header is not None and stale:
        return None
    return parse_range(range_header, version.size)


def _etag(version: FileVersionRecord) -> str:
    # The version's global id, which node(id:) resolves for whoever may read the file.
    return f'"{file_version_id(version.file_id, version.version_id)}"'


async def open_download(
    services: Services, token: str, range_header: str | None, if_range: str | None = None
) -> Download:
    """Check a download URL and the caller's access again, then stream the version."""
    record = await services.drive.download_token(hash_token(token))
    if record is None or record.expires_at <= services.clock():
        raise TransferError(404, "No such download URL, or it has expired.")
    session = await services.accounts.get_session(record.user_id, record.session_id)
    if session is None or session.expires_at <= services.clock():
        raise TransferError(404, "No such download URL, or it has expired.")
    ctx = RequestContext.for_principal(
        services, Principal(record.user_id, record.session_id), "download"
    )
    try:
        if record.message_id:
            from resolvers.messages import attachment_access

            access = await attachment_access(
                ctx, record.message_id, record.file_id, record.version_id
            )
        else:
            access = await item_access(ctx, record.file_id)
    except CoveError:
        raise TransferError(404, "No such download URL, or it has expired.") from None
    if access.in_trash:
        raise TransferError(404, "No such download URL, or it has expired.")
    version = await services.drive.version(record.file_id, record.version_id)
    if version is None:
        raise TransferError(404, "No such download URL, or it has expired.")
    version_grant = services.authz.version_grant(access, version)
    name_grant = services.authz.drive_grant(access)
    return await _serve(
        services,
        item=access.item,
        version=version,
        version_grant=version_grant,
        name_grant=name_grant,
        wanted=requested_range(range_header, if_range, version),
    )


async def open_share_link(
    services: Services,
    token: str,
    password: str | None,
    range_header: str | None,
    if_range: str | None = None,
    *,
    client_address: str = "unknown",
) -> Download:
    """A public share link: live, not revoked, password checked, downloads counted.

    A limited link counts every answer that serves bytes of it, once, whatever its Range: a
    range is a download of those bytes, so resuming or fetching in pieces spends the limit
    too. The Range is read first, and the download claimed only once the first bytes are
    ready, so a refused range (400, 416) or a damaged file (500) costs nothing.
    """
    gone = TransferError(404, "No such share link, or it has expired.")
    link = await services.drive.share_link_by_token(hash_token(token))
    now = services.clock()
    if link is None or link.expires_at <= now:
        raise gone
    item = await _creators_file(services, link)
    pinned = await services.drive.share_link_version(link.link_id)
    version_id = pinned or item.current_version_id
    if link.password_hash is not None:
        if password is None:
            raise TransferError(401, "This link needs its password (POST it as JSON).")
        try:
            attempt = await services.limits.link_password_failures.reserve(link.link_id)
        except CoveError as exc:
            wait = str(exc.retry_after or 60)
            raise TransferError(429, exc.message, {"Retry-After": wait}) from None
        if not (await services.passwords.verify(link.password_hash, password)).ok:
            raise TransferError(403, "Wrong password for this link.")
        await attempt.succeeded()
    version = None if version_id is None else await services.drive.version(item.item_id, version_id)
    if version is None:
        raise gone
    wanted = requested_range(range_header, if_range, version)
    limit = link.max_downloads
    if limit is not None and await services.drive.link_downloads(link.link_id, limit) >= limit:
        raise TransferError(410, "This link has reached its download limit.")

    async def claim() -> None:
        if limit is not None and not await services.drive.claim_link_download(
            link.link_id, limit, now
        ):
            raise TransferError(410, "This link has reached its download limit.")
        await services.audit.workspace_event(
            link.workspace_id,
            AuditKind.SHARE_LINK_USED,
            actor_id="",
            client_address=client_address,
            targets=link_targets(link),
            details={"range": "" if wanted is None else f"{wanted[0]}-{wanted[1]}"},
        )

    version_grant = services.authz.share_link_version(link.link_id, item, version, pinned)
    name_grant = services.authz.share_link_name(link.link_id, item)
    return await _serve(
        services,
        item=item,
        version=version,
        version_grant=version_grant,
        name_grant=name_grant,
        wanted=wanted,
        claim=claim,
    )


async def _creators_file(services: Services, link: ShareLinkRecord) -> DriveItemRecord:
    """The link's file, while the person who made the link may still read it and it is out
    of the trash (a folder above included): the link stands for its creator, so it ends when
    their access does (removed, made a guest, share taken away), checked at each use."""
    ctx = RequestContext.for_principal(services, Principal(link.created_by, ""), "share-link")
    try:
        access = await item_access(ctx, link.item_id)
    except CoveError:
        raise TransferError(404, "No such share link, or it has expired.") from None
    if access.in_trash or access.item.kind != FILE:
        raise TransferError(404, "No such share link, or it has expired.")
    return access.item


async def _nothing_to_claim() -> None:
    return None


async def _serve(
    services: Services,
    *,
    item: DriveItemRecord,
    version: FileVersionRecord,
    version_grant: Grant,
    name_grant: Grant,
    wanted: tuple[int, int] | None,
    claim: Callable[[], Awaitable[None]] = _nothing_to_claim,
) -> Download:
    """Open the version and its first bytes; `claim` runs once they are ready, just before
    the answer starts (it may still refuse it)."""
    ws = version.workspace_id
    keys = services.keys
    try:
        file_key = await keys.open_bytes(
            version_grant, version_ref("key", version.version_id, ws), version.key_sealed
        )
        content_type = await keys.open_text(
            version_grant,
            version_ref("content_type", version.version_id, ws),
            version.content_type_sealed,
        )
        name = await keys.open_text(name_grant, name_ref(item.item_id, ws), item.name_sealed)
    except DamagedData as damaged:
        log.error("stored file %s is damaged: %s", item.item_id, damaged.detail)
        raise TransferError(500, "The stored file is damaged and cannot be served.") from None
    size = version.size
    start, end = wanted if wanted is not None else (0, size - 1)
    content_key = services.keyring.file_content_key(file_key, version.file_id, version.version_id)
    body = _plaintext(services, version, content_key, start, end)
    # Open the first segment before answering, so a damaged or missing object is an error
    # response rather than a cut-off one.
    try:
        first = await anext(body) if end >= start else b""
    except StopAsyncIteration:
        first = b""
    except (SealError, BlobNotFound):
        log.error("stored file %s version %s failed verification", item.item_id, version.version_id)
        raise TransferError(500, "The stored file is damaged and cannot be served.") from None
    except BlobStoreUnavailable:
        raise TransferError(503, "File storage is unavailable; try again later.") from None
    try:
        await claim()
    except BaseException:
        await body.aclose()
        raise
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(name),
        "Content-Length": str(end - start + 1 if size else 0),
        "Accept-Ranges": "bytes",
        "ETag": _etag(version),
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Download(status, headers, _prepend(first, body, f"{item.item_id}/{version.version_id}"))


async def _prepend(first: bytes, rest: AsyncIterator[bytes], what: str) -> AsyncIterator[bytes]:
    if first:
        yield first
    try:
        async for chunk in rest:
            yield chunk
    except SealError:
        # The response has started: all that is left is to cut it short, so the client sees
        # an incomplete body rather than unverified bytes.
        log.error("stored file %s failed verification mid-download; cut short", what)
        raise


async def _plaintext(
    services: Services, version: FileVersionRecord, key: bytes, start: int, end: int
) -> AsyncGenerator[bytes, None]:
    """The plaintext bytes start..end (inclusive), each segment verified before it is sent."""
    size = version.size
    blob_size = await services.blobs.size(version.blob_key)
    if blob_size != stream.ciphertext_size(size):
        raise SealError("stored object has the wrong length (truncated or padded)")
    header = b"".join(
        [c async for c in await services.blobs.read_range(version.blob_key, 0, stream.HEADER_BYTES)]
    )
    if size == 0:
        reader = stream.SegmentReader(key, stream.parse_header(header), 0)
        async for chunk in await services.blobs.read_range(
            version.blob_key, stream.HEADER_BYTES, stream.segment_span(0, 0)[1]
        ):
            reader.feed(chunk)
        reader.close()
        return
    first_segment, last_segment = stream.segments_for_range(start, end, size)
    offset, _ = stream.segment_span(first_segment, size)
    last_offset, last_length = stream.segment_span(last_segment, size)
    reader = stream.SegmentReader(
        key, stream.parse_header(header), size, first_segment, last_segment
    )
    position = first_segment * stream.SEGMENT_BYTES  # plaintext offset of the next segment
    async for chunk in await services.blobs.read_range(
        version.blob_key, offset, last_offset + last_length - offset
    ):
        # Fed a segment's worth at a time, so each verified segment goes out before the
        # next one is checked (a damaged segment stops the stream right there).
        for cut in range(0, len(chunk), _SEALED_SEGMENT):
            for plain in reader.feed(chunk[cut : cut + _SEALED_SEGMENT]):
                low = max(start - position, 0)
                high = min(end + 1 - position, len(plain))
                position += len(plain)
                if low < high:
                    yield plain if low == 0 and high == len(plain) else plain[low:high]
    reader.close()


# Housekeeping


# Expired tokens are looked for this far back (a node down longer leaves older ones behind).
TOKEN_SWEEP_HOURS = 30 * 24


async def sweep_tokens(services: Services) -> int:
    """Forget upload and download tokens, mailed tokens and second steps of sign-ins whose
    hour of expiry has passed; returns a count."""
    last_full_hour = expiry_hour(services.clock()) - 1
    forgotten = 0
    for hour in range(last_full_hour - TOKEN_SWEEP_HOURS, last_full_hour + 1):
        forgotten += await services.drive.forget_expired_tokens(hour)
        forgotten += await services.identity.forget_expired(hour)
    return forgotten


async def sweep_blobs(services: Services, older_than: timedelta) -> int:
    """Delete contents no version points to (an upload that crashed before its row was
    written), and partial uploads left by crashes; returns how many objects went."""
    removed = await services.blobs.cleanup_partials(older_than.total_seconds())
    cutoff: datetime = services.clock() - older_than
    async for key in services.blobs.keys("drive/"):
        parts = key.split("/")
        if len(parts) != 4:
            continue
        _, _, file_id, version_id = parts
        try:
            made = id_time(version_id)
        except ValueError:
            continue
        if made > cutoff:
            continue  # an upload may still be writing its row
        if await services.drive.version(file_id, version_id) is None:
            await services.blobs.delete(key)
            removed += 1
    return removed


async def run_sweeper(services: Services, every: timedelta, older_than: timedelta) -> None:
    """Sweep at start and then every `every`, until cancelled."""
    while True:
        try:
            removed = await sweep_blobs(services, older_than)
            forgotten = await sweep_tokens(services)
            aged = await services.audit.sweep()
            if removed or forgotten or aged:
                log.info(
                    "swept %d orphaned blobs, %d expired tokens and %d old audit events",
                    removed,
                    forgotten,
                    aged,
                )
        except Exception:
            log.warning("blob sweep failed; will try again", exc_info=True)
        await asyncio.sleep(every.total_seconds())
