from __future__ import annotations

import base64
import hashlib

from crypto.tokens import TOKEN_BYTES, hash_token, new_token


def test_token_has_prefix_and_256_random_bits() -> None:
    token = new_token()
    assert token.startswith("cove_")
    body = token.removeprefix("cove_")
    assert "=" not in body
    assert len(base64.urlsafe_b64decode(body + "=")) == TOKEN_BYTES == 32
    assert new_token("app_").startswith("app_")
    assert len({new_token() for _ in range(100)}) == 100


def test_hash_token_is_sha256_of_utf8() -> None:
    token = new_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).digest()
    assert hash_token("é") == hashlib.sha256("é".encode()).digest()
