"""Data directory and keys: `cove init`, and loading the keyring at start."""

from __future__ import annotations

import base64
import binascii
import os
from datetime import UTC, datetime
from pathlib import Path

from api.settings import Settings, SettingsError
from crypto.errors import KeyFileError
from crypto.keyring import Keyring
from crypto.root_key import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    SecretFileKeyProvider,
    generate_install_salt,
    generate_root_key,
    read_secret_file,
    write_root_key_file,
    write_secret_file,
)
from persistence.keys import DataKeyRepository
from persistence.store import Store
from resolvers.key_rotation import RootKeyMismatch, adopt_stored_master


class InitError(RuntimeError):
    """The data directory cannot be initialised or used."""


def is_initialised(settings: Settings) -> bool:
    return settings.resolved_root_key_file.exists() or settings.root_key is not None


def init_data_dir(settings: Settings) -> list[Path]:
    """Create the data dir, a root key file (0600) and the install salt; never overwrite keys."""
    made: list[Path] = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    key_file = settings.resolved_root_key_file
    if settings.root_key is None:
        if key_file.exists():
            raise InitError(f"{key_file} already exists; refusing to overwrite a root key")
        try:
            write_root_key_file(key_file, generate_root_key())
        except KeyFileError as exc:
            raise InitError(str(exc)) from None
        made.append(key_file)
    if settings.install_salt is None:
        salt_file = settings.install_salt_file
        if salt_file.exists():
            if not made:
                raise InitError(
                    f"{salt_file} already exists; refusing to overwrite the install salt"
                )
        else:
            write_secret_file(salt_file, generate_install_salt())
            made.append(salt_file)
    return made


def root_key_provider(settings: Settings) -> KeyProvider:
    if settings.root_key is not None:
        return EnvKeyProvider("COVE_ROOT_KEY", {"COVE_ROOT_KEY": settings.root_key})
    if settings.root_key_file is not None:
        return SecretFileKeyProvider(settings.root_key_file)
    return FileKeyProvider(settings.resolved_root_key_file)


def load_install_salt(settings: Settings) -> bytes:
    if settings.install_salt is not None:
        try:
            salt = base64.b64decode(settings.install_salt, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError("install_salt", "must be standard base64") from None
        if len(salt) < 16:
            raise SettingsError("install_salt", "must hold at least 16 bytes")
        return salt
    try:
        return read_secret_file(settings.install_salt_file)
    except KeyFileError as exc:
        raise InitError(str(exc)) from None


def load_keyring(settings: Settings) -> Keyring:
    """The keyring from the configured root key (and, during a rotation, the previous one);
    refuses a key file others can read."""
    try:
        root_key = root_key_provider(settings).load()
        previous = None
        if settings.root_key_previous_file is not None:
            previous = SecretFileKeyProvider(settings.root_key_previous_file).load()
    except KeyFileError as exc:
        raise InitError(str(exc)) from None
    return Keyring(root_key, load_install_salt(settings), previous)


def describe_root_key(settings: Settings) -> str:
    """Where the root key comes from (a file, a secret file, the environment), for errors."""
    return root_key_provider(settings).describe()


async def check_root_key(settings: Settings, keyring: Keyring, store: Store) -> None:
    """Adopt the stored master secret (storing it on an install that has none yet); InitError,
    naming the key's source, if the root key does not open this install's keys (a wrong file,
    or the old key after a rotation)."""
    try:
        await adopt_stored_master(keyring, DataKeyRepository(store), lambda: datetime.now(UTC))
    except RootKeyMismatch as exc:
        raise InitError(f"{describe_root_key(settings)}: {exc}") from None
