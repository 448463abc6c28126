"""The export worker: builds queued exports, takes over those a stopped node left, and deletes
archives nobody downloaded in time.

Each node runs one (started with the app). A job is built in one attempt claimed in the store
(insert-if-absent of the attempt's number), so one node builds it; the attempt's lease is
renewed with each progress report. A node stopping mid-build puts the job back in the queue;
a node that died leaves it RUNNING, and once its lease has passed another node builds it
again from the start (an archive is never resumed half-way: its partial object is dropped
by the blob store). The archive is sealed segment by segment (crypto/stream.py) as the zip
is written, into the blob store, so neither the zip nor any file in it is ever whole in
memory or in clear on disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from crypto import stream
from persistence.exports import (
    EXPIRED,
    FAILED,
    QUEUED,
    READY,
    RUNNING,
    ExportJobRecord,
    archive_blob_key,
)
from persistence.ids import new_id
from resolvers.authz import Principal
from resolvers.context import RequestContext
from resolvers.errors import CoveError
from resolvers.export_archive import Counts, ExportScope, archive_chunks
from resolvers.exports import ALIVE, archive_key, finish, forget, repository
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import ExportNotice
from resolvers.services import Services

log = logging.getLogger("cove.export")

# Attempts before a job that keeps failing (not for lack of rights) is given up.
MAX_ATTEMPTS = 3
# Progress is saved and announced at most this often.
PROGRESS_EVERY_SECONDS = 1.0
_PAGE = 100
# Pieces of the zip at least this big are sealed in a thread.
THREAD_BYTES = 256 * 1024


def _notice_data(job: ExportJobRecord, counts: Counts | None = None) -> dict[str, object]:
    return {
        "exportId": gid("Export", job.job_id),
        "objects": job.objects if counts is None else counts.objects,
        "bytes": job.bytes if counts is None else counts.bytes,
    }


class _Superseded(Exception):
    """Another node took the job over (this node's lease ran out): this attempt stops."""


class ExportWorker:
    """One node's export worker: `start` with the app, `stop` before the store closes."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.node_id = new_id()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="cove-export")

    async def stop(self) -> None:
        """Stop at once: a build under way goes back to the queue for the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.warning("the export worker failed while stopping", exc_info=True)

    async def run(self) -> None:
        due = self._services.exports_due
        policy = self._services.policy.export
        while not self._stopping:
            due.clear()
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("reading the export queue failed; will try again", exc_info=True)
            try:
                async with asyncio.timeout(policy.poll_seconds):
                    await due.wait()
            except TimeoutError:
                pass

    async def run_due(self) -> None:
        """One pass over the live jobs: build what is queued or abandoned, expire what waited
        too long for its download."""
        repo = repository(self._services)
        after: str | None = None
        while True:
            ids = await repo.live(limit=_PAGE, after=after)
            for job_id in ids:
                job = await repo.get(job_id)
                if job is None:
                    await repo.dequeue(job_id)
                    continue
                await self._consider(job)
            if len(ids) < _PAGE:
                return
            after = ids[-1]

    async def _consider(self, job: ExportJobRecord) -> None:
        services = self._services
        now = services.clock()
        if job.state == READY:
            if job.expires_at is not None and job.expires_at <= now:
                await forget(services, job, EXPIRED, now)
            return
        if job.state not in ALIVE:
            await repository(services).dequeue(job.job_id)
            return
        if job.state == RUNNING and job.lease_until is not None and job.lease_until > now:
            return  # another node builds it
        await self._attempt(job)

    async def _attempt(self, job: ExportJobRecord) -> None:
        services = self._services
        repo = repository(services)
        attempt = job.attempts + 1
        now = services.clock()
        if not await repo.claim(job.job_id, f"{attempt:06d}", self.node_id, now):
            return
        if attempt > MAX_ATTEMPTS:
            log.error("export %s given up after %d attempts", job.job_id, job.attempts)
            await self._failed(job, None)
            return
        lease = timedelta(seconds=services.policy.export.lease_seconds)
        await repo.update(
            job.job_id, state=RUNNING, attempts=attempt, lease_until=now + lease, objects=0, bytes=0
        )
        log.info("export %s: attempt %d on %s", job.job_id, attempt, self.node_id)
        key = archive_blob_key(job.job_id, attempt)
        try:
            size, totals = await self._build(job, attempt, key, lease)
        except asyncio.CancelledError:
            if await self._current(job, attempt):
                await repo.update(job.job_id, state=QUEUED, lease_until=now)
            raise
        except _Superseded:
            log.warning("export %s attempt %d was taken over; dropped", job.job_id, attempt)
            await self._drop(key)
            return
        except CoveError as error:
            # The requester may no longer make this export (left, no longer owner).
            log.warning("export %s refused: %s", job.job_id, error.code)
            await self._failed(job, key)
            return
        except Exception:
            log.warning("export %s attempt %d failed", job.job_id, attempt, exc_info=True)
            await self._drop(key)
            if attempt >= MAX_ATTEMPTS:
                await self._failed(job, None)
            elif await self._current(job, attempt):
                await repo.update(job.job_id, state=QUEUED, lease_until=services.clock())
            return
        if not await self._current(job, attempt):
            log.warning("export %s attempt %d was taken over; dropped", job.job_id, attempt)
            await self._drop(key)
            return
        done = services.clock()
        await repo.update(
            job.job_id,
            state=READY,
            blob_key=key,
            archive_size=size,
            objects=totals.objects,
            bytes=totals.bytes,
            finished_at=done,
            expires_at=done + services.policy.export.keep,
            lease_until=None,
        )
        log.info("export %s ready: %d bytes", job.job_id, size)
        ready = await repo.get(job.job_id)
        await self._announce(job, ExportNotice.READY, _notice_data(ready or job))

    async def _current(self, job: ExportJobRecord, attempt: int) -> bool:
        """Whether this attempt is still the job's (no other node took it over)."""
        current = await repository(self._services).get(job.job_id)
        return current is not None and current.attempts == attempt and current.state == RUNNING

    async def _build(
        self, job: ExportJobRecord, attempt: int, key: str, lease: timedelta
    ) -> tuple[int, Counts]:
        """Write the sealed archive into the blob store, as the requester; its size in clear.
        Raises _Superseded when another node took the job over meanwhile."""
        services = self._services
        repo = repository(services)
        scope = ExportScope(
            requester_id=job.requester_id,
            workspace_id=job.workspace_id or None,
            created_at=job.created_at,
            job_id=job.job_id,
        )
        ctx = RequestContext.for_principal(
            services, Principal(job.requester_id, ""), f"export-{job.job_id}"
        )
        last = time.monotonic()
        totals = Counts()

        async def progress(counts: Counts) -> None:
            nonlocal last
            totals.objects, totals.bytes = counts.objects, counts.bytes
            if time.monotonic() - last < PROGRESS_EVERY_SECONDS:
                return
            last = time.monotonic()
            if not await self._current(job, attempt):
                raise _Superseded
            until = services.clock() + lease
            await repo.update(
                job.job_id, objects=counts.objects, bytes=counts.bytes, lease_until=until
            )
            await self._announce(job, ExportNotice.PROGRESS, _notice_data(job, counts))

        size = 0
        encryptor = stream.StreamEncryptor(archive_key(services, job.job_id))

        async def sealed() -> AsyncIterator[bytes]:
            nonlocal size
            yield encryptor.header
            async for plain in archive_chunks(ctx, scope, progress):
                size += len(plain)
                # AES-GCM releases the GIL: a big piece is sealed off the event loop.
                if len(plain) >= THREAD_BYTES:
                    segments = await asyncio.to_thread(encryptor.push, plain)
                else:
                    segments = encryptor.push(plain)
                if segments:
                    yield b"".join(segments)
            yield encryptor.finish()

        await services.blobs.put_stream(key, sealed())
        return size, totals

    async def _drop(self, key: str) -> None:
        try:
            await self._services.blobs.delete(key)
        except Exception:
            log.debug("no archive %s to delete", key, exc_info=True)

    async def _failed(self, job: ExportJobRecord, key: str | None) -> None:
        services = self._services
        await finish(services, job, FAILED, services.clock())
        if key is not None:
            await self._drop(key)
        await self._announce(job, ExportNotice.FAILED, {"exportId": gid("Export", job.job_id)})

    async def _announce(
        self, job: ExportJobRecord, type_: ExportNotice, data: dict[str, object]
    ) -> None:
        try:
            await self._services.notices.publish(gid("User", job.requester_id), type_, data)
        except Exception:
            log.warning("could not announce export %s", job.job_id, exc_info=True)
