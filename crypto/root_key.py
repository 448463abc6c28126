"""Root key and install salt sources: key files, secret files and the environment."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from crypto import _primitives as p
from crypto.constants import CODE_PEPPER
from crypto.errors import KeyFileError

ROOT_KEY_BYTES = 32
INSTALL_SALT_BYTES = 32
# Key files hold one line of base64; anything much larger is not a key file.
_MAX_SECRET_FILE_BYTES = 4096


class KeyProvider(Protocol):
    """Where the root key comes from."""

    def load(self) -> bytes:
        """Return the 32-byte root key, or raise KeyFileError."""
        ...

    def describe(self) -> str:
        """Name the source for logs and errors; never the key."""
        ...


@dataclass(frozen=True)
class FileKeyProvider:
    """A root key file (base64 text, mode 0600), such as `<data-dir>/keys/root.key`."""

    path: Path

    def load(self) -> bytes:
        """Read and check the key file."""
        return _exact_length(read_secret_file(self.path), str(self.path))

    def describe(self) -> str:
        """Name the file."""
        return f"file {self.path}"


class SecretFileKeyProvider(FileKeyProvider):
    """A mounted secret (docker, Kubernetes) named by COVE_ROOT_KEY_FILE; same rules."""

    def describe(self) -> str:
        """Name the secret file."""
        return f"secret file {self.path}"


class EnvKeyProvider:
    """A root key given as base64 in an environment variable."""

    def __init__(
        self, variable: str = "COVE_ROOT_KEY", environ: Mapping[str, str] | None = None
    ) -> None:
        self.variable = variable
        self._environ = environ

    def __repr__(self) -> str:
        # The default repr would show the environment, key included.
        return f"EnvKeyProvider(variable={self.variable!r})"

    def load(self) -> bytes:
        """Read and check the variable."""
        environ = os.environ if self._environ is None else self._environ
        where = f"environment variable {self.variable}"
        text = environ.get(self.variable, "")
        if not text.strip():
            raise KeyFileError(f"{where}: missing or empty")
        return _exact_length(_decode(text, where), where)

    def describe(self) -> str:
        """Name the variable."""
        return f"environment variable {self.variable}"


def generate_root_key() -> bytes:
    """Return a fresh 256-bit root key."""
    return secrets.token_bytes(ROOT_KEY_BYTES)


def root_key_id(root_key: bytes) -> str:
    """A root key's public name (16 hex digits), derived one way: it recognises the key that a
    backup needs without telling anything about it."""
    return p.hkdf_sha256(root_key, b"", CODE_PEPPER + b"cove/root-key-id/v1", 8).hex()


def generate_install_salt() -> bytes:
    """Return a fresh 256-bit install salt."""
    return secrets.token_bytes(INSTALL_SALT_BYTES)


def write_root_key_file(path: Path, key: bytes) -> None:
    """Write a new root key file (mode 0600); refuses to overwrite an existing one."""
    if len(key) != ROOT_KEY_BYTES:
        raise KeyFileError(f"{path}: a root key must be {ROOT_KEY_BYTES} bytes")
    write_secret_file(path, key)


def write_secret_file(path: Path, data: bytes) -> None:
    """Write `data` as base64 text to a new file (mode 0600, parents 0700); never overwrite."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(data) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        # A half-written key would block the next `cove init` and hold no usable key.
        path.unlink(missing_ok=True)
        raise


def read_secret_file(path: Path) -> bytes:
    """Read a base64 secret file, refusing it unless only its owner can read or write it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: missing") from None
    except OSError as error:
        raise KeyFileError(f"{path}: cannot be opened ({error.strerror})") from None
    try:
        # fstat on the open file, so the file checked is the file read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{path}: not a regular file")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise KeyFileError(f"{path}: must be mode 0600, found {mode:04o}")
        raw = os.read(fd, _MAX_SECRET_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > _MAX_SECRET_FILE_BYTES:
        raise KeyFileError(f"{path}: too large for a key file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not valid base64") from None
    return _decode(text, str(path))


def _decode(text: str, where: str) -> bytes:
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{where}: not valid base64") from None
    if not data:
        raise KeyFileError(f"{where}: empty")
    return data


def _exact_length(key: bytes, where: str) -> bytes:
    if len(key) != ROOT_KEY_BYTES:
        raise KeyFileError(f"{where}: must hold {ROOT_KEY_BYTES} bytes, found {len(key)}")
    return key
