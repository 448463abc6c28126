"""ONLYOFFICE's document keys and JWTs: keys fixed per version and unguessable, JWTs verified
with the secret, HS256 only, expiry and issue time checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import jwt
import pytest

from crypto import office

KEY = b"k" * 32
SECRET = "the-document-servers-secret-0123456789"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_a_document_key_is_fixed_per_version_and_within_onlyoffices_alphabet() -> None:
    key = office.document_key(KEY, "file", "v1")
    assert key == office.document_key(KEY, "file", "v1")
    assert key != office.document_key(KEY, "file", "v2")
    assert key != office.document_key(b"j" * 32, "file", "v1")
    assert key != office.document_key(KEY, "filev", "1")  # parts cannot run together
    assert re.fullmatch(r"[0-9A-Za-z_-]{1,128}", key)


def test_a_signed_configuration_verifies_and_nothing_else_does() -> None:
    claims = {"document": {"key": "k"}, "iat": int(NOW.timestamp())}
    token = office.sign(SECRET, claims)
    assert office.verify(SECRET, token, NOW) == claims
    with pytest.raises(office.OfficeTokenError):
        office.verify("another secret, thirty-two characters", token, NOW)
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(office.OfficeTokenError):
        office.verify(SECRET, unsigned, NOW)
    other_alg = jwt.encode(claims, SECRET * 2, algorithm="HS512")
    with pytest.raises(office.OfficeTokenError):
        office.verify(SECRET, other_alg, NOW)
    with pytest.raises(office.OfficeTokenError):
        office.verify(SECRET, token[:-2], NOW)


def test_expired_and_future_tokens_are_refused() -> None:
    issued = int(NOW.timestamp())
    expired = office.sign(SECRET, {"iat": issued - 600, "exp": issued - 300})
    with pytest.raises(office.OfficeTokenError, match="expired"):
        office.verify(SECRET, expired, NOW)
    assert office.verify(SECRET, office.sign(SECRET, {"exp": issued + 10}), NOW)
    for claim in ("iat", "nbf"):
        future = office.sign(SECRET, {claim: issued + 3600})
        with pytest.raises(office.OfficeTokenError, match="future"):
            office.verify(SECRET, future, NOW)
    with pytest.raises(office.OfficeTokenError, match="not a time"):
        office.verify(SECRET, office.sign(SECRET, {"exp": "tomorrow"}), NOW)
