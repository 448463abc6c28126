"""Workspace key rotation (`rotateWorkspaceKey`): a new data key version for new writes, and
every value already sealed under an older one sealed again, in the background, so a leaked
old data key no longer opens anything the workspace holds.

An owner asks; the workspace's next data key version is made at once and this node seals
under it from then on (every node within `key_refresh_seconds`). The node's worker then
walks every table of resolvers/workspace_seals.py, a page at a time, and seals each of the
workspace's values that is under an older version again under the new one (in the keyring:
the plaintext never leaves it, so no grant is minted). A value is replaced only if it still
holds what was read (`Store.swap_value`): an edit made meanwhile is never undone.

The walk's position (table and cursor) and counts are saved with every page, so a rotation
cut short, even by `kill -9`, resumes where it stopped, on this node or on another once the
lease has run out. After the first pass the worker waits until every node must have seen
the new version, then walks again: a checking pass that finds nothing left ends the
re-sealing (one that still finds values, written by a node that had not yet seen the new
version, is followed by another). The workspace's search index is then rebuilt under the
new version's search key, and the rotation is DONE. Values that do not open (damaged data)
are left as they are and counted. Old key versions stay in the store, wrapped by the root
key: data restored from an older backup still opens.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from crypto.errors import CryptoError, SealError
from crypto.field_seal import DataKey, sealed_key_version
from persistence.declare import Row
from persistence.ids import new_id
from persistence.key_rotations import (
    DONE,
    RUNNING,
    KeyRotationRecord,
    KeyRotationRepository,
)
from resolvers import workspaces
from resolvers.audit import AuditKind
from resolvers.context import RequestContext
from resolvers.errors import CoveError, ErrorCode
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import KeyRotationNotice
from resolvers.search import reindex_workspace
from resolvers.services import Services
from resolvers.workspace_seals import SEALED_TABLES, SealedTable

log = logging.getLogger("cove.keys")

RESEALING, CHECKING, REINDEXING = "RESEALING", "CHECKING", "REINDEXING"
PAGE = 200
# Progress is announced at most this often.
PROGRESS_EVERY_SECONDS = 1.0
_PARENT_CACHE = 10_000


def repository(services: Services) -> KeyRotationRepository:
    return KeyRotationRepository(services.store)


class KeyRotationView:
    """A rotation as its workspace's owners see it."""

    def __init__(self, record: KeyRotationRecord) -> None:
        self.record = record


async def rotate_workspace_key(ctx: RequestContext, workspace_id: str) -> KeyRotationView:
    """Start a rotation (owners only), or answer the one under way."""
    services = ctx.services
    principal = await ctx.require_user()
    granted = await workspaces.access(ctx, workspace_id)
    services.authz.rotate_workspace_key(granted)
    repo = repository(services)
    latest = await repo.latest(workspace_id)
    if latest is not None and latest.state == RUNNING:
        return KeyRotationView(latest)
    _check_interval(services, latest)
    key = await services.keys.add_version(workspace_id)
    record = KeyRotationRecord(
        workspace_id=workspace_id,
        version=key.version,
        state=RUNNING,
        phase=RESEALING,
        requested_by=principal.user_id,
        created_at=services.clock(),
    )
    await repo.add(record)
    await services.audit.workspace_event(
        workspace_id,
        AuditKind.KEY_ROTATION_STARTED,
        actor_id=principal.user_id,
        client_address=ctx.client_address,
        details={"version": str(key.version)},
    )
    services.key_rotations_due.set()
    log.info(
        "workspace %s: key rotation to v%d asked by %s",
        workspace_id,
        key.version,
        principal.user_id,
    )
    return KeyRotationView(record)


def _check_interval(services: Services, latest: KeyRotationRecord | None) -> None:
    """Each rotation walks the whole database: one per workspace per `min_interval`."""
    if latest is None or latest.finished_at is None:
        return
    ready = latest.finished_at + services.policy.keys.min_interval
    wait = (ready - services.clock()).total_seconds()
    if wait > 0:
        raise CoveError(
            ErrorCode.RATE_LIMITED,
            "This workspace's key was rotated moments ago; try again later.",
            retry_after=math.ceil(wait),
        )


async def latest_rotation(ctx: RequestContext, workspace_id: str) -> KeyRotationView | None:
    """The workspace's latest rotation, for its owners; None if it never had one."""
    granted = await workspaces.access(ctx, workspace_id)
    ctx.services.authz.rotate_workspace_key(granted)
    record = await repository(ctx.services).latest(workspace_id)
    return None if record is None else KeyRotationView(record)


