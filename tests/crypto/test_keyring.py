from __future__ import annotations

import hashlib
import hmac

import pytest

from crypto.constants import CODE_PEPPER
from crypto.errors import CryptoError, SealError
from crypto.keyring import Keyring

ROOT = bytes(range(32))
SALT = bytes(range(32, 64))
PINNED_BLOB = bytes.fromhex(
    "010f989c309a6d5c4689ab724a414359ad099c9abb81d730ef4f0aadc5ae9f1e6a"
    "1dbc936fa9d30876c2082da9b88173594717d04809ef6a21ba02f087"
)
PINNED_SECRET = bytes.fromhex("35fe7745c9c582dd488e213b3e349b0f8f01342c59b33c0dc0fe74ded7a61c1d")
PINNED_BLIND = "456d47d76ab18e996dc177444032a4539be7e937fdbeb91d040edd4d6c440a84"


def rfc5869_hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 written out with the stdlib, to check the keyring's derivation independently."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm, counter = okm + block, counter + 1
    return okm[:length]


def test_root_key_must_be_32_bytes() -> None:
    for bad in (b"", bytes(16), bytes(31), bytes(33)):
        with pytest.raises(CryptoError):
            Keyring(bad, SALT)


def test_install_salt_must_not_be_short() -> None:
    with pytest.raises(CryptoError):
        Keyring(ROOT, b"")


def test_pinned_wrapped_key_opens() -> None:
    key = Keyring(ROOT, SALT).unwrap("ws-1", 3, PINNED_BLOB)
    assert (key.scope, key.version, key.secret) == ("ws-1", 3, PINNED_SECRET)


def test_wrap_roundtrip_and_fresh_keys() -> None:
    keyring = Keyring(ROOT, SALT)
    key, blob = keyring.new_data_key("ws-9", 7)
    assert keyring.unwrap("ws-9", 7, blob) == key
    other, other_blob = keyring.new_data_key("ws-9", 7)
    assert other.secret != key.secret
    assert other_blob != blob
    assert key.secret not in blob


@pytest.mark.parametrize(
    ("scope", "version"),
    [("ws-2", 3), ("ws-1", 4), ("ws-1", 2), ("", 3), ("ws-1\x00", 3)],
)
def test_unwrap_with_other_scope_or_version_is_refused(scope: str, version: int) -> None:
    with pytest.raises(SealError):
        Keyring(ROOT, SALT).unwrap(scope, version, PINNED_BLOB)


def test_unwrap_of_tampered_or_truncated_blob_is_refused() -> None:
    keyring = Keyring(ROOT, SALT)
    for position in range(len(PINNED_BLOB)):
        tampered = bytearray(PINNED_BLOB)
        tampered[position] ^= 0x80
        with pytest.raises(SealError):
            keyring.unwrap("ws-1", 3, bytes(tampered))
    for length in range(len(PINNED_BLOB)):
        with pytest.raises(SealError):
            keyring.unwrap("ws-1", 3, PINNED_BLOB[:length])
    with pytest.raises(SealError):
        keyring.unwrap("ws-1", 3, PINNED_BLOB + b"\x00")


def test_unwrap_needs_same_root_key_and_salt() -> None:
    with pytest.raises(SealError):
        Keyring(bytes(32), SALT).unwrap("ws-1", 3, PINNED_BLOB)
    with pytest.raises(SealError):
        Keyring(ROOT, bytes(32)).unwrap("ws-1", 3, PINNED_BLOB)


def test_blind_index_known_answer() -> None:
    index = Keyring(ROOT, SALT).blind_index("email", "alice@example.com")
    assert index.hex() == PINNED_BLIND
    key = rfc5869_hkdf_sha256(ROOT, SALT, CODE_PEPPER + b"cove/blind/email", 32)
    assert index == hmac.new(key, b"alice@example.com", hashlib.sha256).digest()


def test_blind_index_depends_on_purpose_value_and_install() -> None:
    keyring = Keyring(ROOT, SALT)
    base = keyring.blind_index("email", "alice@example.com")
    assert keyring.blind_index("email", "alice@example.com") == base
    assert keyring.blind_index("username", "alice@example.com") != base
    assert keyring.blind_index("email", "bob@example.com") != base
    assert Keyring(ROOT, bytes(32)).blind_index("email", "alice@example.com") != base


def test_derive_is_deterministic_and_separated() -> None:
    keyring = Keyring(ROOT, SALT)
    broker = keyring.derive(b"broker")
    assert broker == keyring.derive(b"broker")
    assert broker == rfc5869_hkdf_sha256(ROOT, SALT, CODE_PEPPER + b"cove/derive/broker", 32)
    assert keyring.derive(b"search") != broker
    assert len(keyring.derive(b"broker", 64)) == 64
    assert Keyring(bytes(32), SALT).derive(b"broker") != broker


def test_reseal_moves_a_value_to_the_new_key_and_only_for_its_own_field() -> None:
    from crypto.field_seal import FieldRef, sealed_key_version

    keyring = Keyring(ROOT, SALT)
    old, _ = keyring.new_data_key("ws-1", 1)
    new, _ = keyring.new_data_key("ws-1", 2)
    ref = FieldRef("message", "text", "m1", "ws-1")
    sealed = keyring.seal_text(old, ref, "hello")
    moved = keyring.reseal(old, new, ref, sealed)
    assert sealed_key_version(moved) == 2
    assert b"hello" not in moved
    minter = keyring.take_minter()
    grant = minter.mint("u", "read", "m1", "ws-1")
    assert keyring.open_text(grant, new, ref, moved) == "hello"
    with pytest.raises(SealError):  # the old key no longer opens it
        keyring.open_text(grant, old, ref, moved)
    with pytest.raises(SealError):  # bound to its field: another row's ref refuses it
        keyring.reseal(old, new, FieldRef("message", "text", "m2", "ws-1"), sealed)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):  # a damaged value is refused, not carried over
        keyring.reseal(old, new, ref, flipped)
    other, _ = keyring.new_data_key("ws-2", 2)
    with pytest.raises(CryptoError):
        keyring.reseal(old, other, ref, sealed)
