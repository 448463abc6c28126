"""The audit log: security events written sealed, read by those authorisation allows.

Workspace events (roles, members, invitations, share links, and the operator commands that
import into or export a workspace) go to the workspace's log, read by its owners and admins;
account events (sign-ins and their failures, sessions ended, password changes) go to the
account's own log, read by that user alone. Operators read both with `cove audit`. Writing
an event never fails the action it records.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.audit import AuditRecord, AuditRepository, account_log, workspace_log
from persistence.ids import first_id_at, new_id
from persistence.timestamps import to_millis
from resolvers.errors import bad_input
from resolvers.global_ids import to_global_id
from resolvers.keys import KeyService
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor

log = logging.getLogger("cove.audit")

_DAY_MILLIS = 86_400_000
_SCAN = 100
# No event carries more details than this (the cost of a query counts on it).
MAX_AUDIT_DETAILS = 8
MAX_AUDIT_TARGETS = 4
# A filtered page reads at most this many events; a rare kind may need several pages.
_FILTER_SCAN_ROUNDS = 20
# Retention looks back this many days for logs written to (a node down longer leaves those).
RETENTION_LOOKBACK_DAYS = 400


class AuditKind(StrEnum):
    SIGN_IN = "SIGN_IN"
    SIGN_IN_FAILED = "SIGN_IN_FAILED"
    SESSION_ENDED = "SESSION_ENDED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"  # noqa: S105 - an event name, not a secret
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 - an event name, not a secret
    EMAIL_VERIFIED = "EMAIL_VERIFIED"
    EMAIL_CHANGE_REQUESTED = "EMAIL_CHANGE_REQUESTED"
    EMAIL_CHANGED = "EMAIL_CHANGED"
    TWO_FACTOR_ENABLED = "TWO_FACTOR_ENABLED"
    TWO_FACTOR_DISABLED = "TWO_FACTOR_DISABLED"
    RECOVERY_CODES_REGENERATED = "RECOVERY_CODES_REGENERATED"
    MEMBER_ROLE_CHANGED = "MEMBER_ROLE_CHANGED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    MEMBER_LEFT = "MEMBER_LEFT"
    INVITATION_SENT = "INVITATION_SENT"
    INVITATION_ACCEPTED = "INVITATION_ACCEPTED"
    INVITATION_REVOKED = "INVITATION_REVOKED"
    SHARE_LINK_CREATED = "SHARE_LINK_CREATED"
    SHARE_LINK_USED = "SHARE_LINK_USED"
    SHARE_LINK_REVOKED = "SHARE_LINK_REVOKED"
    # A signed ONLYOFFICE save refused: its editor lost access, or never opened it to edit.
    DOCUMENT_SAVE_REFUSED = "DOCUMENT_SAVE_REFUSED"
    # A workspace key rotation asked for (by an owner), and finished (by the server).
    KEY_ROTATION_STARTED = "KEY_ROTATION_STARTED"
    KEY_ROTATION_FINISHED = "KEY_ROTATION_FINISHED"
    # Operator commands (no actor: the command line has no Cove user; details name who ran it).
    SLACK_IMPORTED = "SLACK_IMPORTED"  # `cove import slack`, with what it imported and skipped
    # `cove export` (read as the owner it targets), or an owner's `requestExport` (the actor).
    WORKSPACE_EXPORTED = "WORKSPACE_EXPORTED"


def details_ref(record: AuditRecord) -> FieldRef:
    return details_ref_of(record.log_id, record.event_id)


def details_ref_of(log_id: str, event_id: str) -> FieldRef:
    """Where an event's details are sealed: under its workspace's key in a workspace log."""
    workspace_id = workspace_of_log(log_id) or ""
    return FieldRef("audit_event", "details", event_id, workspace_id)


def workspace_of_log(log_id: str) -> str | None:
    """The workspace whose log this is, or None for an account's log."""
    return log_id.removeprefix("workspace:") if log_id.startswith("workspace:") else None


def _is_workspace(record: AuditRecord) -> bool:
    return record.log_id.startswith("workspace:")


@dataclass(frozen=True)
class AuditFilter:
    """Which events a reader wants; None or empty means any."""

    kinds: frozenset[AuditKind] = frozenset()
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, record: AuditRecord) -> bool:
        if self.kinds and record.kind not in self.kinds:
            return False
        return self.actor_id is None or record.actor_id == self.actor_id

    @property
    def narrows(self) -> bool:
        return bool(self.kinds) or self.actor_id is not None


@dataclass(frozen=True)
class AuditEntry:
    """One event as a reader sees it, opened."""

    id: str
    kind: AuditKind
    at: datetime
    actor_id: str | None
    target_ids: tuple[str, ...]
    client_address: str
    details: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "actorId": None if self.actor_id is None else to_global_id("User", self.actor_id),
            "targetIds": list(self.target_ids),
            "clientAddress": self.client_address,
            "details": self.details,
        }


