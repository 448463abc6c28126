"""The keyring: wraps data keys under the root key, seals fields, opens them for a Grant."""

from __future__ import annotations

import secrets
import threading
from contextlib import suppress

from cryptography.hazmat.primitives import hashes, hmac

from crypto import _primitives as p
from crypto import stream
from crypto.constants import CODE_PEPPER, WRAP_FORMAT_V1
from crypto.errors import CryptoError, GrantError, SealError
from crypto.field_seal import DataKey, FieldRef, _open_field, seal_field
from crypto.grants import Grant, GrantMinter, _new_minter, minted_by
from crypto.root_key import root_key_id

_WRAP_FORMAT = bytes([WRAP_FORMAT_V1])
_WRAPPED_BYTES = 1 + p.NONCE_BYTES + p.KEY_BYTES + p.TAG_BYTES
_MIN_SALT_BYTES = 16
# The install's master secret, from which every derived key (blind indexes, broker, history,
# documents) comes: wrapped like a data key, in the same table, under this scope and version.
MASTER_SCOPE = "install/master"
MASTER_VERSION = 1


def _wrap_aad(scope: str, version: int) -> bytes:
    return p.length_prefixed(b"cove/wrap/v1", scope.encode(), p.u32(version))


def _kek(root_key: bytes, install_salt: bytes) -> bytes:
    return p.hkdf_sha256(root_key, install_salt, CODE_PEPPER + b"cove/kek/v1")


