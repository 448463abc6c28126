"""Password hashing: Argon2id, with imported Django PBKDF2-SHA256 hashes verified once."""

from __future__ import annotations

import base64
import binascii
import secrets
from contextlib import suppress
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

_ARGON2ID_PREFIX = "$argon2id$"
_PBKDF2_SCHEME = "pbkdf2_sha256"
_PBKDF2_HASH_BYTES = 32
# Stored data should never make one login cost minutes.
_PBKDF2_MAX_ITERATIONS = 10_000_000


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters; defaults follow RFC 9106's second recommendation."""

    time_cost: int = 3
    """Passes over memory."""
    memory_kib: int = 65536
    """Memory per hash, in KiB."""
    parallelism: int = 4
    """Lanes computed in parallel."""

    @classmethod
    def minimum(cls) -> Argon2Params:
        """OWASP's floor (t=2, m=19 MiB, p=1): cheap enough for tests, still acceptable."""
        return cls(time_cost=2, memory_kib=19456, parallelism=1)

    def validate(self) -> None:
        """Raise ValueError when these parameters fall below OWASP's minimum."""
        floor = Argon2Params.minimum()
        if self.memory_kib < floor.memory_kib:
            raise ValueError(f"argon2 memory_kib {self.memory_kib} < {floor.memory_kib}")
        if self.time_cost < floor.time_cost:
            raise ValueError(f"argon2 time_cost {self.time_cost} < {floor.time_cost}")
        if self.parallelism < floor.parallelism:
            raise ValueError(f"argon2 parallelism {self.parallelism} < {floor.parallelism}")


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a password check; `needs_rehash` asks the caller to store a fresh hash."""

    ok: bool
    needs_rehash: bool


_FAILED = VerifyResult(ok=False, needs_rehash=False)


class PasswordHasher:
    """Hashes and verifies passwords; blocking, so callers run it in a thread."""

    def __init__(self, params: Argon2Params) -> None:
        params.validate()
        self._argon2 = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self._dummy = self._argon2.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Return an Argon2id PHC string for `password`."""
        return self._argon2.hash(password)

    def verify(self, stored: str, password: str) -> VerifyResult:
        """Check `password` against a stored hash; bad stored data gives ok=False."""
        # Lone surrogates (possible from JSON) cannot encode, so match no stored password.
        with suppress(UnicodeEncodeError):
            if stored.startswith(_ARGON2ID_PREFIX):
                return self._verify_argon2(stored, password)
            if stored.startswith(_PBKDF2_SCHEME + "$") and _pbkdf2_ok(stored, password):
                # Imported hashes are upgraded to Argon2id on the first good login.
                return VerifyResult(ok=True, needs_rehash=True)
        return _FAILED

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real check, so an unknown account looks like a wrong password."""
        with suppress(UnicodeEncodeError):
            self._verify_argon2(self._dummy, password)

    def _verify_argon2(self, stored: str, password: str) -> VerifyResult:
        try:
            self._argon2.verify(stored, password)
            return VerifyResult(ok=True, needs_rehash=self._argon2.check_needs_rehash(stored))
        except (VerificationError, InvalidHashError):
            return _FAILED


def _pbkdf2_ok(stored: str, password: str) -> bool:
    """Verify Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`."""
    parts = stored.split("$")
    if len(parts) != 4:
        return False
    _, iterations_text, salt, encoded = parts
    if not (iterations_text.isascii() and iterations_text.isdigit()) or not salt:
        return False
    iterations = int(iterations_text)
    if not 1 <= iterations <= _PBKDF2_MAX_ITERATIONS:
        return False
    try:
        expected = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(expected) != _PBKDF2_HASH_BYTES:
        return False
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=_PBKDF2_HASH_BYTES,
        salt=salt.encode(),
        iterations=iterations,
    )
    try:
        kdf.verify(password.encode(), expected)  # compares in constant time
    except InvalidKey:
        return False
    return True
