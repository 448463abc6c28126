"""ONLYOFFICE's save callback: a signed status from the Document Server, and on "ready to
save" (2) or "force save" (6) the edited file fetched from it and stored as a new version.

Nothing is taken from the request but what its JWT signs (the body's `token`, or the
`Authorization: Bearer` header whose claims wrap the body in `payload`). The callback URL's
own random token names the editing session; the signed `key` must be that session's, and
the version it edits must still be the file's current one. Each save of a version is claimed
once per callback token, so a replayed request saves nothing. The file is fetched only from
the Document Server's origin (integrations/onlyoffice.py) and goes through the upload path
(`drive_uploads.receive_upload`): the editor's access and login are checked again, the quota
is applied, and the bytes are sealed as they arrive.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from crypto import office
from crypto.tokens import hash_token, new_token
from integrations.onlyoffice import DocumentFetchFailed, DocumentFetchRefused
from persistence.drive_records import UploadRecord
from persistence.ids import new_id
from persistence.office import CALLBACK, OfficeRepository, OfficeSessionRecord
from resolvers.audit import AuditKind
from resolvers.authz import Principal
from resolvers.context import RequestContext
from resolvers.documents_office import EDITABLE, extension_of
from resolvers.drive_access import item_access, name_ref, version_ref
from resolvers.drive_policy import OfficePolicy
from resolvers.drive_uploads import receive_upload
from resolvers.errors import DEPENDENCY_UNAVAILABLE, CoveError
from resolvers.global_ids import from_global_id, to_global_id
from resolvers.roles import AccessLevel
from resolvers.services import Services
from resolvers.transfers import TransferError

log = logging.getLogger("cove.office")

# The callback statuses of the ONLYOFFICE API.
EDITING, READY, SAVE_ERROR, CLOSED, FORCE_SAVE, FORCE_SAVE_ERROR = 1, 2, 3, 4, 6, 7
SAVED = {"error": 0}
FETCH_RETRY_SECONDS = 5


def _signed_payload(
    policy: OfficePolicy, services: Services, body: bytes, header: str | None
) -> tuple[dict[str, Any], str]:
    """The callback as its JWT signs it, and the JWT; refused when it carries none or a bad
    one."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise TransferError(400, "The body must be JSON.") from None
    if not isinstance(document, dict):
        raise TransferError(400, "The body must be a JSON object.")
    token = document.get("token")
    wrapped = False
    if not isinstance(token, str):
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise TransferError(401, "The callback must carry the Document Server's JWT.")
        token, wrapped = value.strip(), True
    try:
        claims = office.verify(policy.jwt_secret, token, services.clock())
    except office.OfficeTokenError as error:
        log.warning("ONLYOFFICE callback refused: %s", error)
        raise TransferError(403, "The callback's JWT does not verify.") from None
    payload = claims.get("payload") if wrapped else claims
    if not isinstance(payload, dict):
        raise TransferError(403, "The callback's JWT does not sign a callback.")
    return payload, token


async def office_callback(
    services: Services,
    token: str,
    body: bytes,
    authorization: str | None,
    *,
    client_address: str = "unknown",
) -> dict[str, int]:
    """Take one callback of the Document Server; `{"error": 0}` when it was handled."""
    policy = services.policy.office
    if not policy.enabled:
        raise TransferError(404, "No such callback URL.")
    payload, signed = _signed_payload(policy, services, body, authorization)
    repository = OfficeRepository(services.store)
    token_hash = hash_token(token)
    record = await repository.token(token_hash)
    if record is None or record.kind != CALLBACK or record.expires_at <= services.clock():
        raise TransferError(404, "No such callback URL, or it has expired.")
    if payload.get("key") != record.doc_key:
        log.warning(
            "ONLYOFFICE callback for another document key refused (file %s)", record.file_id
        )
        raise TransferError(403, "The callback's key is not this document's.")
    status = payload.get("status")
    if status in (EDITING, CLOSED):
        return SAVED
    if status in (SAVE_ERROR, FORCE_SAVE_ERROR):
        log.warning(
            "the Document Server could not save file %s (status %s)", record.file_id, status
        )
        return SAVED
    if status not in (READY, FORCE_SAVE):
        raise TransferError(400, f"Unknown callback status {status!r}.")
    session = await repository.session(record.doc_key)
    if session is None:
        raise TransferError(404, "No such callback URL, or it has expired.")
    await _save(
        services,
        policy,
        repository,
        jwt_hash=hash_token(signed),
        session=session,
        payload=payload,
        client_address=client_address,
    )
    return SAVED


