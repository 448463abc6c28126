"""ONLYOFFICE: the document key of a file version, and the HS256 JWTs the Document Server
checks and sends (PyJWT)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, hmac

from crypto._primitives import length_prefixed

ALGORITHM = "HS256"
# Seconds of clock difference with the Document Server tolerated on `exp`, `nbf` and `iat`.
LEEWAY_SECONDS = 30


class OfficeTokenError(Exception):
    """A JWT that does not verify: bad signature, malformed, expired, or from the future."""


def document_key(key: bytes, file_id: str, version_id: str) -> str:
    """The Document Server's `document.key` of one version: the same for everyone who opens
    that version (so they edit together), another for every new version, and not guessable
    from the ids (43 characters of [A-Za-z0-9_-])."""
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(length_prefixed(b"onlyoffice document key", file_id.encode(), version_id.encode()))
    return base64.urlsafe_b64encode(mac.finalize()).rstrip(b"=").decode("ascii")


def sign(secret: str, payload: Mapping[str, Any]) -> str:
    """`payload` as a compact HS256 JWT."""
    return jwt.encode(dict(payload), secret, algorithm=ALGORITHM)


def verify(secret: str, token: str, now: datetime) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `secret`; `exp` and `nbf` are checked when
    present (the Document Server sets `exp`), `iat` may not lie in the future; all against
    `now`, the server's clock. Raises OfficeTokenError."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        raise OfficeTokenError(f"the token does not verify ({type(error).__name__})") from None
    moment = now.timestamp()
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise OfficeTokenError(f"the token's {name} is not a time")
    if "exp" in claims and claims["exp"] <= moment - LEEWAY_SECONDS:
        raise OfficeTokenError("the token has expired")
    for name in ("nbf", "iat"):
        if name in claims and claims[name] > moment + LEEWAY_SECONDS:
            raise OfficeTokenError(f"the token's {name} lies in the future")
    return claims
