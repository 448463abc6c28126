"""ONLYOFFICE document editing: `openDocument` (docs/integrations.md)."""

from __future__ import annotations

from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from resolvers.documents_office import DocumentMode as Mode
from resolvers.documents_office import open_document as open_office_document
from schema.context import request_context
from schema.relay import expect_id


@strawberry.enum(description="How a document opens in the editor.")
class DocumentMode(Enum):
    EDIT = "edit"
    VIEW = "view"


@strawberry.input
class OpenDocumentInput:
    file_id: strawberry.ID
    mode: DocumentMode = strawberry.field(
        description="EDIT needs write access to the file, VIEW read access."
    )


@strawberry.type
class OpenDocumentPayload:
    document_server_url: str = strawberry.field(
        description="The Document Server: load its `web-apps/apps/api/documents/api.js`."
    )
    config: JSON = strawberry.field(
        description="The editor configuration for `new DocsAPI.DocEditor(id, config)`; set "
        "its `token` to `token` before handing it over."
    )
    token: str = strawberry.field(
        description="`config` signed as an HS256 JWT with the Document Server's secret."
    )


async def open_document(
    info: Info[Any, Any], input: OpenDocumentInput
) -> OpenDocumentPayload | None:
    opened = await open_office_document(
        request_context(info), expect_id(input.file_id, "File"), Mode(input.mode.value)
    )
    return OpenDocumentPayload(
        document_server_url=opened.document_server_url,
        config=cast(JSON, opened.config),
        token=opened.token,
    )


@strawberry.type
class OfficeMutation:
    open_document: OpenDocumentPayload | None = strawberry.mutation(
        resolver=open_document,
        description="Open a file in the ONLYOFFICE editor: its configuration, signed.",
    )
