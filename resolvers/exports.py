"""Self-service exports: asking for one, reading one's own, and the one-time download.

`request_export` checks the caller may make the export (a workspace's: its owners only), then
queues a job in the store and wakes the worker (resolvers/export_worker.py), which builds the
archive as the requester. A READY export's `download_url` mints a short-lived URL; the first
GET of any of its URLs claims the one download, streams the archive (each segment verified
before it is sent) and deletes it once sent: every URL of that export then answers 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from crypto import stream
from crypto.errors import SealError
from crypto.tokens import hash_token, new_token
from integrations.blobs import BlobNotFound, BlobStoreUnavailable
from persistence.exports import (
    DOWNLOAD_CLAIM,
    DOWNLOADED,
    QUEUED,
    READY,
    RUNNING,
    ExportJobRecord,
    ExportRepository,
)
from persistence.ids import new_id
from resolvers import workspaces
from resolvers.audit import AuditKind
from resolvers.authz import Principal
from resolvers.context import RequestContext
from resolvers.drive_downloads import Download
from resolvers.errors import CoveError, ErrorCode, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.services import Services
from resolvers.transfers import TransferError, storage_unavailable

log = logging.getLogger("cove.export")

ALIVE = frozenset({QUEUED, RUNNING})
# The newest exports `viewer.exports` lists.
LISTED = 20
_SEALED_SEGMENT = stream.SEGMENT_BYTES + 16


def repository(services: Services) -> ExportRepository:
    return ExportRepository(services.store)


def archive_key(services: Services, job_id: str) -> bytes:
    """The archive's content key: derived from the root key for this job, never stored."""
    base = services.keyring.derive(b"export archives")
    return services.keyring.file_content_key(base, job_id, "archive")


class ExportView:
    """An export as its requester sees it."""

    def __init__(self, ctx: RequestContext, record: ExportJobRecord) -> None:
        self.record = record
        self._ctx = ctx

    @property
    def id(self) -> str:
        return self.record.job_id

    async def download_url(self) -> str | None:
        """A new one-time URL while the archive waits; None before it is ready and after."""
        record = self.record
        services = self._ctx.services
        if record.state != READY or record.expires_at is None:
            return None
        token = new_token("cvx_")
        expires_at = min(record.expires_at, services.clock() + services.drive_policy.download_ttl)
        session_id = self._ctx.principal_now().session_id
        await repository(services).add_token(
            hash_token(token), record.job_id, session_id, expires_at
        )
        return services.drive_policy.url(f"/exports/download/{token}")


async def request_export(ctx: RequestContext, workspace_id: str | None) -> ExportView:
    """Queue an export of a workspace (owners only) or, without one, of the caller's data."""
    services = ctx.services
    principal = await ctx.require_user()
    if principal.app is not None:
        raise not_found("workspace")
    if workspace_id is not None:
        granted = await workspaces.access(ctx, workspace_id)
        services.authz.export_workspace(granted)
    repo = repository(services)
    alive = [r for r in await repo.of_user(principal.user_id, limit=LISTED) if r.state in ALIVE]
    if len(alive) >= services.policy.export.max_running:
        raise CoveError(
            ErrorCode.RATE_LIMITED,
            "You have as many exports under way as you may; wait for one to finish.",
        )
    now = services.clock()
    job_id = new_id(at=now)
    record = ExportJobRecord(
        job_id=job_id,
        requester_id=principal.user_id,
        workspace_id=workspace_id or "",
        state=QUEUED,
        objects=0,
        bytes=0,
        attempts=0,
        lease_until=None,
        created_at=now,
        finished_at=None,
        expires_at=None,
        blob_key="",  # the attempt's that made the archive, once READY
        archive_size=0,
    )
    await repo.add(record)
    if workspace_id is not None:
        # A whole workspace leaves as one archive: its owners and admins see who asked.
        await services.audit.workspace_event(
            workspace_id,
            AuditKind.WORKSPACE_EXPORTED,
            actor_id=principal.user_id,
            client_address=ctx.client_address,
            details={"export": gid("Export", job_id)},
        )
    services.exports_due.set()
    log.info("export %s queued by %s", job_id, principal.user_id)
    return ExportView(ctx, record)


async def my_exports(ctx: RequestContext) -> list[ExportView]:
    principal = await ctx.require_user()
    records = await repository(ctx.services).of_user(principal.user_id, limit=LISTED)
    return [ExportView(ctx, r) for r in records]


async def get_export(ctx: RequestContext, job_id: str) -> ExportView:
    principal = await ctx.principal()
    record = None if principal is None else await repository(ctx.services).get(job_id)
    if record is None or principal is None or record.requester_id != principal.user_id:
        raise not_found("export")
    return ExportView(ctx, record)


def check_workspace_input(workspace_id: str | None) -> None:
    if workspace_id is not None and not workspace_id:
        raise bad_input("Give a workspace id, or none for your own data.", field="workspaceId")