class _Superseded(Exception):
    """Another node took the rotation over (this node's lease ran out): this run stops."""


class KeyRotationWorker:
    """One node's rotation worker: `start` with the app, `stop` before the store closes."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.node_id = new_id()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cove-key-rotation")

    async def stop(self) -> None:
        """Stop at once: the walk resumes from its last saved page on the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.warning("the key rotation worker failed while stopping", exc_info=True)

    async def _loop(self) -> None:
        due = self._services.key_rotations_due
        while True:
            due.clear()
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("a key rotation failed; it resumes at the next look", exc_info=True)
            try:
                async with asyncio.timeout(self._services.policy.keys.poll_seconds):
                    await due.wait()
            except TimeoutError:
                pass

    async def run_due(self) -> None:
        """Run every rotation that is queued and not held by another live node."""
        repo = repository(self._services)
        after: str | None = None
        while True:
            live = await repo.live(limit=100, after=after)
            for workspace_id, version in live:
                record = await repo.get(workspace_id, version)
                if record is None or record.state != RUNNING:
                    await repo.dequeue(workspace_id)
                elif not self._held_elsewhere(record):
                    await _Run(self._services, self.node_id, record).run()
            if len(live) < 100:
                return
            after = live[-1][0]

    def _held_elsewhere(self, record: KeyRotationRecord) -> bool:
        lease = record.lease_until
        now = self._services.clock()
        return record.node_id not in ("", self.node_id) and lease is not None and lease > now


