"""Housekeeping on a timer: orphaned file contents, expired tokens and old audit events."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from persistence.expiry import expiry_hour
from persistence.ids import id_time
from persistence.space import writes_when_full
from resolvers.services import Services

log = logging.getLogger("cove.files")


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
    """Sweep at start and then every `every`, until cancelled. The sweep only deletes, so it
    goes on when a volume is full (persistence/space.py)."""
    while True:
        try:
            with writes_when_full():
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
