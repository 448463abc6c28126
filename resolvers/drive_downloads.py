"""Downloads from the drive: a download URL or a public share link, checked at each GET.

Each GET checks the caller's access again, then reads only the segments the Range needs and
sends each one's plaintext only after it authenticates.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from crypto import stream
from crypto.errors import SealError
from crypto.grants import Grant
from crypto.tokens import hash_token
from integrations.blobs import BlobNotFound, BlobStoreUnavailable
from persistence.drive_records import FILE, DriveItemRecord, FileVersionRecord, ShareLinkRecord
from persistence.space import writes_when_full
from resolvers.audit import AuditKind
from resolvers.authz import DriveAccess, Principal
from resolvers.context import RequestContext
from resolvers.drive_access import item_access, name_ref, version_ref
from resolvers.drive_shares import link_targets
from resolvers.errors import BLOB_MISSING, CoveError, DamagedData
from resolvers.global_ids import file_version_id
from resolvers.messages import attachment_access
from resolvers.services import Services
from resolvers.transfers import TransferError, storage_unavailable

log = logging.getLogger("cove.files")

_SEALED_SEGMENT = stream.SEGMENT_BYTES + 16  # a segment's plaintext and its GCM tag
# ASCII digits only: `\d` would also take other scripts' digits, which int() accepts.
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# More digits than any offset below 2^63 has: such a number cannot name a byte of a file, and
# int() refuses to read one past 4,300 digits.
_MAX_RANGE_DIGITS = 18


@dataclass(frozen=True)
class Download:
    status: int  # 200, or 206 for a Range
    headers: dict[str, str]
    body: AsyncIterator[bytes]


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


async def serve_version(
    services: Services, access: DriveAccess, version: FileVersionRecord
) -> Download:
    """The whole of one version of a file the caller's `access` reaches (checked by the
    caller), each segment verified before it is sent: ONLYOFFICE's one-time download."""
    return await _serve(
        services,
        item=access.item,
        version=version,
        version_grant=services.authz.version_grant(access, version),
        name_grant=services.authz.drive_grant(access),
        wanted=None,
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
    except SealError:
        log.error("stored file %s version %s failed verification", item.item_id, version.version_id)
        raise TransferError(500, "The stored file is damaged and cannot be served.") from None
    except BlobNotFound:
        log.error("stored file %s version %s is missing", item.item_id, version.version_id)
        raise TransferError(
            404, "The stored contents of this file are missing.", reason=BLOB_MISSING
        ) from None
    except BlobStoreUnavailable:
        log.warning("blob store unavailable for a download", exc_info=True)
        raise storage_unavailable() from None
    try:
        # Counting a limited link's download (and its audit event) is a read's bookkeeping:
        # it goes through on a full volume, so share links still serve.
        with writes_when_full():
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
