"""POST /hooks/<token>: incoming webhooks, in Slack's body shape (`{"text": "..."}`).

Answers 200 `ok` like Slack; 400 for a body that is not that JSON, 404 for an unknown or
revoked URL, 413 past `MAX_HOOK_BODY`, 429 with Retry-After past the URL's rate limit.
Errors use the JSON error body of every Cove route.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from api.errors import error_response
from api.graphql import SERVICES_STATE_KEY
from api.middleware import client_address_of, request_id_of
from resolvers.context import RequestContext
from resolvers.incoming_webhooks import HookRefused, post_through_hook
from resolvers.services import Services

# The largest body read; a message's text is limited below it (`max_message_length`).
MAX_HOOK_BODY = 64 * 1024
MAX_TOKEN_LENGTH = 100


@post("/hooks/{token:str}", request_max_body_size=MAX_HOOK_BODY, status_code=200)
async def incoming_hook(
    request: Request[Any, Any, Any], token: FromPath[str], state: State
) -> Response[Any]:
    services: Services = state[SERVICES_STATE_KEY]
    request_id = request_id_of(request.scope)
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise HookRefused(404, "No such webhook, or it was revoked.")
        try:
            raw = await request.body()
        except HTTPException as error:
            if error.status_code == 413:
                raise HookRefused(413, f"The body must be at most {MAX_HOOK_BODY} bytes.") from None
            raise
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        text = document.get("text") if isinstance(document, dict) else None
        client = client_address_of(request)
        ctx = RequestContext(services=services, request_id=request_id, client_address=client)
        await post_through_hook(ctx, token, text)
    except HookRefused as refused:
        response = error_response(refused.status, refused.message, request_id)
        if refused.retry_after is not None:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    return Response(b"ok", media_type="text/plain", status_code=200)
