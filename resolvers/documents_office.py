"""ONLYOFFICE document editing: `openDocument`, and the Document Server's one-time download.

Opening checks the caller's access (READ to view, WRITE to edit), then hands out the editor
configuration, signed with the Document Server's JWT secret: the document key of the current
version (the same for everyone who opens it, so they edit together; another for every saved
version), a one-time download URL for that version, and a callback URL with its own random
token (`documents_office_saves.py` takes the saves). Tokens are kept only as hashes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crypto import office
from crypto.tokens import hash_token, new_token
from persistence.drive_records import FILE, FileVersionRecord
from persistence.office import (
    CALLBACK,
    DOWNLOAD,
    OfficeEditorRecord,
    OfficeRepository,
    OfficeSessionRecord,
    OfficeTokenRecord,
)
from resolvers.accounts import viewer
from resolvers.authz import DriveAccess, Principal
from resolvers.context import RequestContext
from resolvers.drive_access import item_access, name_ref
from resolvers.drive_downloads import Download, serve_version
from resolvers.drive_policy import OfficePolicy
from resolvers.errors import FEATURE_DISABLED, CoveError, ErrorCode, bad_input, not_found
from resolvers.global_ids import to_global_id
from resolvers.roles import AccessLevel
from resolvers.services import Services
from resolvers.transfers import TransferError

log = logging.getLogger("cove.office")

# The secret the document keys are derived with (from the root key; never stored).
DOCUMENT_KEY_PURPOSE = b"onlyoffice document key"

# What the editors open, by extension (ONLYOFFICE's `documentType`).
DOCUMENT_TYPES: dict[str, str] = {
    **dict.fromkeys(("doc", "docx", "docm", "dotx", "odt", "ott", "rtf", "txt"), "word"),
    **dict.fromkeys(("xls", "xlsx", "xlsm", "xltx", "ods", "ots", "csv"), "cell"),
    **dict.fromkeys(("ppt", "pptx", "pptm", "potx", "odp", "otp"), "slide"),
    **dict.fromkeys(("pdf", "djvu", "xps", "oxps"), "pdf"),
}
# What they edit and save back in the same format (the rest opens to view only).
EDITABLE: dict[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


class DocumentMode(StrEnum):
    EDIT = "edit"
    VIEW = "view"


@dataclass(frozen=True)
class OpenedDocument:
    document_server_url: str
    config: dict[str, Any]
    token: str  # `config` as an HS256 JWT


def office_policy(services: Services) -> OfficePolicy:
    """The policy, when ONLYOFFICE is on; UNAVAILABLE otherwise."""
    policy = services.policy.office
    if not policy.enabled:
        raise CoveError(
            ErrorCode.UNAVAILABLE,
            "Document editing (ONLYOFFICE) is not enabled on this server.",
            reason=FEATURE_DISABLED,
        )
    return policy


def extension_of(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def document_key_of(services: Services, file_id: str, version_id: str) -> str:
    return office.document_key(services.keyring.derive(DOCUMENT_KEY_PURPOSE), file_id, version_id)


async def open_document(ctx: RequestContext, file_id: str, mode: DocumentMode) -> OpenedDocument:
    """The editor configuration of a file the caller may read (EDIT: write), signed."""
    services = ctx.services
    principal = await ctx.require_user()
    access = await item_access(ctx, file_id)
    if access.item.kind != FILE:
        raise not_found("file")
    if mode is DocumentMode.EDIT:
        services.authz.drive_require(access, AccessLevel.WRITE)
    if access.in_trash:
        raise bad_input("The file is in the trash; restore it first.", field="fileId")
    policy = office_policy(services)
    item = access.item
    name = await services.keys.open_text(
        services.authz.drive_grant(access),
        name_ref(item.item_id, item.workspace_id),
        item.name_sealed,
    )
    extension = extension_of(name)
    document_type = DOCUMENT_TYPES.get(extension)
    if document_type is None:
        raise bad_input(f"The editor does not open .{extension or '(none)'} files.", field="fileId")
    if mode is DocumentMode.EDIT and extension not in EDITABLE:
        raise bad_input(f"The editor opens .{extension} files to view only.", field="mode")
    version = await _current_version(services, access)
    if version.size > policy.max_document_bytes:
        raise bad_input(
            f"The editor opens files of at most {policy.max_document_bytes:,} bytes.",
            field="fileId",
        )
    editing = mode is DocumentMode.EDIT
    repository = OfficeRepository(services.store)
    # A session that force-saved this version still edits it: join it rather than start
    # another on the same version.
    doc_key = await repository.live_key(version.version_id) or document_key_of(
        services, item.item_id, version.version_id
    )
    download, callback = new_token("cvo_"), new_token("cvc_")
    now = services.clock()
    # Opening to view alongside one's own editing session leaves its saves theirs to make.
    earlier = await repository.editor(doc_key, principal.user_id)
    may_save = editing or (earlier is not None and earlier.can_edit)

    def token(raw: str, kind: str, expires: datetime) -> OfficeTokenRecord:
        return OfficeTokenRecord(
            token_hash=hash_token(raw),
            kind=kind,
            doc_key=doc_key,
            file_id=item.item_id,
            version_id=version.version_id,
            workspace_id=item.workspace_id,
            user_id=principal.user_id,
            session_id=principal.session_id,
            expires_at=expires,
        )

    await repository.open(
        OfficeSessionRecord(
            doc_key,
            item.item_id,
            item.workspace_id,
            version.version_id,
            now,
            now + policy.session_ttl,
        ),
        OfficeEditorRecord(doc_key, principal.user_id, principal.session_id, may_save, now),
        [
            token(download, DOWNLOAD, now + policy.download_ttl),
            token(callback, CALLBACK, now + policy.session_ttl),
        ],
    )
    user_name = await (await viewer(ctx)).display_name()
    config: dict[str, Any] = {
        "documentType": document_type,
        "document": {
            "fileType": extension,
            "key": doc_key,
            "title": name,
            "url": policy.url(f"/office/download/{download}"),
            "permissions": {
                "edit": editing,
                "download": True,
                "print": True,
                "comment": editing,
                "review": editing,
                "fillForms": editing,
            },
        },
        "editorConfig": {
            "mode": "edit" if editing else "view",
            "callbackUrl": policy.url(f"/office/callback/{callback}"),
            "user": {"id": to_global_id("User", principal.user_id), "name": user_name},
        },
    }
    return OpenedDocument(policy.server_url, config, office.sign(policy.jwt_secret, config))


async def _current_version(services: Services, access: DriveAccess) -> FileVersionRecord:
    version_id = access.item.current_version_id
    version = None if not version_id else await services.drive.version(access.item_id, version_id)
    if version is None:
        raise not_found("file")
    return version


async def open_office_download(services: Services, token: str) -> Download:
    """The version a one-time URL names, decrypted, once: a second request gets 410."""
    gone = TransferError(404, "No such document URL.")
    if not services.policy.office.enabled:
        raise gone
    repository = OfficeRepository(services.store)
    token_hash = hash_token(token)
    record = await repository.token(token_hash)
    now = services.clock()
    if record is None or record.kind != DOWNLOAD:
        raise gone
    if record.expires_at <= now:
        raise TransferError(410, "This document URL has expired.")
    if not await repository.claim(token_hash, DOWNLOAD, now):
        raise TransferError(410, "This document URL was used already.")
    try:
        access = await _holders_access(services, record.user_id, record.session_id, record.file_id)
        version = await services.drive.version(record.file_id, record.version_id)
        if version is None or access.item.current_version_id != record.version_id:
            raise gone  # only the version opened, while it is the current one
        return await serve_version(services, access, version)
    except TransferError as error:
        if error.status >= 500:  # not the holder's fault: the URL stays good for a retry
            await repository.release(token_hash, DOWNLOAD)
        raise


async def _holders_access(
    services: Services, user_id: str, session_id: str, file_id: str
) -> DriveAccess:
    """The access of the person a token was handed to, while their login lasts."""
    gone = TransferError(404, "No such document URL.")
    session = await services.accounts.get_session(user_id, session_id)
    if session is None or session.expires_at <= services.clock():
        raise gone
    ctx = RequestContext.for_principal(services, Principal(user_id, session_id), "office")
    try:
        access = await item_access(ctx, file_id)
    except CoveError:
        raise gone from None
    if access.in_trash or access.item.kind != FILE:
        raise gone
    return access
