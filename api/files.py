"""File routes: the upload and download URLs the API hands out, public share links, and
calendar feeds.

Errors answer with an HTTP status and the JSON error body every Cove route uses
(`errors[].extensions.code`). The token in the path is the only credential these routes take.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.datastructures import State
from litestar.exceptions import HTTPException, InternalServerException
from litestar.params import FromPath
from litestar.response import Stream

from api.errors import error_response
from api.graphql import SERVICES_STATE_KEY
from api.middleware import client_address_of, request_id_of
from resolvers.calendar_ics import feed
from resolvers.drive_downloads import Download, open_download, open_share_link
from resolvers.drive_uploads import receive_upload
from resolvers.exports import open_download as open_export_download
from resolvers.services import Services
from resolvers.transfers import TransferError

log = logging.getLogger("cove.files")
# app.state key of the set of upload tasks running now.
UPLOADS_STATE_KEY = "uploads"
MAX_TOKEN_LENGTH = 100
MAX_PASSWORD_BODY = 4096


def _refusal(request: Request[Any, Any, Any], error: TransferError) -> Response[Any]:
    response = error_response(
        error.status, error.message, request_id_of(request.scope), reason=error.reason
    )
    response.headers.update(error.headers)
    return response


def _check_token(token: str) -> None:
    if len(token) > MAX_TOKEN_LENGTH:
        raise TransferError(404, "No such URL.")


def _is_count(text: str) -> bool:
    # str.isdigit() alone passes "²" and 5,000-digit numbers, on which int() raises.
    return text.isascii() and text.isdigit() and len(text) <= 18


def _streamed(download: Download) -> Stream:
    return Stream(download.body, status_code=download.status, headers=download.headers)


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request body as it arrives; a client that goes away mid-way is a refusal, not a
    server error (the upload is abandoned and nothing of it is kept)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except InternalServerException:
        if request.is_connected:
            raise
        log.info("a client went away during an upload")
        raise TransferError(400, "The body ended early: the client went away.") from None


def upload_route(max_file_bytes: int) -> Any:
    """PUT <upload url>: the route, with a body limit of the largest file, not of GraphQL's."""

    @put(
        "/files/upload/{token:str}",
        request_max_body_size=max_file_bytes,
        status_code=201,
    )
    async def upload(
        request: Request[Any, Any, Any], token: FromPath[str], state: State
    ) -> Response[Any]:
        """Stream the body into the blob store, sealed; answers {fileId, versionId}."""
        services: Services = state[SERVICES_STATE_KEY]
        # Known to the shutdown, which lets a cut upload clean up before the store closes.
        uploads: set[asyncio.Task[Any]] = state[UPLOADS_STATE_KEY]
        task = asyncio.current_task()
        if task is not None:
            uploads.add(task)
        try:
            _check_token(token)
            length = request.headers.get("content-length")
            declared = int(length) if length is not None and _is_count(length) else None
            result = await receive_upload(services, token, _body(request), declared)
        except TransferError as error:
            return _refusal(request, error)
        finally:
            uploads.discard(task)
        return Response(result, status_code=201)

    return upload


@get("/files/download/{token:str}")
async def download(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """GET <download url>: the contents of one version; honours one `Range`."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        _check_token(token)
        found = await open_download(
            services, token, request.headers.get("range"), request.headers.get("if-range")
        )
    except TransferError as error:
        return _refusal(request, error)
    return _streamed(found)


@get("/exports/download/{token:str}")
async def export_download(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """GET <export download url>: the export's archive, once; 410 after that."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        _check_token(token)
        found = await open_export_download(services, token)
    except TransferError as error:
        return _refusal(request, error)
    return _streamed(found)


@get("/files/share/{token:str}")
async def share_link(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """GET <share link>: the file behind a public link without a password."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        _check_token(token)
        found = await open_share_link(
            services,
            token,
            None,
            request.headers.get("range"),
            request.headers.get("if-range"),
            client_address=client_address_of(request),
        )
    except TransferError as error:
        return _refusal(request, error)
    return _streamed(found)


@post("/files/share/{token:str}", request_max_body_size=MAX_PASSWORD_BODY, status_code=200)
async def share_link_with_password(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """POST <share link> with JSON {"password": "..."}: the file behind a protected link."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        _check_token(token)
        try:
            raw = await request.body()
            document = json.loads(raw or b"{}")
        except (ValueError, HTTPException):
            raise TransferError(400, 'The body must be JSON: {"password": "..."}') from None
        password = document.get("password") if isinstance(document, dict) else None
        if password is not None and not isinstance(password, str):
            raise TransferError(400, "The password must be a string.")
        found = await open_share_link(
            services,
            token,
            password,
            request.headers.get("range"),
            request.headers.get("if-range"),
            client_address=client_address_of(request),
        )
    except TransferError as error:
        return _refusal(request, error)
    return _streamed(found)


@get("/calendars/feed/{name:str}")
async def calendar_feed(
    request: Request[Any, Any, Any], name: FromPath[str], state: State
) -> Response[Any]:
    """GET <feed url>: a calendar as iCalendar, for other calendar apps to subscribe to."""

    services: Services = state[SERVICES_STATE_KEY]
    token = name.removesuffix(".ics")
    text = None if len(token) > MAX_TOKEN_LENGTH else await feed(services, token)
    if text is None:
        return _refusal(request, TransferError(404, "No such calendar feed, or it was revoked."))
    return Response(
        text.encode(),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="calendar.ics"'},
    )


def file_routes(max_file_bytes: int) -> list[Any]:
    return [
        upload_route(max_file_bytes),
        download,
        share_link,
        share_link_with_password,
        calendar_feed,
        export_download,
    ]
