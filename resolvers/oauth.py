"""The OAuth 2.0 token and revocation endpoints' logic (RFC 6749 §4.1.3, §5, §6; RFC 7636;
RFC 7009), on authlib's errors, PKCE comparison and client-authentication parsing.

Every refusal is an authlib `OAuth2Error` (its `error` code, status and headers are what the
HTTP route answers). A token family (grant) starts at a code's exchange; each refresh
replaces the refresh token, and presenting a replaced one ends the whole family (the token
was stolen, or the app is broken: either way nobody should keep using it).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge

from crypto.tokens import hash_token, new_token
from persistence.apps import AppRecord, TokenRecord
from persistence.ids import new_id
from resolvers.app_auth import ACCESS, REFRESH, end_grant
from resolvers.app_model import APP_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, scope_set, scope_text
from resolvers.services import Services

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type's name


@dataclass(frozen=True)
class Client:
    app: AppRecord
    by_header: bool


def _one(form: Mapping[str, list[str]], name: str, *, required: bool = False) -> str | None:
    """A parameter sent at most once (RFC 6749 §3.2); missing or empty is None."""
    values = form.get(name) or []
    if len(values) > 1:
        raise InvalidRequestError(f"Parameter {name} is included more than once.")
    value = values[0] if values else None
    if required and not value:
        raise InvalidRequestError(f"Missing {name} in request.")
    return value or None


async def authenticate_client(
    services: Services, form: Mapping[str, list[str]], headers: Mapping[str, str]
) -> Client:
    """The client, by client_secret_basic, client_secret_post, or (a public client) by its
    client_id alone (RFC 6749 §2.3)."""
    header_id, header_secret = extract_basic_authorization(
        {"Authorization": headers.get("authorization", "")}
    )
    form_id, form_secret = _one(form, "client_id"), _one(form, "client_secret")
    by_header = header_id is not None
    if by_header and (form_secret is not None or (form_id and form_id != header_id)):
        raise InvalidRequestError("Authenticate the client one way only.")
    client_id = header_id if by_header else form_id
    secret = header_secret if by_header else form_secret
    refused = InvalidClientError(
        "Client authentication failed.", status_code=401 if by_header else 400
    )
    if not client_id:
        raise refused
    app = await services.apps.by_client_id(client_id)
    if app is None:
        raise refused
    if app.confidential:
        if not secret or not hmac.compare_digest(hash_token(secret), app.secret_hash):
            raise refused
    elif secret:
        raise refused  # a public client has no secret: one sent is someone's mistake
    return Client(app, by_header)


async def token(
    services: Services, form: Mapping[str, list[str]], headers: Mapping[str, str]
) -> dict[str, Any]:
    """The token response (RFC 6749 §5.1), or an authlib OAuth2Error."""
    grant_type = _one(form, "grant_type", required=True)
    if grant_type not in {AUTHORIZATION_CODE, REFRESH_TOKEN}:
        raise UnsupportedGrantTypeError(f"grant_type {grant_type} is not supported.")
    client = await authenticate_client(services, form, headers)
    if grant_type == AUTHORIZATION_CODE:
        return await _exchange_code(services, client.app, form)
    return await _refresh(services, client.app, form)


async def _exchange_code(
    services: Services, app: AppRecord, form: Mapping[str, list[str]]
) -> dict[str, Any]:
    code = _one(form, "code", required=True) or ""
    redirect_uri = _one(form, "redirect_uri", required=True)
    verifier = _one(form, "code_verifier")
    if verifier is None:
        raise InvalidRequestError("Missing code_verifier: PKCE is required.")
    if not re.fullmatch(CODE_VERIFIER_PATTERN, verifier):
        raise InvalidRequestError("Invalid code_verifier.")
    code_hash = hash_token(code)
    record = await services.apps.get_code(code_hash)
    now = services.clock()
    if record is None or record.app_id != app.app_id:
        raise InvalidGrantError("The authorization code is invalid.")
    if record.used:
        # A code presented twice: whoever holds the tokens it gave may not be the app.
        if record.grant_id:
            await _end(services, app.app_id, record.grant_id, record.workspace_id)
        raise InvalidGrantError("The authorization code was used already.")
    if record.expires_at <= now:
        await services.apps.forget_code(code_hash)
        raise InvalidGrantError("The authorization code has expired.")
    if redirect_uri != record.redirect_uri:
        raise InvalidGrantError("redirect_uri differs from the one the code was issued to.")
    if not compare_s256_code_challenge(verifier, record.code_challenge):
        raise InvalidGrantError("The code_verifier does not match the code_challenge.")
    install = await services.apps.get_install(app.app_id, record.workspace_id)
    if install is None:
        raise InvalidGrantError("The app is no longer installed in that workspace.")
    grant_id = new_id()
    if not await services.apps.use_code(code_hash, grant_id):
        raise InvalidGrantError("The authorization code was used already.")
    await services.apps.add_grant(app.app_id, grant_id, record.workspace_id, now)
    family = TokenRecord(
        token_hash=b"",
        kind=ACCESS,
        grant_id=grant_id,
        app_id=app.app_id,
        workspace_id=record.workspace_id,
        bot_user_id=install.bot_user_id,
        scopes=record.scopes,
        secret_version=app.secret_version,
        expires_at=now,
        used=False,
    )
    return await _issue(services, family)


async def _refresh(
    services: Services, app: AppRecord, form: Mapping[str, list[str]]
) -> dict[str, Any]:
    presented = _one(form, "refresh_token", required=True) or ""
    asked = _one(form, "scope")
    token_hash = hash_token(presented)
    record = await services.apps.get_token(token_hash)
    now = services.clock()
    if (
        record is None
        or record.kind != REFRESH
        or record.app_id != app.app_id
        or record.secret_version != app.secret_version
    ):
        raise InvalidGrantError("The refresh token is invalid.")
    if record.expires_at <= now:
        raise InvalidGrantError("The refresh token has expired.")
    if not await services.apps.has_grant(app.app_id, record.grant_id):
        # The family was ended (its token rows are deleted too; the family row, written
        # without compare-and-set, is what ending it is judged by: see app_auth).
        raise InvalidGrantError("The refresh token is invalid.")
    scopes = record.scopes
    if asked is not None:
        narrowed = frozenset(scope_to_list(asked) or [])
        if not narrowed or not narrowed <= scope_set(record.scopes):
            raise InvalidScopeError("A refresh may only keep or narrow the approved scopes.")
        scopes = scope_text(narrowed)
    if record.used or not await services.apps.use_refresh(token_hash):
        await _end(services, app.app_id, record.grant_id, record.workspace_id)
        raise InvalidGrantError(
            "The refresh token was used already: every token of its grant is revoked."
        )
    install = await services.apps.get_install(app.app_id, record.workspace_id)
    if install is None or install.bot_user_id != record.bot_user_id:
        raise InvalidGrantError("The app is no longer installed in that workspace.")
    # An admin's later approval with fewer scopes narrows the family too (never widens it).
    scopes = scope_text(scope_set(scopes) & scope_set(install.scopes))
    return await _issue(services, replace(record, scopes=scopes, used=False))


async def _issue(services: Services, family: TokenRecord) -> dict[str, Any]:
    """A new access token and refresh token in the family."""
    policy = services.policy.apps
    now = services.clock()
    access = new_token(APP_TOKEN_PREFIX)
    refresh = new_token(REFRESH_TOKEN_PREFIX)
    await services.apps.add_token(
        replace(
            family,
            token_hash=hash_token(access),
            kind=ACCESS,
            expires_at=now + policy.access_token_ttl,
        )
    )
    await services.apps.add_token(
        replace(
            family,
            token_hash=hash_token(refresh),
            kind=REFRESH,
            expires_at=now + policy.refresh_token_ttl,
        )
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(policy.access_token_ttl.total_seconds()),
        "refresh_token": refresh,
        "scope": family.scopes,
    }


async def _end(services: Services, app_id: str, grant_id: str, workspace_id: str) -> None:
    install = await services.apps.get_install(app_id, workspace_id)
    await end_grant(services, app_id, grant_id, "" if install is None else install.bot_user_id)


async def revoke(
    services: Services, form: Mapping[str, list[str]], headers: Mapping[str, str]
) -> None:
    """RFC 7009: revoking either token of a family ends the whole family; a token that is
    unknown, expired or another client's is answered the same way (nothing to do)."""
    presented = _one(form, "token", required=True) or ""
    _one(form, "token_type_hint")
    client = await authenticate_client(services, form, headers)
    record = await services.apps.get_token(hash_token(presented))
    if record is not None and record.app_id == client.app.app_id:
        await _end(services, record.app_id, record.grant_id, record.workspace_id)
