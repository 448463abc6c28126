"""Jitsi video rooms: room names of 256 random bits, and the HS256 tokens a Jitsi server with
token authentication (prosody's mod_auth_token, docs/integrations.md) accepts.

Jitsi lowercases room names, so a name is lowercase base32: 52 characters, all 256 bits kept.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

import jwt

ROOM_BYTES = 32
ROOM_NAME_LENGTH = 52  # base32 of 32 bytes, unpadded
# The `aud` Cove's tokens carry: the value Jitsi's own docs use (prosody's
# `asap_accepted_audiences` accepts any audience unless it is set).
AUDIENCE = "jitsi"
ALGORITHM = "HS256"


def new_room_name() -> str:
    """A fresh room name: 256 bits from the system's CSPRNG, lowercase base32 unpadded."""
    raw = base64.b32encode(secrets.token_bytes(ROOM_BYTES)).rstrip(b"=")
    return raw.decode("ascii").lower()


@dataclass(frozen=True)
class JitsiUser:
    """Who the token admits: shown in the room, a moderator or not."""

    id: str
    name: str
    moderator: bool


def jitsi_token(
    *,
    app_id: str,
    app_secret: str,
    domain: str,
    room: str,
    user: JitsiUser,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """A JWT admitting `user` to `room` only, until `expires_at`: `iss` the app id, `aud`
    "jitsi", `sub` the Jitsi domain, `room` the room name, `context.user` name and role."""
    claims = {
        "iss": app_id,
        "aud": AUDIENCE,
        "sub": domain,
        "room": room,
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "context": {
            "user": {
                "id": user.id,
                "name": user.name,
                # `moderator` as JaaS and token_moderation read it; `affiliation` as
                # mod_token_affiliation does.
                "moderator": user.moderator,
                "affiliation": "owner" if user.moderator else "member",
            }
        },
    }
    return jwt.encode(claims, app_secret, algorithm=ALGORITHM)