async def _save(
    services: Services,
    policy: OfficePolicy,
    repository: OfficeRepository,
    *,
    jwt_hash: bytes,
    session: OfficeSessionRecord,
    payload: dict[str, Any],
    client_address: str,
) -> None:
    if not session.version_id:
        log.warning("an ONLYOFFICE save after its session ended refused (file %s)", session.file_id)
        raise TransferError(410, "This editing session has ended; its save was made already.")
    item = await services.drive.get(session.file_id)
    if item is None or item.current_version_id != session.version_id:
        log.warning(
            "ONLYOFFICE save of a version no longer current refused (file %s)", session.file_id
        )
        raise TransferError(409, "The document key names a version that is no longer current.")
    url = payload.get("url")
    if not isinstance(url, str):
        raise TransferError(400, "A save callback must give the file's `url`.")
    user_id, session_id, extension = await _editor(
        services, repository, session, payload, client_address
    )
    # One save per version a session edits, and per signed request: a request replayed while
    # its JWT lives (a force save goes on to edit the version it made), to this callback URL
    # or a co-editor's, saves nothing again.
    claims = (f"save:{session.version_id}", f"jwt:{jwt_hash.hex()}")
    taken: list[str] = []
    for what in claims:
        if not await repository.claim_save(session.doc_key, what, services.clock()):
            for done in taken:
                await repository.release_save(session.doc_key, done)
            log.warning("a replayed ONLYOFFICE save of file %s refused", session.file_id)
            raise TransferError(410, "This save was made already.")
        taken.append(what)
    try:
        version_id = await _fetch_and_store(
            services,
            policy,
            session,
            url,
            editor=(user_id, session_id),
            content_type=EDITABLE[extension],
        )
    except BaseException:
        for what in claims:  # nothing saved: a retry may save it
            await repository.release_save(session.doc_key, what)
        raise
    # A force save goes on editing the version it made; a final save ends the session (the
    # Document Server forgets the key, and the new version opens under a key of its own).
    ended = payload.get("status") == READY
    await repository.move_session(session.doc_key, "" if ended else version_id)
    log.info("ONLYOFFICE saved file %s as version %s", session.file_id, version_id)


async def _editor(
    services: Services,
    repository: OfficeRepository,
    session: OfficeSessionRecord,
    payload: dict[str, Any],
    client_address: str,
) -> tuple[str, str, str]:
    """The user the save is made as (the last editor, first in `users`), who opened this
    session to edit and may still write the file; refused, logged and audited otherwise."""
    users = payload.get("users")
    first = users[0] if isinstance(users, list) and users else None
    parsed = from_global_id(first) if isinstance(first, str) else None
    user_id = parsed[1] if parsed is not None and parsed[0] == "User" else ""
    editor = await repository.editor(session.doc_key, user_id) if user_id else None

    async def refuse(reason: str, message: str) -> TransferError:
        log.warning("ONLYOFFICE save of file %s refused: %s", session.file_id, reason)
        await services.audit.workspace_event(
            session.workspace_id,
            AuditKind.DOCUMENT_SAVE_REFUSED,
            actor_id=user_id,
            client_address=client_address,
            targets=[to_global_id("File", session.file_id)],
            details={"reason": reason},
        )
        return TransferError(403, message)

    if editor is None or not editor.can_edit:
        raise await refuse(
            "not opened to edit", "The save names no one who opened the document to edit."
        )
    login = await services.accounts.get_session(user_id, editor.session_id)
    lost = "The editor may no longer write this file."
    if login is None or login.expires_at <= services.clock():
        raise await refuse("the editor's login ended", lost)
    ctx = RequestContext.for_principal(services, Principal(user_id, editor.session_id), "office")
    try:
        access = await item_access(ctx, session.file_id)
        services.authz.drive_require(access, AccessLevel.WRITE)
    except CoveError:
        raise await refuse("the editor lost access", lost) from None
    if access.in_trash:
        raise TransferError(409, "The file is in the trash.")
    name = await services.keys.open_text(
        services.authz.drive_grant(access),
        name_ref(session.file_id, session.workspace_id),
        access.item.name_sealed,
    )
    extension = extension_of(name)
    filetype = payload.get("filetype", extension)
    if extension not in EDITABLE or filetype != extension:
        raise TransferError(400, f"The editor saved a .{filetype} file; this file is .{extension}.")
    return user_id, editor.session_id, extension


async def _fetch_and_store(
    services: Services,
    policy: OfficePolicy,
    session: OfficeSessionRecord,
    url: str,
    *,
    editor: tuple[str, str],
    content_type: str,
) -> str:
    """Fetch the saved file from the Document Server and store it through the upload path,
    as the editor (user id, login); the new version's id."""
    fetcher = services.office_fetcher
    if fetcher is None:
        raise TransferError(503, "No Document Server is configured.", reason=DEPENDENCY_UNAVAILABLE)
    ws = session.workspace_id
    user_id, login = editor
    # The drive's own cap on a file holds too, when it is the lower of the two.
    limit = min(policy.max_document_bytes, services.drive_policy.max_file_bytes)
    try:
        async with fetcher.fetch(url) as fetched:
            if fetched.size > limit:
                raise TransferError(413, "The saved document is over the size limit.")
            version_id = new_id()
            upload_token = new_token("cvu_")
            await services.drive.add_upload(
                UploadRecord(
                    token_hash=hash_token(upload_token),
                    upload_id=new_id(),
                    workspace_id=ws,
                    parent_id="",
                    file_id=session.file_id,
                    new_file=False,
                    version_id=version_id,
                    name_sealed=None,
                    content_type_sealed=await services.keys.seal_text(
                        version_ref("content_type", version_id, ws), content_type
                    ),
                    size=fetched.size,
                    created_by=user_id,
                    session_id=login,
                    expires_at=services.clock() + policy.download_ttl,
                )
            )
            await receive_upload(services, upload_token, fetched.chunks, fetched.size)
    except DocumentFetchRefused as error:
        log.warning("ONLYOFFICE save of file %s refused: %s", session.file_id, error)
        raise TransferError(400, "The saved file's URL is not on the Document Server.") from None
    except DocumentFetchFailed as error:
        log.warning("ONLYOFFICE save of file %s failed: %s", session.file_id, error)
        if error.too_big:
            raise TransferError(413, "The saved document is over the size limit.") from None
        raise TransferError(
            503,
            "The Document Server did not hand over the saved file.",
            {"Retry-After": str(FETCH_RETRY_SECONDS)},
            reason=DEPENDENCY_UNAVAILABLE,
        ) from None
    return version_id
