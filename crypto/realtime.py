"""Realtime envelopes: per-subscriber notice sealing, and sealed envelopes between nodes.

Between nodes, AES-256-GCM under the broker key (which Redis never sees) with the sending
node's id, its counter and the send time authenticated as associated data.

Subscribers get the contract's format (docs/contract.md, "Realtime wire format"): AES-256-GCM
under the session's current 256-bit key, a random 12-byte nonce, associated data the UTF-8
string "<sessionId>:<seq>", ciphertext followed by the 16-byte tag.
"""

from __future__ import annotations

import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from crypto import _primitives as p
from crypto.errors import SealError

REALTIME_KEY_BYTES = 32
BROKER_NODE_BYTES = 16
# Envelope: format | node id | counter | send time (ms) | nonce | ciphertext and tag. Format 1
# (no node, counter or time) is gone: its envelopes could be replayed.
_BROKER_FORMAT = b"\x02"
_BROKER_HEADER = struct.Struct(f">c{BROKER_NODE_BYTES}sQQ")
_BROKER_AAD = b"cove/broker/v2"


def new_realtime_key() -> bytes:
    """A fresh random 256-bit subscriber key."""
    return secrets.token_bytes(REALTIME_KEY_BYTES)


def notice_aad(session_id: str, seq: int) -> bytes:
    return f"{session_id}:{seq}".encode()


def seal_notice(key: bytes, session_id: str, seq: int, plaintext: bytes) -> tuple[bytes, bytes]:
    """Seal one notice for one subscriber; returns (nonce, ciphertext with tag)."""
    nonce = p.new_nonce()
    return nonce, p.gcm_encrypt(key, nonce, plaintext, notice_aad(session_id, seq))


def open_notice(key: bytes, session_id: str, seq: int, nonce: bytes, ciphertext: bytes) -> bytes:
    """Open a subscriber notice (what clients do); refuses tampering, replay under another seq."""
    if len(nonce) != p.NONCE_BYTES:
        raise SealError("nonce must be 12 bytes")
    return p.gcm_decrypt(key, nonce, ciphertext, notice_aad(session_id, seq))


@dataclass(frozen=True)
class BrokerEnvelope:
    """An opened broker envelope: who sent it, its place in that node's count, and when."""

    node: bytes
    counter: int
    sent_at: float  # seconds since the epoch, by the sending node's clock
    payload: bytes


class BrokerSealer:
    """Seals one node's broker payloads under a random node id and a counter that only grows.

    The node id, counter and send time travel in the clear but inside the AEAD's associated
    data, so nobody without the broker key (Redis included) can rewrite them: the receiving
    side can then refuse a replay (a counter it has seen) or a stale envelope (an old time).
    """

    def __init__(self, broker_key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = broker_key
        self._clock = clock
        self.node = secrets.token_bytes(BROKER_NODE_BYTES)
        self._counter = 0

    def seal(self, payload: bytes) -> bytes:
        self._counter += 1
        sent_ms = max(0, round(self._clock() * 1000))
        header = _BROKER_HEADER.pack(_BROKER_FORMAT, self.node, self._counter, sent_ms)
        nonce = p.new_nonce()
        return header + nonce + p.gcm_encrypt(self._key, nonce, payload, _BROKER_AAD + header)


def open_from_broker(broker_key: bytes, envelope: bytes) -> BrokerEnvelope:
    """Open an envelope; a wrong key or any changed byte, header included, is a SealError."""
    if (
        len(envelope) < _BROKER_HEADER.size + p.NONCE_BYTES + p.TAG_BYTES
        or envelope[:1] != _BROKER_FORMAT
    ):
        raise SealError("malformed broker envelope")
    header = envelope[: _BROKER_HEADER.size]
    nonce = envelope[_BROKER_HEADER.size : _BROKER_HEADER.size + p.NONCE_BYTES]
    body = envelope[_BROKER_HEADER.size + p.NONCE_BYTES :]
    payload = p.gcm_decrypt(broker_key, nonce, body, _BROKER_AAD + header)
    _, node, counter, sent_ms = _BROKER_HEADER.unpack(header)
    return BrokerEnvelope(node, counter, sent_ms / 1000, payload)


_HISTORY_AAD = b"cove/realtime-history/v1"


def _history_aad(topic: str, position: int) -> bytes:
    return _HISTORY_AAD + b"\x00" + topic.encode() + b"\x00" + str(position).encode()


def seal_history(key: bytes, topic: str, position: int, plaintext: bytes) -> bytes:
    """Seal one notice kept in a topic's history: nonce | ciphertext and tag, bound to the
    topic and the position, so no row can be moved to another topic or place."""
    nonce = p.new_nonce()
    return nonce + p.gcm_encrypt(key, nonce, plaintext, _history_aad(topic, position))


def open_history(key: bytes, topic: str, position: int, sealed: bytes) -> bytes:
    """Open a history row; a wrong key, topic, position or any changed byte is a SealError."""
    if len(sealed) < p.NONCE_BYTES + p.TAG_BYTES:
        raise SealError("malformed history row")
    nonce, body = sealed[: p.NONCE_BYTES], sealed[p.NONCE_BYTES :]
    return p.gcm_decrypt(key, nonce, body, _history_aad(topic, position))
