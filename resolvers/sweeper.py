"""Housekeeping on a timer: leftovers of crashed uploads, expired tokens and old audit events.

Blobs are swept at start and every few minutes, and nothing waits for an age to pass: an
upload holds an intent in the store while it runs (resolvers/blob_leases.py), so what no live
intent and no version row claims is the leftover of a process that died. Partial files on the
local engine are known dead by their lock (integrations/blobs/local.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from persistence.blob_intents import BlobIntentRecord
from persistence.expiry import expiry_hour
from persistence.ids import id_time
from resolvers.blob_leases import DRIVE_PREFIX, drive_key_parts, intent_hour, is_alive
from resolvers.services import Services

log = logging.getLogger("cove.files")


# Expired tokens are looked for this far back (a node down longer leaves older ones behind).
TOKEN_SWEEP_HOURS = 30 * 24
# S3 multipart uploads younger than this are spared even without an intent: a node running a
# Cove from before upload intents may still be sending one.
MULTIPART_GRACE = timedelta(minutes=10)
# Intents of uploads that died before their object existed are looked for in the hours of
# versions made up to the upload URL's lifetime and this much more ago.
INTENT_LOOKBACK = timedelta(days=1)
# An object with no intent at all was written by a Cove from before intents, maybe by a node
# still running one in a rolling upgrade, whose upload may not have written its version row
# yet: it is removed, as before intents, only once its version was made longer ago than the
# upload URL's lifetime and this. (This Cove ends an intent, never deletes it, on failure.)
NO_INTENT_AGE = timedelta(days=1)
INTENT_PAGE = 200


async def sweep_tokens(services: Services) -> int:
    """Forget upload and download tokens, mailed tokens and second steps of sign-ins whose
    hour of expiry has passed; returns a count."""
    last_full_hour = expiry_hour(services.clock()) - 1
    forgotten = 0
    for hour in range(last_full_hour - TOKEN_SWEEP_HOURS, last_full_hour + 1):
        forgotten += await services.drive.forget_expired_tokens(hour)
        forgotten += await services.identity.forget_expired(hour)
    return forgotten


async def sweep_blobs(services: Services) -> int:
    """Remove what crashed uploads left, on any node: partial uploads, contents no version
    points to and no running upload holds, and the intents of dead uploads; returns how many
    objects and partial uploads went."""

    async def live(key: str) -> bool:
        hour = intent_hour(key)
        if hour is None:
            return False
        return is_alive(await services.blob_intents.get(hour, key), services.clock())

    removed = await services.blobs.cleanup_partials(MULTIPART_GRACE.total_seconds(), live=live)
    async for key in services.blobs.keys(DRIVE_PREFIX):
        if await _settle(services, key, listed=True):
            removed += 1
    now = services.clock()
    first = expiry_hour(now - services.drive_policy.upload_ttl - INTENT_LOOKBACK)
    for hour in range(first, expiry_hour(now) + 1):
        after: str | None = None
        while True:  # each page starts after the last key of the one before, so it ends
            intents = await services.blob_intents.in_hour(hour, limit=INTENT_PAGE, after=after)
            for intent in intents:
                if not is_alive(intent, services.clock()):
                    await _settle(services, intent.blob_key, listed=False)
            if len(intents) < INTENT_PAGE:
                break
            after = intents[-1].blob_key
    return removed


async def _settle(services: Services, key: str, *, listed: bool) -> bool:
    """Remove the object under a drive key, and its dead intent, unless a running upload holds
    the key or a version row names it (or, with no intent at all, unless it is young); True
    when a listed object was removed.

    The intent is read before the version row: it is written before the object and deleted
    only after the version row, so an upload that has committed is never taken for dead.
    Listed objects were seen before the intent was read, so they are not a retry of the same
    URL that starts later; a retry that starts meanwhile is seen by reading the intent again.
    """
    parts = drive_key_parts(key)
    hour = intent_hour(key)
    if parts is None or hour is None:
        return False
    _, file_id, version_id = parts
    intent = await services.blob_intents.get(hour, key)
    now = services.clock()
    if is_alive(intent, now):
        return False
    if (
        intent is None
        and id_time(version_id) > now - services.drive_policy.upload_ttl - NO_INTENT_AGE
    ):
        return False  # no intent ever: the age rule of before intents
    if await services.drive.version(file_id, version_id) is not None:
        await _forget_if_unchanged(services, hour, key, intent)  # its upload ended before
        return False
    if await services.blob_intents.get(hour, key) != intent:
        return False  # the URL is being tried again
    await services.blobs.delete(key)
    await _forget_if_unchanged(services, hour, key, intent)
    return listed


async def _forget_if_unchanged(
    services: Services, hour: int, key: str, seen: BlobIntentRecord | None
) -> None:
    """Delete a dead intent unless a retry has renewed it since it was read (a retry that
    renews it just after is restored by its next renewal)."""
    if seen is not None and await services.blob_intents.get(hour, key) == seen:
        await services.blob_intents.forget(hour, key)


async def run_sweeper(
    services: Services, *, blobs_every: timedelta, others_every: timedelta
) -> None:
    """Sweep blobs at start and then every `blobs_every`; tokens and old audit events at start
    and then every `others_every`; until cancelled."""
    loop = asyncio.get_running_loop()
    others_due = loop.time()
    while True:  # runs until the app cancels it; each turn sleeps
        try:
            removed = await sweep_blobs(services)
            if removed:
                log.info("swept %d leftovers of crashed uploads", removed)
        except Exception:
            log.warning("blob sweep failed; will try again", exc_info=True)
        if loop.time() >= others_due:
            others_due = loop.time() + others_every.total_seconds()
            try:
                forgotten = await sweep_tokens(services)
                aged = await services.audit.sweep()
                if forgotten or aged:
                    log.info("swept %d expired tokens and %d old audit events", forgotten, aged)
            except Exception:
                log.warning("token and audit sweep failed; will try again", exc_info=True)
        await asyncio.sleep(blobs_every.total_seconds())
