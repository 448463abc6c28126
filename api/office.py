"""ONLYOFFICE's two routes, for the Document Server alone: the one-time download of the
document it opens, and the callback it saves through (`resolvers/documents_office*.py`).

The download's token in the path is its only credential. The callback answers `{"error": 0}`
as the ONLYOFFICE API expects; a refusal is the JSON error body of every Cove route, with
`"error": 1` beside it so the Document Server sees a failure too.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Stream

from api.errors import error_response
from api.graphql import SERVICES_STATE_KEY
from api.middleware import client_address_of, request_id_of
from resolvers.documents_office import open_office_download
from resolvers.documents_office_saves import office_callback
from resolvers.services import Services
from resolvers.transfers import TransferError

log = logging.getLogger("cove.office")
MAX_TOKEN_LENGTH = 100
# A callback is a small JSON document (key, status, url, users, actions, history).
MAX_CALLBACK_BODY = 1024 * 1024


def _refusal(request: Request[Any, Any, Any], error: TransferError) -> Response[Any]:
    response = error_response(
        error.status, error.message, request_id_of(request.scope), reason=error.reason
    )
    response.headers.update(error.headers)
    return response


@get("/office/download/{token:str}")
async def office_download(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """GET <document url>: the version the Document Server opens, once."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TransferError(404, "No such document URL.")
        found = await open_office_download(services, token)
    except TransferError as error:
        return _refusal(request, error)
    return Stream(found.body, status_code=found.status, headers=found.headers)


@post("/office/callback/{token:str}", request_max_body_size=MAX_CALLBACK_BODY, status_code=200)
async def office_callback_route(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    """POST <callback url>: a signed status from the Document Server; saves on 2 and 6."""
    services: Services = state[SERVICES_STATE_KEY]
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TransferError(404, "No such callback URL.")
        try:
            body = await request.body()
        except HTTPException as error:
            if error.status_code == 413:
                raise TransferError(413, "The callback body is too long.") from None
            raise
        answer = await office_callback(
            services,
            token,
            body,
            request.headers.get("authorization"),
            client_address=client_address_of(request),
        )
    except TransferError as error:
        response = _refusal(request, error)
        content = response.content if isinstance(response.content, dict) else {}
        response.content = {"error": 1, **content}
        return response
    return Response(answer, status_code=200)


OFFICE_ROUTES = (office_download, office_callback_route)