async def open_download(services: Services, token: str) -> Download:
    """Check a download URL, claim the export's one download, then stream the archive."""
    gone = TransferError(410, "This export has been downloaded or has expired.")
    repo = repository(services)
    missing = TransferError(404, "No such download URL, or it has expired.")
    found = await repo.token(hash_token(token))
    now = services.clock()
    if found is None or found[2] <= now:
        raise missing
    job = await repo.get(found[0])
    if job is None or job.state != READY or (job.expires_at is not None and job.expires_at <= now):
        raise gone
    await _still_allowed(services, job, found[1], missing)
    if not await repo.claim(job.job_id, DOWNLOAD_CLAIM, "download", now):
        raise gone
    try:
        body = _plaintext(services, job)
        first = await anext(body, b"")
    except BaseException as error:
        await repo.release(job.job_id, DOWNLOAD_CLAIM)  # nothing was sent: it may be tried again
        if isinstance(error, BlobStoreUnavailable):
            raise storage_unavailable() from None
        if isinstance(error, BlobNotFound):
            raise gone from None
        if isinstance(error, SealError):
            log.error("export %s archive failed verification", job.job_id)
            raise TransferError(500, "The stored archive is damaged.") from None
        raise
    stamp = job.created_at.strftime("%Y%m%d-%H%M%S")
    headers = {
        "Content-Type": "application/zip",
        "Content-Disposition": f'attachment; filename="cove-export-{stamp}.zip"',
        "Content-Length": str(job.archive_size),
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "no-store",
    }
    return Download(200, headers, _then_forget(services, job, first, body))


async def _still_allowed(
    services: Services, job: ExportJobRecord, session_id: str, refusal: TransferError
) -> None:
    """Check again, at the GET, that the URL's login is live and that the requester may still
    make this export (a workspace's owner still)."""
    session = await services.accounts.get_session(job.requester_id, session_id)
    if session is None or session.expires_at <= services.clock():
        raise refusal
    if not job.workspace_id:
        return
    ctx = RequestContext.for_principal(
        services, Principal(job.requester_id, session_id), "export-download"
    )
    try:
        services.authz.export_workspace(await workspaces.access(ctx, job.workspace_id))
    except CoveError:
        raise refusal from None


async def _then_forget(
    services: Services, job: ExportJobRecord, first: bytes, rest: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    sent = len(first)
    try:
        if first:
            yield first
        async for chunk in rest:
            sent += len(chunk)
            yield chunk
    finally:
        # The client may hang up as soon as it has every byte, which cancels this stream:
        # what follows is shielded so that it still happens.
        if sent == job.archive_size:
            after = forget(services, job, DOWNLOADED, services.clock())
        else:  # cut short: the archive stays for another try
            after = repository(services).release(job.job_id, DOWNLOAD_CLAIM)
        try:
            await asyncio.shield(asyncio.ensure_future(after))
        except asyncio.CancelledError:
            raise  # the shielded step goes on all the same


async def forget(services: Services, job: ExportJobRecord, state: str, at: datetime) -> None:
    """Delete the archive and mark the job done with (`DOWNLOADED` or `EXPIRED`)."""
    if job.blob_key:
        with contextlib.suppress(BlobNotFound):
            await services.blobs.delete(job.blob_key)
    await finish(services, job, state, at)


async def finish(services: Services, job: ExportJobRecord, state: str, at: datetime) -> None:
    """Mark the job done with, out of the worker's queue; the sweeper forgets it once
    `export_history_days` have passed (resolvers/sweeper.py)."""
    repo = repository(services)
    await repo.finish(job, state, at, at + services.policy.export.history)
    await repo.dequeue(job.job_id)
    log.info("export %s archive deleted (%s)", job.job_id, state.lower())


async def _plaintext(services: Services, job: ExportJobRecord) -> AsyncIterator[bytes]:
    """The archive's bytes, each segment verified before it is handed on."""
    key = archive_key(services, job.job_id)
    size = job.archive_size
    blob_size = await services.blobs.size(job.blob_key)
    if blob_size != stream.ciphertext_size(size):
        raise SealError("stored archive has the wrong length (truncated or padded)")
    header = b"".join(
        [c async for c in await services.blobs.read_range(job.blob_key, 0, stream.HEADER_BYTES)]
    )
    reader = stream.SegmentReader(key, stream.parse_header(header), size)
    chunks = await services.blobs.read_range(
        job.blob_key, stream.HEADER_BYTES, blob_size - stream.HEADER_BYTES
    )
    async for chunk in chunks:
        # A segment's worth at a time, so each verified segment goes out before the next.
        for cut in range(0, len(chunk), _SEALED_SEGMENT):
            for plain in reader.feed(chunk[cut : cut + _SEALED_SEGMENT]):
                if plain:
                    yield plain
    reader.close()
