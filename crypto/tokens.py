"""Bearer tokens: 256 random bits, stored only as SHA-256 hashes."""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import hashes

TOKEN_BYTES = 32


def new_token(prefix: str = "cove_") -> str:
    """Return `prefix` + unpadded URL-safe base64 of 32 random bytes."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=")
    return prefix + raw.decode("ascii")


def hash_token(token: str) -> bytes:
    """SHA-256 of the token's UTF-8 bytes: what the database keeps instead of the token."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(token.encode())
    return digest.finalize()
