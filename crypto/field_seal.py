"""Field sealing: AES-256-GCM bound to the entity, field, row and workspace it belongs to."""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from crypto import _primitives as p
from crypto.constants import FIELD_FORMAT_V1
from crypto.errors import CryptoError, SealError

_FORMAT = bytes([FIELD_FORMAT_V1])
_HEADER_BYTES = 1 + 4
_MIN_SEALED_BYTES = _HEADER_BYTES + p.NONCE_BYTES + p.TAG_BYTES


@dataclass(frozen=True)
class FieldRef:
    """Where a sealed value lives; workspace_id "" means account-scoped data."""

    entity: str
    field: str
    row_id: str
    workspace_id: str

    def __post_init__(self) -> None:
        if not (self.entity and self.field and self.row_id):
            raise CryptoError("FieldRef needs an entity, a field and a row id")

    def associated_data(self) -> bytes:
        """The unambiguous encoding that GCM authenticates alongside the value."""
        parts = (self.entity, self.field, self.row_id, self.workspace_id)
        return p.length_prefixed(b"cove/field/v1", *(part.encode() for part in parts))


@dataclass(frozen=True)
class DataKey:
    """A versioned 256-bit data key for one scope (e.g. a workspace)."""

    scope: str
    version: int
    secret: bytes = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != p.KEY_BYTES:
            raise CryptoError(f"data key must be {p.KEY_BYTES} bytes")
        p.u32(self.version)


def sealed_key_version(sealed: bytes) -> int:
    """Read the key version from a sealed value's header, refusing malformed input."""
    if len(sealed) < _MIN_SEALED_BYTES:
        raise SealError("sealed value is too short")
    if sealed[:1] != _FORMAT:
        raise SealError(f"unknown sealed format {sealed[0]}")
    version: int = struct.unpack(">I", sealed[1:_HEADER_BYTES])[0]
    return version


def seal_field(key: DataKey, ref: FieldRef, plaintext: bytes) -> bytes:
    """Seal `plaintext` for `ref` under `key` with a fresh random nonce."""
    return _seal_with_nonce(key, ref, plaintext, p.new_nonce())


def _seal_with_nonce(key: DataKey, ref: FieldRef, plaintext: bytes, nonce: bytes) -> bytes:
    """Seal with a caller-chosen nonce; only for known-answer tests."""
    if len(nonce) != p.NONCE_BYTES:
        raise CryptoError(f"nonce must be {p.NONCE_BYTES} bytes")
    header = _FORMAT + p.u32(key.version)
    # The header joins the AAD so a rewritten key version cannot go unnoticed.
    body = p.gcm_encrypt(key.secret, nonce, plaintext, header + ref.associated_data())
    return header + nonce + body


def _open_field(key: DataKey, ref: FieldRef, sealed: bytes) -> bytes:
    """Open a sealed value with no grant check; the Keyring calls it after its own checks."""
    if sealed_key_version(sealed) != key.version:
        raise SealError("sealed value was made under another key version")
    header = sealed[:_HEADER_BYTES]
    nonce = sealed[_HEADER_BYTES : _HEADER_BYTES + p.NONCE_BYTES]
    body = sealed[_HEADER_BYTES + p.NONCE_BYTES :]
    return p.gcm_decrypt(key.secret, nonce, body, header + ref.associated_data())