class Keyring:
    """Every key operation that needs the root key, and the only way to open a sealed field.

    Data keys are wrapped under the root key; a `previous_root_key` (during a rotation) only
    opens what it wrapped. Derived keys come from the install's master secret, which is the
    root key itself until the first rotation stores it wrapped (`adopt_master`): installs made
    before rotation existed keep their derived keys, as the master is the first root key."""

    def __init__(
        self, root_key: bytes, install_salt: bytes, previous_root_key: bytes | None = None
    ) -> None:
        for key in (root_key, previous_root_key):
            if key is not None and len(key) != p.KEY_BYTES:
                raise CryptoError(f"root key must be {p.KEY_BYTES} bytes")
        if len(install_salt) < _MIN_SALT_BYTES:
            raise CryptoError(f"install salt must be at least {_MIN_SALT_BYTES} bytes")
        self._root_key = root_key
        self._salt = install_salt
        self._kek = _kek(root_key, install_salt)
        self._keks: tuple[bytes, ...] = (self._kek,)
        if previous_root_key is not None and previous_root_key != root_key:
            self._keks = (self._kek, _kek(previous_root_key, install_salt))
        # Until a stored master is adopted: the key an install made before rotation began with.
        self._master = root_key if previous_root_key is None else previous_root_key
        self._blind_keys: dict[str, bytes] = {}  # derived once per purpose, on first use
        self._minter = _new_minter()
        self._minter_taken = False
        self._minter_lock = threading.Lock()

    def take_minter(self) -> GrantMinter:
        """Hand out this keyring's minter once; a second call means two authorizers."""
        with self._minter_lock:
            if self._minter_taken:
                raise CryptoError("minter already taken")
            self._minter_taken = True
        return self._minter

    def new_data_key(self, scope: str, version: int) -> tuple[DataKey, bytes]:
        """Make a random data key and return it with its blob wrapped under the root key."""
        key = DataKey(scope, version, secrets.token_bytes(p.KEY_BYTES))
        return key, self.wrap(key)

    def wrap(self, key: DataKey) -> bytes:
        """Wrap a data key under the root key (not a previous one)."""
        nonce = p.new_nonce()
        body = p.gcm_encrypt(self._kek, nonce, key.secret, _wrap_aad(key.scope, key.version))
        return _WRAP_FORMAT + nonce + body

    def unwrap(self, scope: str, version: int, wrapped: bytes) -> DataKey:
        """Open a wrapped data key; refuses another scope, version, root key or any tamper."""
        return DataKey(scope, version, self._unwrap(scope, version, wrapped)[0])

    def wrapped_under_root(self, scope: str, version: int, wrapped: bytes) -> bool:
        """Whether the root key itself (not a previous one) wrapped this key."""
        return self._unwrap(scope, version, wrapped)[1] == 0

    def _unwrap(self, scope: str, version: int, wrapped: bytes) -> tuple[bytes, int]:
        if len(wrapped) != _WRAPPED_BYTES or wrapped[:1] != _WRAP_FORMAT:
            raise SealError("wrapped key is malformed")
        nonce, body = wrapped[1 : 1 + p.NONCE_BYTES], wrapped[1 + p.NONCE_BYTES :]
        aad = _wrap_aad(scope, version)
        for position, kek in enumerate(self._keks):
            with suppress(SealError):
                return p.gcm_decrypt(kek, nonce, body, aad), position
        raise SealError("wrapped key does not open under the root key")

    @property
    def rotating(self) -> bool:
        """Whether a previous root key is held (a rotation is under way)."""
        return len(self._keks) > 1

    def wrap_master(self) -> bytes:
        """The master secret wrapped under the root key, to be stored (key rotation)."""
        return self.wrap(DataKey(MASTER_SCOPE, MASTER_VERSION, self._master))

    def adopt_master(self, wrapped: bytes) -> None:
        """Use the stored master secret for derived keys; SealError if no key here opens it."""
        master = self.unwrap(MASTER_SCOPE, MASTER_VERSION, wrapped).secret
        if master != self._master:
            self._master = master
            self._blind_keys = {}

    def seal(self, key: DataKey, ref: FieldRef, plaintext: bytes) -> bytes:
        """Seal bytes for the field `ref`."""
        return seal_field(key, ref, plaintext)

    def seal_text(self, key: DataKey, ref: FieldRef, text: str) -> bytes:
        """Seal text (UTF-8) for the field `ref`."""
        return seal_field(key, ref, text.encode())

    def open(self, grant: Grant, key: DataKey, ref: FieldRef, sealed: bytes) -> bytes:
        """Open a sealed field, but only for a grant this keyring's minter made for its row."""
        if not minted_by(grant, self._minter):
            raise GrantError("grant was not minted by this keyring")
        if grant.resource_id != ref.row_id or grant.workspace_id != ref.workspace_id:
            raise GrantError("grant does not cover this row")
        return _open_field(key, ref, sealed)

    def open_text(self, grant: Grant, key: DataKey, ref: FieldRef, sealed: bytes) -> str:
        """Open a sealed text field; see `open`."""
        try:
            return self.open(grant, key, ref, sealed).decode()
        except UnicodeDecodeError:
            raise SealError("sealed value is not text") from None

    def reseal(self, old: DataKey, new: DataKey, ref: FieldRef, sealed: bytes) -> bytes:
        """`sealed` (under `old`) sealed again under `new` for the same field, for a workspace
        key rotation. No grant: the plaintext never leaves the keyring, so nothing is read."""
        if old.scope != new.scope:
            raise CryptoError("a value is sealed again only under a key of its own scope")
        return seal_field(new, ref, _open_field(old, ref, sealed))

    def blind_index(self, purpose: str, value: str) -> bytes:
        """Keyed hash of `value` for equality lookups; callers normalise the value first."""
        key = self._blind_keys.get(purpose)
        if key is None:
            info = CODE_PEPPER + b"cove/blind/" + purpose.encode()
            key = self._blind_keys[purpose] = p.hkdf_sha256(self._master, self._salt, info)
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(value.encode())
        return mac.finalize()

    def derive(self, purpose: bytes, length: int = 32) -> bytes:
        """Derive a key from the master secret for another subsystem (e.g. the broker)."""
        info = CODE_PEPPER + b"cove/derive/" + purpose
        return p.hkdf_sha256(self._master, self._salt, info, length)

    def root_key_id(self) -> str:
        """The root key's public id (see `crypto.root_key.root_key_id`), for backup manifests."""
        return root_key_id(self._root_key)

    def file_content_key(self, file_key: bytes, file_id: str, version_id: str) -> bytes:
        """The key of one file version's contents, from its three parts: the random file key
        (sealed in the database), the install salt (configuration) and the code pepper."""
        return stream.content_key(file_key, self._salt, file_id, version_id)
