"""Workspaces, their members (both ways, and owners apart) and invitations: tables, records
and the repository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from persistence.declare import Column, ColumnType, Order, Table
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

WORKSPACES = Table(
    name="workspaces",
    partition_key=(Column("workspace_id", _TEXT),),
    values=(
        Column("name_sealed", _BLOB),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

MEMBERS_BY_WORKSPACE = Table(
    name="members_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("role", _TEXT), Column("joined_at", _TIME)),
)

WORKSPACES_BY_USER = Table(
    name="workspaces_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("workspace_id", _TEXT),),
    values=(Column("role", _TEXT), Column("joined_at", _TIME)),
)

# The owners alone, so "is this the last owner?" reads two rows, not the whole membership.
OWNERS_BY_WORKSPACE = Table(
    name="owners_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("since", _TIME),),
)

INVITATIONS = Table(
    name="invitations",
    partition_key=(Column("invitation_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("email_sealed", _BLOB),
        Column("email_index", _BLOB),
        Column("role", _TEXT),
        Column("invited_by", _TEXT),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

INVITATIONS_BY_WORKSPACE = Table(
    name="invitations_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("invitation_id", _TEXT),),
    order=Order.DESC,
    values=(Column("expires_at", _TIME),),
)

# Keyed by the invitee email's blind index: found when that person signs up or in.
INVITATIONS_BY_EMAIL = Table(
    name="invitations_by_email",
    partition_key=(Column("email_index", _BLOB),),
    clustering=(Column("invitation_id", _TEXT),),
    order=Order.DESC,
    values=(Column("workspace_id", _TEXT), Column("expires_at", _TIME)),
)

WORKSPACE_TABLES = (
    WORKSPACES,
    MEMBERS_BY_WORKSPACE,
    WORKSPACES_BY_USER,
    OWNERS_BY_WORKSPACE,
    INVITATIONS,
    INVITATIONS_BY_WORKSPACE,
    INVITATIONS_BY_EMAIL,
)

# The one pending invitation of an address to a workspace, claimed with an insert-if-absent
# so two invitations sent at once cannot both be pending. A claim naming an invitation that
# expired or is gone is taken over through INVITATION_TAKEOVERS, where one taker wins.
PENDING_INVITATIONS = Table(
    name="pending_invitations",
    partition_key=(Column("workspace_id", _TEXT), Column("email_index", _BLOB)),
    values=(
        Column("invitation_id", _TEXT),
        Column("claimed_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

INVITATION_TAKEOVERS = Table(
    name="invitation_takeovers",
    partition_key=(Column("workspace_id", _TEXT), Column("email_index", _BLOB)),
    clustering=(Column("stale_invitation_id", _TEXT),),
    values=(Column("taken_by", _TEXT),),
)

PENDING_INVITATION_TABLES = (PENDING_INVITATIONS, INVITATION_TAKEOVERS)


@dataclass(frozen=True, slots=True)
class WorkspaceRecord:
    workspace_id: str
    name_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    workspace_id: str
    user_id: str
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    invitation_id: str
    workspace_id: str
    email_sealed: bytes
    email_index: bytes
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


OWNER = "OWNER"
_CLAIM_GRACE = timedelta(minutes=1)


def _membership_ops(member: MembershipRecord) -> list[Put | Delete | Update]:
    ops: list[Put | Delete | Update] = [
        Put(MEMBERS_BY_WORKSPACE, to_row(member)),
        Put(WORKSPACES_BY_USER, to_row(member)),
    ]
    owner_key = {"workspace_id": member.workspace_id, "user_id": member.user_id}
    if member.role == OWNER:
        ops.append(Put(OWNERS_BY_WORKSPACE, {**owner_key, "since": member.joined_at}))
    else:
        ops.append(Delete(OWNERS_BY_WORKSPACE, owner_key))
    return ops


def _invitation_deletes(invitation: InvitationRecord) -> list[Put | Delete | Update]:
    return _deletes_by_key(
        invitation.invitation_id, invitation.workspace_id, invitation.email_index
    )


def _deletes_by_key(
    invitation_id: str, workspace_id: str, email_index: bytes
) -> list[Put | Delete | Update]:
    return [
        Delete(INVITATIONS, {"invitation_id": invitation_id}),
        Delete(
            INVITATIONS_BY_WORKSPACE,
            {"workspace_id": workspace_id, "invitation_id": invitation_id},
        ),
        Delete(
            INVITATIONS_BY_EMAIL,
            {"email_index": email_index, "invitation_id": invitation_id},
        ),
    ]


class WorkspaceRepository:
    """Workspaces and memberships; names and invitation emails stay sealed bytes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, workspace: WorkspaceRecord, owner: MembershipRecord) -> None:
        """The workspace and its first owner, in one batch."""
        await self._store.batch([Put(WORKSPACES, to_row(workspace)), *_membership_ops(owner)])

    async def get(self, workspace_id: str) -> WorkspaceRecord | None:
        row = await self._store.get(WORKSPACES, {"workspace_id": workspace_id})
        return None if row is None else from_row(WorkspaceRecord, row)

    async def get_many(self, workspace_ids: Sequence[str]) -> list[WorkspaceRecord | None]:
        rows = await self._store.get_many(WORKSPACES, [{"workspace_id": w} for w in workspace_ids])
        return [None if row is None else from_row(WorkspaceRecord, row) for row in rows]

    async def rename(self, workspace_id: str, name_sealed: bytes, now: datetime) -> None:
        await self._store.update(
            WORKSPACES,
            {"workspace_id": workspace_id},
            {"name_sealed": name_sealed, "updated_at": now},
        )

    async def membership(self, workspace_id: str, user_id: str) -> MembershipRecord | None:
        key = {"workspace_id": workspace_id, "user_id": user_id}
        row = await self._store.get(MEMBERS_BY_WORKSPACE, key)
        return None if row is None else from_row(MembershipRecord, row)

    async def memberships(
        self, workspace_id: str, user_ids: Sequence[str]
    ) -> list[MembershipRecord | None]:
        keys = [{"workspace_id": workspace_id, "user_id": u} for u in user_ids]
        rows = await self._store.get_many(MEMBERS_BY_WORKSPACE, keys)
        return [None if row is None else from_row(MembershipRecord, row) for row in rows]

    async def memberships_of(
        self, user_id: str, workspace_ids: Sequence[str]
    ) -> list[MembershipRecord | None]:
        """One user's memberships in these workspaces, in order, in one read."""
        keys = [{"workspace_id": w, "user_id": user_id} for w in workspace_ids]
        rows = await self._store.get_many(MEMBERS_BY_WORKSPACE, keys)
        return [None if row is None else from_row(MembershipRecord, row) for row in rows]

    async def list_members(
        self, workspace_id: str, *, limit: int, after_user_id: str | None = None
    ) -> list[MembershipRecord]:
        rows = await self._store.scan(
            MEMBERS_BY_WORKSPACE,
            {"workspace_id": workspace_id},
            limit=limit,
            after=None if after_user_id is None else (after_user_id,),
        )
        return [from_row(MembershipRecord, row) for row in rows]

    async def list_for_user(
        self, user_id: str, *, limit: int, after_workspace_id: str | None = None
    ) -> list[MembershipRecord]:
        rows = await self._store.scan(
            WORKSPACES_BY_USER,
            {"user_id": user_id},
            limit=limit,
            after=None if after_workspace_id is None else (after_workspace_id,),
        )
        return [from_row(MembershipRecord, row) for row in rows]

    async def put_member(self, member: MembershipRecord) -> None:
        """Add a member, or change a member's role, in every copy at once."""
        await self._store.batch(_membership_ops(member))

    async def remove_member(self, workspace_id: str, user_id: str) -> None:
        key = {"workspace_id": workspace_id, "user_id": user_id}
        await self._store.batch(
            [
                Delete(MEMBERS_BY_WORKSPACE, key),
                Delete(WORKSPACES_BY_USER, key),
                Delete(OWNERS_BY_WORKSPACE, key),
            ]
        )

    async def count_owners(self, workspace_id: str, *, limit: int = 2) -> int:
        return await self._store.count(
            OWNERS_BY_WORKSPACE, {"workspace_id": workspace_id}, limit=limit
        )

    async def add_invitation(self, invitation: InvitationRecord) -> None:
        await self._store.batch(
            [
                Put(INVITATIONS, to_row(invitation)),
                Put(
                    INVITATIONS_BY_WORKSPACE,
                    to_row(invitation, "workspace_id", "invitation_id", "expires_at"),
                ),
                Put(
                    INVITATIONS_BY_EMAIL,
                    to_row(
                        invitation, "email_index", "invitation_id", "workspace_id", "expires_at"
                    ),
                ),
            ]
        )

    async def claim_pending(self, invitation: InvitationRecord, now: datetime) -> bool:
        """Make `invitation` the address's one pending invitation to its workspace; False if
        another is pending. Atomic under concurrency (insert-if-absent): of invitations sent
        at once, one claims. A claim naming an expired or removed invitation is taken over,
        by one taker only."""
        key = {"workspace_id": invitation.workspace_id, "email_index": invitation.email_index}
        row = {
            **key,
            "invitation_id": invitation.invitation_id,
            "claimed_at": now,
            "expires_at": invitation.expires_at,
        }
        if await self._store.put_if_absent(PENDING_INVITATIONS, row):
            return True
        current = await self._store.get(PENDING_INVITATIONS, key)
        if current is None:  # released in between
            return await self._store.put_if_absent(PENDING_INVITATIONS, row)
        stale_id = str(current["invitation_id"])
        if current["expires_at"] > now and (
            # An invitation being written right now is not stale; one that is still missing
            # a minute after its claim was made by a sender that failed half-way.
            current["claimed_at"] > now - _CLAIM_GRACE
            or await self.get_invitation(stale_id) is not None
        ):
            return False
        takeover = {
            **key,
            "stale_invitation_id": stale_id,
            "taken_by": invitation.invitation_id,
        }
        if not await self._store.put_if_absent(INVITATION_TAKEOVERS, takeover):
            return False  # another invitation took this claim over first
        await self._store.put(PENDING_INVITATIONS, row)
        return True

    async def _release_pending(
        self, workspace_id: str, email_index: bytes, invitation_ids: Sequence[str]
    ) -> list[Put | Delete | Update]:
        """The delete of the pending claim, if it names one of these invitations."""
        key = {"workspace_id": workspace_id, "email_index": email_index}
        current = await self._store.get(PENDING_INVITATIONS, key)
        if current is None or current["invitation_id"] not in invitation_ids:
            return []
        return [Delete(PENDING_INVITATIONS, key)]

    async def get_invitation(self, invitation_id: str) -> InvitationRecord | None:
        row = await self._store.get(INVITATIONS, {"invitation_id": invitation_id})
        return None if row is None else from_row(InvitationRecord, row)

    async def get_invitations(self, invitation_ids: Sequence[str]) -> list[InvitationRecord | None]:
        keys = [{"invitation_id": i} for i in invitation_ids]
        rows = await self._store.get_many(INVITATIONS, keys)
        return [None if row is None else from_row(InvitationRecord, row) for row in rows]

    async def invitation_ids_for_email(
        self, email_index: bytes, *, limit: int, after_id: str | None = None
    ) -> list[str]:
        rows = await self._store.scan(
            INVITATIONS_BY_EMAIL,
            {"email_index": email_index},
            limit=limit,
            after=None if after_id is None else (after_id,),
        )
        return [row["invitation_id"] for row in rows]

    async def invitation_ids_for_workspace(
        self, workspace_id: str, *, limit: int, after_id: str | None = None
    ) -> list[str]:
        rows = await self._store.scan(
            INVITATIONS_BY_WORKSPACE,
            {"workspace_id": workspace_id},
            limit=limit,
            after=None if after_id is None else (after_id,),
        )
        return [row["invitation_id"] for row in rows]

    async def invitations_to(
        self, email_index: bytes, workspace_id: str, *, page: int = 100
    ) -> list[tuple[str, datetime]]:
        """(id, expiry) of every invitation of one address to one workspace, expired too.

        Reads the address's own partition, a page at a time: an address holds few invitations.
        """
        found: list[tuple[str, datetime]] = []
        after: tuple[str] | None = None
        while True:
            rows = await self._store.scan(
                INVITATIONS_BY_EMAIL, {"email_index": email_index}, limit=page, after=after
            )
            found += [
                (row["invitation_id"], row["expires_at"])
                for row in rows
                if row["workspace_id"] == workspace_id
            ]
            if len(rows) < page:
                return found
            after = (rows[-1]["invitation_id"],)

    async def remove_invitation(self, invitation: InvitationRecord) -> None:
        release = await self._release_pending(
            invitation.workspace_id, invitation.email_index, [invitation.invitation_id]
        )
        await self._store.batch([*_invitation_deletes(invitation), *release])

    async def remove_invitations_to(
        self, email_index: bytes, workspace_id: str, invitation_ids: Sequence[str]
    ) -> None:
        """Delete these invitations of one address to one workspace, in one batch."""
        if invitation_ids:
            release = await self._release_pending(workspace_id, email_index, invitation_ids)
            await self._store.batch(
                [
                    *(
                        op
                        for i in invitation_ids
                        for op in _deletes_by_key(i, workspace_id, email_index)
                    ),
                    *release,
                ]
            )

    async def accept_invitation(
        self,
        invitation: InvitationRecord,
        member: MembershipRecord | None,
        also_consumed: Sequence[str] = (),
    ) -> None:
        """Make the invitee a member (None: already one) and consume the invitation, with
        `also_consumed` (other invitations of the same address to the same workspace), in
        one batch."""
        consumed = [
            op
            for i in also_consumed
            if i != invitation.invitation_id
            for op in _deletes_by_key(i, invitation.workspace_id, invitation.email_index)
        ]
        release = await self._release_pending(
            invitation.workspace_id,
            invitation.email_index,
            [invitation.invitation_id, *also_consumed],
        )
        await self._store.batch(
            [
                *(_membership_ops(member) if member is not None else []),
                *_invitation_deletes(invitation),
                *consumed,
                *release,
            ]
        )
