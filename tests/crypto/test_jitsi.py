"""Room names are 256 bits from the CSPRNG in Jitsi's lowercase alphabet; tokens are HS256
JWTs with the claims Jitsi's token authentication checks."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import jwt

from crypto.jitsi import ROOM_BYTES, ROOM_NAME_LENGTH, JitsiUser, jitsi_token, new_room_name

SECRET = "s" * 32


def test_room_names_carry_256_random_bits_after_lowercasing() -> None:
    names = {new_room_name() for _ in range(1000)}
    assert len(names) == 1000
    for name in names:
        assert re.fullmatch(r"[a-z2-7]{52}", name) and len(name) == ROOM_NAME_LENGTH
        padded = name.upper() + "=" * 4
        assert len(base64.b32decode(padded)) == ROOM_BYTES == 32
    # Every position takes every symbol, as uniform bits would (not a fixed prefix or suffix).
    first, last = {n[0] for n in names}, {n[-2] for n in names}
    assert len(first) == 32 and len(last) == 32


def test_a_token_admits_one_user_to_one_room_until_it_expires() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    token = jitsi_token(
        app_id="app",
        app_secret=SECRET,
        domain="meet.example.org",
        room="abc",
        user=JitsiUser(id="U1", name="Ann", moderator=True),
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="jitsi",
        issuer="app",
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert claims == {
        "iss": "app",
        "aud": "jitsi",
        "sub": "meet.example.org",
        "room": "abc",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(now.timestamp()) + 300,
        "context": {"user": {"id": "U1", "name": "Ann", "moderator": True, "affiliation": "owner"}},
    }