class AuditLog:
    """Writes events (never failing the caller), reads pages, and trims old events."""

    def __init__(
        self,
        repo: AuditRepository,
        keys: KeyService,
        clock: Callable[[], datetime],
        retention: timedelta,
    ) -> None:
        self._repo = repo
        self._retention = retention
        self._keys = keys
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    async def workspace_event(
        self,
        workspace_id: str,
        kind: AuditKind,
        *,
        actor_id: str,
        client_address: str,
        targets: Sequence[str] = (),
        details: Mapping[str, str] | None = None,
    ) -> None:
        await self._write(
            workspace_log(workspace_id),
            kind=kind,
            actor_id=actor_id,
            client_address=client_address,
            targets=targets,
            details=details,
        )

    async def operator_event(
        self,
        workspace_id: str,
        kind: AuditKind,
        *,
        operator: str,
        targets: Sequence[str] = (),
        details: Mapping[str, str] | None = None,
    ) -> None:
        """An operator command's event in the workspace's log: no actor (nobody signed in),
        no client address; `operator` (the system account and machine) heads the details."""
        await self._write(
            workspace_log(workspace_id),
            kind=kind,
            actor_id="",
            client_address="",
            targets=targets,
            details={"operator": operator, **(details or {})},
        )

    async def account_event(
        self,
        user_id: str,
        kind: AuditKind,
        *,
        client_address: str,
        actor_id: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        actor = user_id if actor_id is None else actor_id
        await self._write(
            account_log(user_id),
            kind=kind,
            actor_id=actor,
            client_address=client_address,
            targets=(),
            details=details,
        )

    def account_event_soon(self, user_id: str, kind: AuditKind, *, client_address: str) -> None:
        """Write an account event off the request path, so its cost tells nothing (used for
        failed sign-ins, which must cost the same whether or not the account exists)."""
        task = asyncio.create_task(self.account_event(user_id, kind, client_address=client_address))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for events still being written."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _write(
        self,
        log_id: str,
        *,
        kind: AuditKind,
        actor_id: str,
        client_address: str,
        targets: Sequence[str],
        details: Mapping[str, str] | None,
    ) -> None:
        try:
            now = self._clock()
            event_id = new_id(at=now)
            body = json.dumps({"clientAddress": client_address, "details": dict(details or {})})
            record = AuditRecord(log_id, event_id, kind.value, actor_id, tuple(targets), now, b"")
            sealed = await self._keys.seal_text(details_ref(record), body)
            record = AuditRecord(
                log_id, event_id, kind.value, actor_id, tuple(targets), now, sealed
            )
            await self._repo.add(record, to_millis(now) // _DAY_MILLIS)
        except Exception:
            # The action already happened; losing its record is logged, never raised.
            log.warning("audit event %s for %s not written", kind.value, log_id, exc_info=True)

    async def page(
        self,
        log_id: str,
        grant_for: Callable[[AuditRecord], Grant],
        first: int,
        after: str | None,
        wanted: AuditFilter,
    ) -> Page[AuditEntry]:
        """Events newest first, by keyset; the time bounds are key bounds, the rest filtered."""
        check_first(first)
        start = decode_cursor(after, 1)
        cursor = str(start[0]) if start else None
        if wanted.until is not None:
            bound = first_id_at(wanted.until + timedelta(milliseconds=1))
            cursor = bound if cursor is None else min(cursor, bound)
        newest = None if wanted.since is None else first_id_at(wanted.since)
        picked: list[AuditRecord] = []
        more = False
        for _ in range(_FILTER_SCAN_ROUNDS if wanted.narrows else 1):
            rows = await self._repo.events(
                log_id,
                limit=max(first + 1, _SCAN) if wanted.narrows else first + 1,
                after_id=cursor,
                before_id=newest,
            )
            for row in rows:
                if not wanted.keeps(row):
                    continue
                if len(picked) == first:
                    more = True
                    break
                picked.append(row)
            if more or len(rows) < (max(first + 1, _SCAN) if wanted.narrows else first + 1):
                break
            cursor = rows[-1].event_id
        else:
            # Every round read a full batch: more may match further back.
            more = True
            if not picked:
                # A page must end on a cursor to go on from; with nothing picked there is
                # none, so say where to ask again rather than answer an empty page.
                raise bad_input(
                    f"No event matched among the {_FILTER_SCAN_ROUNDS * _SCAN:,} read; ask "
                    f"again with `until` before {rows[-1].at.isoformat()} or narrow the kinds.",
                    field="until",
                )
        edges = [(encode_cursor([r.event_id]), await self.open(r, grant_for(r))) for r in picked]
        return Page(edges=edges, has_next_page=more)

    async def open(self, record: AuditRecord, grant: Grant) -> AuditEntry:
        body = json.loads(
            await self._keys.open_text(grant, details_ref(record), record.details_sealed)
        )
        return AuditEntry(
            id=record.event_id,
            kind=AuditKind(record.kind),
            at=record.at,
            actor_id=record.actor_id or None,
            target_ids=record.target_ids,
            client_address=str(body.get("clientAddress", "")),
            details={str(k): str(v) for k, v in (body.get("details") or {}).items()},
        )

    async def sweep(self, now: datetime | None = None) -> int:
        """Delete events older than the retention; returns how many went."""
        cutoff = (now or self._clock()) - self._retention
        oldest_kept = first_id_at(cutoff)
        last_old_day = to_millis(cutoff) // _DAY_MILLIS - 1
        removed = 0
        for day in range(last_old_day - RETENTION_LOOKBACK_DAYS, last_old_day + 1):
            while log_ids := await self._repo.logs_of_day(day, limit=_SCAN):
                for log_id in log_ids:
                    while count := await self._repo.delete_older(log_id, oldest_kept, limit=_SCAN):
                        removed += count
                # Every event of that day is older than the cutoff, so all are gone now.
                await self._repo.forget_day(day, log_ids)
        # Events of the cutoff's own day stay indexed until that day is wholly old.
        return removed
