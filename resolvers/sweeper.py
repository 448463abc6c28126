"""Housekeeping on a timer: leftovers of crashed uploads, expired tokens, finished exports
past their history and old audit events.

Leftovers of crashed uploads are swept at start and every few minutes, and nothing waits
for an age to pass: an upload holds an intent in the store while it runs
(resolvers/blob_leases.py), so an object whose intent ran out with no version row is the
leftover of a process that died. Partial files on the local engine are known dead by their
lock (integrations/blobs/local.py). Every object is listed hourly, for orphans of any kind.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from integrations.blobs import BlobNotFound
from persistence.blob_intents import BlobIntentRecord
from persistence.expiry import expiry_hour
from persistence.exports import ExportRepository, archive_key_parts, is_building
from persistence.ids import id_time
from persistence.office import OfficeRepository
from persistence.space import writes_when_full
from resolvers.blob_leases import (
    CLOCK_SLACK,
    DRIVE_PREFIX,
    drive_key_parts,
    intent_hour,
    is_alive,
)
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
    """Forget upload and download tokens, mailed tokens, second steps of sign-ins, ONLYOFFICE
    tokens, apps' codes and tokens, export download tokens and finished exports whose hour of
    expiry has passed; returns a count."""
    last_full_hour = expiry_hour(services.clock()) - 1
    office = OfficeRepository(services.store)
    exports = ExportRepository(services.store)
    forgotten = 0
    for hour in range(last_full_hour - TOKEN_SWEEP_HOURS, last_full_hour + 1):
        forgotten += await services.drive.forget_expired_tokens(hour)
        forgotten += await services.identity.forget_expired(hour)
        forgotten += await office.forget_expired(hour)
        forgotten += await services.apps.forget_expired(hour)
        forgotten += await exports.forget_expired(hour)
    return forgotten


async def sweep_blobs(services: Services) -> int:
    """Remove what crashed uploads left, on any node, as soon as it is known dead: partial
    uploads, and objects whose upload's intent ran out with no version row (and those
    intents); returns how many partial uploads and objects went. Cheap enough to run every
    few minutes: it reads the intents of recent uploads, not every object."""

    async def live(key: str) -> bool:
        archive = archive_key_parts(key)
        if archive is not None:  # an export's archive, written under its attempt's lease
            job = await ExportRepository(services.store).get(archive[0])
            return is_building(job, archive[1], services.clock(), CLOCK_SLACK)
        hour = intent_hour(key)
        if hour is None:
            return False
        return is_alive(await services.blob_intents.get(hour, key), services.clock())

    removed = await services.blobs.cleanup_partials(MULTIPART_GRACE.total_seconds(), live=live)
    now = services.clock()
    first = expiry_hour(now - services.drive_policy.upload_ttl - INTENT_LOOKBACK)
    for hour in range(first, expiry_hour(now) + 1):
        after: str | None = None
        while True:  # each page starts after the last key of the one before, so it ends
            intents = await services.blob_intents.in_hour(hour, limit=INTENT_PAGE, after=after)
            for intent in intents:
                if not is_alive(intent, services.clock()) and await _settle(services, intent):
                    removed += 1
            if len(intents) < INTENT_PAGE:
                break
            after = intents[-1].blob_key
    return removed


async def sweep_orphans(services: Services) -> int:
    """Delete every drive object no version row names and no live intent holds, whatever
    wrote it: what `sweep_blobs` cannot reach (an intent older than its look-back) and objects
    with no intent at all, from a Cove before intents (those only once old: a node not yet
    upgraded may be about to write its version row). Lists every object, so it runs hourly;
    returns how many went."""
    removed = 0
    async for key in services.blobs.keys(DRIVE_PREFIX):
        if await _remove_orphan(services, key):
            removed += 1
    return removed


async def _settle(services: Services, intent: BlobIntentRecord) -> bool:
    """Deal with an intent found dead: delete its object unless a version row names it, then
    the intent; True when an object was there to delete.

    The intent was read before the version row: it is written before the object and deleted
    only after the version row, so an upload that has committed is never taken for dead. It
    is read again before the object goes, to spare a retry of the same URL started meanwhile.
    """
    key = intent.blob_key
    parts = drive_key_parts(key)
    if parts is None:
        await services.blob_intents.forget(intent.hour, key)
        return False
    _, file_id, version_id = parts
    removed = False
    if await services.drive.version(file_id, version_id) is None:
        if await services.blob_intents.get(intent.hour, key) != intent:
            return False  # the URL is being tried again
        removed = await _delete_if_present(services, key)
    await _forget_if_unchanged(services, intent.hour, key, intent)
    return removed


async def _remove_orphan(services: Services, key: str) -> bool:
    """Delete a listed drive object if no version row names it and no running upload holds
    it (an object with no intent at all only once old); True when it went.

    A version row is looked for first, which settles the common case in one read; for the
    rest, the intent is read before the version row is read again (see `_settle`), and once
    more before the object goes. Listed objects were stored before the intent was read, so
    they are not a retry of the same URL that starts later.
    """
    parts = drive_key_parts(key)
    hour = intent_hour(key)
    if parts is None or hour is None:
        return False
    _, file_id, version_id = parts
    if await services.drive.version(file_id, version_id) is not None:
        return False
    intent = await services.blob_intents.get(hour, key)
    now = services.clock()
    if is_alive(intent, now):
        return False
    young = id_time(version_id) > now - services.drive_policy.upload_ttl - NO_INTENT_AGE
    if intent is None and young:
        return False  # no intent ever: the age rule of before intents
    if await services.drive.version(file_id, version_id) is not None:
        return False  # committed meanwhile
    if await services.blob_intents.get(hour, key) != intent:
        return False  # the URL is being tried again
    await services.blobs.delete(key)
    await _forget_if_unchanged(services, hour, key, intent)
    return True


async def _delete_if_present(services: Services, key: str) -> bool:
    try:
        await services.blobs.size(key)
    except BlobNotFound:
        return False  # the upload died before its object was stored
    await services.blobs.delete(key)
    return True


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
    """Sweep leftovers of crashed uploads at start and then every `blobs_every`; orphaned
    objects from every source, expired tokens and old audit events at start and then every
    `others_every`; until cancelled. The sweeps only delete, so they go on when a volume is
    full (persistence/space.py)."""
    loop = asyncio.get_running_loop()
    others_due = loop.time()
    while True:  # runs until the app cancels it; each turn sleeps
        try:
            with writes_when_full():  # the sweep only deletes: it goes on on a full volume
                removed = await sweep_blobs(services)
            if removed:
                log.info("swept %d leftovers of crashed uploads", removed)
        except Exception:
            log.warning("blob sweep failed; will try again", exc_info=True)
        if loop.time() >= others_due:
            others_due = loop.time() + others_every.total_seconds()
            try:
                with writes_when_full():
                    orphans = await sweep_orphans(services)
                    forgotten = await sweep_tokens(services)
                    aged = await services.audit.sweep()
                if orphans or forgotten or aged:
                    log.info(
                        "swept %d orphaned blobs, %d expired tokens and %d old audit events",
                        orphans,
                        forgotten,
                        aged,
                    )
            except Exception:
                log.warning("hourly sweep failed; will try again", exc_info=True)
        await asyncio.sleep(blobs_every.total_seconds())
