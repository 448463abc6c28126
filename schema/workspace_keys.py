"""Workspace key rotation: `rotateWorkspaceKey`, and `workspaceKeyRotation` to follow it
(docs/operations.md, Key rotation)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import workspace_keys
from schema.context import request_context
from schema.relay import expect_id, to_global_id


@strawberry.enum(description="Where a workspace key rotation stands.")
class KeyRotationState(Enum):
    RUNNING = "RUNNING"
    DONE = "DONE"


@strawberry.enum(description="What a running workspace key rotation is doing.")
class KeyRotationPhase(Enum):
    RESEALING = "RESEALING"
    CHECKING = "CHECKING"
    REINDEXING = "REINDEXING"
    DONE = "DONE"


@strawberry.type(
    description="A workspace key rotation: a new data key version for new writes, and every "
    "value sealed under an older one sealed again under it, in the background."
)
class KeyRotation:
    view: strawberry.Private[workspace_keys.KeyRotationView]

    @strawberry.field
    def workspace_id(self) -> strawberry.ID:
        return to_global_id("Workspace", self.view.record.workspace_id)

    @strawberry.field(description="The data key version the workspace moves to.")
    def version(self) -> int:
        return self.view.record.version

    @strawberry.field
    def state(self) -> KeyRotationState:
        return KeyRotationState(self.view.record.state)

    @strawberry.field
    def phase(self) -> KeyRotationPhase:
        return KeyRotationPhase(self.view.record.phase)

    @strawberry.field(
        description="Walks over the workspace's data: the first seals values again, each "
        "later one checks that none is left under an older key."
    )
    def passes(self) -> int:
        return self.view.record.pass_number

    @strawberry.field(description="Rows of the workspace read so far, over every pass.")
    def rows_scanned(self) -> int:
        return self.view.record.scanned

    @strawberry.field(description="Values sealed again under the new key so far.")
    def values_resealed(self) -> int:
        return self.view.record.resealed

    @strawberry.field(
        description="Values of the current pass that did not open (damaged data): left as "
        "they are, and reported to the server's log."
    )
    def damaged_values(self) -> int:
        return self.view.record.damaged

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.view.record.finished_at


@strawberry.input(description="The workspace whose data key to rotate.")
class RotateWorkspaceKeyInput:
    workspace_id: strawberry.ID


@strawberry.type
class RotateWorkspaceKeyPayload:
    rotation: KeyRotation


async def rotate_workspace_key(
    info: Info[Any, Any], input: RotateWorkspaceKeyInput
) -> RotateWorkspaceKeyPayload | None:
    workspace_id = expect_id(input.workspace_id, "Workspace")
    view = await workspace_keys.rotate_workspace_key(request_context(info), workspace_id)
    return RotateWorkspaceKeyPayload(rotation=KeyRotation(view=view))


async def resolve_rotation(info: Info[Any, Any], workspace_id: strawberry.ID) -> KeyRotation | None:
    ws = expect_id(workspace_id, "Workspace")
    view = await workspace_keys.latest_rotation(request_context(info), ws)
    return None if view is None else KeyRotation(view=view)


@strawberry.type
class KeyRotationQuery:
    workspace_key_rotation: KeyRotation | None = strawberry.field(
        resolver=resolve_rotation,
        description="The workspace's latest key rotation, for its owners (FORBIDDEN for other "
        "members); null if it never had one.",
    )


@strawberry.type
class KeyRotationMutation:
    rotate_workspace_key: RotateWorkspaceKeyPayload | None = strawberry.mutation(
        resolver=rotate_workspace_key,
        description="Rotate a workspace's data key (its owners; FORBIDDEN for other members): "
        "new writes are sealed under a new key version at once, and existing values are "
        "sealed again in the background, with progress as `keyRotation.progress` and "
        "`keyRotation.done` on your User topic. While one runs, answers that one.",
    )
