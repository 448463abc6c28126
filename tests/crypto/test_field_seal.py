from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import CryptoError, SealError
from crypto.field_seal import DataKey, FieldRef, _seal_with_nonce, sealed_key_version
from crypto.keyring import Keyring

ROOT = bytes(range(32))
SALT = bytes(range(32, 64))
KEY_V1 = DataKey("ws-1", 1, bytes(range(64, 96)))
KEY_V2 = DataKey("ws-1", 2, bytes(range(96, 128)))
REF = FieldRef("message", "body", "msg-1", "ws-1")
NONCE = bytes(range(12))
PINNED_SEAL = (
    "01" "00000001" "000102030405060708090a0b"
    "5260001418a064c3ad64e54f78549aaa84cc9abfdcb8121bb83765"
)  # fmt: skip


def open_for(ref: FieldRef, sealed: bytes, key: DataKey = KEY_V1) -> bytes:
    """Open with a grant that matches `ref`, so only the sealed bytes can cause a refusal."""
    keyring = Keyring(ROOT, SALT)
    grant = keyring.take_minter().mint("user-1", "read", ref.row_id, ref.workspace_id)
    return keyring.open(grant, key, ref, sealed)


def test_associated_data_is_length_prefixed_parts() -> None:
    assert REF.associated_data() == (
        b"cove/field/v1"
        + b"\x00\x00\x00\x07message"
        + b"\x00\x00\x00\x04body"
        + b"\x00\x00\x00\x05msg-1"
        + b"\x00\x00\x00\x04ws-1"
    )
    # Moving a separator between parts must change the encoding.
    assert (
        FieldRef("a", "bc", "r", "w").associated_data()
        != FieldRef("ab", "c", "r", "w").associated_data()
    )


def test_known_answer_seal() -> None:
    sealed = _seal_with_nonce(KEY_V1, REF, b"hello, cove", NONCE)
    assert sealed.hex() == PINNED_SEAL
    # Independent check of the layout: header | nonce | AES-256-GCM(header + AAD).
    header = b"\x01\x00\x00\x00\x01"
    body = AESGCM(KEY_V1.secret).encrypt(NONCE, b"hello, cove", header + REF.associated_data())
    assert sealed == header + NONCE + body
    assert open_for(REF, bytes.fromhex(PINNED_SEAL)) == b"hello, cove"


def test_roundtrip_bytes_text_and_empty() -> None:
    keyring = Keyring(ROOT, SALT)
    grant = keyring.take_minter().mint("user-1", "read", REF.row_id, REF.workspace_id)
    assert keyring.open(grant, KEY_V1, REF, keyring.seal(KEY_V1, REF, b"")) == b""
    text = "héllo ✓ 🌊"
    assert keyring.open_text(grant, KEY_V1, REF, keyring.seal_text(KEY_V1, REF, text)) == text


def test_same_plaintext_seals_differently() -> None:
    keyring = Keyring(ROOT, SALT)
    first = keyring.seal(KEY_V1, REF, b"same")
    second = keyring.seal(KEY_V1, REF, b"same")
    assert first != second
    assert first[5:17] != second[5:17]
    assert open_for(REF, first) == open_for(REF, second) == b"same"


def test_every_flipped_byte_is_refused() -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V1, REF, b"short")
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(SealError):
            open_for(REF, bytes(tampered))


def test_every_truncation_is_refused() -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V1, REF, b"short")
    for length in range(len(sealed)):
        with pytest.raises(SealError):
            open_for(REF, sealed[:length])


@pytest.mark.parametrize(
    "moved_to",
    [
        FieldRef("message", "body", "msg-2", "ws-1"),
        FieldRef("message", "title", "msg-1", "ws-1"),
        FieldRef("channel", "body", "msg-1", "ws-1"),
        FieldRef("message", "body", "msg-1", "ws-2"),
        FieldRef("message", "body", "msg-1", ""),
    ],
    ids=["row", "field", "entity", "workspace", "account"],
)
def test_ciphertext_moved_elsewhere_is_refused(moved_to: FieldRef) -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V1, REF, b"secret")
    with pytest.raises(SealError):
        open_for(moved_to, sealed)


def test_newer_key_refuses_older_value() -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V1, REF, b"secret")
    with pytest.raises(SealError):
        open_for(REF, sealed, KEY_V2)


def test_rewritten_key_version_is_refused() -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V1, REF, b"secret")
    relabelled = sealed[:1] + (2).to_bytes(4, "big") + sealed[5:]
    assert sealed_key_version(relabelled) == 2
    with pytest.raises(SealError):
        open_for(REF, relabelled, KEY_V2)
    # Even with the v1 secret behind a v2 label, the header is authenticated.
    with pytest.raises(SealError):
        open_for(REF, relabelled, DataKey("ws-1", 2, KEY_V1.secret))


def test_sealed_key_version_reads_header_and_refuses_malformed() -> None:
    sealed = Keyring(ROOT, SALT).seal(KEY_V2, REF, b"x")
    assert sealed_key_version(sealed) == 2
    with pytest.raises(SealError):
        sealed_key_version(sealed[:32])
    with pytest.raises(SealError):
        sealed_key_version(b"\x02" + sealed[1:])
    with pytest.raises(SealError):
        sealed_key_version(b"")


def test_data_key_repr_hides_secret() -> None:
    assert KEY_V1.secret.hex() not in repr(KEY_V1)
    assert repr(bytes(range(64, 96))) not in repr(KEY_V1)
    assert "secret" not in repr(KEY_V1)


def test_invalid_keys_and_refs_are_refused() -> None:
    with pytest.raises(CryptoError):
        DataKey("ws-1", 1, b"short")
    with pytest.raises(CryptoError):
        DataKey("ws-1", -1, bytes(32))
    with pytest.raises(CryptoError):
        DataKey("ws-1", 2**32, bytes(32))
    with pytest.raises(CryptoError):
        FieldRef("message", "body", "", "ws-1")
    with pytest.raises(CryptoError):
        _seal_with_nonce(KEY_V1, REF, b"x", b"short")
