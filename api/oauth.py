"""`POST /oauth/token` and `POST /oauth/revoke`: form-encoded (RFC 6749 §4.1.3, §6; RFC 7009),
parsed by Litestar, answered in JSON with `Cache-Control: no-store`; refusals are RFC 6749
§5.2 errors from authlib with their status (400, or 401 for a client that authenticated
with HTTP Basic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from litestar import Request, Response, post
from litestar.datastructures import State

from api.graphql import SERVICES_STATE_KEY
from api.middleware import client_address_of
from resolvers import oauth
from resolvers.errors import CoveError
from resolvers.services import Services

FORM = "application/x-www-form-urlencoded"
# A token request is a few short parameters.
MAX_FORM_BYTES = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Handler = Callable[[Services, dict[str, list[str]], dict[str, str]], Awaitable[Any]]


async def _answer(request: Request[Any, Any, Any], state: State, handler: Handler) -> Response[Any]:
    services: Services = state[SERVICES_STATE_KEY]
    address = client_address_of(request)
    try:
        # Every refused request counts against its address (guessed codes, verifiers,
        # secrets, refresh tokens), with the limit on other guessable tokens; a success
        # gives its slot back.
        attempt = await services.limits.token_failures.reserve("oauth:" + address)
    except CoveError as limited:
        wait = str(limited.retry_after or 60)
        body = {"error": "temporarily_unavailable", "error_description": limited.message}
        return Response(body, status_code=429, headers={**_NO_STORE, "Retry-After": wait})
    try:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != FORM:
            raise InvalidRequestError(f"Send the parameters as {FORM}.")
        form = await request.form()
        fields = {key: [str(v) for v in form.getall(key)] for key in form}
        headers = {"authorization": request.headers.get("authorization", "")}
        body = await handler(services, fields, headers)
    except OAuth2Error as error:
        refused = dict(error.get_body())
        return Response(refused, status_code=error.status_code, headers=dict(error.get_headers()))
    await attempt.succeeded()
    return Response({} if body is None else body, status_code=200, headers=_NO_STORE)


@post("/oauth/token", request_max_body_size=MAX_FORM_BYTES, status_code=200)
async def token_endpoint(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Exchange an authorization code (with its PKCE verifier) or a refresh token."""
    return await _answer(request, state, oauth.token)


@post("/oauth/revoke", request_max_body_size=MAX_FORM_BYTES, status_code=200)
async def revoke_endpoint(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Revoke an access or refresh token (RFC 7009): 200 whether or not it was live."""
    return await _answer(request, state, oauth.revoke)


OAUTH_ROUTES = (token_endpoint, revoke_endpoint)
