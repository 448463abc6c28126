"""Self-service exports: `requestExport`, and reading one's own exports (docs/export.md)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import exports
from schema.context import request_context
from schema.drive import Long
from schema.relay import expect_id, to_global_id


@strawberry.enum(description="Where an export stands.")
class ExportState(Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    READY = "READY"
    DOWNLOADED = "DOWNLOADED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


@strawberry.type(description="An export you asked for: a zip of what you may read.")
class Export:
    id: strawberry.ID
    view: strawberry.Private[exports.ExportView]

    @strawberry.field(description="The workspace exported; null for an export of your data.")
    def workspace_id(self) -> strawberry.ID | None:
        ws = self.view.record.workspace_id
        return None if not ws else to_global_id("Workspace", ws)

    @strawberry.field
    def state(self) -> ExportState:
        return ExportState(self.view.record.state)

    @strawberry.field(description="Documents, message lines and files written so far.")
    def objects(self) -> int:
        return self.view.record.objects

    @strawberry.field(description="Bytes written so far (before compression).")
    def bytes(self) -> Long:
        return Long(self.view.record.bytes)

    @strawberry.field(description="The archive's size once READY.")
    def size(self) -> Long | None:
        record = self.view.record
        ready = ExportState(record.state) is ExportState.READY
        return Long(record.archive_size) if ready else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.record.created_at

    @strawberry.field(description="When the archive is deleted if not downloaded.")
    def expires_at(self) -> datetime | None:
        return self.view.record.expires_at

    @strawberry.field(
        description="While READY: a new short-lived URL for the one download (each read "
        "mints one); the first download deletes the archive, and every URL then answers 410."
    )
    async def download_url(self) -> str | None:
        return await self.view.download_url()

    @classmethod
    def from_view(cls, view: exports.ExportView) -> Export:
        return cls(id=to_global_id("Export", view.id), view=view)


@strawberry.input(description="A workspace to export (its owners only), or none for your data.")
class RequestExportInput:
    workspace_id: strawberry.ID | None = None


@strawberry.type
class RequestExportPayload:
    export: Export


async def request_export(
    info: Info[Any, Any], input: RequestExportInput
) -> RequestExportPayload | None:
    workspace = None if input.workspace_id is None else expect_id(input.workspace_id, "Workspace")
    view = await exports.request_export(request_context(info), workspace)
    return RequestExportPayload(export=Export.from_view(view))


async def resolve_exports(info: Info[Any, Any]) -> list[Export]:
    return [Export.from_view(v) for v in await exports.my_exports(request_context(info))]


async def resolve_export(info: Info[Any, Any], id: strawberry.ID) -> Export | None:
    view = await exports.get_export(request_context(info), expect_id(id, "Export"))
    return Export.from_view(view)


@strawberry.type
class ExportQuery:
    exports: list[Export] = strawberry.field(
        resolver=resolve_exports, description="Your newest exports (up to 20), newest first."
    )
    export: Export | None = strawberry.field(
        resolver=resolve_export, description="One of your exports."
    )


@strawberry.type
class ExportMutation:
    request_export: RequestExportPayload | None = strawberry.mutation(
        resolver=request_export,
        description="Queue an export: of a workspace (its owners; FORBIDDEN for other members) "
        "or, without `workspaceId`, of your own data. Progress comes as `export.progress` "
        "and `export.ready` on your User topic.",
    )
