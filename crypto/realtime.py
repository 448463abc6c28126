"""Realtime envelopes: per-subscriber event sealing, and sealed envelopes between nodes.

The subscriber format is the outside contract (CONTRACT.md, "Realtime wire format"): AES-256-GCM
under the session's current 256-bit key, a random 12-byte nonce, associated data the UTF-8
string "<sessionId>:<seq>", ciphertext followed by the 16-byte tag.
"""

from __future__ import annotations

import secrets

from crypto import _primitives as p
from crypto.errors import SealError

REALTIME_KEY_BYTES = 32
_BROKER_FORMAT = b"\x01"
_BROKER_AAD = b"cove/broker/v1"


def new_realtime_key() -> bytes:
    """A fresh random 256-bit subscriber key."""
    return secrets.token_bytes(REALTIME_KEY_BYTES)


def event_aad(session_id: str, seq: int) -> bytes:
    return f"{session_id}:{seq}".encode()


def seal_event(key: bytes, session_id: str, seq: int, plaintext: bytes) -> tuple[bytes, bytes]:
    """Seal one event for one subscriber; returns (nonce, ciphertext with tag)."""
    nonce = p.new_nonce()
    return nonce, p.gcm_encrypt(key, nonce, plaintext, event_aad(session_id, seq))


def open_event(key: bytes, session_id: str, seq: int, nonce: bytes, ciphertext: bytes) -> bytes:
    """Open a subscriber event (what clients do); refuses tampering, replay under another seq."""
    if len(nonce) != p.NONCE_BYTES:
        raise SealError("nonce must be 12 bytes")
    return p.gcm_decrypt(key, nonce, ciphertext, event_aad(session_id, seq))


def seal_for_broker(broker_key: bytes, payload: bytes) -> bytes:
    """Seal an event for the trip between nodes, so the broker only ever holds ciphertext."""
    nonce = p.new_nonce()
    return _BROKER_FORMAT + nonce + p.gcm_encrypt(broker_key, nonce, payload, _BROKER_AAD)


def open_from_broker(broker_key: bytes, envelope: bytes) -> bytes:
    if len(envelope) < 1 + p.NONCE_BYTES + p.TAG_BYTES or envelope[:1] != _BROKER_FORMAT:
        raise SealError("malformed broker envelope")
    nonce, body = envelope[1 : 1 + p.NONCE_BYTES], envelope[1 + p.NONCE_BYTES :]
    return p.gcm_decrypt(broker_key, nonce, body, _BROKER_AAD)