class _Run:
    """One node's run of one rotation, from its saved position to the end."""

    def __init__(self, services: Services, node_id: str, record: KeyRotationRecord) -> None:
        self.services = services
        self.node_id = node_id
        self.record = record
        self.repo = repository(services)
        self.workspace_id = record.workspace_id
        self.parents: dict[tuple[str, str], str | None] = {}
        self.announced = 0.0

    async def run(self) -> None:
        lease = timedelta(seconds=self.services.policy.keys.lease_seconds)
        claim: dict[str, Any] = {
            "node_id": self.node_id,
            "lease_until": self.services.clock() + lease,
        }
        await self.repo.update(self.workspace_id, self.record.version, **claim)
        self.record = replace(self.record, **claim)
        try:
            await self._run()
        except _Superseded:
            log.warning("the key rotation of %s was taken over by another node", self.workspace_id)

    async def _run(self) -> None:
        new = await self.services.keys.version(self.workspace_id, self.record.version)
        while self.record.phase in (RESEALING, CHECKING):
            await self._walk(new)
            if self.record.phase == CHECKING and self.record.pass_resealed == 0:
                await self._save(phase=REINDEXING, cursor=None, step=0)
                break
            await self._wait_for_every_node()
            await self._save(
                phase=CHECKING,
                pass_number=self.record.pass_number + 1,
                pass_resealed=0,
                damaged=0,
                step=0,
                cursor=None,
            )
        if self.record.phase == REINDEXING:
            await reindex_workspace(self.services, self.workspace_id, lambda kind, count: None)
            await self._finish()

    async def _walk(self, new: DataKey) -> None:
        """One pass over every sealed table, from the saved position."""
        for step in range(self.record.step, len(SEALED_TABLES)):
            sealed = SEALED_TABLES[step]
            cursor = self.record.cursor if step == self.record.step else None
            while True:
                rows, cursor = await self.services.store.scan_table(
                    sealed.table, limit=PAGE, cursor=cursor
                )
                counts = await self._reseal_page(sealed, rows, new)
                await self._progress(step, cursor, *counts)
                if cursor is None:
                    break

    async def _reseal_page(
        self, sealed: SealedTable, rows: Sequence[Row], new: DataKey
    ) -> tuple[int, int, int]:
        """(rows of the workspace, values sealed again, values that did not open)."""
        scanned = damaged = 0
        swaps: list[tuple[dict[str, Any], str, bytes, bytes]] = []
        owners = await self._workspaces(sealed, rows)
        for row, workspace_id in zip(rows, owners, strict=True):
            if workspace_id != self.workspace_id:
                continue
            scanned += 1
            try:
                refs = sealed.refs(row, workspace_id)
            except CryptoError:  # a row without the ids its values are bound to
                damaged += 1
                log.warning(
                    "a row of %s in %s names no field; left as it is",
                    sealed.table.name,
                    workspace_id,
                )
                continue
            for column, ref in refs.items():
                value = row[column]
                if value is None:
                    continue
                try:
                    version = sealed_key_version(value)
                    if version >= new.version:
                        continue
                    old = await self.services.keys.version(workspace_id, version)
                    again = self.services.keys.reseal(old, new, ref, value)
                except (SealError, LookupError):
                    damaged += 1
                    log.warning(
                        "%s.%s of a row in %s does not open; left as it is",
                        sealed.table.name,
                        column,
                        workspace_id,
                    )
                    continue
                swaps.append(
                    ({c.name: row[c.name] for c in sealed.table.key}, column, value, again)
                )
        # The page's swaps together: the SQLite writer commits them in a few transactions,
        # a ScyllaDB cluster takes them in parallel.
        store = self.services.store
        done = await asyncio.gather(*(store.swap_value(sealed.table, *swap) for swap in swaps))
        return scanned, sum(done), damaged

    async def _workspaces(self, sealed: SealedTable, rows: Sequence[Row]) -> list[str | None]:
        """The workspace of each row: its own, or its parent's (read in one batch, cached)."""
        if sealed.of_row is not None:
            return [sealed.of_row(row) for row in rows]
        parent = sealed.parent
        assert parent is not None
        ids = [row[parent.column] for row in rows]
        missing = sorted({i for i in ids if (parent.table.name, i) not in self.parents})
        if missing:
            if len(self.parents) > _PARENT_CACHE:
                self.parents.clear()
            found = await self.services.store.get_many(
                parent.table, [{parent.key: i} for i in missing]
            )
            for i, row in zip(missing, found, strict=True):
                self.parents[(parent.table.name, i)] = (
                    None if row is None else row[parent.workspace_column]
                )
        return [self.parents[(parent.table.name, i)] for i in ids]

    async def _progress(
        self, step: int, cursor: bytes | None, scanned: int, resealed: int, damaged: int
    ) -> None:
        record = self.record
        await self._save(
            step=step + 1 if cursor is None else step,
            cursor=cursor,
            scanned=record.scanned + scanned,
            resealed=record.resealed + resealed,
            pass_resealed=record.pass_resealed + resealed,
            damaged=record.damaged + damaged,
        )
        if time.monotonic() - self.announced >= PROGRESS_EVERY_SECONDS:
            self.announced = time.monotonic()
            await self._announce(KeyRotationNotice.PROGRESS)

    async def _save(self, **values: Any) -> None:
        """Save progress and renew the lease; stop if another node took the rotation over."""
        current = await self.repo.get(self.workspace_id, self.record.version)
        if current is None or current.node_id != self.node_id:
            raise _Superseded
        lease = timedelta(seconds=self.services.policy.keys.lease_seconds)
        values["lease_until"] = self.services.clock() + lease
        await self.repo.update(self.workspace_id, self.record.version, **values)
        self.record = replace(self.record, **values)

    async def _wait_for_every_node(self) -> None:
        """Until every node has looked for a newer key version since this one was made."""
        ready_at = self.record.created_at + timedelta(
            seconds=self.services.keys.refresh_seconds * 2
        )
        wait = (ready_at - self.services.clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _finish(self) -> None:
        now = self.services.clock()
        await self._save(state=DONE, phase=DONE, finished_at=now, cursor=None)
        await self.repo.dequeue(self.workspace_id)
        record = self.record
        await self.services.audit.workspace_event(
            self.workspace_id,
            AuditKind.KEY_ROTATION_FINISHED,
            actor_id=record.requested_by,
            client_address="",
            details={
                "version": str(record.version),
                "resealed": str(record.resealed),
                "damaged": str(record.damaged),
                "passes": str(record.pass_number),
            },
        )
        log.info(
            "workspace %s: key rotation to v%d done, %d values sealed again in %d passes, "
            "%d damaged",
            self.workspace_id,
            record.version,
            record.resealed,
            record.pass_number,
            record.damaged,
        )
        await self._announce(KeyRotationNotice.DONE)

    async def _announce(self, type_: KeyRotationNotice) -> None:
        record = self.record
        data = {
            "workspaceId": gid("Workspace", record.workspace_id),
            "version": record.version,
            "phase": record.phase,
            "resealed": record.resealed,
        }
        try:
            await self.services.notices.publish(gid("User", record.requested_by), type_, data)
        except Exception:
            log.warning(
                "could not announce the key rotation of %s", record.workspace_id, exc_info=True
            )
