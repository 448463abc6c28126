"""Upload leases: the intent an upload holds in the store while it writes a drive object.

Before the first byte of `drive/<ws>/<file>/<version>` is written, the uploading task writes
an intent for that key with a lease (`persistence/blob_intents.py`), renews it every
`INTENT_RENEW_EVERY` while it runs, and deletes it once the version row is written (or once
the upload has failed and cleaned up). Every node's sweep therefore knows, without waiting for
any age to pass, that an object or a multipart upload whose key has no live intent and no
version row is the leftover of a process that died: see resolvers/sweeper.py.

A lease that cannot be renewed (the store does not answer) must not outlive its upload's
claim on the key: the upload is cut and answered 503 before the lease would lapse, so a sweep
never removes what a running upload still writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

from integrations.blobs import BlobStoreUnavailable
from persistence.blob_intents import BlobIntentRecord
from persistence.expiry import expiry_hour
from persistence.ids import id_time
from resolvers.services import Services

log = logging.getLogger("cove.files")

T = TypeVar("T")

# An intent lives this long unless renewed; it is renewed three times per lease, so two
# renewals in a row may fail (a store briefly away) before the upload is cut.
INTENT_LEASE = timedelta(seconds=60)
INTENT_RENEW_EVERY = timedelta(seconds=20)
# How far the clocks of the nodes sharing a store may disagree: a sweep counts an intent dead
# only this long after its lease ran out by the sweeping node's clock.
CLOCK_SLACK = timedelta(seconds=30)
DRIVE_PREFIX = "drive/"


def drive_key_parts(key: str) -> tuple[str, str, str] | None:
    """(workspace, file, version) of a drive object's key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or f"{parts[0]}/" != DRIVE_PREFIX:
        return None
    _, workspace_id, file_id, version_id = parts
    try:
        id_time(version_id)
    except ValueError:
        return None
    return workspace_id, file_id, version_id


def intent_hour(key: str) -> int | None:
    """The partition of the key's intent: the hour its version id was made in (None for a key
    that is not a drive object's)."""
    parts = drive_key_parts(key)
    return None if parts is None else expiry_hour(id_time(parts[2]))


def is_alive(intent: BlobIntentRecord | None, now: datetime) -> bool:
    """Whether the intent may still belong to a running upload."""
    return intent is not None and intent.alive_until + CLOCK_SLACK > now


def owner_name() -> str:
    """This process, as intents name their owner (for an operator reading the table)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class UploadLease:
    """The intent one upload holds, renewed by a task of its own until the lease is closed."""

    def __init__(self, services: Services, key: str) -> None:
        hour = intent_hour(key)
        if hour is None:
            raise ValueError(f"{key!r} is not a drive object's key")
        self._intents = services.blob_intents
        self._clock = services.clock
        self._key = key
        self._hour = hour
        self._owner = owner_name()
        self._alive_until = self._clock()
        self.lost = asyncio.Event()
        self._renewer: asyncio.Task[None] | None = None

    def held(self) -> bool:
        """Whether the lease is sure to hold for at least one more renewal period."""
        return not self.lost.is_set() and self._alive_until - INTENT_RENEW_EVERY > self._clock()

    async def start(self) -> None:
        """Write the intent (before any byte of the object), then renew it in the background."""
        await self._hold()
        self._renewer = asyncio.create_task(self._renew(), name="cove-upload-lease")

    async def guard(self, work: Awaitable[T]) -> T:
        """Await `work`, cut (cancelled) if the lease is lost meanwhile: BlobStoreUnavailable."""
        task = asyncio.ensure_future(work)
        lost = asyncio.create_task(self.lost.wait())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
                # The work cleans up under cancellation (the blob store removes its partial).
                await asyncio.wait((task,))
        if task.cancelled() and self.lost.is_set():
            raise BlobStoreUnavailable("the upload's intent could not be renewed in the store")
        return task.result()

    async def close(self, *, committed: bool) -> None:
        """Stop renewing, then delete the intent once the version row is written; after a
        failure, end the lease now instead, so the next sweep removes whatever the upload may
        have left (an S3 upload whose completion went unanswered) with the intent. A failure
        to write is logged: the lease then runs out on its own."""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.wait((self._renewer,))
        try:
            if committed:
                await self._intents.forget(self._hour, self._key)
            else:
                await self._hold(lease=timedelta(0))
        except Exception:
            log.warning("could not end an upload's intent; it will lapse", exc_info=True)

    async def _hold(self, *, lease: timedelta = INTENT_LEASE) -> None:
        alive_until = self._clock() + lease
        await self._intents.hold(BlobIntentRecord(self._hour, self._key, self._owner, alive_until))
        self._alive_until = alive_until

    async def _renew(self) -> None:
        while not self.lost.is_set():  # ends when the lease is lost, or by cancellation
            await asyncio.sleep(INTENT_RENEW_EVERY.total_seconds())
            try:
                async with asyncio.timeout(INTENT_RENEW_EVERY.total_seconds()):
                    await self._hold()
            except Exception:
                if self._alive_until - INTENT_RENEW_EVERY <= self._clock():
                    log.warning("an upload's intent lapses: the upload is cut", exc_info=True)
                    self.lost.set()
                else:
                    log.warning("could not renew an upload's intent; will retry", exc_info=True)
