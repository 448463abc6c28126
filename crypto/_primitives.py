"""Thin wrappers over `cryptography` shared by the keyring and field sealing."""

from __future__ import annotations

import os
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import CryptoError, SealError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_U32 = 0xFFFFFFFF


def new_nonce() -> bytes:
    """Return a fresh random 96-bit GCM nonce (from the OS CSPRNG, like `secrets`)."""
    return os.urandom(NONCE_BYTES)


@lru_cache(maxsize=4096)
def _cipher(key: bytes) -> AESGCM:
    # Setting up the key schedule costs as much as sealing a short field; keys are few and
    # long-lived (data keys, the KEK), so each one's cipher is built once.
    return AESGCM(key)


def gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM encrypt; returns ciphertext with the 16-byte tag appended."""
    return _cipher(key).encrypt(nonce, plaintext, aad)


def gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decrypt; any authentication failure becomes a SealError."""
    try:
        return _cipher(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise SealError("sealed value does not authenticate") from None


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """Derive `length` bytes with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def u32(value: int) -> bytes:
    """Encode a 4-byte big-endian unsigned integer, refusing values out of range."""
    if not 0 <= value <= MAX_U32:
        raise CryptoError(f"value {value} does not fit in 4 unsigned bytes")
    return struct.pack(">I", value)


def length_prefixed(label: bytes, *parts: bytes) -> bytes:
    """Encode `label` then each part as 4-byte length + bytes, so no two inputs collide."""
    out = [label]
    for part in parts:
        if len(part) > MAX_U32:
            raise CryptoError("a part longer than 4 GiB cannot be length-prefixed")
        out += (_U32.pack(len(part)), part)
    return b"".join(out)


_U32 = struct.Struct(">I")
